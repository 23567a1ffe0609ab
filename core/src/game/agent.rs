//! A trained agent as a player: its bundle (`config.json` + the Q-network's weights, the format
//! every model uses) and greedy play — the highest-Q `Alive` site, ties to the smallest index.
//!
//! On a CPU device (f32) boards are scored one at a time by the host's incremental evaluator: an
//! attack recomputes only the changed sites' neighbourhoods, equal to a full recomputation bit
//! for bit and to the forward pass to float rounding. Elsewhere (GPUs, other precisions) each
//! move is a forward pass, and many boards are played in lockstep so each move of every game
//! costs one batched pass.

use std::sync::{Mutex, TryLockError};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::board::{Board, Site};
use super::incremental::{HostNetError, Incremental, IncrementalStats, computes_on_host};
use super::policy::Played;
use super::qnet::{QNet, QNetConfig, masked_argmax};
use super::rules::{Definition, Game};
use crate::bundle::{Bundle, BundleError, KeyMap};

/// `config.json`'s `model` field for an agent.
pub const AGENT_MODEL: &str = "tessera-game-agent";

/// An agent bundle's `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub model: String,
    /// The net's shape.
    pub net: QNetConfig,
    /// The definition it was trained on.
    pub definition: Definition,
    /// Board side and occupation probability of its training boards.
    pub size: usize,
    pub p: f64,
    /// Gradient steps taken, and the greedy validation score of these weights (mean moves).
    pub steps: usize,
    pub validation_moves: Option<f64>,
}

/// Why the agent cannot answer for a game.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error(
        "the agent's convolutional net plays n×n lattice boards; this board is a graph of {0} nodes"
    )]
    NotALattice(usize),
    #[error("the game is over: no Alive site to choose")]
    Over,
}

pub struct Agent {
    pub info: AgentInfo,
    /// The Q-network. On a CPU device its weights are copied to the host evaluator the first
    /// time a board is scored: to change the weights after that, make a new agent.
    pub net: QNet,
    device: Device,
    /// The host evaluator and the last board it scored (locked per move).
    host: Mutex<Host>,
}

/// Whether an agent scores on the host.
enum Host {
    /// Not decided yet (the weights are read on first use, not for agents that never play).
    Untried,
    /// The device is not the CPU in f32, or the net is not one the host evaluator runs.
    Unavailable,
    Ready(Box<Incremental>),
}

impl Agent {
    pub fn new(info: AgentInfo, net: QNet, device: &Device) -> Self {
        Self {
            info,
            net,
            device: device.clone(),
            host: Mutex::new(Host::Untried),
        }
    }

    /// `score` on the host evaluator; `None` (score by the forward pass) where there is none, the
    /// board is too large for it, or another thread is using it.
    fn with_host<R>(
        &self,
        score: impl FnOnce(&mut Incremental) -> Result<R, HostNetError>,
    ) -> Option<R> {
        let mut host = match self.host.try_lock() {
            Ok(host) => host,
            Err(TryLockError::WouldBlock) => return None,
            Err(TryLockError::Poisoned(poisoned)) => {
                // A panic mid-evaluation may have left the cache half-updated: start afresh.
                let mut host = poisoned.into_inner();
                if let Host::Ready(incremental) = &mut *host {
                    incremental.reset();
                }
                self.host.clear_poison();
                host
            }
        };
        if let Host::Untried = *host {
            *host = match computes_on_host(&self.device).then(|| Incremental::of(&self.net)) {
                Some(Ok(incremental)) => Host::Ready(Box::new(incremental)),
                _ => Host::Unavailable,
            };
        }
        match &mut *host {
            Host::Ready(incremental) => score(incremental).ok(),
            Host::Untried | Host::Unavailable => None,
        }
    }

    /// What the host evaluator has done; `None` when this agent scores by the forward pass.
    pub fn host_stats(&self) -> Option<IncrementalStats> {
        self.with_host(|incremental| Ok(incremental.stats()))
    }

    fn forward(&self, sites: &[Site], n: usize) -> Vec<f32> {
        self.net
            .q_values(&[sites], n, &self.device)
            .pop()
            .expect("one board in, one out")
    }

    fn side(game: &Game) -> Result<usize, AgentError> {
        game.topology()
            .lattice_side()
            .ok_or(AgentError::NotALattice(game.sites().len()))
    }

