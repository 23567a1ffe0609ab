//! Encoders of the continuous expression channel. Negative values carry special tokens as
//! `−(id+1)`, and zero may have a row of its own; positive values go through the value path.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor};

use super::config::ExpressionKind;

const LEAKY_SLOPE: f64 = 0.01;
const MLP_WIDTH: usize = 128;

/// `mlp_with_special_token_embedding`; field names are the checkpoint's.
#[derive(Module, Debug)]
pub struct MlpWithSpecialTokens {
    pub dense_1: Linear,
    pub dense_2: Linear,
    pub special_token_embeddings: Embedding,
    n_special: usize,
    zero_as_special: bool,
}

#[derive(Module, Debug)]
pub enum ExpressionEncoder {
    MlpWithSpecialTokens(MlpWithSpecialTokens),
}

impl ExpressionEncoder {
    pub fn new(kind: &ExpressionKind, n_special: usize, hidden: usize, device: &Device) -> Self {
        match kind {
            ExpressionKind::MlpWithSpecialTokens { zero_as_special } => {
                Self::MlpWithSpecialTokens(MlpWithSpecialTokens {
                    dense_1: LinearConfig::new(1, MLP_WIDTH).init(device),
                    dense_2: LinearConfig::new(MLP_WIDTH, hidden).init(device),
                    special_token_embeddings: EmbeddingConfig::new(n_special + 1, MLP_WIDTH)
                        .init(device),
                    n_special,
                    zero_as_special: *zero_as_special,
                })
            }
        }
    }

    /// Special-token rows available (values may go down to `−n_special`).
    pub fn n_special(&self) -> usize {
        match self {
            Self::MlpWithSpecialTokens(m) => m.n_special,
        }
    }

    /// `[B, L]` expression channel → `[B, L, H]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<3> {
        match self {
            Self::MlpWithSpecialTokens(m) => m.forward(x),
        }
    }
}

impl MlpWithSpecialTokens {
    fn forward(&self, x: Tensor<2>) -> Tensor<3> {
        let negative = x.clone().lower_elem(0.0).float();
        let zero = x.clone().equal_elem(0.0).float();
        let special = if self.zero_as_special {
            negative.clone() + zero.clone()
        } else {
            negative.clone()
        };
        // Row −(x+1) for specials, the last row for zeros, row 0 (unused) for values.
        let zero_row = if self.zero_as_special {
            zero.mul_scalar(self.n_special as f32)
        } else {
            zero.mul_scalar(0.0)
        };
        let rows = (negative * x.clone().add_scalar(1.0).neg() + zero_row).int();
        let values = leaky_relu(self.dense_1.forward(x.unsqueeze_dim::<3>(2)), LEAKY_SLOPE);
        let table = self.special_token_embeddings.forward(rows);
        let special = special.unsqueeze_dim::<3>(2);
        // An exact blend: each position takes one path or the other whole.
        let merged = values * special.clone().neg().add_scalar(1.0) + table * special;
        self.dense_2.forward(leaky_relu(merged, LEAKY_SLOPE))
    }
}
