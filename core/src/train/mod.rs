//! Native training: the shared loop (`fit`: seeded batches, AdamW steps, resumable checkpoints),
//! and each model's trainer — BMFM-RNA's objectives (MLM, WCED, label heads) and MAMMAL's
//! fine-tuning (decoder-label cross-entropy, scalar regression) — and the game agent's double DQN
//! (`dqn`, with its `replay` memory).

pub mod augment;
pub mod collate;
pub mod corpus;
pub mod dqn;
pub mod fit;
pub mod mammal;
pub mod objectives;
pub mod optimizer;
pub mod parallel;
pub mod recipe;
pub mod replay;
pub mod rna;

pub use fit::{Fit, StepLog, TrainError};
pub use parallel::{Alone, Collective, CollectiveError};
pub use rna::{TrainConfig, TrainData, Trainer};
