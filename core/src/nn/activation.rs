//! The activation functions our reference models use, named as their configs name them.

use burn::tensor::{Tensor, activation};
use serde::{Deserialize, Serialize};

/// A pointwise activation. Serialized in the lowercase names Hugging Face configs use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Exact GELU, `x·Φ(x)` with the erf (BERT's `gelu`).
    Gelu,
    /// Tanh-approximated GELU (T5 v1.1's `gelu_new`).
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh")]
    GeluTanh,
    /// `x·σ(x)` (SwiGLU's gate).
    #[serde(alias = "swish")]
    Silu,
    Relu,
    Tanh,
}

impl Activation {
    pub fn forward<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Gelu => activation::gelu(x),
            Self::GeluTanh => activation::gelu_approximate(x),
            Self::Silu => activation::silu(x),
            Self::Relu => activation::relu(x),
            Self::Tanh => activation::tanh(x),
        }
    }
}
