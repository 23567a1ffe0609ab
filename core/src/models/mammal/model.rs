//! The MAMMAL network: a T5 v1.1 encoder–decoder (shared input embedding, untied `lm_head`) with
//! scalar inputs added at `<SCALAR>` positions and two encoder-only heads.

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use super::config::{MammalConfig, MammalConfigError};
use super::heads::ClassifierMlp;
use super::keys;
use crate::bundle::{
    Bundle, BundleError, BundleFiles, CONFIG_FILE, KeyMap, LoadReport, ModelStream, StreamedModel,
    parse_json,
};
use crate::nn::{Decoder, Encoder};

#[derive(Module, Debug)]
pub struct MammalNet {
    pub shared: Embedding,
    pub encoder: Encoder,
    pub decoder: Decoder,
    pub lm_head: Linear,
    pub project_input_scalars: Option<Linear>,
    pub encoder_head: Option<ClassifierMlp>,
    pub scalars_head: Option<ClassifierMlp>,
}

/// A loaded model and its config.
#[derive(Debug)]
pub struct MammalModel {
    pub net: MammalNet,
    pub config: MammalConfig,
    pub report: LoadReport,
}

#[derive(Debug, thiserror::Error)]
pub enum MammalError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("config.json")]
    Config(#[source] MammalConfigError),
    /// Inputs that do not fit the model (ids out of range, ragged rows, …).
    #[error("{0}")]
    Input(String),
}

/// Encoder inputs of a batch, row-major `[batch, len]`: ids, attention mask (1 = token) and
/// scalar inputs (value and whether it is one) as the tokenizer makes them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncoderInputs {
    pub batch: usize,
    pub len: usize,
    pub ids: Vec<u32>,
    pub attention_mask: Vec<f32>,
    pub scalars: Vec<f32>,
    pub scalars_valid: Vec<bool>,
}

/// What the encoder-only mode gives: the encoder's last hidden state `[B, L, d]`, the token
/// head's logits `[B, L, V]` and the scalar head's output `[B, L]`.
pub struct EncoderOutputs {
    pub hidden: Tensor<3>,
    pub head_logits: Option<Tensor<3>>,
    pub scalars: Option<Tensor<2>>,
}

impl MammalModel {
    /// A randomly initialised model of `config`'s shape.
    pub fn new(config: MammalConfig, device: &Device) -> Result<Self, MammalError> {
        config.check().map_err(MammalError::Config)?;
        let t5 = &config.t5_config;
        let d = t5.d_model;
        let net = MammalNet {
            shared: EmbeddingConfig::new(t5.vocab_size, d).init(device),
            encoder: config.encoder().init(device),
            decoder: config.decoder().init(device),
            lm_head: LinearConfig::new(d, t5.vocab_size)
                .with_bias(false)
                .init(device),
            project_input_scalars: config
                .support_input_scalars
                .then(|| LinearConfig::new(1, d).init(device)),
            encoder_head: (!config.encoder_head_layers.is_empty()).then(|| {
                ClassifierMlp::new(
                    d,
                    &config.encoder_head_layers,
                    t5.vocab_size,
                    config.encoder_head_dropout,
                    device,
                )
            }),
            scalars_head: config.scalars_prediction_head.as_ref().map(|head| {
                ClassifierMlp::new(d, &head.layers, head.num_classes, head.dropout, device)
            }),
        };
        Ok(Self {
            net,
            config,
            report: LoadReport::default(),
        })
    }

    /// `config.json` + `model.safetensors` in the published layout (or ours).
    pub fn from_bundle(bundle: &Bundle, device: &Device) -> Result<Self, MammalError> {
        let config: MammalConfig = bundle.config()?;
        let mut model = Self::new(config, device)?;
        model.report = bundle.load_weights(&mut model.net, &keys::reference(&model.config))?;
        Ok(model)
    }

    /// Starts loading a bundle from a stream of its archive (see [`MammalStreamLoad`]).
    pub fn stream(device: &Device) -> MammalStreamLoad {
        ModelStream::new(device)
    }

    fn vocab(&self) -> usize {
        self.config.t5_config.vocab_size
    }

