//! Scoring a player on a set of boards: moves to finish each board and the robustness area R —
//! the numbers `tessera game eval` prints and the README's tables are made of.

use super::agent::Agent;
use super::board::{Board, Site};
use super::graph::GraphBoard;
use super::optimal::{exhaustive_optimum, flow_optimum};
use super::policy::{Played, Policy};
use super::rules::{Definition, Game};

/// States an exhaustive search may visit per board before `optimal` gives up.
pub const EXHAUSTIVE_STATES: usize = 2_000_000;

/// Who plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Player {
    Policy(Policy),
    /// The exact minimum (`flow`: by duality or max flow, at any size; otherwise exhaustive
    /// search on boards of at most 64 sites, within [`EXHAUSTIVE_STATES`]).
    Optimal,
}

/// Why a policy name is not a [`Player`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlayerError {
    #[error(
        "policy \"agent\" plays from a bundle: load it with `Agent::from_bundle` and score it with `evaluate_agent`"
    )]
    Agent,
    #[error(
        "unknown policy {0:?} (expected random, degree, greedy, ci, corehd, optimal, agent or agent=PATH)"
    )]
    Unknown(String),
}

impl Player {
    /// A policy name of the command line (`random` takes `seed`).
    pub fn parse(name: &str, seed: u64) -> Result<Self, PlayerError> {
        match name {
            "random" => Ok(Self::Policy(Policy::Random { seed })),
            "degree" => Ok(Self::Policy(Policy::Degree)),
            "greedy" => Ok(Self::Policy(Policy::Greedy)),
            "ci" => Ok(Self::Policy(Policy::CollectiveInfluence { radius: 2 })),
            "corehd" => Ok(Self::Policy(Policy::CoreHd)),
            "optimal" => Ok(Self::Optimal),
            "agent" => Err(PlayerError::Agent),
            other => Err(PlayerError::Unknown(other.to_string())),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Policy(p) => p.name(),
            Self::Optimal => "optimal",
        }
    }
}

/// Per-board results in board order, or why there are none.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    pub steps: Option<Vec<usize>>,
    pub robustness: Option<Vec<f64>>,
    /// Each board's attacked sites in order.
    pub moves: Option<Vec<Vec<usize>>>,
    pub reason: Option<String>,
}

impl Evaluation {
    pub fn mean_steps(&self) -> Option<f64> {
        self.steps
            .as_ref()
            .map(|s| mean(s.iter().map(|&v| v as f64)))
    }

    pub fn std_steps(&self) -> Option<f64> {
        let steps = self.steps.as_ref()?;
        let m = self.mean_steps()?;
        Some(mean(steps.iter().map(|&v| (v as f64 - m).powi(2))).sqrt())
    }

    pub fn mean_robustness(&self) -> Option<f64> {
        self.robustness.as_ref().map(|r| mean(r.iter().copied()))
    }

    /// Finished games, in board order.
    pub fn from_played(played: Vec<Played>) -> Self {
        Self {
            steps: Some(played.iter().map(|p| p.moves.len()).collect()),
            robustness: Some(played.iter().map(|p| p.robustness).collect()),
            moves: Some(played.into_iter().map(|p| p.moves).collect()),
            reason: None,
        }
    }

    fn unavailable(reason: String) -> Self {
        Self {
            steps: None,
            robustness: None,
            moves: None,
            reason: Some(reason),
        }
    }
}

/// A trained agent's greedy games on every board (all boards share each forward pass).
pub fn evaluate_agent(boards: &[Board], definition: Definition, agent: &Agent) -> Evaluation {
    Evaluation::from_played(agent.play_all(boards, definition))
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Plays every board; `random` is seeded per board (`seed + index`) so one board's game does not
/// depend on the others.
pub fn evaluate(boards: &[Board], definition: Definition, player: Player) -> Evaluation {
    evaluate_games(boards.iter().map(|b| Game::new(b, definition)), player)
}

/// Plays a graph board (`optimal`: `flow` by max flow at any size, the others by exhaustive
/// search on graphs of at most 64 nodes).
pub fn evaluate_graph(graph: &GraphBoard, definition: Definition, player: Player) -> Evaluation {
    evaluate_games(std::iter::once(Game::on_graph(graph, definition)), player)
}

/// Plays every game with `player` (`random` seeded per game, `seed + index`).
pub fn evaluate_games(games: impl Iterator<Item = Game>, player: Player) -> Evaluation {
    let mut played = Vec::new();
    for (i, mut game) in games.enumerate() {
        match player {
            Player::Policy(policy) => {
                let policy = match policy {
                    Policy::Random { seed } => Policy::Random {
                        seed: seed.wrapping_add(i as u64),
                    },
                    other => other,
                };
                played.push(policy.play_game(game));
            }
            Player::Optimal => {
                let line = match flow_optimum(&game) {
                    Some((_, cut)) => cut,
                    None => match exhaustive_optimum(&game, EXHAUSTIVE_STATES) {
                        Ok((_, line)) => line,
                        Err(limit) => {
                            return Evaluation::unavailable(format!(
                                "board {}: {limit}; the exact optimum of `{}` is known only on \
                                 small boards (flow: any board)",
                                i + 1,
                                game.definition().name()
                            ));
                        }
                    },
                };
                // (Every site of an optimal line is still Alive when its turn comes, or the line
                // would not be optimal; skipping is only a guard.)
                let mut moves = Vec::with_capacity(line.len());
                for site in line {
                    if game.sites()[site] == Site::Alive {
                        game.attack(site).expect("an Alive site");
                        moves.push(site);
                    }
                }
                played.push(Played {
                    moves,
                    robustness: game.robustness(),
                });
            }
        }
    }
    Evaluation::from_played(played)
}
