//! A T5-style decoder stack: causal self-attention with relative position bias, cross-attention
//! to the encoder's output and a feed-forward block, each pre-normed with a residual; run over a
//! whole sequence (teacher forcing) or one position at a time with cached keys and values.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::{
    FeedForward, FeedForwardConfig, FfnKind, KvCache, MultiHeadAttention, MultiHeadAttentionConfig,
    Norm, NormKind, RelativePositionBias, RelativePositionBiasConfig, causal_mask, dropout,
    padding_mask,
};

/// A decoder stack's shape; attention has no biases and no 1/√d scaling (T5).
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderConfig {
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_head: Option<usize>,
    pub d_ff: usize,
    pub ffn: FfnKind,
    pub norm: NormKind,
    pub norm_eps: f64,
    /// Causal relative position bias (its `bidirectional` is forced off).
    pub relative_bias: RelativePositionBiasConfig,
    /// Dropout on each sub-layer's output (training only).
    pub dropout: f64,
}

#[derive(Module, Debug)]
pub struct DecoderLayer {
    pub self_attention: MultiHeadAttention,
    pub self_norm: Norm,
    pub cross_attention: MultiHeadAttention,
    pub cross_norm: Norm,
    pub ffn: FeedForward,
    pub ffn_norm: Norm,
    #[module(skip)]
    dropout: f64,
}

#[derive(Module, Debug)]
pub struct Decoder {
    pub layers: Vec<DecoderLayer>,
    pub relative_bias: RelativePositionBias,
    pub final_norm: Norm,
}

/// What incremental decoding keeps between steps: every layer's self-attention keys and values
/// so far, the encoder output's keys and values per layer, and the encoder padding mask.
#[derive(Clone, Debug)]
pub struct DecoderCache {
    self_kv: Vec<Option<KvCache>>,
    cross_kv: Vec<KvCache>,
    memory_bias: Option<Tensor<4>>,
}

impl DecoderConfig {
    /// Refuses sizes no model has before anything is built (see
    /// [`EncoderConfig::check_sizes`](super::EncoderConfig::check_sizes)).
    pub fn check_sizes(&self) -> Result<(), super::sizes::SizeError> {
        let (d_model, heads) = (self.d_model, self.n_heads);
        super::sizes::check_stack(self.n_layers, d_model, heads, self.d_head, self.d_ff)
    }

    pub fn init(&self, device: &Device) -> Decoder {
        let attention = MultiHeadAttentionConfig::new(self.d_model, self.n_heads)
            .with_d_head(self.d_head)
            .with_bias(false)
            .with_scaled(false);
        let ffn = FeedForwardConfig::new(self.d_model, self.d_ff, self.ffn);
        let norm = || Norm::new(self.norm, self.d_model, self.norm_eps, device);
        let mut bias = self.relative_bias.clone();
        bias.bidirectional = false;
        Decoder {
            layers: (0..self.n_layers)
                .map(|_| DecoderLayer {
                    self_attention: attention.init(device),
                    self_norm: norm(),
                    cross_attention: attention.init(device),
                    cross_norm: norm(),
                    ffn: ffn.init(device),
                    ffn_norm: norm(),
                    dropout: self.dropout,
                })
                .collect(),
            relative_bias: bias.init(device),
            final_norm: norm(),
        }
    }
}

impl DecoderLayer {
    fn forward(
        &self,
        x: Tensor<3>,
        self_attend: impl FnOnce(&MultiHeadAttention, Tensor<3>) -> Tensor<3>,
        cross_attend: impl FnOnce(&MultiHeadAttention, Tensor<3>) -> Tensor<3>,
    ) -> Tensor<3> {
        let h = self_attend(&self.self_attention, self.self_norm.forward(x.clone()));
        let x = x + dropout(h, self.dropout);
        let h = cross_attend(&self.cross_attention, self.cross_norm.forward(x.clone()));
        let x = x + dropout(h, self.dropout);
        let h = self.ffn.forward(self.ffn_norm.forward(x.clone()));
        x + dropout(h, self.dropout)
    }
}

impl Decoder {
    /// Teacher forcing: embedded decoder inputs `x: [B, L, d]` attend causally to themselves
    /// (`mask: [B, L]`, 1 = real token) and to `memory: [B, Le, d]` (`memory_mask: [B, Le]`).
    /// Returns the final-normed hidden states `[B, L, d]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        mask: Option<Tensor<2>>,
        memory: Tensor<3>,
        memory_mask: Option<Tensor<2>>,
    ) -> Tensor<3> {
        let [_, len, _] = x.dims();
        let device = x.device();
        let mut self_bias = self.relative_bias.forward(0, len, len) + causal_mask(len, &device);
        if let Some(mask) = mask {
            self_bias = self_bias + padding_mask(mask);
        }
        let memory_bias = memory_mask.map(padding_mask);
        let mut x = dropout(x, self.dropout());
        for layer in &self.layers {
            x = layer.forward(
                x,
                |attention, h| attention.forward(h, Some(self_bias.clone())),
                |attention, h| attention.forward_cross(h, memory.clone(), memory_bias.clone()),
            );
        }
        dropout(self.final_norm.forward(x), self.dropout())
    }

    /// A cache for decoding against `memory` (its keys and values are computed here, once).
    pub fn start(&self, memory: Tensor<3>, memory_mask: Option<Tensor<2>>) -> DecoderCache {
        DecoderCache {
            self_kv: vec![None; self.layers.len()],
            cross_kv: self
                .layers
                .iter()
                .map(|layer| layer.cross_attention.keys_values(memory.clone()))
                .collect(),
            memory_bias: memory_mask.map(padding_mask),
        }
    }

    /// One decoding step: the embedded next input `x: [B, 1, d]` → its hidden state `[B, 1, d]`,
    /// extending the cache.
    pub fn step(&self, x: Tensor<3>, cache: &mut DecoderCache) -> Tensor<3> {
        let position = cache.position();
        // Only earlier positions are cached, so no causal mask is needed.
        let self_bias = self.relative_bias.forward(position, 1, position + 1);
        let mut x = x;
        for (i, layer) in self.layers.iter().enumerate() {
            let (self_kv, cross_kv) = (&mut cache.self_kv[i], &cache.cross_kv[i]);
            let memory_bias = cache.memory_bias.clone();
            x = layer.forward(
                x,
                |attention, h| attention.forward_cached(h, self_kv, Some(self_bias.clone())),
                |attention, h| attention.forward_kv(h, cross_kv, memory_bias),
            );
        }
        self.final_norm.forward(x)
    }

    fn dropout(&self) -> f64 {
        self.layers.first().map_or(0.0, |layer| layer.dropout)
    }
}

impl DecoderCache {
    /// Positions decoded so far.
    pub fn position(&self) -> usize {
        self.self_kv
            .first()
            .and_then(|kv| kv.as_ref())
            .map_or(0, KvCache::len)
    }

    /// Keeps the batch rows `indices`, in that order (beam search).
    pub fn select(&mut self, indices: Tensor<1, burn::tensor::Int>) {
        for kv in self.self_kv.iter_mut().flatten() {
            *kv = kv.select(indices.clone());
        }
        for kv in &mut self.cross_kv {
            *kv = kv.select(indices.clone());
        }
        if let Some(bias) = &mut self.memory_bias {
            *bias = bias.clone().select(0, indices);
        }
    }
}
