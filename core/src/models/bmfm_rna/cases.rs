//! The fixtures' `cases.json` format (one batch per case, `input_ids_float` `[B][2][L]` plus an
//! `attention_mask` `[B][L]`), and the reference's names for every output tensor, so that any
//! fixture in this format can be run and compared.

use burn::tensor::Tensor;
use serde::Deserialize;

use super::config::DecodeMode;
use super::model::{RnaBatch, RnaModel, RnaOutputs};
use crate::bundle::{BundleError, parse_json};

#[derive(Deserialize)]
struct CasesFile {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    input_ids_float: Vec<[Vec<f64>; 2]>,
    attention_mask: Vec<Vec<f64>>,
}

/// A named batch read from a cases file.
#[derive(Clone, Debug)]
pub struct NamedBatch {
    pub name: String,
    pub batch: RnaBatch,
}

/// Reads a cases file; `file` names it in errors.
pub fn read_cases(file: &str, bytes: &[u8]) -> Result<Vec<NamedBatch>, BundleError> {
    let parsed: CasesFile = parse_json(file, bytes)?;
    parsed
        .cases
        .into_iter()
        .enumerate()
        .map(|(i, case)| {
            let bad = |message: String| BundleError::Config {
                file: file.into(),
                field: Some(format!("cases[{i}]")),
                message,
            };
            let len = case.input_ids_float.first().map_or(0, |c| c[0].len());
            if case
                .input_ids_float
                .iter()
                .any(|c| c[0].len() != len || c[1].len() != len)
                || case.attention_mask.len() != case.input_ids_float.len()
                || case.attention_mask.iter().any(|m| m.len() != len)
            {
                return Err(bad(
                    "channels and attention_mask must all be [batch][len]".into()
                ));
            }
            let gene_ids = case
                .input_ids_float
                .iter()
                .flat_map(|c| c[0].iter())
                .map(|&id| {
                    (id >= 0.0 && id.fract() == 0.0 && id <= u32::MAX as f64)
                        .then_some(id as u32)
                        .ok_or_else(|| bad(format!("gene id {id} is not a token id")))
                })
                .collect::<Result<_, _>>()?;
            Ok(NamedBatch {
                name: case.name,
                batch: RnaBatch {
                    batch: case.input_ids_float.len(),
                    len,
                    gene_ids,
                    expressions: case
                        .input_ids_float
                        .iter()
                        .flat_map(|c| c[1].iter().map(|&v| v as f32))
                        .collect(),
                    attention_mask: case
                        .attention_mask
                        .iter()
                        .flatten()
                        .map(|&v| v as f32)
                        .collect(),
                },
            })
        })
        .collect()
}

impl RnaModel {
    /// Every output under the reference fixtures' names (`last_hidden_state`, `wced_value`,
    /// `label_logits.cell_type`, …).
    pub fn named_outputs(&self, outputs: &RnaOutputs) -> Vec<(String, Tensor<2>, Vec<usize>)> {
        let mut named = Vec::new();
        let mut push =
            |name: String, tensor: Tensor<2>, shape: Vec<usize>| named.push((name, tensor, shape));
        let flat3 = |t: &Tensor<3>| {
            let [b, l, h] = t.dims();
            (t.clone().reshape([b, l * h]), vec![b, l, h])
        };
        let states = &outputs.hidden_states;
        let (t, s) = flat3(&states[0]);
        push("embedding_output".into(), t, s);
        for (i, state) in states.iter().skip(1).enumerate() {
            let (t, s) = flat3(state);
            push(format!("layer_{i}_output"), t, s);
        }
        let last = states.last().expect("input and layers");
        let (t, s) = flat3(last);
        push("last_hidden_state".into(), t, s);
        let [b, _, h] = last.dims();
        push(
            "cls_embedding".into(),
            last.clone().slice([0..b, 0..1, 0..h]).reshape([b, h]),
            vec![b, h],
        );
        push(
            "pooler_output".into(),
            outputs.pooler_output.clone(),
            vec![b, h],
        );
        push(
            "mean_pooled_embedding".into(),
            outputs.mean_pooled.clone(),
            vec![b, h],
        );
        for (spec, tensor) in self.decoders.iter().zip(&outputs.decoders) {
            let [_, n, c] = tensor.dims();
            let channel = |k: usize| tensor.clone().slice([0..b, 0..n, k..k + 1]).reshape([b, n]);
            match (&spec.mode, spec.name.as_str()) {
                (DecodeMode::Wced { .. }, _) => {
                    push("wced_value".into(), channel(0), vec![b, n]);
                    if c > 1 {
                        push("wced_is_zero_logit".into(), channel(1), vec![b, n]);
                    }
                }
                (DecodeMode::TokenScores, "genes_token_scores") => {
                    push(
                        "mlm_gene_token_scores".into(),
                        tensor.clone().reshape([b, n * c]),
                        vec![b, n, c],
                    );
                }
                (DecodeMode::Regression, "expressions_regression") => {
                    push("mlm_expression_regression".into(), channel(0), vec![b, n]);
                }
                (DecodeMode::IsZero, "expressions_is_zero") => {
                    push(
                        "mlm_expression_is_zero_logit".into(),
                        channel(0),
                        vec![b, n],
                    );
                }
                _ => push(
                    format!("decoder.{}", spec.name),
                    tensor.clone().reshape([b, n * c]),
                    vec![b, n, c],
                ),
            }
        }
        for (label, logits) in self.config.labels().iter().zip(&outputs.labels) {
            let shape = logits.dims().to_vec();
            push(
                format!("label_logits.{}", label.label_column_name),
                logits.clone(),
                shape,
            );
        }
        named
    }
}
