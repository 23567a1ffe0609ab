//! The percolation attack game (../shared/specs/lattice-game.md): boards, the rules under three
//! robustness definitions, and the players that attack them.
//!
//! `board` draws and stores lattice boards and `graph` reads graph boards from edge lists;
//! `graph_file` reads real networks (nodes with positions, links, attribution) and imports them;
//! `topology` is who neighbours whom on either, `clusters` keeps the clusters under removals,
//! `rules` is the game itself, `policy` the baselines, `optimal` the exact optima (flow by duality
//! on lattices and max flow on graphs, any definition by exhaustive search on small boards),
//! `evaluate` scores a player on a set of boards; `qnet` is the lattice agent's convolutional
//! Q-network and `incremental` its host-side evaluation one board at a time, `gnn` the graph
//! agent's message-passing one, `net` either behind one interface, `random_graphs` the graph
//! agent's training boards, and `agent` a trained one as a player (trained in `crate::train::dqn`).

pub mod agent;
pub mod board;
pub mod clusters;
pub mod evaluate;
pub mod gnn;
pub mod graph;
pub mod graph_file;
pub mod incremental;
pub mod net;
pub mod optimal;
pub mod policy;
pub mod qnet;
pub mod random_graphs;
pub mod rules;
pub mod topology;

pub use agent::{Agent, AgentError};
pub use board::{Board, BoardError, MAX_SIDE, MAX_SITES, Site, Symmetry};
pub use graph::{GraphBoard, MAX_EDGES, MAX_NODES};
pub use graph_file::{GraphFile, GraphFileError, GraphNode};
pub use net::{Architecture, Net};
pub use policy::Policy;
pub use rules::{Definition, FlowDirection, Game, GameError, UnknownDefinition};
