//! The reference's loss primitives (`training/metrics/metric_functions.py`) and how they combine.
//! Targets live on the host, so which entries count is decided there and passed as masks.
//!
//! Each primitive returns a [`Part`]: the sum of its per-entry losses and how many entries were
//! supervised, not their mean. A step's batch may be split into micro-batches on several ranks;
//! only the sums and counts of the whole batch give the mean a single device would compute
//! ([`super::parallel`] adds them up before the backward pass).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// The "ignore this entry" target value.
pub const IGNORE: f32 = -100.0;

fn host_2d(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// `mse` with `ignore_zero`: (pred − y)² over targets that are neither −100 nor 0, averaged as
/// `sum / (n + 1e-6)` (so no target at all gives 0, as in the reference).
pub fn mse_ignore_zero(pred: Tensor<2>, target: &[f32], device: &Device) -> Part {
    let shape = pred.dims();
    let mask: Vec<f32> = target
        .iter()
        .map(|&y| f32::from(y != IGNORE && y != 0.0))
        .collect();
    let n: f32 = mask.iter().sum();
    let y: Vec<f32> = target.iter().zip(&mask).map(|(y, m)| y * m).collect();
    let diff = (pred - host_2d(y, shape, device)) * host_2d(mask, shape, device);
    Part {
        sum: diff.powi_scalar(2).sum(),
        count: n as f64,
        reduce: Reduce::SmoothedMean,
    }
}

/// `is_zero_bce`: BCE-with-logits against 1[y == 0], averaged over targets ≠ −100; absent when
/// nothing is supervised (the reference's NaN, which the total skips).
pub fn is_zero_bce(logits: Tensor<2>, target: &[f32], device: &Device) -> Part {
    let shape = logits.dims();
    let mask: Vec<f32> = target.iter().map(|&y| f32::from(y != IGNORE)).collect();
    let n: f32 = mask.iter().sum();
    let zero: Vec<f32> = target.iter().map(|&y| f32::from(y == 0.0)).collect();
    let t = host_2d(zero, shape, device);
    // max(z, 0) − z·t + log(1 + e^−|z|), stable for any z.
    let loss =
        logits.clone().clamp_min(0.0) - logits.clone() * t + logits.abs().neg().exp().log1p();
    Part {
        sum: (loss * host_2d(mask, shape, device)).sum(),
        count: n as f64,
        reduce: Reduce::Mean,
    }
}

/// How a label head's loss is computed.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ClassLoss {
    CrossEntropy,
    /// `−(1 − p_t)^γ · log p_t` (focal_loss_torch with softmax inputs).
    Focal {
        gamma: f64,
    },
}

/// Cross-entropy or focal loss of `logits: [N, C]` against class ids (−100 = ignore), averaged
/// over the supervised rows; absent when there are none.
pub fn class_loss(logits: Tensor<2>, target: &[i64], loss: ClassLoss, device: &Device) -> Part {
    let [rows, _] = logits.dims();
    let n = target.iter().filter(|&&t| t >= 0).count();
    let ids: Vec<i64> = target.iter().map(|&t| t.max(0)).collect();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [rows, 1]), device);
    let log_p = log_softmax(logits, 1).gather(1, ids);
    let per_row = match loss {
        ClassLoss::CrossEntropy => log_p.neg(),
        ClassLoss::Focal { gamma } => {
            let p = log_p.clone().exp();
            p.neg().add_scalar(1.0).powf_scalar(gamma) * log_p.neg()
        }
    };
    let mask: Vec<f32> = target.iter().map(|&t| f32::from(t >= 0)).collect();
    Part {
        sum: (per_row * host_2d(mask, [rows, 1], device)).sum(),
        count: n as f64,
        reduce: Reduce::Mean,
    }
}

/// A loss over one micro-batch, before averaging: the sum of its per-entry losses (`[1]`, on the
/// autodiff graph) and the number of supervised entries.
pub struct Part {
    pub sum: Tensor<1>,
    pub count: f64,
    pub reduce: Reduce,
}

impl Part {
    /// The value this part would have as a whole batch (`None`: absent).
    pub fn value(&self) -> Option<f64> {
        let sum = self.sum.clone().into_scalar::<f32>() as f64;
        self.reduce.value(sum, self.count).map(|(value, _)| value)
    }
}

/// How a term's batch-wide sum and count become its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reduce {
    /// `sum / (count + 1e-6)`: 0 with no supervised entry (the reference's `mse`).
    SmoothedMean,
    /// `sum / count`; absent with no supervised entry.
    Mean,
    /// `√(sum / count + 1e-6)` (RMSE); absent with no supervised entry.
    RootMean,
}

impl Reduce {
    /// The term's value and d value / d sum, or `None` when it is absent.
    pub fn value(self, sum: f64, count: f64) -> Option<(f64, f64)> {
        match self {
            Self::SmoothedMean => Some((sum / (count + 1e-6), 1.0 / (count + 1e-6))),
            _ if count == 0.0 => None,
            Self::Mean => Some((sum / count, 1.0 / count)),
            Self::RootMean => {
                let value = (sum / count + 1e-6).sqrt();
                Some((value, 1.0 / (2.0 * value * count)))
            }
        }
    }
}

/// How a model's terms make its loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Combine {
    /// `Σ wᵢ·Lᵢ / Σ wᵢ` over the terms present (BMFM-RNA: the reference's `calculate_losses`).
    WeightedMean,
    /// `Σ wᵢ·Lᵢ` (MAMMAL adds its losses).
    Sum,
}

impl Combine {
    /// The loss and d loss / d Lᵢ for every term, from each term's weight and value (`None`:
    /// absent, d = 0); `None` when no weighted term is present.
    pub fn total(self, terms: &[(f64, Option<f64>)]) -> Option<(f64, Vec<f64>)> {
        let present = |&(w, v): &(f64, Option<f64>)| v.is_some() && w > 0.0;
        let norm = match self {
            Self::WeightedMean => terms.iter().filter(|t| present(t)).map(|t| t.0).sum(),
            Self::Sum => 1.0,
        };
        if !terms.iter().any(present) {
            return None;
        }
        let loss = terms
            .iter()
            .filter(|t| present(t))
            .map(|&(w, v)| w * v.unwrap_or(0.0))
            .sum::<f64>()
            / norm;
        let grads = terms
            .iter()
            .map(|t| if present(t) { t.0 / norm } else { 0.0 })
            .collect();
        Some((loss, grads))
    }
}

/// One named, weighted loss term of a micro-batch.
pub struct LossTerm {
    pub name: String,
    pub weight: f64,
    pub part: Part,
}
