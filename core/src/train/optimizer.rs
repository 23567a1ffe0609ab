//! AdamW with the reference's decay groups, a constant-after-warmup schedule and global-norm
//! gradient clipping, with its state keyed by parameter path so checkpoints resume exactly.
//!
//! Written here rather than taken from burn-optim: burn keys optimizer state by `ParamId`, which
//! a safetensors round trip does not keep, and burn clips each tensor separately where the
//! reference (`clip_grad_norm_`) clips the norm of all gradients together.

use std::collections::BTreeMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Hyperparameters; the defaults are the reference's (`bmfm_targets` training yamls, v1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub lr: f64,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
    /// Applied to Linear weights only; biases, norms, embeddings and `basis` are not decayed.
    pub weight_decay: f64,
    /// Linear warm-up over this many steps, then `schedule`.
    pub warmup_steps: usize,
    /// Maximum L2 norm of all gradients together; `None` disables clipping.
    pub grad_clip: Option<f64>,
    /// The rate after warm-up (constant unless said otherwise; older checkpoints have none).
    #[serde(default)]
    pub schedule: Schedule,
}

/// The learning rate after warm-up, as a multiple of `lr`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Schedule {
    /// 1 (BMFM-RNA's reference recipe).
    #[default]
    Constant,
    /// Half a cosine from 1 at the end of warm-up down to `floor` at `total_steps` (MAMMAL's
    /// fine-tuning uses floor 0, its pretraining 0.1), then `floor`.
    Cosine { total_steps: usize, floor: f64 },
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-4,
            beta_1: 0.9,
            beta_2: 0.99,
            epsilon: 1e-8,
            weight_decay: 0.01,
            warmup_steps: 1000,
            grad_clip: Some(0.5),
            schedule: Schedule::Constant,
        }
    }
}

impl AdamWConfig {
    /// The learning rate of step `step` (0-based): `lr·(step+1)/warmup` during warm-up, then
    /// as `schedule` says.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Cosine { total_steps, floor } => {
                let span = total_steps.saturating_sub(self.warmup_steps).max(1) as f64;
                let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
                let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
                self.lr * (floor + (1.0 - floor) * cosine)
            }
        }
    }
}

/// First and second moments of one parameter, flattened.
#[derive(Clone, Debug)]
pub struct Moments {
    pub m: Tensor<1>,
    pub v: Tensor<1>,
}

/// The optimizer: configuration, the number of steps taken, and moments by parameter path.
#[derive(Clone, Debug)]
pub struct AdamW {
    pub config: AdamWConfig,
    pub steps: usize,
    pub moments: BTreeMap<String, Moments>,
}

/// What one step did, for logging.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
}

impl AdamW {
    pub fn new(config: AdamWConfig) -> Self {
        Self {
            config,
            steps: 0,
            moments: BTreeMap::new(),
        }
    }

    /// Updates `module` with `grads` (from `GradientsParams::from_grads`) and advances a step.
    pub fn step<M: Module>(&mut self, module: M, mut grads: GradientsParams) -> (M, StepReport) {
        let mut norm = GradNorm {
            grads: &grads,
            sum: None,
        };
        module.visit(&mut norm);
        let grad_norm = norm
            .sum
            .map(|s| {
                let value: f32 = s.into_scalar::<f32>();
                (value as f64).sqrt()
            })
            .unwrap_or(0.0);
        let scale = match self.config.grad_clip {
            // As torch's clip_grad_norm_: max_norm / (norm + 1e-6), never above 1.
            Some(max) => (max / (grad_norm + 1e-6)).min(1.0),
            None => 1.0,
        };
        let lr = self.config.lr_at(self.steps);
        self.steps += 1;
        let mut update = Update {
            optimizer: self,
            grads: &mut grads,
            lr,
            scale,
            path: Vec::new(),
            in_linear: Vec::new(),
        };
        let module = module.map(&mut update);
        (module, StepReport { lr, grad_norm })
    }
}

/// Σ g² over every parameter that has a gradient, kept on the device until the end.
struct GradNorm<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for GradNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            let squares = grad.powi_scalar(2).sum();
            self.sum = Some(match self.sum.take() {
                Some(sum) => sum + squares,
                None => squares,
            });
        }
    }
}

struct Update<'a> {
    optimizer: &'a mut AdamW,
    grads: &'a mut GradientsParams,
    lr: f64,
    scale: f64,
    path: Vec<String>,
    /// Whether each entry's container is a `Linear` (whose `weight` is decayed).
    in_linear: Vec<bool>,
}

