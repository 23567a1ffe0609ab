//! Multi-head attention in the three flavours our models need: BERT (biases, 1/√d scaling),
//! pre-RMSNorm Llama-style (no biases, optionally one fused QKV projection) and T5 (no biases,
//! no scaling, relative position bias passed in as an additive term).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation::softmax};
use serde::{Deserialize, Serialize};

use super::linear;

/// Keys and values `[B, H, T, d_head]` of the positions attended to so far.
#[derive(Clone, Debug)]
pub struct KvCache {
    pub keys: Tensor<4>,
    pub values: Tensor<4>,
}

impl KvCache {
    /// Positions held.
    pub fn len(&self) -> usize {
        self.keys.dims()[2]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows `indices` of the batch (beam search reorders hypotheses every step).
    pub fn select(&self, indices: Tensor<1, burn::tensor::Int>) -> Self {
        Self {
            keys: self.keys.clone().select(0, indices.clone()),
            values: self.values.clone().select(0, indices),
        }
    }
}

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
                let fused = linear::forward(qkv, x);
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
        let kv = self.keys_values(memory);
        self.forward_kv(x, &kv, bias)
    }

    /// The keys and values of `memory`, computed once and reused by every decoding step's
    /// cross-attention.
    pub fn keys_values(&self, memory: Tensor<3>) -> KvCache {
        KvCache {
            keys: self.split_heads(Self::project(&self.key, memory.clone())),
            values: self.split_heads(Self::project(&self.value, memory)),
        }
    }

    /// Attention of `x: [B, Lq, d]` to precomputed keys and values.
    pub fn forward_kv(&self, x: Tensor<3>, kv: &KvCache, bias: Option<Tensor<4>>) -> Tensor<3> {
        let q = self.split_heads(Self::project(&self.query, x));
        self.attend_heads(q, kv.keys.clone(), kv.values.clone(), bias)
    }

    /// Self-attention of new positions `x: [B, Lnew, d]` over the cached positions and
    /// themselves; their keys and values are appended to `cache` (incremental decoding).
    pub fn forward_cached(
        &self,
        x: Tensor<3>,
        cache: &mut Option<KvCache>,
        bias: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let new = self.keys_values(x.clone());
        let kv = match cache.take() {
            Some(old) => KvCache {
                keys: Tensor::cat(vec![old.keys, new.keys], 2),
                values: Tensor::cat(vec![old.values, new.values], 2),
            },
            None => new,
        };
        let out = self.forward_kv(x, &kv, bias);
        *cache = Some(kv);
        out
    }

    fn project(layer: &Option<Linear>, x: Tensor<3>) -> Tensor<3> {
        let layer = layer
            .as_ref()
            .expect("cross-attention and caching need the separate QKV layout");
        linear::forward(layer, x)
    }

    /// `softmax(q·kᵀ·scale + bias)·v` over heads; inputs `[B, L, H·d]`, output `[B, Lq, d_model]`.
    fn attend(
        &self,
        q: Tensor<3>,
        k: Tensor<3>,
        v: Tensor<3>,
        bias: Option<Tensor<4>>,
    ) -> Tensor<3> {
        let (q, k, v) = (
            self.split_heads(q),
            self.split_heads(k),
            self.split_heads(v),
        );
        self.attend_heads(q, k, v, bias)
    }

    /// As [`Self::attend`] with heads already split: `[B, H, L, d]` each.
    fn attend_heads(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        bias: Option<Tensor<4>>,
    ) -> Tensor<3> {
        if let Some(context) = super::tiled_attention::attend(&q, &k, &v, bias.as_ref(), self.scale)
        {
            return linear::forward(&self.output, context);
        }
        let [batch, _, q_len, _] = q.dims();
        // Scaling the queries costs L·d multiplications instead of the scores' L·L.
        let q = match self.scale {
            Some(scale) => q.mul_scalar(scale),
            None => q,
        };
        let mut scores = q.matmul(k.swap_dims(2, 3));
        if let Some(bias) = bias {
            scores = scores + bias;
        }
        let weights = softmax(scores, 3);
        let context = weights.matmul(v);
        let context = context
            .swap_dims(1, 2)
            .reshape([batch, q_len, self.n_heads * self.d_head]);
        linear::forward(&self.output, context)
    }

    /// `[B, L, H·d] → [B, H, L, d]`.
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [batch, len, _] = x.dims();
        x.reshape([batch, len, self.n_heads, self.d_head])
            .swap_dims(1, 2)
    }
}
