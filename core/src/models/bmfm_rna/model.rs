//! The BMFM-RNA network: gene + expression embeddings, the encoder stack, pooler, LM transform
//! with its field decoders (WCED read at position 0) and label heads.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::config::{Backbone, DecodeMode, DecoderSpec, ExpressionKind, RnaConfig, RnaConfigError};
use super::expression::{ExpressionEncoder, fixed_basis};
use super::keys;
use crate::bundle::dtype::decode_float;
use crate::bundle::safetensors::parse_header;
use crate::bundle::{
    Bundle, BundleError, BundleFiles, CONFIG_FILE, KeyMap, LoadReport, StreamedModel, WEIGHTS_FILE,
};
use crate::nn::{
    Encoder, EncoderConfig, FfnKind, Norm, NormKind, NormPlacement, QkvLayout, dropout,
    gradient_reversal, linear,
};

/// `LayerNorm(gelu(dense(h)))`, shared by every field decoder.
#[derive(Module, Debug)]
pub struct LmTransform {
    pub dense: Linear,
    pub norm: Norm,
}

/// The module tree; tensor names are its field paths.
#[derive(Module, Debug)]
pub struct RnaNet {
    pub genes: Embedding,
    pub expressions: ExpressionEncoder,
    pub embed_norm: Norm,
    pub encoder: Encoder,
    pub pooler: Linear,
    pub lm_transform: LmTransform,
    /// One per [`DecoderSpec`], in the config's order.
    pub decoders: Vec<Linear>,
    /// One per label column, in the config's order.
    pub labels: Vec<Linear>,
}

/// A loaded model: the network and what the config says about its heads.
#[derive(Debug)]
pub struct RnaModel {
    pub config: RnaConfig,
    pub decoders: Vec<DecoderSpec>,
    pub net: RnaNet,
    pub expression: ExpressionSpec,
    pub report: LoadReport,
}

/// How the expression channel is encoded, and (for `scale_adapt`) the host copy of the basis.
#[derive(Clone, Debug)]
pub struct ExpressionSpec {
    pub kind: ExpressionKind,
    pub n_special: usize,
    pub basis: Option<Vec<f32>>,
}

/// Which heads a model is built with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heads {
    /// Every head the config names (training, reconstruction, the reference cases).
    All,
    /// The label heads only: the field decoders (at the published size WCED's alone is 146 M
    /// parameters, as many as the encoder and gene embedding together) are neither built nor
    /// loaded — what annotation and embedding need.
    Labels,
}

/// scLlama's RMSNorm epsilon (fixed in the reference code, not in its config).
const LLAMA_RMS_EPS: f64 = 1e-5;

/// The parameter holding the `scale_adapt` basis.
const BASIS: &str = "expressions.basis";

/// The `scale_adapt` basis as stored in the weights file (the tensor that maps to
/// [`BASIS`]), in whichever float dtype it was stored.
fn stored_basis(bundle: &Bundle, key_map: &KeyMap) -> Result<Vec<f32>, RnaError> {
    let file = WEIGHTS_FILE;
    let bytes = bundle.file(file)?;
    for entry in parse_header(file, bytes, bytes.len())? {
        if key_map.apply(&entry.name)? == BASIS {
            return Ok(decode_float(
                file,
                &entry.name,
                entry.dtype,
                &bytes[entry.range.clone()],
            )?);
        }
    }
    Err(BundleError::MissingTensor {
        file: file.into(),
        tensor: BASIS.into(),
        more: 0,
    }
    .into())
}

/// A padded batch in the model's two-channel layout, row-major `[batch, len]`.
#[derive(Clone, Debug, PartialEq)]
pub struct RnaBatch {
    pub batch: usize,
    pub len: usize,
    pub gene_ids: Vec<u32>,
    pub expressions: Vec<f32>,
    pub attention_mask: Vec<f32>,
}

impl RnaBatch {
    /// Encoded cells padded with `pad` to `len` tokens each (mask 0 on the padding).
    pub fn padded(cells: &[crate::tokenize::rna::EncodedCell], len: usize, pad: u32) -> Self {
        let mut batch = Self {
            batch: cells.len(),
            len,
            gene_ids: Vec::with_capacity(cells.len() * len),
            expressions: Vec::with_capacity(cells.len() * len),
            attention_mask: Vec::with_capacity(cells.len() * len),
        };
        for cell in cells {
            let extra = len.saturating_sub(cell.gene_ids.len());
            batch.gene_ids.extend(cell.gene_ids.iter().take(len));
            batch.gene_ids.extend(std::iter::repeat_n(pad, extra));
            batch.expressions.extend(cell.expressions.iter().take(len));
            batch
                .expressions
                .extend(std::iter::repeat_n(-(pad as f32 + 1.0), extra));
            batch
                .attention_mask
                .extend(cell.attention_mask.iter().take(len).map(|&m| m as f32));
            batch.attention_mask.extend(std::iter::repeat_n(0.0, extra));
        }
        batch
    }
}

