//! The reference's loss primitives (`training/metrics/metric_functions.py`) and their weighted
//! mean. Targets live on the host, so which entries count is decided there and passed as masks.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// The "ignore this entry" target value.
pub const IGNORE: f32 = -100.0;

fn host_2d(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// `mse` with `ignore_zero`: mean of (pred − y)² over targets that are neither −100 nor 0,
/// as `sum / (n + 1e-6)` (so no target at all gives 0, as in the reference).
pub fn mse_ignore_zero(pred: Tensor<2>, target: &[f32], device: &Device) -> Tensor<1> {
    let shape = pred.dims();
    let mask: Vec<f32> = target
        .iter()
        .map(|&y| f32::from(y != IGNORE && y != 0.0))
        .collect();
    let n: f32 = mask.iter().sum();
    let y: Vec<f32> = target.iter().zip(&mask).map(|(y, m)| y * m).collect();
    let diff = (pred - host_2d(y, shape, device)) * host_2d(mask, shape, device);
    diff.powi_scalar(2).sum().div_scalar(n as f64 + 1e-6)
}

/// `is_zero_bce`: BCE-with-logits against 1[y == 0], averaged over targets ≠ −100. `None` when
/// nothing is supervised (the reference's NaN, which the total skips).
pub fn is_zero_bce(logits: Tensor<2>, target: &[f32], device: &Device) -> Option<Tensor<1>> {
    let shape = logits.dims();
    let mask: Vec<f32> = target.iter().map(|&y| f32::from(y != IGNORE)).collect();
    let n: f32 = mask.iter().sum();
    if n == 0.0 {
        return None;
    }
    let zero: Vec<f32> = target.iter().map(|&y| f32::from(y == 0.0)).collect();
    let t = host_2d(zero, shape, device);
    // max(z, 0) − z·t + log(1 + e^−|z|), stable for any z.
    let loss =
        logits.clone().clamp_min(0.0) - logits.clone() * t + logits.abs().neg().exp().log1p();
    Some(
        (loss * host_2d(mask, shape, device))
            .sum()
            .div_scalar(n as f64),
    )
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
/// over the supervised rows; `None` when there are none.
pub fn class_loss(
    logits: Tensor<2>,
    target: &[i64],
    loss: ClassLoss,
    device: &Device,
) -> Option<Tensor<1>> {
    let [rows, _] = logits.dims();
    let n = target.iter().filter(|&&t| t >= 0).count();
    if n == 0 {
        return None;
    }
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
    Some(
        (per_row * host_2d(mask, [rows, 1], device))
            .sum()
            .div_scalar(n as f64),
    )
}

/// One named, weighted loss term.
pub struct LossTerm {
    pub name: String,
    pub weight: f64,
    pub value: Option<Tensor<1>>,
}

/// Σ wᵢ·Lᵢ / Σ wᵢ over the terms that have a value (the reference's `calculate_losses`).
pub fn weighted_mean(terms: &[LossTerm]) -> Option<Tensor<1>> {
    let present: Vec<&LossTerm> = terms
        .iter()
        .filter(|t| t.value.is_some() && t.weight > 0.0)
        .collect();
    let total_weight: f64 = present.iter().map(|t| t.weight).sum();
    present
        .into_iter()
        .map(|t| t.value.clone().expect("filtered").mul_scalar(t.weight))
        .reduce(|a, b| a + b)
        .map(|sum| sum.div_scalar(total_weight))
}
