//! BMFM-RNA cell annotation in the browser: a bundle becomes an [`RnaAnnotator`], the user's
//! files an [`RnaDataset`] (`.h5ad`, a 10x folder's files, or a CSV/TSV table), batches of cells
//! become predicted types, and the results come back as typed arrays, a 2-D PCA map of the
//! embeddings and the CSV the native `tessera rna annotate` writes.
//!
//! Nothing here may panic on input: every entry returns `Result` (or a Promise that rejects).

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Float32Array, Promise, Uint8Array, Uint32Array};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use tessera_core::data::h5ad::MatrixSource;
use tessera_core::data::{CountMatrix, Opened, open_files};
use tessera_core::eval::pca::Pca;
use tessera_core::models::bmfm_rna::annotation::{Call, CallRule, CellQc, annotations_csv};
use tessera_core::models::bmfm_rna::panel::{GeneMatch, GenePanel};
use tessera_core::models::bmfm_rna::{RnaError, RnaPipeline, RnaPipelineStream, bench};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::boundary::Preserved;
use crate::{Loading, from_js, js_error, js_error_debug, named_files, to_js};

/// Cells per forward pass unless the caller says otherwise.
pub const DEFAULT_BATCH: usize = 16;
/// The seed of the 2-D map's PCA.
const MAP_SEED: u64 = 0;

struct Annotator {
    pipeline: RnaPipeline,
    device: Device,
    /// On WebGPU, the largest tensor one buffer holds (the adapter's limit); `None` on the wasm
    /// CPU, whose bound is the 4 GiB address space.
    gpu_tensor_limit: Option<u64>,
}

/// A loaded BMFM-RNA bundle (model, gene vocabulary, cell encoding, class names).
#[wasm_bindgen]
pub struct RnaAnnotator {
    inner: Rc<Annotator>,
}

/// A BMFM-RNA bundle arriving chunk by chunk (`Runtime.streamRnaModel`): each tensor goes
/// to the device as soon as it is whole, so the archive is never held in the tab.
#[wasm_bindgen]
pub struct RnaLoader {
    inner: Loading<RnaPipelineStream>,
    device: Device,
    gpu_tensor_limit: Option<u64>,
}

impl RnaLoader {
    /// `gpu_tensor_limit`: the WebGPU device's buffer limit, `None` on the CPU.
    pub(crate) fn new(device: &Device, gpu_tensor_limit: Option<u64>) -> Self {
        Self {
            inner: Loading::new(RnaPipeline::stream(device).with_tensor_limit(gpu_tensor_limit)),
            device: device.clone(),
            gpu_tensor_limit,
        }
    }
}

#[wasm_bindgen]
impl RnaLoader {
    /// Feeds the archive's next bytes.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), JsError> {
        self.inner.push(|load| load.push(chunk))
    }

    /// Bytes received so far.
    pub fn received(&self) -> f64 {
        self.inner.get().map_or(0.0, |l| l.received() as f64)
    }

    /// Ends the archive and returns the loaded model.
    pub fn finish(&mut self) -> Result<RnaAnnotator, JsError> {
        let pipeline = self.inner.take()?.finish().map_err(js_error)?;
        Ok(RnaAnnotator {
            inner: Rc::new(Annotator {
                pipeline,
                device: self.device.clone(),
                gpu_tensor_limit: self.gpu_tensor_limit,
            }),
        })
    }
}

impl Annotator {
    /// The first label head: its column and class names (what the page predicts).
    fn head(&self) -> Option<(String, Vec<String>)> {
        let labels = self.pipeline.model.config.labels();
        labels.first().map(|label| {
            (
                label.label_column_name.clone(),
                self.pipeline.class_names(0),
            )
        })
    }

    fn embedding_dim(&self) -> usize {
        self.pipeline.embedding_dim()
    }
}