/// A batch on the device: gene ids, expression channel, `scale_adapt` features, mask.
#[derive(Clone, Debug)]
pub struct RnaInputs {
    pub ids: Tensor<2, Int>,
    pub expressions: Tensor<2>,
    pub features: Option<Tensor<3>>,
    pub mask: Tensor<2>,
    /// Whether any position is padding: without any, the attention needs no mask (adding one of
    /// zeros is a pass over every layer's scores for nothing).
    pub padded: bool,
}

/// Everything the reference exposes, under its names.
#[derive(Debug)]
pub struct RnaOutputs {
    /// The embedding output followed by each layer's output `[B, L, H]`.
    pub hidden_states: Vec<Tensor<3>>,
    pub pooler_output: Tensor<2>,
    /// Masked mean over positions 1.. (so `[SEP]` counts, `[CLS]` does not).
    pub mean_pooled: Tensor<2>,
    /// Per decoder, in order: `[B, L, out]` for per-token modes, `[B, V, channels]` for WCED.
    pub decoders: Vec<Tensor<3>>,
    /// Per label column: `[B, classes]`.
    pub labels: Vec<Tensor<2>>,
}

#[derive(Debug, thiserror::Error)]
pub enum RnaError {
    #[error(transparent)]
    Config(#[from] RnaConfigError),
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("input: {0}")]
    Input(String),
    /// A result could not be read back from the device.
    #[error("reading a result tensor: {0}")]
    Readback(String),
}

impl RnaModel {
    /// Builds the network for a reference `config.json` (random weights), every head included.
    pub fn init(config: RnaConfig, device: &Device) -> Result<Self, RnaError> {
        Self::init_with(config, Heads::All, device)
    }

    /// Builds the network with the given `heads` (random weights).
    pub fn init_with(config: RnaConfig, heads: Heads, device: &Device) -> Result<Self, RnaError> {
        let hidden = config.hidden_size;
        let (kind, n_special) = config.expression_field()?;
        let decoders = match heads {
            Heads::All => config.decoders()?,
            Heads::Labels => Vec::new(),
        };
        let mut encoder = EncoderConfig::new(
            hidden,
            config.num_hidden_layers,
            config.num_attention_heads,
            config.d_ff()?,
        );
        encoder.norm_eps = config.layer_norm_eps;
        encoder.dropout = config.hidden_dropout_prob;
        if config.backbone()? == Backbone::SCLlama {
            encoder.norm = NormKind::Rms;
            encoder.norm_eps = LLAMA_RMS_EPS;
            encoder.placement = NormPlacement::Pre;
            encoder.attention_bias = false;
            encoder.qkv = QkvLayout::Fused;
            encoder.ffn = FfnKind::SwiGlu;
            encoder.first_layer_attn_norm = false;
        }
        let basis = match &kind {
            ExpressionKind::ScaleAdapt {
                n_basis,
                basis_scale,
                ..
            } => Some(fixed_basis(*n_basis, *basis_scale)),
            ExpressionKind::MlpWithSpecialTokens { .. } => None,
        };
        let norm = || Norm::new(NormKind::Layer, hidden, config.layer_norm_eps, device);
        let net = RnaNet {
            genes: EmbeddingConfig::new(config.gene_vocab_size()?, hidden).init(device),
            expressions: ExpressionEncoder::new(&kind, n_special, hidden, device),
            embed_norm: norm(),
            encoder: encoder.init(device),
            pooler: LinearConfig::new(hidden, hidden).init(device),
            lm_transform: LmTransform {
                dense: LinearConfig::new(hidden, hidden).init(device),
                norm: norm(),
            },
            decoders: decoders
                .iter()
                .map(|d| LinearConfig::new(hidden, d.outputs).init(device))
                .collect(),
            labels: config
                .labels()
                .iter()
                .map(|l| LinearConfig::new(hidden, l.n_unique_values).init(device))
                .collect(),
        };
        Ok(Self {
            config,
            decoders,
            expression: ExpressionSpec {
                kind,
                n_special,
                basis,
            },
            net,
            report: LoadReport {
                applied: 0,
                unused: Vec::new(),
                missing: Vec::new(),
            },
        })
    }

    /// Loads a reference model folder/bundle: its own `config.json` and `model.safetensors`.
    pub fn from_bundle(bundle: &Bundle, device: &Device) -> Result<Self, RnaError> {
        Self::from_bundle_with(bundle, Heads::All, device)
    }

