//! Making a new model to train: its gene vocabulary (chosen from the training cells), a
//! reference-layout `config.json`, reference initialisation, and the training cells themselves.

use std::collections::{BTreeMap, HashMap};

use burn::module::{Module, ModuleMapper, Param};
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

use super::fit::TrainError;
use super::rna::TrainData;
use crate::bundle::Bundle;
use crate::data::CountMatrix;
use crate::models::bmfm_rna::panel::GenePanel;
use crate::models::bmfm_rna::pipeline::{INFO_FILE, Pooling, RnaBundleInfo, VOCAB_FILES};
use crate::models::bmfm_rna::{RnaConfig, RnaModel};
use crate::tokenize::rna::{CellEncoderConfig, GeneVocab};

/// The five special tokens, at ids 0..4 as in every reference vocabulary.
pub const SPECIALS: [&str; 5] = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"];

/// Size and heads of a new SCBert model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelSpec {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    pub dropout: f64,
    /// Add the WCED decoder (`expressions_wced`).
    pub wced: bool,
    /// Add the MLM expression decoders (`expressions_regression`, `expressions_is_zero`).
    pub mlm: bool,
    /// MLM masks gene identities too: the genes field is masked and gets a
    /// `genes_token_scores` decoder (the reference's v1 `mlm.multitask`).
    pub mask_genes: bool,
    /// Label heads: column, class names, gradient-reversal coefficient.
    pub labels: Vec<(String, Vec<String>, Option<f64>)>,
}

/// The `n` genes expressed in the most of `rows` (ties: matrix order), excluding names that look
/// like special tokens.
pub fn select_genes(matrix: &CountMatrix, rows: &[usize], n: usize) -> Vec<String> {
    let mut cells_with = vec![0u64; matrix.n_genes()];
    for &row in rows {
        for (column, value) in matrix.row(row) {
            if value > 0.0 {
                cells_with[column] += 1;
            }
        }
    }
    top_genes(&matrix.genes, &cells_with, n)
}

/// The `n` of `genes` expressed in the most cells (`cells_with`; ties: list order), excluding
/// names that look like special tokens: [`select_genes`]'s rule, for counts made elsewhere (a
/// sharded corpus's manifest).
pub fn top_genes(genes: &[String], cells_with: &[u64], n: usize) -> Vec<String> {
    let mut columns: Vec<usize> = (0..genes.len())
        .filter(|&c| cells_with[c] > 0 && !genes[c].starts_with('['))
        .collect();
    columns.sort_by(|&a, &b| cells_with[b].cmp(&cells_with[a]).then(a.cmp(&b)));
    columns.truncate(n);
    columns.into_iter().map(|c| genes[c].clone()).collect()
}

/// A reference-layout vocabulary: specials at 0..4, then the genes sorted.
pub fn vocab(genes: &[String]) -> GeneVocab {
    let mut sorted: Vec<&String> = genes.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut ids: HashMap<String, u32> = SPECIALS
        .iter()
        .enumerate()
        .map(|(i, s)| (s.to_string(), i as u32))
        .collect();
    for gene in sorted {
        let id = ids.len() as u32;
        ids.entry(gene.clone()).or_insert(id);
    }
    GeneVocab::from_map("vocab", ids).expect("specials are present")
}

/// `config.json` as the reference serialises an `SCBertConfig`.
pub fn config_json(spec: &ModelSpec, vocab_size: usize) -> Value {
    let mut expression_modes = serde_json::Map::new();
    if spec.mlm {
        expression_modes.insert("regression".into(), json!({}));
        expression_modes.insert("is_zero".into(), json!({}));
    }
    if spec.wced {
        expression_modes.insert(
            "wced".into(),
            json!({"logit_outputs": ["mse", "is_zero_bce"], "vocab_field": "genes"}),
        );
    }
    let gene_modes = if spec.mask_genes {
        json!({"token_scores": {}})
    } else {
        json!({})
    };
    let labels: Vec<Value> = spec
        .labels
        .iter()
        .map(|(column, classes, grl)| {
            json!({
                "label_column_name": column,
                "n_unique_values": classes.len(),
                "decode_from": null,
                "gradient_reversal_coefficient": grl,
                "classifier_depth": 1,
                "is_multilabel": false,
                "is_regression_label": false,
            })
        })
        .collect();
    json!({
        "model_type": "scbert",
        "hidden_size": spec.hidden,
        "num_hidden_layers": spec.layers,
        "num_attention_heads": spec.heads,
        "intermediate_size": spec.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": spec.dropout,
        "attention_probs_dropout_prob": spec.dropout,
        "classifier_dropout": spec.dropout,
        "initializer_range": 0.02,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 2,
        "position_embedding_type": null,
        "fields": [
            {
                "field_name": "genes",
                "vocab_size": vocab_size,
                "is_input": true,
                "is_masked": spec.mask_genes,
                "num_special_tokens": 5,
                "tokenization_strategy": "tokenize",
                "decode_modes": gene_modes,
                "encoder_kwargs": null,
            },
            {
                "field_name": "expressions",
                "vocab_size": 55,
                "is_input": true,
                "is_masked": spec.mlm,
                "num_special_tokens": 5,
                "tokenization_strategy": "continuous_value_encoder",
                "decode_modes": expression_modes,
                "encoder_kwargs": {"kind": "mlp_with_special_token_embedding", "zero_as_special_token": true},
            }
        ],
        "label_columns": labels,
    })
}

