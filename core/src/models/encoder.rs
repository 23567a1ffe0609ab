//! A bare transformer encoder as a bundle of its own: hidden states in, hidden states out.
//! The smallest complete model, used to check bundles and backends (native vs browser).

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::bundle::{Bundle, BundleError, KeyMap, LoadReport};
use crate::nn::encoder::bert_key_map;
use crate::nn::{Encoder, EncoderConfig};

/// The architecture name in `config.json`.
pub const ARCHITECTURE: &str = "encoder";

/// Naming conventions of reference checkpoints this bundle can point at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "convention")]
pub enum ReferenceNames {
    /// Hugging Face BERT encoder names under `prefix` (`scbert.encoder.` for SCBert).
    HfBert { prefix: String },
}

/// `config.json` of an encoder bundle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EncoderBundleConfig {
    pub architecture: String,
    pub encoder: EncoderConfig,
    /// Set when `model.safetensors` keeps a reference checkpoint's names; absent for bundles
    /// we wrote, whose names are our module paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_names: Option<ReferenceNames>,
}

/// Errors of the encoder model: a bad bundle or bad input.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("config.json: architecture is `{0}`, expected `{ARCHITECTURE}`")]
    Architecture(String),
    #[error("input: {0}")]
    Input(String),
    #[error("config.json: encoder")]
    Config(#[source] crate::nn::sizes::SizeError),
}

/// An encoder loaded on a device.
#[derive(Debug)]
pub struct EncoderModel {
    pub config: EncoderBundleConfig,
    pub encoder: Encoder,
    pub report: LoadReport,
}

impl EncoderModel {
    pub fn from_bundle(bundle: &Bundle, device: &Device) -> Result<Self, EncoderError> {
        let config: EncoderBundleConfig = bundle.config()?;
        if config.architecture != ARCHITECTURE {
            return Err(EncoderError::Architecture(config.architecture));
        }
        config.encoder.check_sizes().map_err(EncoderError::Config)?;
        let key_map = match &config.reference_names {
            Some(ReferenceNames::HfBert { prefix }) => bert_key_map(prefix, ""),
            None => KeyMap::new(),
        };
        let mut encoder = config.encoder.init(device);
        let report = bundle.load_weights(&mut encoder, &key_map)?;
        Ok(Self {
            config,
            encoder,
            report,
        })
    }

    /// A bundle of this model in our own names (reference names are not kept).
    pub fn to_bundle(&self) -> Result<Bundle, BundleError> {
        let config = EncoderBundleConfig {
            reference_names: None,
            ..self.config.clone()
        };
        Bundle::build(&config, &self.encoder)
    }

    /// Runs the encoder on row-major `input` of shape `[batch, len, d_model]` with an optional
    /// `[batch, len]` 0/1 attention mask; checks the sizes first so bad input is an error.
    pub fn forward_values(
        &self,
        input: Vec<f32>,
        shape: [usize; 3],
        attention_mask: Option<Vec<f32>>,
        device: &Device,
    ) -> Result<Tensor<3>, EncoderError> {
        let d_model = self.config.encoder.d_model;
        let [batch, len, width] = shape;
        if width != d_model {
            return Err(EncoderError::Input(format!(
                "last dimension is {width}, the model's d_model is {d_model}"
            )));
        }
        // Checked: a huge `shape` must not wrap around to the number of values it was given.
        let positions = batch.checked_mul(len).filter(|&n| n > 0);
        let Some(positions) = positions.filter(|p| p.checked_mul(width) == Some(input.len()))
        else {
            return Err(EncoderError::Input(format!(
                "`values` has {} numbers, which do not fill `shape` {shape:?}",
                input.len()
            )));
        };
        let mask = match attention_mask {
            Some(mask) if mask.len() != positions => {
                return Err(EncoderError::Input(format!(
                    "`attention_mask` has {} values, expected batch·len = {positions}",
                    mask.len(),
                )));
            }
            Some(mask) => Some(Tensor::<2>::from_data(
                TensorData::new(mask, [batch, len]),
                device,
            )),
            None => None,
        };
        let x = Tensor::<3>::from_data(TensorData::new(input, shape), device);
        Ok(self.encoder.forward(x, mask))
    }
}
