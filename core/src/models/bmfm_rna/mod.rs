//! BMFM-RNA: single-cell foundation models (SCBert so far) loaded from reference checkpoints.
//!
//! `config` reads the reference `config.json`, `expression` holds the expression-value
//! encoders, `model` the embeddings + encoder + heads, `keys` the reference key names.

pub mod cases;
pub mod config;
pub mod expression;
mod keys;
pub mod model;

pub use config::{RnaConfig, RnaConfigError};
pub use model::{RnaBatch, RnaModel, RnaOutputs};
