//! The loop every model's training shares: seeded batch order, one AdamW step from a loss, the
//! step log, and checkpoints (trainer state + optimizer moments) that resume to the same weights.
//!
//! A model's trainer ([`super::rna`], [`super::mammal`]) builds batches and losses; it implements
//! [`Fit`] so front-ends drive every trainer the same way.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::optimizer::{AdamW, Moments, moments_from_host, moments_to_host};
use crate::bundle::{Bundle, BundleError};
use crate::models::bmfm_rna::RnaError;
use crate::models::mammal::MammalError;

/// Checkpoint files besides the bundle's.
pub const TRAINER_FILE: &str = "trainer.json";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Rna(#[from] RnaError),
    #[error(transparent)]
    Mammal(#[from] MammalError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error(transparent)]
    Collective(#[from] super::parallel::CollectiveError),
    #[error("training: {0}")]
    Setup(String),
}

/// One step's numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLog {
    pub step: usize,
    pub loss: f64,
    pub terms: Vec<(String, f64)>,
    pub lr: f64,
    pub grad_norm: f64,
}

/// A trainer's own state in a checkpoint (`trainer.json`): its config, the steps taken, the log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainerState<C> {
    pub config: C,
    pub step: usize,
    pub history: Vec<StepLog>,
}

impl<C> TrainerState<C> {
    pub fn new(config: C) -> Self {
        Self {
            config,
            step: 0,
            history: Vec::new(),
        }
    }
}

/// What a front-end needs to run any trainer: step it, report progress, write its outputs.
pub trait Fit {
    /// One optimisation step.
    fn step(&mut self) -> Result<StepLog, TrainError>;
    /// Steps taken so far and steps in the run.
    fn position(&self) -> (usize, usize);
    /// Examples (cells, prompts, …) in one step's batch.
    fn batch_size(&self) -> usize;
    fn history(&self) -> &[StepLog];
    /// The model as an inference bundle.
    fn bundle(&self) -> Result<Bundle, TrainError>;
    /// The bundle plus everything resuming needs.
    fn checkpoint(&self) -> Result<Bundle, TrainError>;

    /// A line for the progress display beside the loss (validation scores, …).
    fn status(&self) -> Option<String> {
        None
    }

    fn done(&self) -> bool {
        let (step, total) = self.position();
        step >= total
    }
}

/// Mixes a seed with a counter and a stream tag into a new seed (splitmix64 finaliser).
pub fn mix(seed: u64, counter: u64, stream: u64) -> u64 {
    let mut z = seed
        .wrapping_add(counter.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        .wrapping_add(stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The rows of step `step` out of `n`: epoch-wise seeded permutations cut into full batches, so
/// any step's batch is known without replaying the ones before it.
pub fn batch_rows(n: usize, batch_size: usize, seed: u64, step: usize) -> Vec<usize> {
    let size = batch_size.clamp(1, n.max(1));
    let per_epoch = (n / size).max(1);
    let (epoch, k) = (step / per_epoch, step % per_epoch);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(mix(
        seed,
        epoch as u64,
        0x5eed,
    )));
    order[k * size..((k + 1) * size).min(n)].to_vec()
}

/// Seeds the device generator for step `step`: dropout then draws the same masks in a resumed
/// run as in an uninterrupted one.
pub fn seed_step(device: &Device, seed: u64, step: usize) {
    device.seed(mix(seed, step as u64, 0xd209));
}

/// Backpropagates `loss` (one device, one batch), takes one optimizer step on `net` and logs it.
/// Trainers whose batches may be split among ranks use [`super::parallel::descend`].
pub fn descend<M: Module>(
    optimizer: &mut AdamW,
    net: M,
    loss: Tensor<1>,
    step: usize,
) -> Result<(M, StepLog), TrainError> {
    let grads = GradientsParams::from_grads(loss.backward(), &net);
    let total = loss.clone().into_scalar::<f32>() as f64;
    if !total.is_finite() {
        return Err(TrainError::Setup(format!(
            "step {step}: the loss is {total}; lower the learning rate"
        )));
    }
    let (net, report) = optimizer.step(net, grads);
    Ok((
        net,
        StepLog {
            step,
            loss: total,
            terms: Vec::new(),
            lr: report.lr,
            grad_norm: report.grad_norm,
        },
    ))
}

/// `bundle` plus the trainer state and optimizer moments.
pub fn checkpoint<C: Serialize>(
    bundle: Bundle,
    state: &TrainerState<C>,
    optimizer: &AdamW,
) -> Result<Bundle, TrainError> {
    let state = serde_json::to_vec_pretty(state).map_err(|e| TrainError::Setup(e.to_string()))?;
    Ok(bundle
        .with_file(TRAINER_FILE, state)
        .with_file(OPTIMIZER_FILE, write_moments(optimizer)?))
}

/// The trainer state and optimizer of a checkpoint written by [`checkpoint`].
pub fn restore<C: DeserializeOwned>(
    bundle: &Bundle,
    optimizer: &mut AdamW,
    device: &Device,
) -> Result<TrainerState<C>, TrainError> {
    let state: TrainerState<C> =
        crate::bundle::parse_json(TRAINER_FILE, bundle.file(TRAINER_FILE)?)?;
    optimizer.steps = state.step;
    optimizer.moments = read_moments(bundle.file(OPTIMIZER_FILE)?, device)?;
    Ok(state)
}

fn write_moments(optimizer: &AdamW) -> Result<Vec<u8>, TrainError> {
    let bytes: Vec<(String, Vec<u8>, usize)> = moments_to_host(&optimizer.moments)
        .into_iter()
        .map(|(name, values)| {
            let n = values.len();
            (
                name,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                n,
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, data, n)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![*n], data)
                .map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TrainError::Setup(e.to_string()))?;
    safetensors::serialize(views, None).map_err(|e| TrainError::Setup(e.to_string()))
}

fn read_moments(bytes: &[u8], device: &Device) -> Result<BTreeMap<String, Moments>, TrainError> {
    let corrupt = |message: String| {
        TrainError::Bundle(BundleError::Corrupt {
            file: OPTIMIZER_FILE.into(),
            message,
        })
    };
    let tensors =
        safetensors::SafeTensors::deserialize(bytes).map_err(|e| corrupt(e.to_string()))?;
    let entries = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, values)
        })
        .collect();
    moments_from_host(entries, device).map_err(|e| corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_each_epoch_once_and_depend_only_on_seed_and_step() {
        let epoch: Vec<usize> = (0..3).flat_map(|s| batch_rows(10, 3, 7, s)).collect();
        let mut sorted = epoch.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 9, "no row twice within an epoch");
        assert_eq!(batch_rows(10, 3, 7, 4), batch_rows(10, 3, 7, 4));
        assert_ne!(batch_rows(10, 3, 7, 0), batch_rows(10, 3, 8, 0));
        assert_eq!(
            batch_rows(2, 8, 1, 5).len(),
            2,
            "a batch larger than the data takes it all"
        );
    }
}