#[wasm_bindgen]
impl RnaAnnotator {
    /// `{ labelColumn, classNames, labels: [{ column, classes }], vocabSize, embeddingDim,
    /// modelType, maxLength, pooling }`; `labelColumn` is null for a model without label heads.
    pub fn info(&self) -> Result<JsValue, JsError> {
        let annotator = &*self.inner;
        let pipeline = &annotator.pipeline;
        let (column, classes) = annotator.head().unzip();
        // As tessera.json spells it (`"pooling_layer"`, `1`, `["first_token","mean_pooling"]`, …).
        let pooling = match serde_json::to_value(&pipeline.info.pooling) {
            Ok(serde_json::Value::String(name)) => name,
            Ok(other) => other.to_string(),
            Err(_) => String::new(),
        };
        to_js(&InfoOut {
            label_column: column,
            class_names: classes.unwrap_or_default(),
            labels: (pipeline.model.config.labels().iter().enumerate())
                .map(|(i, label)| LabelOut {
                    column: label.label_column_name.clone(),
                    classes: pipeline.class_names(i),
                })
                .collect(),
            vocab_size: pipeline.encoder.vocab.len(),
            embedding_dim: annotator.embedding_dim(),
            model_type: pipeline.model.config.model_type.clone(),
            max_length: pipeline.encoder.config.max_length,
            pooling,
            default_batch_size: DEFAULT_BATCH,
        })
    }

    /// Reads a data set from the user's files: `files` is an array of `{ name, bytes }`
    /// (`bytes` a `Uint8Array`). One `.h5ad` file, one `.csv`/`.tsv` (optionally `.gz`) table
    /// of cells × genes, or a 10x folder's `matrix.mtx`, `barcodes.tsv` and `features.tsv`
    /// (or `genes.tsv`, each optionally `.gz`). Fails with a readable message when the files
    /// are not one of these or hold fewer of the model's genes than `minGenes` (default: half
    /// of them, at most 1,000; 0 for no minimum). A cell expressing fewer than `minCellGenes`
    /// of the model's genes, or whose best type is below `minConfidence`, is called
    /// `Unassigned` (defaults: `tessera rna annotate`'s).
    #[wasm_bindgen(js_name = openData)]
    pub fn open_data(&self, files: JsValue, options: JsValue) -> Result<RnaDataset, JsError> {
        let options: OpenOptions = if options.is_undefined() || options.is_null() {
            OpenOptions::default()
        } else {
            from_js("options", options)?
        };
        let rule = CallRule::new(
            options
                .min_cell_genes
                .unwrap_or(CallRule::DEFAULT_MIN_MODEL_GENES),
            options
                .min_confidence
                .unwrap_or(CallRule::DEFAULT_MIN_CONFIDENCE),
        )
        .map_err(|e| JsError::new(&format!("options.minConfidence: {e}")))?;
        let genes = GeneMatch {
            names: Default::default(),
            min_genes: options.min_genes.map(|n| n as usize),
        };
        let list = named_files(files)?;
        let opened = open_files(list, &MatrixSource::Counts).map_err(js_error)?;
        let (opened, panel, note) = match self.panel_for(&opened, &genes) {
            Ok(panel) => {
                let note = opened.note.clone();
                (opened, panel, note)
            }
            Err(error) => {
                // A CSV with genes in rows (GEO's usual layout) reads the other way round.
                let Some(turned) = opened.transposed_csv() else {
                    return Err(js_error(error));
                };
                let Ok(turned) = turned else {
                    return Err(js_error(error));
                };
                match self.panel_for(&turned, &genes) {
                    Ok(panel) => (
                        turned,
                        panel,
                        Some("read as genes × cells: the model's genes are the row names".into()),
                    ),
                    Err(_) => return Err(js_error(error)),
                }
            }
        };
        let n = opened.matrix.n_cells();
        let classes = self.inner.head().map_or(0, |(_, c)| c.len());
        Ok(RnaDataset {
            annotator: Rc::clone(&self.inner),
            state: Rc::new(RefCell::new(DataState {
                name: opened.name,
                format: opened.format,
                note,
                qc: CellQc::all(&opened.matrix, &panel),
                rule,
                matrix: opened.matrix,
                panel,
                classes,
                dim: self.inner.embedding_dim(),
                done: vec![false; n],
                n_done: 0,
                probabilities: vec![0.0; n * classes],
                embedding: vec![0.0; n * self.inner.embedding_dim()],
                map: None,
            })),
        })
    }

