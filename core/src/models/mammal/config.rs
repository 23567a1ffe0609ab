//! MAMMAL's `config.json` as the reference writes it (`MammalConfig.to_json_file`): a nested
//! Hugging Face `t5_config` and the settings of the extra heads. Unknown keys are ignored.

use serde::{Deserialize, Serialize};

use crate::nn::sizes::{SizeError, check_layers, check_tensor};
use crate::nn::{
    DecoderConfig, EncoderConfig, FfnKind, NormKind, NormPlacement, QkvLayout,
    RelativePositionBiasConfig,
};

/// A MAMMAL `config.json` this implementation cannot run, named by its field.
#[derive(Debug, thiserror::Error)]
pub enum MammalConfigError {
    #[error("use_lora: LoRA checkpoints are not supported; merge the adapters first")]
    Lora,
    #[error("t5_config.feed_forward_proj {0:?}: only T5 v1.1's \"gated-gelu\" is supported")]
    FeedForward(String),
    #[error("t5_config.dense_act_fn {0:?}: only the tanh GELU (\"gelu_new\") is supported")]
    Activation(String),
    #[error(
        "t5_config.tie_word_embeddings true: MAMMAL's lm_head is untied; tied T5 checkpoints are \
         not supported"
    )]
    TiedEmbeddings,
    #[error("t5_config: d_model, num_heads and vocab_size must be positive")]
    ZeroSize,
    #[error("t5_config")]
    Sizes(#[source] SizeError),
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MammalConfig {
    pub t5_config: T5Config,
    /// Hidden sizes of the encoder-only token head (`[2048, 1024]` published).
    #[serde(default)]
    pub encoder_head_layers: Vec<usize>,
    #[serde(default)]
    pub encoder_head_dropout: f64,
    #[serde(default)]
    pub scalars_prediction_head: Option<ScalarsHeadConfig>,
    /// `project_input_scalars` exists (true in the published configs).
    #[serde(default)]
    pub support_input_scalars: bool,
    #[serde(default)]
    pub use_lora: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ScalarsHeadConfig {
    #[serde(default)]
    pub layers: Vec<usize>,
    #[serde(default)]
    pub dropout: f64,
    #[serde(default = "one")]
    pub num_classes: usize,
}

fn one() -> usize {
    1
}

/// The fields of Hugging Face's `T5Config` a T5 v1.1 model needs.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct T5Config {
    pub d_model: usize,
    pub d_kv: usize,
    pub d_ff: usize,
    pub num_layers: usize,
    #[serde(default)]
    pub num_decoder_layers: Option<usize>,
    pub num_heads: usize,
    pub vocab_size: usize,
    #[serde(default = "buckets")]
    pub relative_attention_num_buckets: usize,
    #[serde(default = "max_distance")]
    pub relative_attention_max_distance: usize,
    #[serde(default = "eps")]
    pub layer_norm_epsilon: f64,
    #[serde(default = "gated_gelu")]
    pub feed_forward_proj: String,
    #[serde(default)]
    pub dense_act_fn: Option<String>,
    #[serde(default)]
    pub dropout_rate: f64,
    #[serde(default)]
    pub decoder_start_token_id: Option<u32>,
    #[serde(default)]
    pub eos_token_id: Option<u32>,
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    #[serde(default = "yes")]
    pub tie_word_embeddings: bool,
}

fn buckets() -> usize {
    32
}
fn max_distance() -> usize {
    128
}
fn eps() -> f64 {
    1e-6
}
fn gated_gelu() -> String {
    "gated-gelu".into()
}
fn yes() -> bool {
    true
}

impl T5Config {
    /// A T5 v1.1 shape (gated-GELU, untied head, MAMMAL's special ids: pad 1, EOS 5, start 16).
    pub fn v1_1(
        d_model: usize,
        d_kv: usize,
        d_ff: usize,
        layers: usize,
        heads: usize,
        vocab: usize,
    ) -> Self {
        Self {
            d_model,
            d_kv,
            d_ff,
            num_layers: layers,
            num_decoder_layers: Some(layers),
            num_heads: heads,
            vocab_size: vocab,
            relative_attention_num_buckets: buckets(),
            relative_attention_max_distance: max_distance(),
            layer_norm_epsilon: eps(),
            feed_forward_proj: gated_gelu(),
            dense_act_fn: Some("gelu_new".into()),
            dropout_rate: 0.1,
            decoder_start_token_id: Some(16),
            eos_token_id: Some(5),
            pad_token_id: Some(1),
            tie_word_embeddings: false,
        }
    }
}

impl MammalConfig {
    /// A model of `t5`'s shape with input scalars and a one-layer scalar head; the token head
    /// (`encoder_head_layers`) is left out.
    pub fn new(t5: T5Config) -> Self {
        Self {
            t5_config: t5,
            encoder_head_layers: Vec::new(),
            encoder_head_dropout: 0.0,
            scalars_prediction_head: Some(ScalarsHeadConfig {
                layers: Vec::new(),
                dropout: 0.0,
                num_classes: 1,
            }),
            support_input_scalars: true,
            use_lora: false,
        }
    }

    /// The published base model's shape (ibm/biomed.omics.bl.sm.ma-ted-458m: 12 + 12 layers ×
    /// 768, 12 heads of 64, d_ff 2048, vocabulary 100,001, token head [2048, 1024]).
    pub fn published_458m() -> Self {
        Self {
            encoder_head_layers: vec![2048, 1024],
            encoder_head_dropout: 0.2,
            ..Self::new(T5Config::v1_1(768, 64, 2048, 12, 12, 100_001))
        }
    }

    /// What this implementation cannot run, said plainly (checked before building anything).
    pub fn check(&self) -> Result<(), MammalConfigError> {
        let t5 = &self.t5_config;
        if self.use_lora {
            return Err(MammalConfigError::Lora);
        }
        if t5.feed_forward_proj != "gated-gelu" {
            return Err(MammalConfigError::FeedForward(t5.feed_forward_proj.clone()));
        }
        if let Some(act) = &t5.dense_act_fn
            && !matches!(act.as_str(), "gelu_new" | "gelu_pytorch_tanh")
        {
            return Err(MammalConfigError::Activation(act.clone()));
        }
        if t5.tie_word_embeddings {
            return Err(MammalConfigError::TiedEmbeddings);
        }
        if t5.d_model == 0 || t5.num_heads == 0 || t5.vocab_size == 0 {
            return Err(MammalConfigError::ZeroSize);
        }
        let sizes = MammalConfigError::Sizes;
        check_layers("num_layers", t5.num_layers).map_err(sizes)?;
        if let Some(n) = t5.num_decoder_layers {
            check_layers("num_decoder_layers", n).map_err(sizes)?;
        }
        self.encoder().check_sizes().map_err(sizes)?;
        self.decoder().check_sizes().map_err(sizes)?;
        check_tensor("the vocabulary embedding", &[t5.vocab_size, t5.d_model]).map_err(sizes)?;
        Ok(())
    }

    pub fn decoder_start(&self) -> u32 {
        self.t5_config.decoder_start_token_id.unwrap_or(0)
    }

    pub fn eos(&self) -> u32 {
        self.t5_config.eos_token_id.unwrap_or(1)
    }

    pub fn pad(&self) -> u32 {
        self.t5_config.pad_token_id.unwrap_or(0)
    }

    fn bias(&self) -> RelativePositionBiasConfig {
        let t5 = &self.t5_config;
        RelativePositionBiasConfig {
            n_heads: t5.num_heads,
            num_buckets: t5.relative_attention_num_buckets,
            max_distance: t5.relative_attention_max_distance,
            bidirectional: true,
        }
    }

    pub fn encoder(&self) -> EncoderConfig {
        let t5 = &self.t5_config;
        EncoderConfig {
            d_head: Some(t5.d_kv),
            norm: NormKind::Rms,
            norm_eps: t5.layer_norm_epsilon,
            placement: NormPlacement::Pre,
            attention_bias: false,
            scaled_attention: false,
            qkv: QkvLayout::Separate,
            ffn: FfnKind::GatedGeluTanh,
            first_layer_attn_norm: true,
            final_norm: true,
            relative_bias: Some(self.bias()),
            dropout: t5.dropout_rate,
            ..EncoderConfig::new(t5.d_model, t5.num_layers, t5.num_heads, t5.d_ff)
        }
    }

    pub fn decoder(&self) -> DecoderConfig {
        let t5 = &self.t5_config;
        DecoderConfig {
            d_model: t5.d_model,
            n_layers: t5.num_decoder_layers.unwrap_or(t5.num_layers),
            n_heads: t5.num_heads,
            d_head: Some(t5.d_kv),
            d_ff: t5.d_ff,
            ffn: FfnKind::GatedGeluTanh,
            norm: NormKind::Rms,
            norm_eps: t5.layer_norm_epsilon,
            relative_bias: self.bias(),
            dropout: t5.dropout_rate,
        }
    }
}
