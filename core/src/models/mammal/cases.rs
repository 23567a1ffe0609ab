//! The model fixtures' case format (`../shared/fixtures/mammal-tiny/cases.json`): token ids made
//! by the reference tokenizer, a mode (`forward`, `encoder`, `generate`) and the names of the
//! tensors to produce, so any fixture in this format can be checked (`tessera mammal forward`).

use burn::tensor::{Device, Tensor};
use serde::Deserialize;
use serde_json::Value;

use super::generate::{GenerateConfig, read_f32};
use super::model::{EncoderInputs, MammalError, MammalModel, token_loss};

#[derive(Clone, Debug, Deserialize)]
struct CaseFile {
    cases: Vec<RawCase>,
}

#[derive(Clone, Debug, Deserialize)]
struct RawCase {
    name: String,
    mode: String,
    encoder_input_ids: Vec<Vec<u32>>,
    encoder_attention_mask: Vec<Vec<f32>>,
    #[serde(default)]
    scalars_values: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    scalars_valid_mask: Option<Vec<Vec<Value>>>,
    #[serde(default)]
    decoder_input_ids: Option<Vec<Vec<u32>>>,
    #[serde(default)]
    decoder_attention_mask: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    labels: Option<Vec<Vec<i64>>>,
    #[serde(default)]
    generate: Option<Value>,
    #[serde(default)]
    expected: Value,
}

/// What a case runs.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseMode {
    /// Teacher forcing: decoder inputs (`[B, Ld]` ids and mask) and labels (−100 = ignored).
    Forward {
        decoder_ids: Vec<u32>,
        decoder_mask: Vec<f32>,
        decoder_len: usize,
        labels: Option<Vec<i64>>,
    },
    Encoder,
    Generate(GenerateConfig),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MammalCase {
    pub name: String,
    pub inputs: EncoderInputs,
    pub mode: CaseMode,
    /// Tensor names the fixture expects (outputs not listed are not written).
    pub expected: Vec<String>,
}

/// An output tensor of a case.
#[derive(Clone, Debug, PartialEq)]
pub enum CaseTensor {
    F32 { shape: Vec<usize>, values: Vec<f32> },
    I64 { shape: Vec<usize>, values: Vec<i64> },
}

fn rows<T: Clone>(
    case: &str,
    field: &str,
    rows: &[Vec<T>],
    len: usize,
) -> Result<Vec<T>, MammalError> {
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != len) {
        return Err(MammalError::Input(format!(
            "case {case:?}: {field}[{i}] has {} values, the first row {len}",
            row.len()
        )));
    }
    Ok(rows.concat())
}

/// Reads a case file; `file` names it in errors.
pub fn read_cases(file: &str, bytes: &[u8]) -> Result<Vec<MammalCase>, MammalError> {
    let parsed: CaseFile = crate::bundle::parse_json(file, bytes)?;
    parsed.cases.into_iter().map(case).collect()
}

