//! A BMFM-RNA bundle as a cell annotator: model + gene vocabulary + how cells are encoded and
//! pooled + the class names of its label heads (`tessera.json`), from count matrix to outputs.

use std::collections::BTreeMap;

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::model::{Heads, RnaBatch, RnaError, RnaModel, RnaOutputs};
use super::panel::{GeneMatch, GenePanel, default_min_genes};
use crate::bundle::{Bundle, BundleError, BundleFiles, ModelStream, parse_json};
use crate::data::CountMatrix;
use crate::tokenize::rna::{CellEncoder, CellEncoderConfig, GeneVocab};

/// Tessera's own file in an RNA bundle.
pub const INFO_FILE: &str = "tessera.json";
/// Where the gene vocabulary lives (the reference's tokenizer layout), then the fixtures' copy.
pub const VOCAB_FILES: [&str; 2] = ["tokenizers/genes/vocab.json", "vocab.json"];

/// Which hidden state becomes the cell embedding (`pooling_method` in the reference). Written
/// as the reference writes it: `"pooling_layer"`, `"first_token"`, `"mean_pooling"`, a
/// position `k`, or a list of these (their concatenation); `{"position": k}` is read too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "PoolingRepr", into = "PoolingRepr")]
pub enum Pooling {
    /// `tanh(pooler(h[:, 0]))`.
    PoolingLayer,
    /// `h[:, 0]`, the `[CLS]` state (what WCED decodes from).
    FirstToken,
    /// Masked mean over positions 1..
    MeanPooling,
    /// The hidden state at one position (e.g. a `[CLS_k]` token).
    Position(usize),
    /// The listed poolings side by side (`[B, Σ widths]`).
    Concat(Vec<Pooling>),
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum PoolingRepr {
    Named(PoolingName),
    Position(usize),
    PositionObject { position: usize },
    List(Vec<Pooling>),
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PoolingName {
    PoolingLayer,
    FirstToken,
    MeanPooling,
}

impl From<PoolingRepr> for Pooling {
    fn from(repr: PoolingRepr) -> Self {
        match repr {
            PoolingRepr::Named(PoolingName::PoolingLayer) => Self::PoolingLayer,
            PoolingRepr::Named(PoolingName::FirstToken) => Self::FirstToken,
            PoolingRepr::Named(PoolingName::MeanPooling) => Self::MeanPooling,
            PoolingRepr::Position(k) | PoolingRepr::PositionObject { position: k } => {
                Self::Position(k)
            }
            PoolingRepr::List(list) => Self::Concat(list),
        }
    }
}

impl From<Pooling> for PoolingRepr {
    fn from(pooling: Pooling) -> Self {
        match pooling {
            Pooling::PoolingLayer => Self::Named(PoolingName::PoolingLayer),
            Pooling::FirstToken => Self::Named(PoolingName::FirstToken),
            Pooling::MeanPooling => Self::Named(PoolingName::MeanPooling),
            Pooling::Position(k) => Self::Position(k),
            Pooling::Concat(list) => Self::List(list),
        }
    }
}

/// A pooling that is none of [`Pooling`]'s names, a position or a list of them.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown pooling {0:?}: use first_token, pooling_layer, mean_pooling, a position, or a \
     comma-separated list of these"
)]
pub struct UnknownPooling(pub String);

impl std::str::FromStr for Pooling {
    type Err = UnknownPooling;

    /// `first_token`, `pooling_layer`, `mean_pooling`, a position, or a comma-separated list.
    fn from_str(text: &str) -> Result<Self, UnknownPooling> {
        let one = |part: &str| match part.trim() {
            "first_token" => Ok(Self::FirstToken),
            "pooling_layer" => Ok(Self::PoolingLayer),
            "mean_pooling" => Ok(Self::MeanPooling),
            other => other
                .parse()
                .map(Self::Position)
                .map_err(|_| UnknownPooling(other.into())),
        };
        let parts: Vec<&str> = text.split(',').collect();
        match parts.as_slice() {
            [single] => one(single),
            list => list
                .iter()
                .map(|p| one(p))
                .collect::<Result<_, _>>()
                .map(Self::Concat),
        }
    }
}