    /// Annotates cells `{ start, count }` (`start .. start + count`, clamped to the data set) in
    /// one forward pass.
    /// Resolves to `{ start, count, predicted: Uint32Array, confidence: Float32Array,
    /// unassigned: Uint8Array, done }` (per cell: the most probable class, its probability, and
    /// 0 = assigned, 1 = too few model genes, 2 = low confidence; cells annotated so far).
    #[wasm_bindgen(js_name = annotateBatch)]
    pub fn annotate_batch(&self, dataset: &RnaDataset, cells: JsValue) -> Promise {
        let annotator = Rc::clone(&self.inner);
        let state = Rc::clone(&dataset.state);
        let rows = self.cells_rows(dataset, cells);
        future_to_promise(async move {
            let rows = rows?;
            let (probabilities, embedding) = run_batch(&annotator, &state, rows.clone()).await?;
            let mut state = state.borrow_mut();
            Ok(state.store(rows, &probabilities, &embedding)?)
        })
    }

    /// Runs cells `{ start, count }` (clamped to the data set) like `annotateBatch` but
    /// stores nothing: resolves to the raw outputs `{ start, count, probabilities: Float32Array
    /// (count × classes), embedding: Float32Array (count × embeddingDim) }`. A helper worker
    /// computes these for the worker that holds the results, which takes them with
    /// `storeBatch` (each worker has its own module instance, so they share no memory).
    #[wasm_bindgen(js_name = batchOutputs)]
    pub fn batch_outputs(&self, dataset: &RnaDataset, cells: JsValue) -> Promise {
        let annotator = Rc::clone(&self.inner);
        let state = Rc::clone(&dataset.state);
        let rows = self.cells_rows(dataset, cells);
        future_to_promise(async move {
            let rows = rows?;
            let (probabilities, embedding) = run_batch(&annotator, &state, rows.clone()).await?;
            to_js(&BatchOutputs {
                start: rows.start,
                count: rows.len(),
                probabilities: floats(&probabilities),
                embedding: floats(&embedding),
            })
            .map_err(JsValue::from)
        })
    }

    /// Stores outputs `batchOutputs` computed (in this or another worker, on the same model and
    /// data) for the cells from `start`: `embedding` holds `count × embeddingDim` values (which
    /// says how many cells), `probabilities` `count × classes`. Returns what `annotateBatch`
    /// resolves to. Fails, naming the argument, when either is not a `Float32Array` of that
    /// length or the cells run past the data set.
    #[wasm_bindgen(js_name = storeBatch)]
    pub fn store_batch(
        &self,
        dataset: &RnaDataset,
        start: usize,
        probabilities: JsValue,
        embedding: JsValue,
    ) -> Result<JsValue, JsError> {
        if !Rc::ptr_eq(&self.inner, &dataset.annotator) {
            return Err(JsError::new("this data set was opened with another model"));
        }
        let floats = |value: JsValue, name: &str| {
            value
                .dyn_into::<Float32Array>()
                .map(|array| array.to_vec())
                .map_err(|_| JsError::new(&format!("`{name}` is not a Float32Array")))
        };
        let probabilities = floats(probabilities, "probabilities")?;
        let embedding = floats(embedding, "embedding")?;
        let mut state = dataset.state.borrow_mut();
        let (n, classes, dim) = (state.matrix.n_cells(), state.classes, state.dim);
        if dim == 0 || embedding.is_empty() || !embedding.len().is_multiple_of(dim) {
            return Err(JsError::new(&format!(
                "`embedding`: {} values are not a whole number of cells of {dim} dimensions",
                embedding.len()
            )));
        }
        let count = embedding.len() / dim;
        let end = start.saturating_add(count);
        if end > n {
            return Err(JsError::new(&format!(
                "`start`: cells {start}..{end}: the data set has {n} cells"
            )));
        }
        if probabilities.len() != count * classes {
            return Err(JsError::new(&format!(
                "`probabilities`: {} values for {count} cells of {classes} classes",
                probabilities.len()
            )));
        }
        state.store(start..end, &probabilities, &embedding)
    }

