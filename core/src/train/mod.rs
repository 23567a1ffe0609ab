//! Native training of BMFM-RNA models: the reference's objectives (MLM, WCED, label heads),
//! seeded batch construction, AdamW with decay groups, and resumable checkpoints.

pub mod collate;
pub mod objectives;
pub mod optimizer;
pub mod recipe;
pub mod trainer;

pub use trainer::{StepLog, TrainConfig, TrainData, TrainError, Trainer};
