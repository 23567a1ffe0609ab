//! A trained agent as a player: its bundle (`config.json` + the Q-network's weights, the format
//! every model uses) and greedy play — the highest-Q `Alive` site, ties to the smallest index.
//!
//! A convolutional agent on a CPU device (f32) scores boards one at a time on the host's
//! incremental evaluator: an attack recomputes only the changed sites' neighbourhoods, equal to a
//! full recomputation bit for bit and to the forward pass to float rounding. Otherwise (graph
//! agents, GPUs, other precisions) each move is a forward pass, and many boards are played in
//! lockstep so each move of every game costs one batched pass.

use std::sync::{Mutex, TryLockError};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::board::{Board, Site};
use super::gnn::GraphState;
use super::incremental::{HostNetError, Incremental, IncrementalStats, computes_on_host};
use super::net::{Architecture, Net};
use super::policy::Played;
use super::qnet::{QNetConfig, masked_argmax};
use super::rules::{Definition, Game};
use crate::bundle::{Bundle, BundleError};

/// `config.json`'s `model` field for an agent.
pub const AGENT_MODEL: &str = "tessera-game-agent";

/// An agent bundle's `config.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentInfo {
    pub model: String,
    /// Which net (absent in bundles from before graph agents: convolutional).
    #[serde(default)]
    pub architecture: Architecture,
    /// The net's shape.
    pub net: QNetConfig,
    /// The definition it was trained on.
    pub definition: Definition,
    /// Board side and occupation probability of its training lattices.
    pub size: usize,
    pub p: f64,
    /// Further sides mixed into its training lattices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mixed_sizes: Vec<usize>,
    /// The random graphs a graph agent was trained on besides those lattices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphs: Option<crate::game::random_graphs::GraphMix>,
    /// Gradient steps taken, and the greedy validation score of these weights (mean moves).
    pub steps: usize,
    pub validation_moves: Option<f64>,
}

/// Why the agent cannot answer for a game.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error(
        "the agent's convolutional net plays n×n lattice boards; this board is a graph of {0} nodes \
         (a graph agent, whose message-passing net plays any graph, does)"
    )]
    NotALattice(usize),
    #[error("the game is over: no Alive site to choose")]
    Over,
}

