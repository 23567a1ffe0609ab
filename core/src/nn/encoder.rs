//! A stack of transformer encoder layers assembled from the shared blocks; one config covers
//! BERT (post-LN), scLlama (pre-RMSNorm, SwiGLU, fused QKV) and the T5 encoder (relative bias).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{
    FeedForward, FeedForwardConfig, FfnKind, MultiHeadAttention, MultiHeadAttentionConfig, Norm,
    NormKind, QkvLayout, RelativePositionBias, RelativePositionBiasConfig, dropout, padding_mask,
};
use crate::bundle::KeyMap;

/// Where each sub-layer's norm sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormPlacement {
    /// `x = norm(x + f(x))` (BERT).
    Post,
    /// `x = x + f(norm(x))` (T5, Llama).
    Pre,
}

/// An encoder stack's shape and flavour; the defaults are BERT's. Serialized in bundle configs,
/// where every field with a default may be left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_ff: usize,
    #[serde(default)]
    pub d_head: Option<usize>,
    #[serde(default = "defaults::norm")]
    pub norm: NormKind,
    #[serde(default = "defaults::norm_eps")]
    pub norm_eps: f64,
    #[serde(default = "defaults::placement")]
    pub placement: NormPlacement,
    #[serde(default = "defaults::yes")]
    pub attention_bias: bool,
    #[serde(default = "defaults::yes")]
    pub scaled_attention: bool,
    #[serde(default = "defaults::qkv")]
    pub qkv: QkvLayout,
    #[serde(default = "defaults::ffn")]
    pub ffn: FfnKind,
    /// scLlama's block 0 has no norm before attention (`no_first_rms`).
    #[serde(default = "defaults::yes")]
    pub first_layer_attn_norm: bool,
    /// A norm after the last layer (T5's `final_layer_norm`).
    #[serde(default)]
    pub final_norm: bool,
    /// T5 relative position bias, owned by the stack and added in every layer.
    #[serde(default)]
    pub relative_bias: Option<RelativePositionBiasConfig>,
    /// Dropout on each sub-layer's output before its residual add (training only).
    #[serde(default)]
    pub dropout: f64,
}

mod defaults {
    use super::*;
    pub fn norm() -> NormKind {
        NormKind::Layer
    }
    pub fn norm_eps() -> f64 {
        1e-12
    }
    pub fn placement() -> NormPlacement {
        NormPlacement::Post
    }
    pub fn yes() -> bool {
        true
    }
    pub fn qkv() -> QkvLayout {
        QkvLayout::Separate
    }
    pub fn ffn() -> FfnKind {
        FfnKind::Gelu
    }
}

/// One encoder layer: self-attention and feed-forward, each with its norm and residual.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    pub attention: MultiHeadAttention,
    pub attn_norm: Option<Norm>,
    pub ffn: FeedForward,
    pub ffn_norm: Norm,
    #[module(skip)]
    placement: NormPlacement,
    #[module(skip)]
    dropout: f64,
}

/// The layer stack. `relative_bias` and `final_norm` are present only when configured.
#[derive(Module, Debug)]
pub struct Encoder {
    pub layers: Vec<EncoderLayer>,
    pub relative_bias: Option<RelativePositionBias>,
    pub final_norm: Option<Norm>,
}

impl EncoderConfig {
    /// Refuses sizes no model has before anything is built: more than
    /// [`MAX_LAYERS`](super::sizes::MAX_LAYERS) layers, or a weight whose element count
    /// overflows or passes [`MAX_TENSOR_ELEMENTS`](super::sizes::MAX_TENSOR_ELEMENTS).
    pub fn check_sizes(&self) -> Result<(), super::sizes::SizeError> {
        let (d_model, heads) = (self.d_model, self.n_heads);
        super::sizes::check_stack(self.n_layers, d_model, heads, self.d_head, self.d_ff)
    }

    /// A BERT-style (post-LN, biases, GELU) stack of the given size.
    pub fn new(d_model: usize, n_layers: usize, n_heads: usize, d_ff: usize) -> Self {
        Self {
            d_model,
            n_layers,
            n_heads,
            d_ff,
            d_head: None,
            norm: defaults::norm(),
            norm_eps: defaults::norm_eps(),
            placement: defaults::placement(),
            attention_bias: true,
            scaled_attention: true,
            qkv: defaults::qkv(),
            ffn: defaults::ffn(),
            first_layer_attn_norm: true,
            final_norm: false,
            relative_bias: None,
            dropout: 0.0,
        }
    }

