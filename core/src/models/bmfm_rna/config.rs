//! The reference `config.json` (as `PretrainedConfig.save_pretrained` writes it), read as is, and
//! the facts the model derives from it: sizes, the expression encoder, decoders and label heads.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::bundle::{BundleError, parse_json};
use crate::nn::EncoderConfig;
use crate::nn::sizes::{SizeError, check_layers, check_tensor};

#[derive(Debug, thiserror::Error)]
pub enum RnaConfigError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("config.json: {0}")]
    Unsupported(String),
    #[error("config.json")]
    Sizes(#[source] SizeError),
}

#[derive(Clone, Debug, Deserialize)]
pub struct FieldConfig {
    pub field_name: String,
    pub vocab_size: usize,
    #[serde(default)]
    pub is_input: bool,
    #[serde(default)]
    pub num_special_tokens: Option<usize>,
    #[serde(default)]
    pub encoder_kwargs: Option<Value>,
    /// Mode name → options; serde_json keeps keys sorted, which fixes the decoder order.
    #[serde(default)]
    pub decode_modes: Option<Map<String, Value>>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct LabelColumn {
    pub label_column_name: String,
    pub n_unique_values: usize,
    #[serde(default)]
    pub decode_from: Option<usize>,
    #[serde(default)]
    pub gradient_reversal_coefficient: Option<f64>,
    #[serde(default = "one")]
    pub classifier_depth: usize,
}

fn one() -> usize {
    1
}

/// The reference config's fields this runtime uses (others are ignored).
#[derive(Clone, Debug, Deserialize)]
pub struct RnaConfig {
    pub model_type: String,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default)]
    pub intermediate_size: Option<usize>,
    pub hidden_act: String,
    pub layer_norm_eps: f64,
    pub pad_token_id: u32,
    /// Dropout on embeddings and sub-layer outputs while training.
    #[serde(default)]
    pub hidden_dropout_prob: f64,
    /// Dropout before pooled label heads while training; `hidden_dropout_prob` when absent.
    #[serde(default)]
    pub classifier_dropout: Option<f64>,
    pub fields: Vec<FieldConfig>,
    #[serde(default)]
    pub label_columns: Option<Vec<LabelColumn>>,
}

/// The expression-value encoder kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpressionKind {
    /// `dense_2(leaky(leaky(dense_1(x))))` for values, `dense_2(leaky(table[row]))` for specials.
    MlpWithSpecialTokens { zero_as_special: bool },
    /// `dense([sin(x·b), cos(x·b)])` for values over `n_basis` frequencies, `table[row]` for
    /// specials. A fixed basis is `2π·basis_scale·2^k`; a trainable one is learned.
    ScaleAdapt {
        zero_as_special: bool,
        n_basis: usize,
        basis_scale: f64,
        trainable: bool,
    },
}

/// The backbone architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backbone {
    /// Post-LN BERT (`model_type = "scbert"`).
    SCBert,
    /// Bidirectional pre-RMSNorm Llama (`model_type = "scllama"`).
    SCLlama,
}

/// One field decoder of the LM head, named `"{field}_{mode}"` as in the checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderSpec {
    pub name: String,
    pub mode: DecodeMode,
    pub outputs: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum DecodeMode {
    TokenScores,
    Regression,
    IsZero,
    /// Whole-cell expression: `vocab` genes × `channels` outputs, read at position 0.
    Wced {
        vocab: usize,
        channels: usize,
    },
}

impl RnaConfig {
    pub fn parse(bytes: &[u8]) -> Result<Self, RnaConfigError> {
        let config: Self = parse_json("config.json", bytes)?;
        config.backbone()?;
        if config.hidden_act != "gelu" {
            return Err(RnaConfigError::Unsupported(format!(
                "hidden_act `{}`",
                config.hidden_act
            )));
        }
        config.expression_field()?;
        config.decoders()?;
        config.check_sizes()?;
        Ok(config)
    }

    pub fn backbone(&self) -> Result<Backbone, RnaConfigError> {
        match self.model_type.as_str() {
            "scbert" => Ok(Backbone::SCBert),
            "scllama" => Ok(Backbone::SCLlama),
            other => Err(RnaConfigError::Unsupported(format!(
                "model_type `{other}` (supported: scbert, scllama)"
            ))),
        }
    }

