//! Encoders of the continuous expression channel. Negative values carry special tokens as
//! `−(id+1)`, and zero may have a row of its own; positive values go through the value path.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor, TensorData};

use super::config::ExpressionKind;
use crate::nn::linear;

const LEAKY_SLOPE: f64 = 0.01;
/// The MLP encoder's inner width (fixed in the reference code, not in its config).
pub const MLP_WIDTH: usize = 128;

/// `mlp_with_special_token_embedding`; field names are the checkpoint's.
#[derive(Module, Debug)]
pub struct MlpWithSpecialTokens {
    pub dense_1: Linear,
    pub dense_2: Linear,
    pub special_token_embeddings: Embedding,
}

/// `scale_adapt`: sinusoids of the value over a geometric (or learned) frequency basis.
#[derive(Module, Debug)]
pub struct ScaleAdapt {
    pub basis: Param<Tensor<1>>,
    pub dense: Linear,
    pub special_token_embeddings: Embedding,
}

#[derive(Module, Debug)]
pub enum ExpressionEncoder {
    MlpWithSpecialTokens(MlpWithSpecialTokens),
    ScaleAdapt(ScaleAdapt),
}

/// Which positions are special (table rows) and which row each reads.
struct SpecialRows {
    /// 1.0 where the table is used, `[B, L, 1]`.
    mask: Tensor<3>,
    rows: Tensor<2, burn::tensor::Int>,
}

fn special_rows(x: &Tensor<2>, n_special: usize, zero_as_special: bool) -> SpecialRows {
    let negative = x.clone().lower_elem(0.0).float();
    let zero = x.clone().equal_elem(0.0).float();
    let (mask, zero_row) = if zero_as_special {
        (
            negative.clone() + zero.clone(),
            zero.mul_scalar(n_special as f32),
        )
    } else {
        (negative.clone(), zero.mul_scalar(0.0))
    };
    // Row −(x+1) for specials, the last row for zeros, row 0 (masked out) for values.
    let rows = (negative * x.clone().add_scalar(1.0).neg() + zero_row).int();
    SpecialRows {
        mask: mask.unsqueeze_dim::<3>(2),
        rows,
    }
}

/// Takes `table` where `mask` is 1 and `values` elsewhere; exact, since each side is kept whole.
fn blend(values: Tensor<3>, table: Tensor<3>, mask: Tensor<3>) -> Tensor<3> {
    values * mask.clone().neg().add_scalar(1.0) + table * mask
}

/// The fixed `scale_adapt` basis `2π·scale·2^k`, k = 0..n, rounded to f32 like the stored buffer.
pub fn fixed_basis(n: usize, scale: f64) -> Vec<f32> {
    (0..n)
        .map(|k| (2.0 * std::f64::consts::PI * scale * 2f64.powi(k as i32)) as f32)
        .collect()
}

/// Sinusoid features `[sin(x·b_k)…, cos(x·b_k)…]` of one value. The phase is one f32 product,
/// as in the reference, and sin/cos are taken in f64 on that f32 number: with a basis reaching
/// ~1e13, any other order of rounding changes the high-frequency features completely.
pub fn sinusoid_features(x: f32, basis: &[f32], out: &mut Vec<f32>) {
    let phases = basis.iter().map(|&b| (x * b) as f64);
    out.extend(phases.clone().map(|p| p.sin() as f32));
    out.extend(phases.map(|p| p.cos() as f32));
}

impl ExpressionEncoder {
    pub fn new(kind: &ExpressionKind, n_special: usize, hidden: usize, device: &Device) -> Self {
        match kind {
            ExpressionKind::MlpWithSpecialTokens { .. } => {
                Self::MlpWithSpecialTokens(MlpWithSpecialTokens {
                    dense_1: LinearConfig::new(1, MLP_WIDTH).init(device),
                    dense_2: LinearConfig::new(MLP_WIDTH, hidden).init(device),
                    special_token_embeddings: EmbeddingConfig::new(n_special + 1, MLP_WIDTH)
                        .init(device),
                })
            }
            ExpressionKind::ScaleAdapt {
                n_basis,
                basis_scale,
                ..
            } => Self::ScaleAdapt(ScaleAdapt {
                basis: Param::from_tensor(Tensor::from_data(
                    TensorData::new(fixed_basis(*n_basis, *basis_scale), [*n_basis]),
                    device,
                )),
                dense: LinearConfig::new(2 * n_basis, hidden)
                    .with_bias(false)
                    .init(device),
                special_token_embeddings: EmbeddingConfig::new(n_special + 1, hidden).init(device),
            }),
        }
    }

    /// `[B, L]` expression channel → `[B, L, H]`. `scale_adapt` takes its sinusoid features
    /// `[B, L, 2·n_basis]` precomputed on the host (see [`sinusoid_features`]).
    pub fn forward(
        &self,
        kind: &ExpressionKind,
        n_special: usize,
        x: Tensor<2>,
        features: Option<Tensor<3>>,
    ) -> Tensor<3> {
        match (self, kind) {
            (
                Self::MlpWithSpecialTokens(m),
                ExpressionKind::MlpWithSpecialTokens { zero_as_special },
            ) => {
                let special = special_rows(&x, n_special, *zero_as_special);
                let values = leaky_relu(
                    linear::forward(&m.dense_1, x.unsqueeze_dim::<3>(2)),
                    LEAKY_SLOPE,
                );
                let table = m.special_token_embeddings.forward(special.rows);
                linear::forward(
                    &m.dense_2,
                    leaky_relu(blend(values, table, special.mask), LEAKY_SLOPE),
                )
            }
            (
                Self::ScaleAdapt(m),
                ExpressionKind::ScaleAdapt {
                    zero_as_special, ..
                },
            ) => {
                let special = special_rows(&x, n_special, *zero_as_special);
                let features = features.expect("scale_adapt needs host-computed features");
                let values = linear::forward(&m.dense, features);
                let table = m.special_token_embeddings.forward(special.rows);
                blend(values, table, special.mask)
            }
            _ => unreachable!("the encoder is built from the same kind"),
        }
    }
}