    /// Everything about an annotated data set (see `RnaDataset`'s docs in tessera.d.ts):
    /// `{ labelColumn, classNames, cellIds, predicted, confidence, unassigned, totalCounts,
    /// nGenes, nModelGenes, minCellGenes, minConfidence, probabilities, embedding, embeddingDim,
    /// map }`. Fails until every cell is annotated.
    pub fn results(&self, dataset: &RnaDataset) -> Result<JsValue, JsError> {
        let mut state = dataset.state.borrow_mut();
        state.check_complete()?;
        let map = floats(state.map()?);
        let calls = state.calls();
        let (column, classes) = self.inner.head().unzip();
        let qc = &state.qc;
        let counts: Vec<f32> = qc.iter().map(|q| q.total_counts).collect();
        let genes: Vec<u32> = qc.iter().map(|q| q.n_genes).collect();
        let model_genes: Vec<u32> = qc.iter().map(|q| q.n_model_genes).collect();
        to_js(&Results {
            label_column: column,
            class_names: classes.unwrap_or_default(),
            cell_ids: &state.matrix.cell_ids,
            calls: CallsOut::from(&calls[..]),
            total_counts: floats(&counts),
            n_genes: Preserved(Uint32Array::from(&genes[..]).into()),
            n_model_genes: Preserved(Uint32Array::from(&model_genes[..]).into()),
            min_cell_genes: state.rule.min_model_genes,
            min_confidence: state.rule.min_confidence,
            probabilities: floats(&state.probabilities),
            embedding: floats(&state.embedding),
            embedding_dim: state.dim,
            map,
            cells: state.matrix.n_cells(),
        })
    }

    /// The annotations as CSV, exactly as `tessera rna annotate --out F.csv` writes them (see
    /// `CSV_HEADER`): one line per cell, confidence with 4 decimals.
    pub fn csv(&self, dataset: &RnaDataset) -> Result<String, JsError> {
        let Some((_, classes)) = self.inner.head() else {
            return Err(JsError::new(
                "this model has no label head, so it predicts no cell types",
            ));
        };
        let state = dataset.state.borrow();
        state.check_complete()?;
        Ok(annotations_csv(
            &state.matrix.cell_ids,
            &state.calls(),
            &state.qc,
            &classes,
        ))
    }
}

/// A benchmark pass's size: `batch` cells of `length` tokens.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BenchShape {
    batch: usize,
    length: usize,
}

/// Which cells a batch call runs: `start .. start + count`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Cells {
    start: usize,
    count: usize,
}

/// The most activation memory a benchmark pass may need on the wasm CPU backend: a wasm32
/// module addresses 4 GiB, and the model, the page's data and the allocator need room too.
const CPU_WORKING_LIMIT: u64 = 2 << 30;

#[wasm_bindgen]
impl RnaAnnotator {
    /// Whether a benchmark pass of `{ batch, length }` (cells × tokens) fits this backend:
    /// `{ workingBytes, largestTensorBytes, fits, reason }` (`reason` says why not, else null).
    #[wasm_bindgen(js_name = benchPlan)]
    pub fn bench_plan(&self, shape: JsValue) -> Result<JsValue, JsError> {
        let BenchShape { batch, length } = from_js("shape", shape)?;
        let footprint = bench::footprint(&self.inner.pipeline.model.config, batch, length);
        let reason = self.inner.bench_refusal(batch, length);
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Plan {
            working_bytes: u64,
            largest_tensor_bytes: u64,
            fits: bool,
            reason: Option<String>,
        }
        to_js(&Plan {
            working_bytes: footprint.working as u64,
            largest_tensor_bytes: footprint.largest_tensor as u64,
            fits: reason.is_none(),
            reason,
        })
    }

