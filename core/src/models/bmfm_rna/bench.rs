//! What speed measurements feed the model: synthetic full-length cells, and how much memory a
//! batch needs. `tessera bench rna` and the browser page's benchmark time the same inputs.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::{RnaBatch, RnaConfig, RnaPipeline};
use crate::tokenize::rna::{CLS, SEP};

/// The seed of the benchmark cells.
pub const SEED: u64 = 7;

/// `batch` cells of exactly `length` tokens: `[CLS]`, random genes with expression values in
/// 0.1..5 (already log-normalised), `[SEP]`; no padding, so every token costs.
pub fn synthetic_batch(pipeline: &RnaPipeline, batch: usize, length: usize, seed: u64) -> RnaBatch {
    let vocab = &pipeline.encoder.vocab;
    let genes = pipeline
        .model
        .config
        .gene_vocab_size()
        .unwrap_or(vocab.len())
        .max(1) as u32;
    let special = |token| {
        let id = vocab.id(token);
        (id, -(id as f32 + 1.0))
    };
    let (cls, sep) = (special(CLS), special(SEP));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = RnaBatch {
        batch,
        len: length,
        gene_ids: Vec::with_capacity(batch * length),
        expressions: Vec::with_capacity(batch * length),
        attention_mask: vec![1.0; batch * length],
    };
    for _ in 0..batch {
        for position in 0..length {
            let (id, value) = if position == 0 {
                cls
            } else if position + 1 == length {
                sep
            } else {
                let mut id = rng.random_range(0..genes);
                while vocab.is_special(id) && genes > 5 {
                    id = rng.random_range(0..genes);
                }
                (id, rng.random_range(0.1f32..5.0))
            };
            out.gene_ids.push(id);
            out.expressions.push(value);
        }
    }
    out
}

/// Estimated memory of one forward pass, in bytes (f32 activations; weights not included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// What is alive at the busiest moment: attention scores and their softmax, the
    /// feed-forward's inner activations and its input, a few hidden-state copies.
    pub working: u64,
    /// The largest single tensor (a GPU buffer has to hold it whole).
    pub largest_tensor: u64,
}

pub fn footprint(config: &RnaConfig, batch: usize, length: usize) -> Footprint {
    let (b, l) = (batch as u64, length as u64);
    let heads = config.num_attention_heads as u64;
    let hidden = config.hidden_size as u64;
    let inner = config.intermediate_size.unwrap_or(4 * config.hidden_size) as u64;
    let scores = 4 * b * heads * l * l;
    let ffn = 4 * b * l * inner;
    let states = 4 * b * l * hidden;
    Footprint {
        working: 2 * scores.max(ffn) + 8 * states,
        largest_tensor: scores.max(ffn),
    }
}