impl Pooling {
    /// The embedding's width for a model of `hidden` units.
    pub fn width(&self, hidden: usize) -> usize {
        match self {
            Self::Concat(list) => list.iter().map(|p| p.width(hidden)).sum(),
            _ => hidden,
        }
    }

    /// Fails for an empty list or a position at or beyond `max_length`.
    fn check(&self, max_length: usize) -> Result<(), String> {
        match self {
            Self::Position(k) if *k >= max_length => Err(format!(
                "pooling position {k} is beyond max_length {max_length}"
            )),
            Self::Concat(list) if list.is_empty() => Err("pooling is an empty list".into()),
            Self::Concat(list) => list.iter().try_for_each(|p| p.check(max_length)),
            _ => Ok(()),
        }
    }

    /// The cell embedding this pooling makes of a forward pass's outputs.
    fn apply(&self, outputs: &RnaOutputs) -> Tensor<2> {
        let at = |k: usize| {
            let last = outputs.hidden_states.last().expect("hidden states").clone();
            let [b, l, h] = last.dims();
            let k = k.min(l - 1);
            last.slice([0..b, k..k + 1, 0..h]).reshape([b, h])
        };
        match self {
            Self::PoolingLayer => outputs.pooler_output.clone(),
            Self::MeanPooling => outputs.mean_pooled.clone(),
            Self::FirstToken => at(0),
            Self::Position(k) => at(*k),
            Self::Concat(list) => Tensor::cat(list.iter().map(|p| p.apply(outputs)).collect(), 1),
        }
    }
}

/// `tessera.json`: inference settings and class names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RnaBundleInfo {
    pub cell_encoder: CellEncoderConfig,
    pub pooling: Pooling,
    /// Label column → class names, index = the head's output index.
    #[serde(default)]
    pub labels: BTreeMap<String, Vec<String>>,
    /// How the model was made (free-form provenance, for people).
    #[serde(default)]
    pub provenance: Option<serde_json::Value>,
}

impl RnaBundleInfo {
    /// Settings for a bundle without `tessera.json` (a reference checkpoint folder): the
    /// reference's inference encoding with sorted genes, so results are deterministic.
    pub fn reference_defaults() -> Self {
        Self {
            cell_encoder: CellEncoderConfig::new(1024),
            pooling: Pooling::FirstToken,
            labels: BTreeMap::new(),
            provenance: None,
        }
    }
}

/// The pooled embedding and each label head's class probabilities for a batch.
#[derive(Debug)]
pub struct CellOutputs {
    pub embedding: Tensor<2>,
    pub probabilities: Vec<Tensor<2>>,
}

/// A loaded RNA bundle ready to annotate cells.
#[derive(Debug)]
pub struct RnaPipeline {
    pub model: RnaModel,
    pub encoder: CellEncoder,
    pub info: RnaBundleInfo,
}

impl RnaPipeline {
    /// Loads a bundle with every head (what training continues from).
    pub fn from_bundle(bundle: &Bundle, device: &Device) -> Result<Self, RnaError> {
        Self::with_model(RnaModel::from_bundle(bundle, device)?, bundle.files())
    }

    /// Loads a bundle for annotation and embedding: the label heads only, so the field
    /// decoders' weights (half the published model's) are never decoded or put on the device.
    pub fn for_annotation(bundle: &Bundle, device: &Device) -> Result<Self, RnaError> {
        let model = RnaModel::from_bundle_with(bundle, Heads::Labels, device)?;
        Self::with_model(model, bundle.files())
    }

    /// Starts loading a bundle for annotation from a stream of its archive (a download or a
    /// chosen file in the browser): see [`RnaPipelineStream`].
    pub fn stream(device: &Device) -> RnaPipelineStream {
        RnaPipelineStream(ModelStream::new(device))
    }