pub struct Agent {
    pub info: AgentInfo,
    /// The Q-network. On a CPU device a convolutional net's weights are copied to the host
    /// evaluator the first time a board is scored: to change the weights after that, make a new
    /// agent.
    pub net: Net,
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
    pub fn new(info: AgentInfo, net: Net, device: &Device) -> Self {
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
            *host = match &self.net {
                Net::Convolutional(net) if computes_on_host(&self.device) => {
                    match Incremental::of(net) {
                        Ok(incremental) => Host::Ready(Box::new(incremental)),
                        Err(_) => Host::Unavailable,
                    }
                }
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

    fn forward(&self, game: &Game) -> Vec<f32> {
        self.net
            .q_values(&[state(game)], game.definition(), &self.device)
            .pop()
            .expect("one board in, one out")
    }

    /// The lattice side the host evaluator needs (`None` for a graph agent); refuses a graph to a
    /// convolutional agent.
    fn side(&self, game: &Game) -> Result<Option<usize>, AgentError> {
        if !self.net.plays(&state(game)) {
            return Err(AgentError::NotALattice(game.sites().len()));
        }
        Ok(match self.net {
            Net::Convolutional(_) => game.topology().lattice_side(),
            Net::MessagePassing(_) => None,
        })
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
        let mut net = Net::init(info.architecture, &info.net, 0, device);
        net.load(bundle, None)?;
        Ok(Self::new(info, net, device))
    }

    pub fn to_bundle(&self) -> Result<Bundle, BundleError> {
        self.net.bundle(&self.info)
    }

    /// Q-values of every site of `game` (`Alive` or not); a convolutional agent plays lattice
    /// games only (the net reads the board as an n×n image). On the host they equal the forward
    /// pass's to float rounding (a few ulps).
    pub fn q_values(&self, game: &Game) -> Result<Vec<f32>, AgentError> {
        let host = match self.side(game)? {
            Some(n) => self.with_host(|incremental| {
                incremental.evaluate(game.sites(), n).map(<[f32]>::to_vec)
            }),
            None => None,
        };
        Ok(host.unwrap_or_else(|| self.forward(game)))
    }

    /// The predicted moves left after attacking each `Alive` site, −Q·√sites (−Q·n on an n×n
    /// lattice; `None` elsewhere): the heat map the game page shows.
    pub fn moves_left(&self, game: &Game) -> Result<Vec<Option<f32>>, AgentError> {
        let scale = move_scale(game.sites().len());
        Ok(self
            .q_values(game)?
            .iter()
            .zip(game.sites())
            .map(|(&q, &site)| (site == Site::Alive).then_some(-q * scale))
            .collect())
    }

    /// The agent's move in `game`: the highest-Q Alive site, ties to the smallest index.
    pub fn choose(&self, game: &Game) -> Result<usize, AgentError> {
        let sites = game.sites();
        let host = match self.side(game)? {
            Some(n) => self.with_host(|incremental| {
                incremental
                    .evaluate(sites, n)
                    .map(|q| masked_argmax(q, sites))
            }),
            None => None,
        };
        host.unwrap_or_else(|| masked_argmax(&self.forward(game), sites))
            .ok_or(AgentError::Over)
    }

    /// Plays every board to the end under `definition`.
    pub fn play_all(&self, boards: &[Board], definition: Definition) -> Vec<Played> {
        let games = boards.iter().map(|b| Game::new(b, definition)).collect();
        play_greedy(&self.net, &self.device, games)
    }

    /// Plays every game to the end (a convolutional agent refuses graphs).
    pub fn play_games(&self, games: Vec<Game>) -> Result<Vec<Played>, AgentError> {
        if let Some(graph) = games.iter().find(|g| !self.net.plays(&state(g))) {
            return Err(AgentError::NotALattice(graph.sites().len()));
        }
        Ok(play_greedy(&self.net, &self.device, games))
    }
}

/// What one move is worth in Q: a move costs −1/√sites (−1/n on an n×n lattice, the spec's
/// reward), so −Q·√sites reads as moves.
pub fn move_scale(sites: usize) -> f32 {
    (sites as f32).sqrt()
}

/// How the nets read a game in progress.
pub fn state(game: &Game) -> GraphState<'_> {
    GraphState {
        sites: game.sites(),
        topology: game.topology(),
    }
}

/// Nodes a lockstep batch may hold: bounds a graph agent's activations (`[nodes, F]` a layer).
const LOCKSTEP_NODES: usize = 1 << 16;

/// Plays every game to the end, always taking `net`'s highest-Q `Alive` site: a convolutional net
/// on a CPU device one game after another on the host evaluator; otherwise games in lockstep, one
/// batched forward pass a move for as many games as fit [`LOCKSTEP_NODES`]. The nets must play
/// the games' boards ([`Net::plays`]).
pub fn play_greedy(net: &Net, device: &Device, games: Vec<Game>) -> Vec<Played> {
    if let Net::Convolutional(conv) = net
        && computes_on_host(device)
        && let Ok(mut incremental) = Incremental::of(conv)
    {
        return games
            .into_iter()
            .map(|game| play_on_host(net, device, &mut incremental, game))
            .collect();
    }
    let mut played = Vec::with_capacity(games.len());
    let mut group: Vec<Game> = Vec::new();
    let mut nodes = 0;
    for game in games {
        if !group.is_empty() && nodes + game.sites().len() > LOCKSTEP_NODES {
            played.extend(play_lockstep(net, device, std::mem::take(&mut group)));
            nodes = 0;
        }
        nodes += game.sites().len();
        group.push(game);
    }
    played.extend(play_lockstep(net, device, group));
    played
}

fn play_lockstep(net: &Net, device: &Device, mut games: Vec<Game>) -> Vec<Played> {
    let mut moves: Vec<Vec<usize>> = vec![Vec::new(); games.len()];
    loop {
        let playing: Vec<usize> = (0..games.len()).filter(|&i| !games[i].is_over()).collect();
        let Some(first) = playing.first() else {
            break;
        };
        let definition = games[*first].definition();
        let states: Vec<GraphState<'_>> = playing.iter().map(|&i| state(&games[i])).collect();
        let q = net.q_values(&states, definition, device);
        for (&i, q) in playing.iter().zip(&q) {
            let site = masked_argmax(q, games[i].sites()).expect("the game is not over");
            games[i].attack(site).expect("an Alive site");
            moves[i].push(site);
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

/// One lattice game to the end on the host evaluator (boards too large for it by the forward
/// pass).
fn play_on_host(
    net: &Net,
    device: &Device,
    incremental: &mut Incremental,
    mut game: Game,
) -> Played {
    let n = game.n();
    let definition = game.definition();
    let mut moves = Vec::new();
    while !game.is_over() {
        let sites = game.sites();
        let site = match incremental.evaluate(sites, n) {
            Ok(q) => masked_argmax(q, sites),
            Err(_) => masked_argmax(&net.q_values(&[state(&game)], definition, device)[0], sites),
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
