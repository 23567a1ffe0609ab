//! Multi-head attention in the three flavours our models need: BERT (biases, 1/√d scaling),
//! pre-RMSNorm Llama-style (no biases, optionally one fused QKV projection) and T5 (no biases,
//! no scaling, relative position bias passed in as an additive term).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation::softmax};
use serde::{Deserialize, Serialize};

/// How the query/key/value projections are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QkvLayout {
    /// Three projections `query`, `key`, `value` (BERT, T5).
    Separate,
    /// One projection `qkv` to `3·inner`, split q, k, v in that order (scLlama's `c_attn`).
    Fused,
}

#[derive(Config, Debug)]
pub struct MultiHeadAttentionConfig {
    pub d_model: usize,
    pub n_heads: usize,
    /// Per-head size; `d_model / n_heads` when absent (T5 configs give `d_kv` explicitly).
    #[config(default = "None")]
    pub d_head: Option<usize>,
    /// Biases on every projection (BERT); none in T5 and Llama.
    #[config(default = true)]
    pub bias: bool,
    /// Scale scores by 1/√d_head; T5 folds the scale into its initialisation and has none.
    #[config(default = true)]
    pub scaled: bool,
    #[config(default = "QkvLayout::Separate")]
    pub qkv: QkvLayout,
}

/// Projections are `None` when the layout does not use them, so the module's tensor names
/// are exactly the checkpoint's.
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    pub query: Option<Linear>,
    pub key: Option<Linear>,
    pub value: Option<Linear>,
    pub qkv: Option<Linear>,
    pub output: Linear,
    n_heads: usize,
    d_head: usize,
    scale: Option<f64>,
}

impl MultiHeadAttentionConfig {
    pub fn d_head(&self) -> usize {
        self.d_head.unwrap_or(self.d_model / self.n_heads)
    }

    pub fn init(&self, device: &Device) -> MultiHeadAttention {
        let d_head = self.d_head();
        let inner = self.n_heads * d_head;
        let linear = |d_in, d_out| {
            LinearConfig::new(d_in, d_out)
                .with_bias(self.bias)
                .init(device)
        };
        let separate = self.qkv == QkvLayout::Separate;
        MultiHeadAttention {
            query: separate.then(|| linear(self.d_model, inner)),
            key: separate.then(|| linear(self.d_model, inner)),
            value: separate.then(|| linear(self.d_model, inner)),
            qkv: (!separate).then(|| linear(self.d_model, 3 * inner)),
            output: linear(inner, self.d_model),
            n_heads: self.n_heads,
            d_head,
            scale: self.scaled.then(|| 1.0 / (d_head as f64).sqrt()),
        }
    }
}

impl MultiHeadAttention {
    /// Self-attention of `x: [B, L, d_model]`; `bias` is added to the scores `[B|1, H|1, L, L]`
    /// (padding mask, causal mask, relative position bias, or their sum).
    pub fn forward(&self, x: Tensor<3>, bias: Option<Tensor<4>>) -> Tensor<3> {
        let (q, k, v) = match &self.qkv {
            Some(qkv) => {
                let [b, l, _] = x.dims();
                let inner = self.n_heads * self.d_head;
                let fused = qkv.forward(x);
                (
                    fused.clone().slice([0..b, 0..l, 0..inner]),
                    fused.clone().slice([0..b, 0..l, inner..2 * inner]),
                    fused.slice([0..b, 0..l, 2 * inner..3 * inner]),
                )
            }
            None => (
                Self::project(&self.query, x.clone()),
                Self::project(&self.key, x.clone()),
                Self::project(&self.value, x),
            ),
        };
        self.attend(q, k, v, bias)
    }

    /// Cross-attention of `x: [B, Lq, d]` to `memory: [B, Lk, d]` (encoder–decoder models).
    pub fn forward_cross(
        &self,
        x: Tensor<3>,
        memory: Tensor<3>,
        bias: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let q = Self::project(&self.query, x);
        let k = Self::project(&self.key, memory.clone());
        let v = Self::project(&self.value, memory);
        self.attend(q, k, v, bias)
    }

    fn project(linear: &Option<Linear>, x: Tensor<3>) -> Tensor<3> {
        linear
            .as_ref()
            .expect("cross-attention needs the separate QKV layout")
            .forward(x)
    }

    /// `softmax(q·kᵀ·scale + bias)·v` over heads; inputs `[B, L, H·d]`, output `[B, Lq, d_model]`.
    fn attend(
        &self,
        q: Tensor<3>,
        k: Tensor<3>,
        v: Tensor<3>,
        bias: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let [batch, q_len, _] = q.dims();
        let q = self.split_heads(q);
        let k = self.split_heads(k);
        let v = self.split_heads(v);
        let mut scores = q.matmul(k.swap_dims(2, 3));
        if let Some(scale) = self.scale {
            scores = scores.mul_scalar(scale);
        }
        if let Some(bias) = bias {
            scores = scores + bias;
        }
        let context = softmax(scores, 3).matmul(v);
        let context = context
            .swap_dims(1, 2)
            .reshape([batch, q_len, self.n_heads * self.d_head]);
        self.output.forward(context)
    }

    /// `[B, L, H·d] → [B, H, L, d]`.
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [batch, len, _] = x.dims();
        x.reshape([batch, len, self.n_heads, self.d_head])
            .swap_dims(1, 2)
    }
}
