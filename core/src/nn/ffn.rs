//! Position-wise feed-forward blocks: BERT's `dense → GELU → dense` (with biases), SwiGLU
//! (`down(silu(gate·x) ⊙ up·x)`, Llama) and T5 v1.1's gated GELU-tanh, in one module.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::Activation;
use super::linear;

/// The feed-forward variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FfnKind {
    /// `out(gelu(inner·x))` with biases (BERT).
    Gelu,
    /// `out(silu(inner·x) ⊙ gate·x)` without biases (Llama, scLlama).
    SwiGlu,
    /// `out(gelu_tanh(inner·x) ⊙ gate·x)` without biases (T5 v1.1 `gated-gelu`).
    GatedGeluTanh,
}

impl FfnKind {
    fn activation(self) -> Activation {
        match self {
            Self::Gelu => Activation::Gelu,
            Self::SwiGlu => Activation::Silu,
            Self::GatedGeluTanh => Activation::GeluTanh,
        }
    }

    fn gated(self) -> bool {
        !matches!(self, Self::Gelu)
    }

    /// The reference models put biases only in the ungated (BERT) variant.
    fn bias(self) -> bool {
        !self.gated()
    }
}

#[derive(Config, Debug)]
pub struct FeedForwardConfig {
    pub d_model: usize,
    pub d_ff: usize,
    pub kind: FfnKind,
}

/// `inner` is the activated branch, `gate` the linear branch it is multiplied with (gated kinds
/// only), `out` projects back to `d_model`.
#[derive(Module, Debug)]
pub struct FeedForward {
    pub inner: Linear,
    pub gate: Option<Linear>,
    pub out: Linear,
    #[module(skip)]
    activation: Activation,
}

impl FeedForwardConfig {
    pub fn init(&self, device: &Device) -> FeedForward {
        let bias = self.kind.bias();
        let linear = |d_in, d_out| LinearConfig::new(d_in, d_out).with_bias(bias).init(device);
        FeedForward {
            inner: linear(self.d_model, self.d_ff),
            gate: self.kind.gated().then(|| linear(self.d_model, self.d_ff)),
            out: linear(self.d_ff, self.d_model),
            activation: self.kind.activation(),
        }
    }
}

impl FeedForward {
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let inner = linear::forward(&self.inner, x.clone());
        let hidden = match &self.gate {
            Some(gate) => {
                let gate = linear::forward(gate, x);
                // On the CPU the activation and the product are one pass over the buffer.
                super::pointwise::activate_gated(self.activation, inner, gate, |inner, gate| {
                    self.activation.forward(inner) * gate
                })
            }
            None => self.activation.forward(inner),
        };
        linear::forward(&self.out, hidden)
    }
}
