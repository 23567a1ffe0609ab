//! From prompts to answers, as MAMMAL's task code reads them: generated text, a class read at
//! generated position 1 (`<SENTINEL_ID_0>` then the class token), or a regression value read
//! from the scalar head at encoder position 0 and de-normalised.

use burn::tensor::Device;
use burn::tensor::activation::softmax;
use burn::tensor::{Tensor, TensorData};

use super::generate::{GenerateConfig, read_f32};
use super::model::{EncoderInputs, MammalError, MammalModel};
use crate::tokenize::mammal::{Encoding, ModularTokenizer};

/// What to ask of the model.
#[derive(Clone, Debug, PartialEq)]
pub enum Task {
    /// Generate text (greedy with one beam).
    Generate {
        max_new_tokens: usize,
        num_beams: usize,
    },
    /// Generate, then read the probabilities of `classes` (token strings such as `<0>`, `<1>`)
    /// at generated position 1, normalised over the classes.
    Classify { classes: Vec<String> },
    /// Encoder only: the scalar head at position 0, times `std` plus `mean`.
    Regress { mean: f64, std: f64 },
}

/// The answer to one prompt (serialised as `{kind: "text" | "classes" | "value", …}`, the form
/// the browser API returns).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Answer {
    Text {
        ids: Vec<u32>,
        text: String,
        /// Beam search's score of the sequence.
        score: Option<f32>,
    },
    Classes {
        /// What was generated (for reading, e.g. `<SENTINEL_ID_0><1><EOS>`).
        text: String,
        /// Per class, in the order asked: its probability among the classes.
        probabilities: Vec<f32>,
        /// The most probable class.
        predicted: usize,
    },
    Value {
        value: f64,
        /// The head's raw (normalised) output.
        raw: f32,
    },
}

impl EncoderInputs {
    /// Tokenized prompts as one batch, right-padded with `pad` to the longest.
    pub fn from_encodings(encodings: &[Encoding], pad: u32) -> Self {
        let len = encodings.iter().map(Encoding::len).max().unwrap_or(0);
        let mut out = Self {
            batch: encodings.len(),
            len,
            ..Self::default()
        };
        for e in encodings {
            let fill = len - e.len();
            out.ids
                .extend(e.ids.iter().copied().chain(std::iter::repeat_n(pad, fill)));
            out.attention_mask.extend(
                e.attention_mask
                    .iter()
                    .map(|&m| m as f32)
                    .chain(std::iter::repeat_n(0.0, fill)),
            );
            out.scalars.extend(
                e.scalars_values
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(-1000.0, fill)),
            );
            out.scalars_valid.extend(
                e.scalars_valid_mask
                    .iter()
                    .copied()
                    .chain(std::iter::repeat_n(false, fill)),
            );
        }
        out
    }
}

/// Generated position holding the class token (after `<SENTINEL_ID_0>`).
pub const CLASS_POSITION: usize = 1;

/// Answers `encodings` (one batch) with `task`.
pub async fn answer(
    model: &MammalModel,
    tokenizer: &ModularTokenizer,
    encodings: &[Encoding],
    task: &Task,
    device: &Device,
) -> Result<Vec<Answer>, MammalError> {
    if encodings.is_empty() {
        return Ok(Vec::new());
    }
    let inputs = EncoderInputs::from_encodings(encodings, model.config.pad());
    match task {
        Task::Generate {
            max_new_tokens,
            num_beams,
        } => {
            let config = GenerateConfig {
                max_new_tokens: *max_new_tokens,
                num_beams: *num_beams,
                ..GenerateConfig::default()
            };
            let generated = model.generate(&inputs, config, device).await?;
            Ok(generated
                .ids
                .iter()
                .enumerate()
                .map(|(row, ids)| Answer::Text {
                    text: tokenizer.decode(trimmed(ids, model.config.pad())),
                    ids: ids.clone(),
                    score: generated.sequence_scores.as_ref().map(|s| s[row]),
                })
                .collect())
        }
        Task::Classify { classes } => {
            let class_ids = classes
                .iter()
                .map(|c| {
                    tokenizer
                        .token_to_id(c)
                        .map_err(|e| MammalError::Input(format!("class {c}: {e}")))
                })
                .collect::<Result<Vec<u32>, _>>()?;
            if class_ids.is_empty() {
                return Err(MammalError::Input("no classes to read".into()));
            }
            // A tokenizer larger than the model's vocabulary would name tokens it has no logit for.
            let vocab = model.config.t5_config.vocab_size;
            if let Some((class, id)) = classes
                .iter()
                .zip(&class_ids)
                .find(|(_, id)| **id as usize >= vocab)
            {
                return Err(MammalError::Input(format!(
                    "class {class}: token id {id} is outside the model's vocabulary of {vocab}"
                )));
            }
            let config = GenerateConfig {
                max_new_tokens: CLASS_POSITION + 2,
                keep_logits: true,
                ..GenerateConfig::default()
            };
            let generated = model.generate(&inputs, config, device).await?;
            let (batch, vocab) = (inputs.batch, model.config.t5_config.vocab_size);
            if generated.steps() <= CLASS_POSITION {
                return Err(MammalError::Input(
                    "generation stopped before the class position (every row ended at once)".into(),
                ));
            }
            let logits = generated.step_logits.clone().unwrap_or_default();
            // Step-major [steps, B, V]: the class step's block.
            let block =
                &logits[CLASS_POSITION * batch * vocab..(CLASS_POSITION + 1) * batch * vocab];
            let block =
                Tensor::<2>::from_data(TensorData::new(block.to_vec(), [batch, vocab]), device);
            let probabilities = read_f32(softmax(block, 1)).await?;
            Ok((0..batch)
                .map(|row| {
                    let p: Vec<f32> = class_ids
                        .iter()
                        .map(|&c| probabilities[row * vocab + c as usize])
                        .collect();
                    let total: f32 = p.iter().sum::<f32>() + 1e-10;
                    let probabilities: Vec<f32> = p.iter().map(|v| v / total).collect();
                    let predicted = probabilities.iter().enumerate().fold(0, |best, (i, &v)| {
                        if v > probabilities[best] { i } else { best }
                    });
                    Answer::Classes {
                        text: tokenizer.decode(trimmed(&generated.ids[row], model.config.pad())),
                        probabilities,
                        predicted,
                    }
                })
                .collect())
        }
        Task::Regress { mean, std } => {
            let outputs = model.encoder_only(&inputs, device)?;
            let Some(scalars) = outputs.scalars else {
                return Err(MammalError::Input(
                    "this model has no scalar prediction head".into(),
                ));
            };
            let [batch, len] = scalars.dims();
            let values = read_f32(scalars).await?;
            Ok((0..batch)
                .map(|row| {
                    let raw = values[row * len];
                    Answer::Value {
                        value: raw as f64 * std + mean,
                        raw,
                    }
                })
                .collect())
        }
    }
}

/// Generated ids without the padding after `<EOS>`.
fn trimmed(ids: &[u32], pad: u32) -> &[u32] {
    let end = ids.iter().rposition(|&id| id != pad).map_or(0, |i| i + 1);
    &ids[..end]
}