    /// The pipeline around a loaded `model`: its settings, class names and gene vocabulary
    /// from the bundle's other `files`.
    pub fn with_model(model: RnaModel, files: &BundleFiles) -> Result<Self, RnaError> {
        let info = match files.get(INFO_FILE) {
            Ok(bytes) => parse_json(INFO_FILE, bytes)?,
            Err(_) => RnaBundleInfo::reference_defaults(),
        };
        let vocab = read_vocab(files)?;
        if vocab.len() != model.config.gene_vocab_size()? {
            return Err(RnaError::Input(format!(
                "the gene vocabulary has {} tokens but config.json says fields[genes].vocab_size = {}",
                vocab.len(),
                model.config.gene_vocab_size()?
            )));
        }
        for (i, label) in model.config.labels().iter().enumerate() {
            if let Some(names) = info.labels.get(&label.label_column_name)
                && names.len() != label.n_unique_values
            {
                return Err(RnaError::Input(format!(
                    "{INFO_FILE}: labels.{} has {} names but label head {i} has {} classes",
                    label.label_column_name,
                    names.len(),
                    label.n_unique_values
                )));
            }
        }
        info.pooling
            .check(info.cell_encoder.max_length)
            .map_err(|e| RnaError::Input(format!("{INFO_FILE}: {e}")))?;
        let encoder = CellEncoder::new(info.cell_encoder.clone(), vocab);
        Ok(Self {
            model,
            encoder,
            info,
        })
    }

    /// The matrix's genes that the model can read (by the index or, where it matches more, a
    /// known symbol column), refused below [`default_min_genes`]; the matrix must hold raw
    /// counts.
    pub fn panel(&self, file: &str, matrix: &CountMatrix) -> Result<GenePanel, RnaError> {
        self.panel_by(file, matrix, &GeneMatch::default())
    }

    /// [`panel`](Self::panel) with the gene names and the minimum chosen by `genes`.
    pub fn panel_by(
        &self,
        file: &str,
        matrix: &CountMatrix,
        genes: &GeneMatch,
    ) -> Result<GenePanel, RnaError> {
        let input = |e: crate::data::DataError| RnaError::Input(e.to_string());
        matrix.require_counts(file).map_err(input)?;
        let panel = GenePanel::for_matrix(file, matrix, &self.encoder.vocab, &genes.names)
            .map_err(input)?;
        self.require_genes(file, &panel, genes.min_genes)?;
        Ok(panel)
    }

    /// Refuses `panel` if it holds fewer of the model's genes than `min_genes` (`None`:
    /// [`default_min_genes`]).
    pub fn require_genes(
        &self,
        file: &str,
        panel: &GenePanel,
        min_genes: Option<usize>,
    ) -> Result<(), RnaError> {
        let model_genes = self.gene_count();
        let min = min_genes.unwrap_or(default_min_genes(model_genes));
        panel
            .require(file, model_genes, min)
            .map_err(|e| RnaError::Input(e.to_string()))
    }

    /// The genes the model knows (its vocabulary without the special tokens).
    pub fn gene_count(&self) -> usize {
        self.encoder.vocab.gene_count()
    }

    /// Encodes cells `rows` of `matrix` into one padded batch.
    pub fn batch(
        &self,
        matrix: &CountMatrix,
        panel: &GenePanel,
        rows: std::ops::Range<usize>,
    ) -> Result<RnaBatch, RnaError> {
        let names = panel.names();
        let mut cells = Vec::with_capacity(rows.len());
        for row in rows {
            let counts = panel.dense(matrix, row);
            let cell = self
                .encoder
                .encode(&matrix.cell_ids[row], row as u64, &names, &counts)
                .map_err(|e| RnaError::Input(e.to_string()))?;
            cells.push(cell);
        }
        // Pad to the longest cell of the batch (or max_length when the config says so).
        let len = cells.iter().map(|c| c.gene_ids.len()).max().unwrap_or(1);
        let batch = RnaBatch::padded(&cells, len, self.encoder.vocab.pad_id());
        Ok(batch)
    }

    /// Embeddings and label probabilities of a batch (still on the device; read them with
    /// `into_data`, or `into_data_async` on WebGPU).
    pub fn outputs(&self, batch: &RnaBatch, device: &Device) -> Result<CellOutputs, RnaError> {
        let outputs = self.model.forward(batch, device)?;
        Ok(self.pool(outputs))
    }

    /// Applies the bundle's pooling and softmax to raw outputs.
    pub fn pool(&self, outputs: RnaOutputs) -> CellOutputs {
        let embedding = self.info.pooling.apply(&outputs);
        CellOutputs {
            embedding,
            probabilities: outputs
                .labels
                .into_iter()
                .map(|logits| softmax(logits, 1))
                .collect(),
        }
    }