    /// Loads a bundle with the given `heads`; the file's tensors for heads left out are
    /// listed in `report.unused` and never decoded.
    pub fn from_bundle_with(
        bundle: &Bundle,
        heads: Heads,
        device: &Device,
    ) -> Result<Self, RnaError> {
        let config = RnaConfig::parse(bundle.file(CONFIG_FILE)?)?;
        let mut model = Self::init_with(config, heads, device)?;
        model.load_weights(bundle, false)?;
        Ok(model)
    }

    fn key_map(&self) -> Result<KeyMap, RnaError> {
        let names: Vec<String> = self.decoders.iter().map(|d| d.name.clone()).collect();
        Ok(keys::reference(&self.config, &names)?)
    }

    /// Fills the network from `bundle`'s weights (reference or our names). With `partial`,
    /// parameters the file lacks keep their current values and are listed in `report.missing`.
    pub fn load_weights(&mut self, bundle: &Bundle, partial: bool) -> Result<(), RnaError> {
        let key_map = self.key_map()?;
        self.report = if partial {
            bundle.load_weights_partial(&mut self.net, &key_map)?
        } else {
            bundle.load_weights(&mut self.net, &key_map)?
        };
        if self.expression.basis.is_some() {
            // The sinusoid features are computed on the host, from the basis as stored.
            self.expression.basis = Some(stored_basis(bundle, &key_map)?);
        }
        Ok(())
    }

    /// Checks a batch against the vocabulary and the special-token range, so that bad input is
    /// an error here rather than an out-of-range lookup on the device.
    fn validate(&self, batch: &RnaBatch) -> Result<(), RnaError> {
        let cells = batch.batch * batch.len;
        if cells == 0 {
            return Err(RnaError::Input("empty batch".into()));
        }
        for (name, n) in [
            ("gene_ids", batch.gene_ids.len()),
            ("expressions", batch.expressions.len()),
            ("attention_mask", batch.attention_mask.len()),
        ] {
            if n != cells {
                return Err(RnaError::Input(format!(
                    "{name} has {n} values, expected batch·len = {cells}"
                )));
            }
        }
        if let Some(label) = self
            .config
            .labels()
            .iter()
            .find(|l| l.decode_from.is_some_and(|p| p >= batch.len))
        {
            return Err(RnaError::Input(format!(
                "label head `{}` reads position {}, but sequences have {} tokens",
                label.label_column_name,
                label.decode_from.unwrap_or_default(),
                batch.len
            )));
        }
        let vocab = self.config.gene_vocab_size()?;
        if let Some(i) = batch.gene_ids.iter().position(|&id| id as usize >= vocab) {
            return Err(RnaError::Input(format!(
                "gene id {} at position {i} is outside the vocabulary of {vocab}",
                batch.gene_ids[i]
            )));
        }
        let n_special = self.expression.n_special as f32;
        let bad = |x: f32| !x.is_finite() || (x < 0.0 && (x.fract() != 0.0 || -x > n_special));
        if let Some(i) = batch.expressions.iter().position(|&x| bad(x)) {
            return Err(RnaError::Input(format!(
                "expression {} at position {i}: negative values must be special tokens −(id+1), id < {n_special}",
                batch.expressions[i]
            )));
        }
        Ok(())
    }

    /// Runs the whole network on a batch.
    pub fn forward(&self, batch: &RnaBatch, device: &Device) -> Result<RnaOutputs, RnaError> {
        Ok(self.forward_inputs(self.inputs(batch, device)?))
    }

