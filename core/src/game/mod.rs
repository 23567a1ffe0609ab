//! The percolation attack game (../shared/specs/lattice-game.md): boards, the rules under three
//! robustness definitions, and the players that attack them.
//!
//! `board` draws and stores boards, `clusters` keeps the lattice's clusters under removals,
//! `rules` is the game itself, `policy` the baselines, `optimal` the exact flow optimum,
//! `evaluate` scores a player on a set of boards; `qnet` is the agent's Q-network and `agent` a
//! trained one as a player (trained in `crate::train::dqn`).

pub mod agent;
pub mod board;
pub mod clusters;
pub mod evaluate;
pub mod optimal;
pub mod policy;
pub mod qnet;
pub mod rules;

pub use agent::Agent;
pub use board::{Board, BoardError, Site, Symmetry};
pub use policy::Policy;
pub use rules::{Definition, FlowDirection, Game, GameError};