/// A new, reference-initialised bundle: Linear and embedding weights ~ N(0, 0.02²), biases 0,
/// norms 1/0, drawn on the host from `seed` so every backend starts from the same weights.
pub fn new_bundle(
    spec: &ModelSpec,
    genes: &[String],
    cell_encoder: CellEncoderConfig,
    provenance: Option<Value>,
    seed: u64,
    device: &Device,
) -> Result<Bundle, TrainError> {
    let vocab = vocab(genes);
    let config = config_json(spec, vocab.len());
    let bytes = serde_json::to_vec_pretty(&config).map_err(|e| TrainError::Setup(e.to_string()))?;
    let model = RnaModel::init(
        RnaConfig::parse(&bytes).map_err(crate::models::bmfm_rna::RnaError::from)?,
        device,
    )?;
    let net = reference_init(model.net, seed, device);
    let mut vocab_map: BTreeMap<u32, String> = BTreeMap::new();
    for gene in SPECIALS
        .iter()
        .map(|s| s.to_string())
        .chain(genes.iter().cloned())
    {
        vocab_map.insert(vocab.id(&gene), gene);
    }
    let vocab_json: serde_json::Map<String, Value> = vocab_map
        .into_iter()
        .map(|(id, gene)| (gene, json!(id)))
        .collect();
    let info = RnaBundleInfo {
        cell_encoder,
        pooling: Pooling::FirstToken,
        labels: spec
            .labels
            .iter()
            .map(|(column, classes, _)| (column.clone(), classes.clone()))
            .collect(),
        provenance,
    };
    let json = |v: &dyn erased::Json| v.bytes();
    Ok(Bundle::build(&config, &net)?
        .with_file(VOCAB_FILES[0], json(&Value::Object(vocab_json)))
        .with_file(INFO_FILE, json(&info)))
}