    /// A checked batch as device tensors (training reuses them for its losses).
    pub fn inputs(&self, batch: &RnaBatch, device: &Device) -> Result<RnaInputs, RnaError> {
        self.validate(batch)?;
        let shape = [batch.batch, batch.len];
        let ids: Vec<i64> = batch.gene_ids.iter().map(|&id| id as i64).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), device);
        let expressions =
            Tensor::<2>::from_data(TensorData::new(batch.expressions.clone(), shape), device);
        let mask =
            Tensor::<2>::from_data(TensorData::new(batch.attention_mask.clone(), shape), device);
        let features = self.expression.basis.as_ref().map(|basis| {
            let mut values = Vec::with_capacity(batch.expressions.len() * 2 * basis.len());
            for &x in &batch.expressions {
                crate::models::bmfm_rna::expression::sinusoid_features(x, basis, &mut values);
            }
            Tensor::<3>::from_data(
                TensorData::new(values, [batch.batch, batch.len, 2 * basis.len()]),
                device,
            )
        });
        Ok(RnaInputs {
            ids,
            expressions,
            features,
            mask,
            padded: crate::nn::mask::masks_any(&batch.attention_mask),
        })
    }

    /// The network on prepared inputs. On an autodiff device dropout is active and label heads
    /// with a gradient-reversal coefficient reverse their gradient into the encoder.
    pub fn forward_inputs(&self, inputs: RnaInputs) -> RnaOutputs {
        let RnaInputs {
            ids,
            expressions,
            features,
            mask,
            padded,
        } = inputs;
        let net = &self.net;
        let p_hidden = self.config.hidden_dropout_prob;
        let p_classifier = self.config.classifier_dropout.unwrap_or(p_hidden);
        let [batch, len] = ids.dims();
        let hidden = self.config.hidden_size;
        let embedded = dropout(
            net.embed_norm.forward(
                net.genes.forward(ids)
                    + net.expressions.forward(
                        &self.expression.kind,
                        self.expression.n_special,
                        expressions,
                        features,
                    ),
            ),
            p_hidden,
        );
        let hidden_states = net
            .encoder
            .forward_layers(embedded, padded.then(|| mask.clone()));
        let last = hidden_states.last().expect("input and layers").clone();
        let at = |position: usize| {
            last.clone()
                .slice([0..batch, position..position + 1, 0..hidden])
                .reshape([batch, hidden])
        };
        let pooler_output = net.pooler.forward(at(0)).tanh();

        let mean_pooled = if len > 1 {
            let weights = mask.slice([0..batch, 1..len]).unsqueeze_dim::<3>(2);
            let summed =
                (last.clone().slice([0..batch, 1..len, 0..hidden]) * weights.clone()).sum_dim(1);
            let count = weights.sum_dim(1).clamp_min(1e-9);
            (summed / count).reshape([batch, hidden])
        } else {
            at(0)
        };

        // The LM transform runs on every position only when a per-token decoder needs it;
        // whole-cell decoding reads the [CLS] position alone, and a model without decoders
        // (label heads only) skips it.
        let transform = |h: Tensor<3>| {
            net.lm_transform
                .norm
                .forward(gelu(linear::forward(&net.lm_transform.dense, h)))
        };
        let per_token = self
            .decoders
            .iter()
            .any(|d| !matches!(d.mode, DecodeMode::Wced { .. }));
        let transformed = per_token.then(|| transform(last.clone()));
        let first = (!self.decoders.is_empty()).then(|| match &transformed {
            Some(t) => t.clone().slice([0..batch, 0..1, 0..hidden]),
            None => transform(last.clone().slice([0..batch, 0..1, 0..hidden])),
        });
        let decoders = self
            .decoders
            .iter()
            .zip(&net.decoders)
            .map(|(spec, layer)| match spec.mode {
                // Whole-cell decoding reads the [CLS] position only.
                DecodeMode::Wced { vocab, channels } => {
                    linear::forward(layer, first.clone().expect("decoders present"))
                        .reshape([batch, vocab, channels])
                }
                _ => linear::forward(layer, transformed.clone().expect("per-token decoders")),
            })
            .collect();

        let labels = self
            .config
            .labels()
            .iter()
            .zip(&net.labels)
            .map(|(label, linear)| {
                let input = match label.decode_from {
                    Some(position) => at(position),
                    None => dropout(pooler_output.clone(), p_classifier),
                };
                let input = match label.gradient_reversal_coefficient {
                    Some(alpha) => gradient_reversal(input, alpha),
                    None => input,
                };
                linear.forward(input)
            })
            .collect();

        RnaOutputs {
            hidden_states,
            pooler_output,
            mean_pooled,
            decoders,
            labels,
        }
    }
}

/// A BMFM-RNA bundle loaded as its archive arrives, with the label heads only (annotation in
/// a browser tab); see [`crate::bundle::ModelStream`].
impl StreamedModel for RnaModel {
    type Module = RnaNet;
    type Error = RnaError;

    fn start(files: &BundleFiles, device: &Device) -> Result<(Self, KeyMap), RnaError> {
        let config = RnaConfig::parse(files.get(CONFIG_FILE)?)?;
        let model = Self::init_with(config, Heads::Labels, device)?;
        let key_map = model.key_map()?;
        Ok((model, key_map))
    }

    fn module(&mut self) -> &mut RnaNet {
        &mut self.net
    }

    fn observe(&mut self, target: &str, data: &TensorData) -> Result<(), RnaError> {
        if target == BASIS && self.expression.basis.is_some() {
            // The sinusoid features are computed on the host, from the basis as stored.
            let values = data.try_to_vec::<f32>().map_err(|e| BundleError::Tensor {
                file: WEIGHTS_FILE.into(),
                tensor: BASIS.into(),
                message: format!("{e:?}"),
            })?;
            self.expression.basis = Some(values);
        }
        Ok(())
    }

    fn loaded(&mut self, report: LoadReport) {
        self.report = report;
    }
}