    /// One embedding pass over `batch` synthetic cells of exactly `length` tokens (the cells
    /// `tessera bench rna` times), resolved once the embeddings are read back. Rejects, without
    /// running, a size `benchPlan` says does not fit.
    #[wasm_bindgen(js_name = benchPass)]
    pub fn bench_pass(&self, shape: JsValue) -> Promise {
        let annotator = Rc::clone(&self.inner);
        let shape = from_js::<BenchShape>("shape", shape);
        future_to_promise(async move {
            let BenchShape { batch, length } = shape?;
            if batch == 0 || length < 2 {
                return Err(JsError::new("a benchmark needs at least 1 cell of 2 tokens").into());
            }
            if let Some(reason) = annotator.bench_refusal(batch, length) {
                return Err(JsError::new(&reason).into());
            }
            let input = bench::synthetic_batch(&annotator.pipeline, batch, length, bench::SEED);
            let outputs = annotator
                .pipeline
                .outputs(&input, &annotator.device)
                .map_err(js_error)?;
            let values = outputs
                .embedding
                .into_data_async()
                .await
                .map_err(js_error_debug)?;
            Ok(values.num_elements().into())
        })
    }
}

impl Annotator {
    /// Why a benchmark pass of this size would not fit the backend, if it would not.
    fn bench_refusal(&self, batch: usize, length: usize) -> Option<String> {
        let footprint = bench::footprint(&self.pipeline.model.config, batch, length);
        let gib = |bytes: u64| bytes as f64 / (1u64 << 30) as f64;
        if let Some(limit) = self.gpu_tensor_limit
            && footprint.largest_tensor > limit
        {
            Some(format!(
                "{batch} × {length} tokens needs a {:.2} GiB tensor, over this GPU's {} MiB \
                 buffer limit",
                gib(footprint.largest_tensor),
                limit >> 20
            ))
        } else if self.gpu_tensor_limit.is_none() && footprint.working > CPU_WORKING_LIMIT {
            Some(format!(
                "{batch} × {length} tokens needs about {:.1} GiB of activations, more than a \
                 WebAssembly module can spare (2 GiB)",
                gib(footprint.working)
            ))
        } else {
            None
        }
    }
}

/// Encodes `rows`, runs the model, and reads back the first head's probabilities and the
/// embeddings (asynchronously: WebGPU allows no other read).
async fn run_batch(
    annotator: &Annotator,
    state: &RefCell<DataState>,
    rows: Range<usize>,
) -> Result<(Vec<f32>, Vec<f32>), JsError> {
    let outputs = {
        let state = state.borrow();
        let batch = annotator
            .pipeline
            .batch(&state.matrix, &state.panel, rows)
            .map_err(js_error)?;
        annotator
            .pipeline
            .outputs(&batch, &annotator.device)
            .map_err(js_error)?
    };
    let probabilities = match outputs.probabilities.into_iter().next() {
        Some(p) => p
            .into_data_async()
            .await
            .map_err(js_error_debug)?
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(js_error_debug)?,
        None => Vec::new(),
    };
    let embedding = outputs
        .embedding
        .into_data_async()
        .await
        .map_err(js_error_debug)?
        .convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(js_error_debug)?;
    Ok((probabilities, embedding))
}

/// An opened data set and what has been computed for its cells.
#[wasm_bindgen]
pub struct RnaDataset {
    annotator: Rc<Annotator>,
    state: Rc<RefCell<DataState>>,
}

struct DataState {
    name: String,
    format: &'static str,
    note: Option<String>,
    matrix: CountMatrix,
    panel: GenePanel,
    classes: usize,
    dim: usize,
    done: Vec<bool>,
    n_done: usize,
    /// `cells × classes` of the first label head.
    probabilities: Vec<f32>,
    /// `cells × dim`.
    embedding: Vec<f32>,
    /// `cells × 2`, computed once every cell is annotated.
    map: Option<Vec<f32>>,
    /// Per cell, against the model's genes.
    qc: Vec<CellQc>,
    /// When a cell is `Unassigned`.
    rule: CallRule,
}