    /// The agent in `bundle`; refuses a bundle of another model.
    pub fn from_bundle(bundle: &Bundle, device: &Device) -> Result<Self, BundleError> {
        let info: AgentInfo = bundle.config()?;
        if info.model != AGENT_MODEL {
            return Err(BundleError::Config {
                file: crate::bundle::CONFIG_FILE.into(),
                field: Some("model".into()),
                message: format!(
                    "model {:?} is not a game agent (expected {AGENT_MODEL:?})",
                    info.model
                ),
            });
        }
        if info.net.features == 0 {
            return Err(BundleError::Config {
                file: crate::bundle::CONFIG_FILE.into(),
                field: Some("net.features".into()),
                message: "a net needs at least one channel".into(),
            });
        }
        let mut net = info.net.init(0, device);
        bundle.load_weights(&mut net, &KeyMap::new())?;
        Ok(Self::new(info, net, device))
    }

    pub fn to_bundle(&self) -> Result<Bundle, BundleError> {
        Bundle::build(&self.info, &self.net)
    }

    /// Q-values of every site of `game` (`Alive` or not); a lattice game only (the net reads
    /// the board as an n×n image). On the host they equal the forward pass's to float rounding
    /// (a few ulps).
    pub fn q_values(&self, game: &Game) -> Result<Vec<f32>, AgentError> {
        let n = Self::side(game)?;
        Ok(self
            .with_host(|incremental| incremental.evaluate(game.sites(), n).map(<[f32]>::to_vec))
            .unwrap_or_else(|| self.forward(game.sites(), n)))
    }

    /// The predicted moves left after attacking each `Alive` site, −Q·n (`None` elsewhere): the
    /// heat map the game page shows.
    pub fn moves_left(&self, game: &Game) -> Result<Vec<Option<f32>>, AgentError> {
        let n = game.n() as f32;
        Ok(self
            .q_values(game)?
            .iter()
            .zip(game.sites())
            .map(|(&q, &site)| (site == Site::Alive).then_some(-q * n))
            .collect())
    }

    /// The agent's move in `game`: the highest-Q Alive site, ties to the smallest index.
    pub fn choose(&self, game: &Game) -> Result<usize, AgentError> {
        let n = Self::side(game)?;
        let sites = game.sites();
        self.with_host(|incremental| {
            incremental
                .evaluate(sites, n)
                .map(|q| masked_argmax(q, sites))
        })
        .unwrap_or_else(|| masked_argmax(&self.forward(sites, n), sites))
        .ok_or(AgentError::Over)
    }

    /// Plays every board to the end under `definition`.
    pub fn play_all(&self, boards: &[Board], definition: Definition) -> Vec<Played> {
        play_greedy(&self.net, &self.device, boards, definition)
    }
}

/// Plays every board to the end, always taking `net`'s highest-Q `Alive` site: on a CPU device
/// one board after another on the host evaluator, elsewhere boards of one size sharing each
/// forward pass.
pub fn play_greedy(
    net: &QNet,
    device: &Device,
    boards: &[Board],
    definition: Definition,
) -> Vec<Played> {
    if computes_on_host(device)
        && let Ok(mut incremental) = Incremental::of(net)
    {
        return boards
            .iter()
            .map(|board| play_on_host(net, device, &mut incremental, board, definition))
            .collect();
    }
    let mut games: Vec<Game> = boards.iter().map(|b| Game::new(b, definition)).collect();
    let mut moves: Vec<Vec<usize>> = vec![Vec::new(); boards.len()];
    let mut sizes: Vec<usize> = boards.iter().map(|b| b.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    for n in sizes {
        loop {
            let playing: Vec<usize> = (0..games.len())
                .filter(|&i| games[i].n() == n && !games[i].is_over())
                .collect();
            if playing.is_empty() {
                break;
            }
            let states: Vec<&[Site]> = playing.iter().map(|&i| games[i].sites()).collect();
            let q = net.q_values(&states, n, device);
            for (&i, q) in playing.iter().zip(&q) {
                let site = masked_argmax(q, games[i].sites()).expect("the game is not over");
                games[i].attack(site).expect("an Alive site");
                moves[i].push(site);
            }
        }
    }
    games
        .iter()
        .zip(moves)
        .map(|(game, moves)| Played {
            moves,
            robustness: game.robustness(),
        })
        .collect()
}

/// One board to the end on the host evaluator (boards too large for it by the forward pass).
fn play_on_host(
    net: &QNet,
    device: &Device,
    incremental: &mut Incremental,
    board: &Board,
    definition: Definition,
) -> Played {
    let n = board.n;
    let mut game = Game::new(board, definition);
    let mut moves = Vec::new();
    while !game.is_over() {
        let sites = game.sites();
        let site = match incremental.evaluate(sites, n) {
            Ok(q) => masked_argmax(q, sites),
            Err(_) => masked_argmax(&net.q_values(&[sites], n, device)[0], sites),
        }
        .expect("the game is not over");
        game.attack(site).expect("an Alive site");
        moves.push(site);
    }
    Played {
        moves,
        robustness: game.robustness(),
    }
}
