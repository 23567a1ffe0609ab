//! BMFM-RNA: single-cell foundation models (SCBert, scLlama) from reference checkpoints or ours.
//!
//! `config` reads the reference `config.json`, `expression` holds the expression-value
//! encoders, `model` the embeddings + encoder + heads, `keys` the reference key names,
//! `panel` maps a data set's genes to the vocabulary, `pipeline` turns a bundle into an annotator,
//! `cells` runs a data set's cells through it,
//! `bench` makes the inputs speed measurements time.

pub mod annotation;
pub mod bench;
pub mod cases;
pub mod cells;
pub mod config;
pub mod expression;
pub mod keys;
pub mod model;
pub mod panel;
pub mod pipeline;

pub use cells::CellResults;
pub use config::{RnaConfig, RnaConfigError};
pub use model::{Heads, RnaBatch, RnaError, RnaInputs, RnaModel, RnaOutputs};
pub use pipeline::{CellOutputs, Pooling, RnaBundleInfo, RnaPipeline, RnaPipelineStream};