#[wasm_bindgen]
impl RnaDataset {
    /// A name for the data: the file's, or the 10x folder's.
    #[wasm_bindgen(getter)]
    pub fn name(&self) -> String {
        self.state.borrow().name.clone()
    }

    /// `"h5ad"`, `"10x"` or `"csv"`.
    #[wasm_bindgen(getter)]
    pub fn format(&self) -> String {
        self.state.borrow().format.into()
    }

    #[wasm_bindgen(getter)]
    pub fn cells(&self) -> usize {
        self.state.borrow().matrix.n_cells()
    }

    #[wasm_bindgen(getter)]
    pub fn genes(&self) -> usize {
        self.state.borrow().matrix.n_genes()
    }

    /// Genes of the data set that are in the model's vocabulary.
    #[wasm_bindgen(getter, js_name = genesMatched)]
    pub fn genes_matched(&self) -> usize {
        self.state.borrow().panel.len()
    }

    /// Which names of the data's genes matched: `var_names` (the index) or `var['COLUMN']`
    /// (a symbol column such as CELLxGENE's `feature_name`, used where it matches more).
    #[wasm_bindgen(getter, js_name = geneSource)]
    pub fn gene_source(&self) -> String {
        self.state.borrow().panel.source.clone()
    }

    /// Cells annotated so far.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> usize {
        self.state.borrow().n_done
    }

    /// Something the user should know about how the data was read, or `undefined`.
    #[wasm_bindgen(getter)]
    pub fn note(&self) -> Option<String> {
        self.state.borrow().note.clone()
    }
}

impl DataState {
    fn store(
        &mut self,
        rows: Range<usize>,
        probabilities: &[f32],
        embedding: &[f32],
    ) -> Result<JsValue, JsError> {
        let n = rows.len();
        if probabilities.len() != n * self.classes || embedding.len() != n * self.dim {
            return Err(JsError::new(&format!(
                "the model returned {} probabilities and {} embedding values for {n} cells \
                 ({} classes, {} dimensions)",
                probabilities.len(),
                embedding.len(),
                self.classes,
                self.dim
            )));
        }
        let (c, d) = (self.classes, self.dim);
        self.probabilities[rows.start * c..rows.end * c].copy_from_slice(probabilities);
        self.embedding[rows.start * d..rows.end * d].copy_from_slice(embedding);
        for done in &mut self.done[rows.clone()] {
            if !*done {
                *done = true;
                self.n_done += 1;
            }
        }
        self.map = None;
        let calls = Call::all(probabilities, c, &self.qc[rows.clone()], &self.rule);
        to_js(&BatchCalls {
            start: rows.start,
            count: n,
            calls: CallsOut::from(&calls[..]),
            done: self.n_done,
        })
    }

    fn check_complete(&self) -> Result<(), JsError> {
        let n = self.matrix.n_cells();
        if self.n_done < n {
            return Err(JsError::new(&format!(
                "only {} of {n} cells are annotated; annotate them all first",
                self.n_done
            )));
        }
        Ok(())
    }

    /// Every cell's call (no classes: class 0 at NaN, unassigned).
    fn calls(&self) -> Vec<Call> {
        Call::all(&self.probabilities, self.classes, &self.qc, &self.rule)
    }

    /// The embeddings' first two principal components (seed 0), `cells × 2` row-major.
    fn map(&mut self) -> Result<&[f32], JsError> {
        if self.map.is_none() {
            let (n, d) = (self.matrix.n_cells(), self.dim);
            let data = DMatrix::from_row_slice(n, d, &self.embedding);
            let points = if n >= 2 && d >= 1 {
                let pca = Pca::fit(&data, 2, MAP_SEED);
                pca.transform(&data)
            } else {
                DMatrix::zeros(n, 2)
            };
            let k = points.ncols();
            let mut map = Vec::with_capacity(n * 2);
            for i in 0..n {
                for j in 0..2 {
                    let v = if j < k { points[(i, j)] } else { 0.0 };
                    map.push(if v.is_finite() { v } else { 0.0 });
                }
            }
            self.map = Some(map);
        }
        Ok(self.map.as_deref().unwrap_or_default())
    }
}

