//! T5 relative position bias: key−query distances fall into log-spaced buckets, and each bucket
//! has a learned bias per head, added to the attention scores of every layer of a stack.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// The bucket of `relative = key_pos − query_pos`, as T5 computes it.
///
/// Bidirectional: half the buckets for keys after the query. Causal: only keys at or before the
/// query count. Within a half, distances below half of it are exact and the rest are
/// log-spaced up to `max_distance`. The log part is computed in `f32` and truncated, as the
/// reference does, so that bucket boundaries fall where its float arithmetic puts them.
pub fn relative_position_bucket(
    relative: i64,
    bidirectional: bool,
    num_buckets: usize,
    max_distance: usize,
) -> usize {
    let (buckets, offset, distance) = if bidirectional {
        let half = num_buckets / 2;
        let offset = if relative > 0 { half } else { 0 };
        (half, offset, relative.unsigned_abs() as usize)
    } else {
        (num_buckets, 0, (-relative.min(0)) as usize)
    };
    let max_exact = buckets / 2;
    if distance < max_exact {
        return offset + distance;
    }
    let log_ratio = (distance as f32 / max_exact as f32).ln();
    let log_range = (max_distance as f64 / max_exact as f64).ln() as f32;
    let large = max_exact + (log_ratio / log_range * (buckets - max_exact) as f32) as usize;
    offset + large.min(buckets - 1)
}

/// T5's defaults: 32 buckets, distances up to 128, bidirectional (encoder).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelativePositionBiasConfig {
    pub n_heads: usize,
    #[serde(default = "default_buckets")]
    pub num_buckets: usize,
    #[serde(default = "default_max_distance")]
    pub max_distance: usize,
    /// Encoder stacks are bidirectional; decoder self-attention is causal.
    #[serde(default = "default_bidirectional")]
    pub bidirectional: bool,
}

fn default_buckets() -> usize {
    32
}

fn default_max_distance() -> usize {
    128
}

fn default_bidirectional() -> bool {
    true
}

/// Learned per-bucket, per-head biases (`relative_attention_bias` in T5 checkpoints).
#[derive(Module, Debug)]
pub struct RelativePositionBias {
    pub embedding: Embedding,
    num_buckets: usize,
    max_distance: usize,
    bidirectional: bool,
}

impl RelativePositionBiasConfig {
    pub fn new(n_heads: usize) -> Self {
        Self {
            n_heads,
            num_buckets: default_buckets(),
            max_distance: default_max_distance(),
            bidirectional: default_bidirectional(),
        }
    }

    pub fn init(&self, device: &Device) -> RelativePositionBias {
        RelativePositionBias {
            embedding: EmbeddingConfig::new(self.num_buckets, self.n_heads).init(device),
            num_buckets: self.num_buckets,
            max_distance: self.max_distance,
            bidirectional: self.bidirectional,
        }
    }
}

impl RelativePositionBias {
    /// Bias `[1, heads, q_len, k_len]` for queries at `q_offset..q_offset+q_len` (the offset is the
    /// number of cached positions when decoding step by step) against keys `0..k_len`.
    pub fn forward(&self, q_offset: usize, q_len: usize, k_len: usize) -> Tensor<4> {
        let device = self.embedding.weight.device();
        let buckets: Vec<i64> = (q_offset..q_offset + q_len)
            .flat_map(|query| {
                (0..k_len).map(move |key| {
                    relative_position_bucket(
                        key as i64 - query as i64,
                        self.bidirectional,
                        self.num_buckets,
                        self.max_distance,
                    ) as i64
                })
            })
            .collect();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(buckets, [q_len * k_len]), &device);
        let heads = self.embedding.weight.dims()[1];
        // Gathered from the table's columns, so the bias is laid out head by head and row by
        // row (not a permuted view): every layer reads it as it is.
        self.embedding
            .weight
            .val()
            .transpose()
            .select(1, ids)
            .reshape([1, heads, q_len, k_len])
    }
}
