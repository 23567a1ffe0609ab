//! A trained agent as a player: its bundle (`config.json` + the Q-network's weights, the format
//! every model uses) and greedy play — the highest-Q `Alive` site, ties to the smallest index.
//!
//! Many boards are played in lockstep so each move of every game costs one batched forward pass.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::board::{Board, Site};
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
    pub net: QNet,
    device: Device,
}

impl Agent {
    pub fn new(info: AgentInfo, net: QNet, device: &Device) -> Self {
        Self {
            info,
            net,
            device: device.clone(),
        }
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
    /// the board as an n×n image).
    pub fn q_values(&self, game: &Game) -> Result<Vec<f32>, AgentError> {
        let n = game
            .topology()
            .lattice_side()
            .ok_or(AgentError::NotALattice(game.sites().len()))?;
        Ok(self
            .net
            .q_values(&[game.sites()], n, &self.device)
            .pop()
            .expect("one board in, one out"))
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

    /// The agent's move in `game`.
    pub fn choose(&self, game: &Game) -> Result<usize, AgentError> {
        masked_argmax(&self.q_values(game)?, game.sites()).ok_or(AgentError::Over)
    }

    /// Plays every board to the end under `definition`.
    pub fn play_all(&self, boards: &[Board], definition: Definition) -> Vec<Played> {
        play_greedy(&self.net, &self.device, boards, definition)
    }
}

/// Plays every board to the end, always taking `net`'s highest-Q `Alive` site; boards of one size
/// share each forward pass.
pub fn play_greedy(
    net: &QNet,
    device: &Device,
    boards: &[Board],
    definition: Definition,
) -> Vec<Played> {
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