impl RnaAnnotator {
    /// Cells `start .. start + count` of `dataset`, clamped to its end; an error when the data
    /// set belongs to another model or the range holds no cell of it.
    /// The rows a `{ start, count }` request names (clamped to the data set), or why none.
    fn cells_rows(&self, dataset: &RnaDataset, cells: JsValue) -> Result<Range<usize>, JsValue> {
        let Cells { start, count } = from_js("cells", cells)?;
        if !Rc::ptr_eq(&self.inner, &dataset.annotator) {
            return Err(JsError::new("this data set was opened with another model").into());
        }
        let n = dataset.state.borrow().matrix.n_cells();
        if start >= n || count == 0 {
            return Err(JsError::new(&format!(
                "cells {start}..{}: the data set has {n} cells",
                start.saturating_add(count)
            ))
            .into());
        }
        Ok(start..start.saturating_add(count).min(n))
    }

    fn panel_for(&self, opened: &Opened, genes: &GeneMatch) -> Result<GenePanel, RnaError> {
        self.inner
            .pipeline
            .panel_by(&opened.name, &opened.matrix, genes)
    }
}

fn floats(values: &[f32]) -> Preserved {
    Preserved(Float32Array::from(values).into())
}

/// `openData`'s options (each optional; see there).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpenOptions {
    min_genes: Option<u32>,
    min_cell_genes: Option<u32>,
    min_confidence: Option<f32>,
}

/// What `info` returns.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InfoOut {
    label_column: Option<String>,
    class_names: Vec<String>,
    labels: Vec<LabelOut>,
    vocab_size: usize,
    embedding_dim: usize,
    model_type: String,
    max_length: usize,
    pooling: String,
    default_batch_size: usize,
}

#[derive(Serialize)]
struct LabelOut {
    column: String,
    classes: Vec<String>,
}

/// `predicted` (best class, `Uint32Array`), `confidence` (`Float32Array`) and `unassigned`
/// (`Uint8Array`: 0, or the reason's code) per cell.
#[derive(Serialize)]
struct CallsOut {
    predicted: Preserved,
    confidence: Preserved,
    unassigned: Preserved,
}

impl From<&[Call]> for CallsOut {
    fn from(calls: &[Call]) -> Self {
        let best: Vec<u32> = calls.iter().map(|c| c.best).collect();
        let confidence: Vec<f32> = calls.iter().map(|c| c.confidence).collect();
        let unassigned: Vec<u8> = calls
            .iter()
            .map(|c| c.unassigned.map_or(0, |u| u.code()))
            .collect();
        Self {
            predicted: Preserved(Uint32Array::from(&best[..]).into()),
            confidence: floats(&confidence),
            unassigned: Preserved(Uint8Array::from(&unassigned[..]).into()),
        }
    }
}

/// What `annotateBatch` and `storeBatch` resolve to.
#[derive(Serialize)]
struct BatchCalls {
    start: usize,
    count: usize,
    #[serde(flatten)]
    calls: CallsOut,
    done: usize,
}

/// What `batchOutputs` resolves to.
#[derive(Serialize)]
struct BatchOutputs {
    start: usize,
    count: usize,
    probabilities: Preserved,
    embedding: Preserved,
}

/// What `results` returns.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Results<'a> {
    label_column: Option<String>,
    class_names: Vec<String>,
    cell_ids: &'a [String],
    #[serde(flatten)]
    calls: CallsOut,
    total_counts: Preserved,
    n_genes: Preserved,
    n_model_genes: Preserved,
    min_cell_genes: u32,
    min_confidence: f32,
    probabilities: Preserved,
    embedding: Preserved,
    embedding_dim: usize,
    map: Preserved,
    cells: usize,
}
