//! MAMMAL: a T5 v1.1 encoder–decoder over prompts mixing proteins, small molecules, genes and
//! scalars, with encoder-only heads for regression.
//!
//! `config` reads the published `config.json`, `model` is the network (scalar inputs, teacher
//! forcing, encoder-only mode), `heads` the encoder-only MLPs, `keys` the published tensor
//! names, `generate` greedy and beam decoding with a cache, `task` prompts → answers (text, class,
//! value), `finetune` task files (table rows → prompts and targets), `cases` the fixture
//! case format.

pub mod cases;
pub mod config;
pub mod finetune;
pub mod generate;
pub mod heads;
pub mod keys;
pub mod model;
pub mod task;

pub use config::{MammalConfig, MammalConfigError, T5Config};
pub use generate::{GenerateConfig, Generated};
pub use model::{
    EncoderInputs, EncoderOutputs, MammalError, MammalModel, MammalNet, MammalStreamLoad,
    token_loss, token_loss_sum,
};
pub use task::{Answer, Task};
