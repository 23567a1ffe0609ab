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
        // CPU tensors take vectorised host loops; the rest burn's ops.
        super::pointwise::activate(self, x, |x| self.forward_ops(x))
    }

    /// The activation as burn tensor ops (any device, autodiff included).
    fn forward_ops<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Gelu => activation::gelu(x),
            Self::GeluTanh => gelu_tanh(x),
            Self::Silu => activation::silu(x),
            Self::Relu => activation::relu(x),
            Self::Tanh => activation::tanh(x),
        }
    }
}

/// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, as PyTorch's `NewGELUActivation`. burn's
/// `gelu_approximate` computes x³ with a scalar `powf` per element (≈4 % of a T5 encoder pass on
/// CPU); two multiplications give the same cube.
fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
    let cube = x.clone() * x.clone() * x.clone();
    let inner = (x.clone() + cube.mul_scalar(0.044715)).mul_scalar(SQRT_2_OVER_PI);
    (x * inner.tanh().add_scalar(1.0)).mul_scalar(0.5)
}
