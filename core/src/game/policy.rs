//! The baseline players, all adaptive (recomputed after every move) and breaking ties by the
//! smallest row-major index: `random` (seeded), `degree` (highest degree), `greedy` (the move that
//! kills the most Alive sites now), collective influence `ci` (Morone & Makse 2015, ℓ = 2) and
//! `corehd` (Zdeborová et al. 2016: highest degree within the 2-core). Degrees and distances are
//! on the graph of occupied, not-attacked sites; the chosen site is always an Alive one.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::rngs::Xoshiro256PlusPlus;

use super::board::{Board, Site, rng, unit};
use super::rules::{Definition, Game};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Random {
        seed: u64,
    },
    Degree,
    Greedy,
    /// CI_ℓ(i) = (k_i − 1) · Σ over sites j at distance exactly ℓ of (k_j − 1).
    CollectiveInfluence {
        radius: usize,
    },
    /// The highest degree within the 2-core; `degree` once the 2-core has no Alive site.
    CoreHd,
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
            Self::CollectiveInfluence { .. } => "ci",
            Self::CoreHd => "corehd",
        }
    }

    /// Plays `board` under `definition` to the end.
    pub fn play(&self, board: &Board, definition: Definition) -> Played {
        self.play_game(Game::new(board, definition))
    }

    /// Plays `game` (a lattice or a graph board) to the end.
    pub fn play_game(&self, game: Game) -> Played {
        if let Self::Degree = self {
            return play_degree(game);
        }
        let mut game = game;
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
            Self::CollectiveInfluence { radius } => {
                let mut distance = vec![usize::MAX; game.sites().len()];
                let mut queue = Vec::new();
                best(alive, |site| {
                    collective_influence(game, site, *radius, &mut distance, &mut queue)
                })
            }
            Self::CoreHd => {
                let core = two_core(game);
                let in_core: Vec<u32> = alive
                    .iter()
                    .copied()
                    .filter(|&s| core[s as usize])
                    .collect();
                let pool = if in_core.is_empty() { alive } else { &in_core };
                best(pool, |site| {
                    core_degree(game, &core, site, !in_core.is_empty())
                })
            }
        }
    }
}

/// `degree` to the end in O((N + E) log N): the same moves as [`Policy::choose`] (highest
/// degree, ties to the smallest index) from a max-heap of (degree, site) kept lazily. A site's
/// degree only falls, and only when a neighbour is attacked, so each attack pushes its Alive
/// neighbours' new degrees; an entry whose site is no longer Alive or whose degree is out of date
/// is dropped when it surfaces.
fn play_degree(mut game: Game) -> Played {
    let mut heap: BinaryHeap<(usize, Reverse<u32>)> = game
        .alive_sites()
        .iter()
        .map(|&s| (game.degree(s as usize), Reverse(s)))
        .collect();
    let mut moves = Vec::new();
    let mut rng = rng(0);
    while !game.is_over() {
        let mut site = None;
        while let Some((degree, Reverse(s))) = heap.pop() {
            let s = s as usize;
            if game.sites()[s] == Site::Alive && game.degree(s) == degree {
                site = Some(s);
                break;
            }
        }
        // (The heap always holds every Alive site at its degree; the scan is only a guard.)
        let site = site.unwrap_or_else(|| Policy::Degree.choose(&game, &mut rng));
        game.attack(site).expect("a policy picks an Alive site");
        moves.push(site);
        for &u in game.topology().neighbours(site) {
            if game.sites()[u as usize] == Site::Alive {
                heap.push((game.degree(u as usize), Reverse(u)));
            }
        }
    }
    Played {
        moves,
        robustness: game.robustness(),
    }
}

fn active(game: &Game, site: usize) -> bool {
    matches!(game.sites()[site], Site::Alive | Site::Dead)
}

/// CI_ℓ of `site` by a breadth-first search to depth ℓ (`distance` is all `usize::MAX` on entry
/// and is restored).
fn collective_influence(
    game: &Game,
    site: usize,
    radius: usize,
    distance: &mut [usize],
    queue: &mut Vec<usize>,
) -> usize {
    queue.clear();
    queue.push(site);
    distance[site] = 0;
    let mut head = 0;
    let mut frontier = 0;
    while head < queue.len() {
        let v = queue[head];
        head += 1;
        if distance[v] == radius {
            frontier += game.degree(v).saturating_sub(1);
            continue;
        }
        for &u in game.topology().neighbours(v) {
            let u = u as usize;
            if active(game, u) && distance[u] == usize::MAX {
                distance[u] = distance[v] + 1;
                queue.push(u);
            }
        }
    }
    for &v in queue.iter() {
        distance[v] = usize::MAX;
    }
    game.degree(site).saturating_sub(1) * frontier
}

/// Membership in the 2-core of the active sites' graph (repeatedly drop sites of degree < 2).
fn two_core(game: &Game) -> Vec<bool> {
    let count = game.sites().len();
    let mut inside: Vec<bool> = (0..count).map(|s| active(game, s)).collect();
    let mut degree: Vec<usize> = (0..count)
        .map(|s| if inside[s] { game.degree(s) } else { 0 })
        .collect();
    let mut stack: Vec<usize> = (0..count).filter(|&s| inside[s] && degree[s] < 2).collect();
    while let Some(v) = stack.pop() {
        if !inside[v] {
            continue;
        }
        inside[v] = false;
        for &u in game.topology().neighbours(v) {
            let u = u as usize;
            if inside[u] {
                degree[u] -= 1;
                if degree[u] < 2 {
                    stack.push(u);
                }
            }
        }
    }
    inside
}

/// A site's degree within the 2-core (or in the whole graph when the core is empty).
fn core_degree(game: &Game, core: &[bool], site: usize, within_core: bool) -> usize {
    if within_core {
        game.topology()
            .neighbours(site)
            .iter()
            .filter(|&&u| core[u as usize])
            .count()
    } else {
        game.degree(site)
    }
}

/// The site with the highest score; ties to the smallest index.
fn best(sites: &[u32], mut score: impl FnMut(usize) -> usize) -> usize {
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