    /// Ids as an `[B, L]` tensor, refusing any outside the vocabulary.
    pub fn ids(
        &self,
        ids: &[u32],
        shape: [usize; 2],
        device: &Device,
    ) -> Result<Tensor<2, Int>, MammalError> {
        if ids.len() != shape[0] * shape[1] {
            return Err(MammalError::Input(format!(
                "{} ids for a {}×{} batch",
                ids.len(),
                shape[0],
                shape[1]
            )));
        }
        if let Some((i, id)) = ids
            .iter()
            .enumerate()
            .find(|(_, id)| **id as usize >= self.vocab())
        {
            return Err(MammalError::Input(format!(
                "token id {id} (row {}, position {}) is outside the model's vocabulary of {}",
                i / shape[1].max(1),
                i % shape[1].max(1),
                self.vocab()
            )));
        }
        let ids: Vec<i64> = ids.iter().map(|&id| id as i64).collect();
        Ok(Tensor::from_data(TensorData::new(ids, shape), device))
    }

    /// Token embeddings plus the projected scalar inputs at `<SCALAR>` positions.
    pub fn embed_encoder(
        &self,
        inputs: &EncoderInputs,
        device: &Device,
    ) -> Result<Tensor<3>, MammalError> {
        let shape = [inputs.batch, inputs.len];
        let cells = inputs.batch * inputs.len;
        for (name, n) in [
            ("attention_mask", inputs.attention_mask.len()),
            ("scalars", inputs.scalars.len()),
            ("scalars_valid", inputs.scalars_valid.len()),
        ] {
            if n != cells {
                return Err(MammalError::Input(format!(
                    "{name} has {n} values, expected {cells}"
                )));
            }
        }
        let embedded = self
            .net
            .shared
            .forward(self.ids(&inputs.ids, shape, device)?);
        let Some(project) = &self.net.project_input_scalars else {
            return Ok(embedded);
        };
        if !inputs.scalars_valid.iter().any(|&v| v) {
            return Ok(embedded);
        }
        // Invalid positions carry the −1000 filler; zero them so only valid ones contribute.
        let values: Vec<f32> = inputs
            .scalars
            .iter()
            .zip(&inputs.scalars_valid)
            .map(|(&v, &ok)| if ok { v } else { 0.0 })
            .collect();
        let valid: Vec<f32> = inputs
            .scalars_valid
            .iter()
            .map(|&ok| f32::from(u8::from(ok)))
            .collect();
        let values = Tensor::<3>::from_data(
            TensorData::new(values, [inputs.batch, inputs.len, 1]),
            device,
        );
        let valid = Tensor::<3>::from_data(
            TensorData::new(valid, [inputs.batch, inputs.len, 1]),
            device,
        );
        Ok(embedded + project.forward(values) * valid)
    }

    fn mask(values: &[f32], shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values.to_vec(), shape), device)
    }

    /// The encoder's last hidden state `[B, L, d]` (after its final norm).
    pub fn encode(
        &self,
        inputs: &EncoderInputs,
        device: &Device,
    ) -> Result<Tensor<3>, MammalError> {
        let x = self.embed_encoder(inputs, device)?;
        let mask = crate::nn::mask::masks_any(&inputs.attention_mask)
            .then(|| Self::mask(&inputs.attention_mask, [inputs.batch, inputs.len], device));
        Ok(self.net.encoder.forward(x, mask))
    }

    /// Encoder-only mode: hidden states and both heads.
    pub fn encoder_only(
        &self,
        inputs: &EncoderInputs,
        device: &Device,
    ) -> Result<EncoderOutputs, MammalError> {
        let hidden = self.encode(inputs, device)?;
        let head_logits = self
            .net
            .encoder_head
            .as_ref()
            .map(|h| h.forward(hidden.clone()));
        let scalars = self.net.scalars_head.as_ref().map(|h| {
            let out = h.forward(hidden.clone());
            let [b, l, _] = out.dims();
            out.slice([0..b, 0..l, 0..1]).reshape([b, l])
        });
        Ok(EncoderOutputs {
            hidden,
            head_logits,
            scalars,
        })
    }

    /// Teacher-forced decoding of `decoder_ids: [B, Ld]` (mask 1 = token) against the encoder
    /// output: logits `[B, Ld, V]`.
    pub fn decode(
        &self,
        memory: Tensor<3>,
        memory_mask: &[f32],
        decoder_ids: &[u32],
        decoder_mask: &[f32],
        shape: [usize; 2],
        device: &Device,
    ) -> Result<Tensor<3>, MammalError> {
        let [batch, memory_len, _] = memory.dims();
        let x = self
            .net
            .shared
            .forward(self.ids(decoder_ids, shape, device)?);
        let hidden = self.net.decoder.forward(
            x,
            Some(Self::mask(decoder_mask, shape, device)),
            memory,
            Some(Self::mask(memory_mask, [batch, memory_len], device)),
        );
        Ok(crate::nn::linear::forward(&self.net.lm_head, hidden))
    }

    /// The logits of one embedded decoding step `[B, 1, d]` → `[B, V]`, extending `cache`.
    pub fn step(&self, ids: Tensor<2, Int>, cache: &mut crate::nn::DecoderCache) -> Tensor<2> {
        let x = self.net.shared.forward(ids);
        let hidden = self.net.decoder.step(x, cache);
        let [b, _, _] = hidden.dims();
        crate::nn::linear::forward(&self.net.lm_head, hidden).reshape([b, self.vocab()])
    }
}