    /// Feed-forward width: `intermediate_size` for BERT; Llama's SwiGLU uses
    /// round_up(⌊2·4H/3⌋, 256).
    pub fn d_ff(&self) -> Result<usize, RnaConfigError> {
        match self.backbone()? {
            Backbone::SCBert => self
                .intermediate_size
                .ok_or_else(|| RnaConfigError::Unsupported("intermediate_size is missing".into())),
            Backbone::SCLlama => self
                .hidden_size
                .checked_mul(8)
                .map(|n| (n / 3).div_ceil(256) * 256)
                .ok_or_else(|| {
                    RnaConfigError::Unsupported(format!("hidden_size {}", self.hidden_size))
                }),
        }
    }

    /// Refuses layer counts and widths no model has (see [`crate::nn::sizes`]) before
    /// anything is built.
    fn check_sizes(&self) -> Result<(), RnaConfigError> {
        let sizes = RnaConfigError::Sizes;
        let (hidden, layers) = (self.hidden_size, self.num_hidden_layers);
        check_layers("num_hidden_layers", layers).map_err(sizes)?;
        EncoderConfig::new(hidden, layers, self.num_attention_heads, self.d_ff()?)
            .check_sizes()
            .map_err(sizes)?;
        let vocab = self.fields.iter().map(|f| f.vocab_size).max().unwrap_or(0);
        check_tensor(
            "a field's embedding (vocab_size × hidden_size)",
            &[vocab, hidden],
        )
        .map_err(sizes)?;
        Ok(())
    }

    pub fn field(&self, name: &str) -> Result<&FieldConfig, RnaConfigError> {
        self.fields
            .iter()
            .find(|f| f.field_name == name)
            .ok_or_else(|| RnaConfigError::Unsupported(format!("no `{name}` field in `fields`")))
    }

    pub fn gene_vocab_size(&self) -> Result<usize, RnaConfigError> {
        Ok(self.field("genes")?.vocab_size)
    }

    /// The expression encoder and its number of special tokens.
    pub fn expression_field(&self) -> Result<(ExpressionKind, usize), RnaConfigError> {
        let field = self.field("expressions")?;
        let kwargs = field.encoder_kwargs.clone().unwrap_or(Value::Null);
        let kind = kwargs.get("kind").and_then(Value::as_str).unwrap_or("");
        let specials = field.num_special_tokens.ok_or_else(|| {
            RnaConfigError::Unsupported("field `expressions`: num_special_tokens is missing".into())
        })?;
        match kind {
            "mlp_with_special_token_embedding" => Ok((
                ExpressionKind::MlpWithSpecialTokens {
                    zero_as_special: kwargs
                        .get("zero_as_special_token")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                },
                specials,
            )),
            "scale_adapt" => Ok((
                ExpressionKind::ScaleAdapt {
                    zero_as_special: kwargs
                        .get("zero_as_special_token")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    n_basis: kwargs
                        .get("n_sin_basis")
                        .and_then(Value::as_u64)
                        .unwrap_or(48) as usize,
                    basis_scale: kwargs
                        .get("basis_scale")
                        .and_then(Value::as_f64)
                        .unwrap_or(1.0),
                    trainable: kwargs
                        .get("trainable")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                },
                specials,
            )),
            other => Err(RnaConfigError::Unsupported(format!(
                "fields[expressions].encoder_kwargs.kind `{other}` is not supported"
            ))),
        }
    }

    /// The LM head's field decoders, in checkpoint order (fields, then sorted modes).
    pub fn decoders(&self) -> Result<Vec<DecoderSpec>, RnaConfigError> {
        let mut decoders = Vec::new();
        for field in &self.fields {
            for (mode, options) in field.decode_modes.iter().flatten() {
                let name = format!("{}_{mode}", field.field_name);
                let (mode, outputs) = match mode.as_str() {
                    "token_scores" => (DecodeMode::TokenScores, field.vocab_size),
                    "regression" => (DecodeMode::Regression, 1),
                    "is_zero" => (DecodeMode::IsZero, 1),
                    "wced" => {
                        let vocab_field = options
                            .get("vocab_field")
                            .and_then(Value::as_str)
                            .unwrap_or("genes");
                        let vocab = self.field(vocab_field)?.vocab_size;
                        let channels = options
                            .get("logit_outputs")
                            .and_then(Value::as_array)
                            .map_or(1, Vec::len);
                        (DecodeMode::Wced { vocab, channels }, vocab * channels)
                    }
                    other => {
                        return Err(RnaConfigError::Unsupported(format!(
                            "fields[{}].decode_modes: `{other}` is not supported",
                            field.field_name
                        )));
                    }
                };
                decoders.push(DecoderSpec {
                    name,
                    mode,
                    outputs,
                });
            }
        }
        Ok(decoders)
    }

    pub fn labels(&self) -> &[LabelColumn] {
        self.label_columns.as_deref().unwrap_or_default()
    }
}