    pub fn init(&self, device: &Device) -> Encoder {
        let attention = MultiHeadAttentionConfig::new(self.d_model, self.n_heads)
            .with_d_head(self.d_head)
            .with_bias(self.attention_bias)
            .with_scaled(self.scaled_attention)
            .with_qkv(self.qkv);
        let ffn = FeedForwardConfig::new(self.d_model, self.d_ff, self.ffn);
        let norm = || Norm::new(self.norm, self.d_model, self.norm_eps, device);
        let layers = (0..self.n_layers)
            .map(|i| EncoderLayer {
                attention: attention.init(device),
                // Post-LN always normalises after attention; only pre-norm stacks may skip it.
                attn_norm: (i > 0
                    || self.first_layer_attn_norm
                    || self.placement == NormPlacement::Post)
                    .then(norm),
                ffn: ffn.init(device),
                ffn_norm: norm(),
                placement: self.placement,
                dropout: self.dropout,
            })
            .collect();
        Encoder {
            layers,
            relative_bias: self.relative_bias.as_ref().map(|c| c.init(device)),
            final_norm: self.final_norm.then(norm),
        }
    }
}

impl EncoderLayer {
    /// `x: [B, L, d]`, `bias`: additive scores term (mask and/or position bias).
    pub fn forward(&self, x: Tensor<3>, bias: Option<Tensor<4>>) -> Tensor<3> {
        match self.placement {
            NormPlacement::Post => {
                let x = x.clone() + dropout(self.attention.forward(x, bias), self.dropout);
                let x = self.norm_attn(x);
                self.ffn_norm
                    .forward(x.clone() + dropout(self.ffn.forward(x), self.dropout))
            }
            NormPlacement::Pre => {
                let x = x.clone()
                    + dropout(
                        self.attention.forward(self.norm_attn(x), bias),
                        self.dropout,
                    );
                x.clone() + dropout(self.ffn.forward(self.ffn_norm.forward(x)), self.dropout)
            }
        }
    }

    fn norm_attn(&self, x: Tensor<3>) -> Tensor<3> {
        match &self.attn_norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }
}

impl Encoder {
    /// Final hidden states `[B, L, d]`. `attention_mask: [B, L]` holds 1 for real tokens.
    /// Each layer's input is dropped as soon as the next layer has it.
    pub fn forward(&self, x: Tensor<3>, attention_mask: Option<Tensor<2>>) -> Tensor<3> {
        let bias = self.scores_bias(&x, attention_mask);
        let x = self
            .layers
            .iter()
            .fold(x, |x, layer| layer.forward(x, bias.clone()));
        match &self.final_norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }

    /// The input followed by every layer's output (the final norm, if any, applied to the last),
    /// for parity checks against references that expose intermediate states.
    pub fn forward_layers(
        &self,
        x: Tensor<3>,
        attention_mask: Option<Tensor<2>>,
    ) -> Vec<Tensor<3>> {
        let bias = self.scores_bias(&x, attention_mask);
        let mut outputs = Vec::with_capacity(self.layers.len() + 1);
        outputs.push(x);
        for layer in &self.layers {
            let input = outputs.last().expect("non-empty").clone();
            outputs.push(layer.forward(input, bias.clone()));
        }
        if let Some(norm) = &self.final_norm {
            let last = outputs.pop().expect("non-empty");
            outputs.push(norm.forward(last));
        }
        outputs
    }

    /// What every layer adds to its attention scores: the padding mask, the relative position
    /// bias, or their sum (computed once per forward pass).
    fn scores_bias(&self, x: &Tensor<3>, attention_mask: Option<Tensor<2>>) -> Option<Tensor<4>> {
        let [_, len, _] = x.dims();
        let mask = attention_mask.map(padding_mask);
        let position = self
            .relative_bias
            .as_ref()
            .map(|bias| bias.forward(0, len, len));
        match (mask, position) {
            (Some(mask), Some(position)) => Some(mask + position),
            (mask, position) => mask.or(position),
        }
    }
}

/// Key map from Hugging Face BERT encoder names (`{from}layer.{i}.attention.self.query.weight`,
/// …) to this module's names under `to` (`""` for a bare [`Encoder`], `"encoder."` for one
/// nested in a model), for checkpoints such as SCBert's (`from = "scbert.encoder."`).
pub fn bert_key_map(from: &str, to: &str) -> KeyMap {
    let layer = format!(r"^{}layer\.(\d+)\.", regex_lite::escape(from));
    [
        (r"attention\.self\.(query|key|value)\.", "attention.$2."),
        (r"attention\.output\.dense\.", "attention.output."),
        (r"attention\.output\.LayerNorm\.", "attn_norm."),
        (r"intermediate\.dense\.", "ffn.inner."),
        (r"output\.dense\.", "ffn.out."),
        (r"output\.LayerNorm\.", "ffn_norm."),
    ]
    .into_iter()
    .fold(KeyMap::new(), |map, (source, target)| {
        map.rule(
            format!("{layer}{source}"),
            format!("{to}layers.$1.{target}"),
        )
    })
}