fn case(raw: RawCase) -> Result<MammalCase, MammalError> {
    let name = raw.name.clone();
    let batch = raw.encoder_input_ids.len();
    let len = raw.encoder_input_ids.first().map_or(0, Vec::len);
    if batch == 0 || len == 0 {
        return Err(MammalError::Input(format!(
            "case {name:?}: no encoder input ids"
        )));
    }
    let ids = rows(&name, "encoder_input_ids", &raw.encoder_input_ids, len)?;
    let attention_mask = rows(
        &name,
        "encoder_attention_mask",
        &raw.encoder_attention_mask,
        len,
    )?;
    let scalars = match &raw.scalars_values {
        Some(values) => rows(&name, "scalars_values", values, len)?,
        None => vec![-1000.0; batch * len],
    };
    let scalars_valid = match &raw.scalars_valid_mask {
        Some(valid) => rows(&name, "scalars_valid_mask", valid, len)?
            .iter()
            .map(|v| {
                v.as_bool()
                    .unwrap_or_else(|| v.as_f64().unwrap_or(0.0) != 0.0)
            })
            .collect(),
        None => vec![false; batch * len],
    };
    let inputs = EncoderInputs {
        batch,
        len,
        ids,
        attention_mask,
        scalars,
        scalars_valid,
    };
    let mode = match raw.mode.as_str() {
        "forward" => {
            let decoder = raw.decoder_input_ids.as_ref().ok_or_else(|| {
                MammalError::Input(format!(
                    "case {name:?}: forward mode needs decoder_input_ids"
                ))
            })?;
            let decoder_len = decoder.first().map_or(0, Vec::len);
            CaseMode::Forward {
                decoder_ids: rows(&name, "decoder_input_ids", decoder, decoder_len)?,
                decoder_mask: match &raw.decoder_attention_mask {
                    Some(mask) => rows(&name, "decoder_attention_mask", mask, decoder_len)?,
                    None => vec![1.0; batch * decoder_len],
                },
                decoder_len,
                labels: raw
                    .labels
                    .as_ref()
                    .map(|labels| rows(&name, "labels", labels, decoder_len))
                    .transpose()?,
            }
        }
        "encoder" => CaseMode::Encoder,
        "generate" => {
            let g = raw.generate.clone().unwrap_or(Value::Null);
            let int = |key: &str, default: usize| g[key].as_u64().map_or(default, |v| v as usize);
            CaseMode::Generate(GenerateConfig {
                max_new_tokens: int("max_new_tokens", 5),
                num_beams: int("num_beams", 1),
                length_penalty: g["length_penalty"].as_f64().unwrap_or(1.0),
                early_stopping: g["early_stopping"].as_bool().unwrap_or(false),
                keep_logits: true,
                ..GenerateConfig::default()
            })
        }
        other => {
            return Err(MammalError::Input(format!(
                "case {name:?}: unknown mode {other:?} (forward, encoder or generate)"
            )));
        }
    };
    let expected = match &raw.expected {
        Value::Object(map) => map.keys().cloned().collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    Ok(MammalCase {
        name,
        inputs,
        mode,
        expected,
    })
}

async fn values<const D: usize>(tensor: Tensor<D>) -> Result<CaseTensor, MammalError> {
    let shape = tensor.dims().to_vec();
    Ok(CaseTensor::F32 {
        shape,
        values: read_f32(tensor).await?,
    })
}

impl MammalCase {
    /// Runs the case and returns every output its mode makes, by the fixture's names.
    pub async fn run(
        &self,
        model: &MammalModel,
        device: &Device,
    ) -> Result<Vec<(String, CaseTensor)>, MammalError> {
        let mut out = Vec::new();
        match &self.mode {
            CaseMode::Forward {
                decoder_ids,
                decoder_mask,
                decoder_len,
                labels,
            } => {
                let memory = model.encode(&self.inputs, device)?;
                out.push((
                    "encoder_last_hidden_state".into(),
                    values(memory.clone()).await?,
                ));
                let logits = model.decode(
                    memory,
                    &self.inputs.attention_mask,
                    decoder_ids,
                    decoder_mask,
                    [self.inputs.batch, *decoder_len],
                    device,
                )?;
                if let Some(labels) = labels {
                    let loss = token_loss(logits.clone(), labels, device)?;
                    out.push(("loss".into(), values(loss).await?));
                }
                out.push(("logits".into(), values(logits).await?));
            }
            CaseMode::Encoder => {
                let outputs = model.encoder_only(&self.inputs, device)?;
                out.push((
                    "encoder_last_hidden_state".into(),
                    values(outputs.hidden).await?,
                ));
                if let Some(logits) = outputs.head_logits {
                    out.push(("encoder_head_logits".into(), values(logits).await?));
                }
                if let Some(scalars) = outputs.scalars {
                    out.push(("scalars_prediction_logits".into(), values(scalars).await?));
                }
            }
            CaseMode::Generate(config) => {
                let generated = model.generate(&self.inputs, *config, device).await?;
                let steps = generated.steps();
                out.push((
                    "generated_ids".into(),
                    CaseTensor::I64 {
                        shape: vec![self.inputs.batch, steps],
                        values: generated.ids.concat().into_iter().map(i64::from).collect(),
                    },
                ));
                if let Some(logits) = generated.step_logits {
                    // Kept step-major ([steps, B, V]); the fixture is row-major [B, steps, V].
                    let vocab = logits.len() / (steps * self.inputs.batch).max(1);
                    let mut values = Vec::with_capacity(logits.len());
                    for row in 0..self.inputs.batch {
                        for step in 0..steps {
                            let at = (step * self.inputs.batch + row) * vocab;
                            values.extend_from_slice(&logits[at..at + vocab]);
                        }
                    }
                    out.push((
                        "step_logits".into(),
                        CaseTensor::F32 {
                            shape: vec![self.inputs.batch, steps, vocab],
                            values,
                        },
                    ));
                }
                if let Some(scores) = generated.sequence_scores {
                    out.push((
                        "sequences_scores".into(),
                        CaseTensor::F32 {
                            shape: vec![scores.len()],
                            values: scores,
                        },
                    ));
                }
            }
        }
        if !self.expected.is_empty() {
            out.retain(|(name, _)| self.expected.contains(name));
        }
        Ok(out)
    }
}