mod erased {
    pub trait Json {
        fn bytes(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn bytes(&self) -> Vec<u8> {
            serde_json::to_vec_pretty(self).expect("plain data serialises")
        }
    }
}

/// `module` with every Linear and Embedding weight drawn from N(0, 0.02²) and Linear biases 0
/// (BERT's and MAMMAL's pretraining init), on the host from `seed`: the same start on every
/// backend. Norms keep their init.
pub fn reference_init<M: Module>(module: M, seed: u64, device: &Device) -> M {
    module.map(&mut ReferenceInit {
        rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        kinds: Vec::new(),
        device: device.clone(),
    })
}

struct ReferenceInit {
    rng: Xoshiro256PlusPlus,
    kinds: Vec<String>,
    device: Device,
}

impl ModuleMapper for ReferenceInit {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.kinds.push(format!("{container_type}/{name}"));
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.kinds.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        // The last entry is the parameter itself, with the type of the struct holding it.
        let last = self.kinds.last().map(String::as_str).unwrap_or("");
        let (container, name) = last.split_once('/').unwrap_or(("", ""));
        let weighted = container == "Struct:Linear" || container == "Struct:Embedding";
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let count: usize = dims.iter().product();
        let values: Option<Vec<f32>> = match name {
            "weight" if weighted => Some(
                (0..count)
                    .map(|_| {
                        // Box–Muller from two uniforms in (0, 1].
                        let u1: f64 = 1.0 - self.rng.random::<f64>();
                        let u2: f64 = self.rng.random::<f64>();
                        (0.02 * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
                    })
                    .collect(),
            ),
            "bias" if container == "Struct:Linear" => Some(vec![0.0; count]),
            _ => None,
        };
        let tensor = match values {
            Some(values) => Tensor::from_data(TensorData::new(values, dims), &self.device),
            None => tensor,
        };
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// A label head's given weights: it reads position `decode_from` of the last hidden state,
/// `weight` is `[hidden, classes]` row-major.
pub struct LinearHead {
    pub decode_from: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// `bundle` with a label head for `column` over `classes` (kept if it already has exactly that
/// head, otherwise added, reference-initialised from `seed`, or set to `head`); every other
/// weight is kept. This is how a pretrained model gets a cell-type head.
pub fn with_label_head(
    bundle: &Bundle,
    column: &str,
    classes: &[String],
    seed: u64,
    head: Option<LinearHead>,
    device: &Device,
) -> Result<Bundle, TrainError> {
    let mut config = bundle.config_json()?;
    let heads = config
        .get("label_columns")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut info: RnaBundleInfo = match bundle.file(INFO_FILE) {
        Ok(bytes) => crate::bundle::parse_json(INFO_FILE, bytes)?,
        Err(_) => RnaBundleInfo::reference_defaults(),
    };
    let same = heads.iter().any(|h| {
        h.get("label_column_name").and_then(Value::as_str) == Some(column)
            && h.get("n_unique_values").and_then(Value::as_u64) == Some(classes.len() as u64)
    }) && info
        .labels
        .get(column)
        .is_some_and(|names| names == classes);
    if same && head.is_none() {
        return Ok(bundle.clone());
    }
    let mut heads: Vec<Value> = heads
        .into_iter()
        .filter(|h| h.get("label_column_name").and_then(Value::as_str) != Some(column))
        .collect();
    heads.push(json!({
        "label_column_name": column,
        "n_unique_values": classes.len(),
        "decode_from": head.as_ref().map(|h| h.decode_from),
        "gradient_reversal_coefficient": null,
        "classifier_depth": 1,
    }));
    config["label_columns"] = Value::Array(heads);
    let bytes = serde_json::to_vec_pretty(&config).map_err(|e| TrainError::Setup(e.to_string()))?;
    let mut model = RnaModel::init(
        RnaConfig::parse(&bytes).map_err(crate::models::bmfm_rna::RnaError::from)?,
        device,
    )?;
    model.net = reference_init(model.net, seed, device);
    // The old file under the new config: only the new head is missing.
    let old = bundle
        .clone()
        .with_file(crate::bundle::CONFIG_FILE, bytes.clone());
    model.load_weights(&old, true)?;
    if model
        .report
        .missing
        .iter()
        .any(|p| !p.starts_with("labels."))
    {
        return Err(TrainError::Setup(format!(
            "the pretrained model lacks {:?}",
            model.report.missing
        )));
    }
    if let Some(head) = head {
        let hidden = model.config.hidden_size;
        let linear = model.net.labels.last_mut().expect("the head just added");
        if head.weight.len() != hidden * classes.len() || head.bias.len() != classes.len() {
            return Err(TrainError::Setup(format!(
                "a head of {} weights and {} biases does not fit {hidden} × {} classes",
                head.weight.len(),
                head.bias.len(),
                classes.len()
            )));
        }
        linear.weight = Param::from_tensor(Tensor::from_data(
            TensorData::new(head.weight, [hidden, classes.len()]),
            device,
        ));
        linear.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(head.bias, [classes.len()]),
            device,
        )));
    }
    info.labels.insert(column.to_string(), classes.to_vec());
    let json = |v: &dyn erased::Json| v.bytes();
    Ok(bundle
        .clone()
        .with_file(crate::bundle::CONFIG_FILE, bytes)
        .with_file(INFO_FILE, json(&info))
        .with_weights(&model.net)?)
}

/// The cells `rows` of `matrix` over `panel`, with label ids for each `(column, classes)`.
pub fn train_data(
    file: &str,
    matrix: &CountMatrix,
    panel: GenePanel,
    rows: &[usize],
    labels: &[(String, Vec<String>)],
) -> Result<TrainData, TrainError> {
    let mut label_ids = Vec::with_capacity(labels.len());
    for (column, classes) in labels {
        let values = matrix
            .annotation(file, column)
            .map_err(|e| TrainError::Setup(e.to_string()))?;
        let index: HashMap<&str, i64> = classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as i64))
            .collect();
        label_ids.push(
            rows.iter()
                .map(|&r| index.get(values[r].as_str()).copied().unwrap_or(-100))
                .collect(),
        );
    }
    let cells = rows
        .iter()
        .map(|&row| {
            let mut sparse: BTreeMap<u32, f32> = BTreeMap::new();
            for (column, value) in matrix.row(row) {
                if let Some(g) = panel.column[column] {
                    *sparse.entry(g).or_default() += value;
                }
            }
            sparse.into_iter().filter(|&(_, v)| v > 0.0).collect()
        })
        .collect();
    Ok(TrainData {
        panel,
        cell_ids: rows.iter().map(|&r| matrix.cell_ids[r].clone()).collect(),
        cells,
        labels: label_ids,
    })
}
