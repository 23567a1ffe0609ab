//! The percolation attack game (../shared/specs/lattice-game.md): boards, the rules under three
//! robustness definitions, and the players that attack them.
//!
//! `board` draws and stores lattice boards and `graph` reads graph boards from edge lists;
//! `graph_file` reads real networks (nodes with positions, links, attribution) and imports them;
//! `topology` is who neighbours whom on either, `clusters` keeps the clusters under removals,
//! `rules` is the game itself, `policy` the baselines, `optimal` the exact optima (flow by duality
//! on lattices and max flow on graphs, any definition by exhaustive search on small boards),
//! `evaluate` scores a player on a set of boards; `qnet` is the agent's Q-network, `incremental`
//! its host-side evaluation one board at a time, and `agent` a trained one as a player (trained
//! in `crate::train::dqn`).

pub mod agent;
pub mod board;
pub mod clusters;
pub mod evaluate;
pub mod graph;
pub mod graph_file;
pub mod incremental;
pub mod optimal;
pub mod policy;
pub mod qnet;
pub mod rules;
pub mod topology;

pub use agent::{Agent, AgentError};
pub use board::{Board, BoardError, MAX_SIDE, MAX_SITES, Site, Symmetry};
pub use graph::{GraphBoard, MAX_EDGES, MAX_NODES};
pub use graph_file::{GraphFile, GraphFileError, GraphNode};
pub use policy::Policy;
pub use rules::{Definition, FlowDirection, Game, GameError, UnknownDefinition};
