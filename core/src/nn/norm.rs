//! LayerNorm (BERT) and RMSNorm (T5, Llama) behind one type, so a layer's norm is a config choice.

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, RmsNorm, RmsNormConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Which normalisation a model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// `γ·(x − mean)/√(var + ε) + β`.
    Layer,
    /// `γ·x/√(mean(x²) + ε)`: no mean subtraction, no bias.
    Rms,
}

/// A normalisation layer over the last dimension.
#[derive(Module, Debug)]
pub enum Norm {
    Layer(LayerNorm),
    Rms(RmsNorm),
}

impl Norm {
    pub fn new(kind: NormKind, d_model: usize, epsilon: f64, device: &Device) -> Self {
        match kind {
            NormKind::Layer => Self::Layer(
                LayerNormConfig::new(d_model)
                    .with_epsilon(epsilon)
                    .init(device),
            ),
            NormKind::Rms => Self::Rms(
                RmsNormConfig::new(d_model)
                    .with_epsilon(epsilon)
                    .init(device),
            ),
        }
    }

    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Layer(norm) => norm.forward(x),
            Self::Rms(norm) => norm.forward(x),
        }
    }
}
