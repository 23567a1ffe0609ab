//! The baseline players: `random` (seeded), `degree` (adaptive highest degree, ties to the
//! smallest row-major index) and `greedy` (the move that kills the most Alive sites now, ties to
//! the smallest index), and playing a whole game with one.

use rand::rngs::Xoshiro256PlusPlus;

use super::board::{Board, rng, unit};
use super::rules::{Definition, Game};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Random { seed: u64 },
    Degree,
    Greedy,
}

/// A finished game.
#[derive(Clone, Debug, PartialEq)]
pub struct Played {
    /// The attacked sites in order (row-major indices).
    pub moves: Vec<usize>,
    /// Σ_t f(t) / #occupied.
    pub robustness: f64,
}

impl Policy {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Random { .. } => "random",
            Self::Degree => "degree",
            Self::Greedy => "greedy",
        }
    }

    /// Plays `board` under `definition` to the end.
    pub fn play(&self, board: &Board, definition: Definition) -> Played {
        let mut game = Game::new(board, definition);
        let mut rng = match self {
            Self::Random { seed } => rng(*seed),
            _ => rng(0),
        };
        let mut moves = Vec::new();
        while !game.is_over() {
            let site = self.choose(&game, &mut rng);
            game.attack(site).expect("a policy picks an Alive site");
            moves.push(site);
        }
        Played {
            moves,
            robustness: game.robustness(),
        }
    }

    /// The next move in `game` (which is not over).
    pub fn choose(&self, game: &Game, rng: &mut Xoshiro256PlusPlus) -> usize {
        let alive = game.alive_sites();
        match self {
            Self::Random { .. } => {
                let k = ((unit(rng) * alive.len() as f64) as usize).min(alive.len() - 1);
                alive[k] as usize
            }
            Self::Degree => best(alive, |site| game.degree(site)),
            Self::Greedy => best(alive, |site| {
                let mut trial = game.clone();
                trial.attack(site).expect("alive")
            }),
        }
    }
}

/// The site with the highest score; ties to the smallest index.
fn best(sites: &[u32], score: impl Fn(usize) -> usize) -> usize {
    let mut choice = (usize::MAX, 0usize);
    for &site in sites {
        let site = site as usize;
        let s = score(site);
        if choice.0 == usize::MAX || s > choice.1 || (s == choice.1 && site < choice.0) {
            choice = (site, s);
        }
    }
    choice.0
}