impl ModuleMapper for Update<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.push(name.to_string());
        self.in_linear.push(container_type == "Struct:Linear");
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
        self.in_linear.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let path = self.path.join(".");
        // Linear weights decay. The mapper enters each parameter too, with the type of the
        // struct that holds it, so the last entry is (`weight`, `Struct:Linear`).
        let decay =
            self.in_linear.last() == Some(&true) && self.path.last().is_some_and(|n| n == "weight");
        let config = &self.optimizer.config;
        let t = self.optimizer.steps as i32;
        let dims = tensor.dims();
        let n: usize = dims.iter().product();
        let value = tensor.inner();
        let grad = grad.reshape([n]).mul_scalar(self.scale);
        let device = grad.device();
        let previous = self
            .optimizer
            .moments
            .remove(&path)
            .unwrap_or_else(|| Moments {
                m: Tensor::zeros([n], &device),
                v: Tensor::zeros([n], &device),
            });
        let m = previous.m.mul_scalar(config.beta_1) + grad.clone().mul_scalar(1.0 - config.beta_1);
        let v = previous.v.mul_scalar(config.beta_2)
            + grad.powi_scalar(2).mul_scalar(1.0 - config.beta_2);
        let m_hat = m.clone().div_scalar(1.0 - config.beta_1.powi(t));
        let v_hat = v.clone().div_scalar(1.0 - config.beta_2.powi(t));
        let delta = (m_hat / v_hat.sqrt().add_scalar(config.epsilon)).reshape(dims);
        let value = if decay {
            value.mul_scalar(1.0 - self.lr * config.weight_decay)
        } else {
            value
        };
        let updated = value - delta.mul_scalar(self.lr);
        self.optimizer.moments.insert(path, Moments { m, v });
        Param::from_mapped_value(id, Tensor::from_inner(updated).require_grad(), mapper)
    }
}

/// Host copies of the moments, for checkpoints: `{path}.m` / `{path}.v` → values.
pub fn moments_to_host(moments: &BTreeMap<String, Moments>) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::with_capacity(moments.len() * 2);
    for (path, Moments { m, v }) in moments {
        for (suffix, tensor) in [("m", m), ("v", v)] {
            let values = tensor
                .clone()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .unwrap_or_default();
            out.push((format!("{path}.{suffix}"), values));
        }
    }
    out
}

/// Optimizer state that is not the moments [`moments_to_host`] writes, named by its tensor.
#[derive(Debug, thiserror::Error)]
pub enum MomentsError {
    #[error("optimizer tensor `{0}` has no .m/.v suffix")]
    NoSuffix(String),
    #[error("optimizer tensor `{0}`: unknown suffix")]
    UnknownSuffix(String),
    #[error("optimizer state for `{0}` lacks m or v")]
    Unpaired(String),
}

/// The inverse of [`moments_to_host`].
pub fn moments_from_host(
    entries: Vec<(String, Vec<f32>)>,
    device: &burn::tensor::Device,
) -> Result<BTreeMap<String, Moments>, MomentsError> {
    let mut halves: BTreeMap<String, (Option<Tensor<1>>, Option<Tensor<1>>)> = BTreeMap::new();
    for (name, values) in entries {
        let (path, suffix) = name
            .rsplit_once('.')
            .ok_or_else(|| MomentsError::NoSuffix(name.clone()))?;
        let n = values.len();
        let tensor = Tensor::from_data(TensorData::new(values, [n]), device);
        let entry = halves.entry(path.to_string()).or_default();
        match suffix {
            "m" => entry.0 = Some(tensor),
            "v" => entry.1 = Some(tensor),
            _ => return Err(MomentsError::UnknownSuffix(name)),
        }
    }
    halves
        .into_iter()
        .map(|(path, pair)| match pair {
            (Some(m), Some(v)) => Ok((path, Moments { m, v })),
            _ => Err(MomentsError::Unpaired(path)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_to_the_floor() {
        let config = AdamWConfig {
            lr: 1.0,
            warmup_steps: 10,
            schedule: Schedule::Cosine {
                total_steps: 110,
                floor: 0.1,
            },
            ..AdamWConfig::default()
        };
        assert!((config.lr_at(0) - 0.1).abs() < 1e-12);
        assert!(
            (config.lr_at(10) - 1.0).abs() < 1e-12,
            "cosine starts at lr"
        );
        assert!(
            (config.lr_at(60) - 0.55).abs() < 1e-12,
            "halfway: floor + (1 − floor)/2"
        );
        assert!((config.lr_at(110) - 0.1).abs() < 1e-12);
        assert!(
            (config.lr_at(500) - 0.1).abs() < 1e-12,
            "stays at the floor"
        );
        let constant = AdamWConfig {
            schedule: Schedule::Constant,
            ..config
        };
        assert_eq!(constant.lr_at(500), 1.0);
    }

    #[test]
    fn checkpoints_without_a_schedule_read_as_constant() {
        let mut json = serde_json::to_value(AdamWConfig::default()).unwrap();
        json.as_object_mut().unwrap().remove("schedule");
        let config: AdamWConfig = serde_json::from_value(json).unwrap();
        assert_eq!(config.schedule, Schedule::Constant);
    }
}