    /// Pools embeddings another way than the bundle says (e.g. `tessera rna embed --pooling`).
    pub fn set_pooling(&mut self, pooling: Pooling) -> Result<(), RnaError> {
        pooling
            .check(self.info.cell_encoder.max_length)
            .map_err(RnaError::Input)?;
        self.info.pooling = pooling;
        Ok(())
    }

    /// The width of the cell embeddings this pipeline makes.
    pub fn embedding_dim(&self) -> usize {
        self.info.pooling.width(self.model.config.hidden_size)
    }

    /// Class names of label head `i` (`class 0`, … when the bundle does not name them).
    pub fn class_names(&self, i: usize) -> Vec<String> {
        let label = &self.model.config.labels()[i];
        self.info
            .labels
            .get(&label.label_column_name)
            .cloned()
            .unwrap_or_else(|| {
                (0..label.n_unique_values)
                    .map(|c| format!("class {c}"))
                    .collect()
            })
    }
}

/// A BMFM-RNA bundle loaded for annotation as its archive arrives: the model fills tensor by
/// tensor, then `finish` builds the pipeline from the bundle's other files.
pub struct RnaPipelineStream(ModelStream<RnaModel>);

impl RnaPipelineStream {
    /// Refuses, by name, any tensor larger than `bytes` as f32 (one GPU buffer binding).
    pub fn with_tensor_limit(self, bytes: Option<u64>) -> Self {
        Self(self.0.with_tensor_limit(bytes))
    }

    /// Feeds the archive's next bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), RnaError> {
        self.0.push(chunk)
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.0.received()
    }

    /// Ends the stream: the pipeline, every parameter of its model filled.
    pub fn finish(self) -> Result<RnaPipeline, RnaError> {
        let (model, files) = self.0.finish()?;
        RnaPipeline::with_model(model, &files)
    }
}

/// The gene vocabulary from the first of [`VOCAB_FILES`] present.
pub fn read_vocab(files: &BundleFiles) -> Result<GeneVocab, RnaError> {
    for file in VOCAB_FILES {
        if let Ok(bytes) = files.get(file) {
            return GeneVocab::from_json(file, bytes).map_err(|e| RnaError::Input(e.to_string()));
        }
    }
    Err(RnaError::Bundle(BundleError::Config {
        file: VOCAB_FILES[0].into(),
        field: None,
        message: "the bundle has no gene vocabulary (tokenizers/genes/vocab.json or vocab.json)"
            .into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::Pooling;

    #[test]
    fn pooling_reads_and_writes_the_reference_forms() {
        let read = |json: &str| serde_json::from_str::<Pooling>(json).unwrap();
        assert_eq!(read(r#""first_token""#), Pooling::FirstToken);
        assert_eq!(read(r#""pooling_layer""#), Pooling::PoolingLayer);
        assert_eq!(read("3"), Pooling::Position(3));
        assert_eq!(read(r#"{"position": 3}"#), Pooling::Position(3));
        let list = read(r#"["first_token", "mean_pooling", 2]"#);
        assert_eq!(
            list,
            Pooling::Concat(vec![
                Pooling::FirstToken,
                Pooling::MeanPooling,
                Pooling::Position(2)
            ])
        );
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"["first_token","mean_pooling",2]"#
        );
        assert_eq!(list.width(8), 24);
        assert!(serde_json::from_str::<Pooling>(r#""cls""#).is_err());
    }

    #[test]
    fn pooling_parses_a_command_line_list() {
        assert_eq!(
            "mean_pooling".parse::<Pooling>().unwrap(),
            Pooling::MeanPooling
        );
        assert_eq!(
            "first_token, 1".parse::<Pooling>().unwrap(),
            Pooling::Concat(vec![Pooling::FirstToken, Pooling::Position(1)])
        );
        let err = "first_token,cls"
            .parse::<Pooling>()
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"cls\""), "{err}");
        assert!(Pooling::Position(4).check(4).is_err());
        assert!(Pooling::Concat(vec![]).check(4).is_err());
    }
}