/// Mean cross-entropy of `logits: [B, L, V]` over the labels that are not −100 (as PyTorch's
/// `CrossEntropyLoss(ignore_index=-100)`); `[1]`, or an error when every label is ignored.
pub fn token_loss(
    logits: Tensor<3>,
    labels: &[i64],
    device: &Device,
) -> Result<Tensor<1>, MammalError> {
    let (sum, counted) = token_loss_sum(logits, labels, device)?;
    if counted == 0 {
        return Err(MammalError::Input(
            "every label is −100: nothing to score".into(),
        ));
    }
    Ok(sum.div_scalar(counted as f64))
}

/// [`token_loss`] before the mean: the summed cross-entropy (`[1]`) and how many labels count.
pub fn token_loss_sum(
    logits: Tensor<3>,
    labels: &[i64],
    device: &Device,
) -> Result<(Tensor<1>, usize), MammalError> {
    let [b, l, v] = logits.dims();
    if labels.len() != b * l {
        return Err(MammalError::Input(format!(
            "{} labels for {} positions",
            labels.len(),
            b * l
        )));
    }
    let counted = labels.iter().filter(|&&y| y != -100).count();
    if let Some(bad) = labels
        .iter()
        .find(|&&y| y != -100 && (y < 0 || y as usize >= v))
    {
        return Err(MammalError::Input(format!(
            "label {bad} is outside the vocabulary of {v}"
        )));
    }
    let targets: Vec<i64> = labels.iter().map(|&y| y.max(0)).collect();
    let keep: Vec<bool> = labels.iter().map(|&y| y != -100).collect();
    let targets = Tensor::<2, Int>::from_data(TensorData::new(targets, [b * l, 1]), device);
    let keep = Tensor::<1, Bool>::from_data(TensorData::new(keep, [b * l]), device);
    let picked = log_softmax(logits.reshape([b * l, v]), 1)
        .gather(1, targets)
        .reshape([b * l]);
    let zeros = Tensor::<1>::zeros([b * l], device);
    Ok((zeros.mask_where(keep, picked).sum().neg(), counted))
}

/// A MAMMAL bundle loaded as its archive arrives (the 458M model in a browser tab): see
/// [`ModelStream`].
pub type MammalStreamLoad = ModelStream<MammalModel>;

impl StreamedModel for MammalModel {
    type Module = MammalNet;
    type Error = MammalError;

    fn start(files: &BundleFiles, device: &Device) -> Result<(Self, KeyMap), MammalError> {
        let config: MammalConfig = parse_json(CONFIG_FILE, files.get(CONFIG_FILE)?)?;
        let model = MammalModel::new(config, device)?;
        let key_map = keys::reference(&model.config);
        Ok((model, key_map))
    }

    fn module(&mut self) -> &mut MammalNet {
        &mut self.net
    }

    fn loaded(&mut self, report: LoadReport) {
        self.report = report;
    }
}
