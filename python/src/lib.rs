//! `tessera._native`: the Python package's native module — BMFM-RNA cells from CSR arrays,
//! MAMMAL prompts and the attack game's scores — through the CLI's own code (the `tessera`
//! library), so the answers are the CLI's. The Python side (`tessera/`) reads AnnData objects.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;

use burn::tensor::Device;
use clap::ValueEnum;
use pyo3::buffer::PyBuffer;
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyDict, PyList};
use tessera::backend::Backend;
use tessera::game::{Boards, Contender, boards_of, graph_of, score};
use tessera::mammal::run::{Loaded, answer_json, class_names, load as load_mammal};
use tessera_core::data::{CountMatrix, ObsColumn, are_counts};
use tessera_core::game::Definition;
use tessera_core::game::rules::draw_boards;
use tessera_core::models::bmfm_rna::annotation::{
    AnnotationTables, Call, CallRule, UMAP_KEY, umap_rows,
};
use tessera_core::models::bmfm_rna::panel::{GeneMatch, GeneNames};
use tessera_core::models::bmfm_rna::{CellResults, Pooling, RnaPipeline};
use tessera_core::models::mammal::finetune::MammalInfo;
use tessera_core::models::mammal::task::Task;
use tessera_core::precision::Precision;

create_exception!(
    tessera,
    TesseraError,
    PyValueError,
    "A model, data set or argument Tessera cannot use; the message names the file, field or argument."
);

/// An error with its causes on one line (anyhow's `{:#}`, the CLI's form).
fn error(e: anyhow::Error) -> PyErr {
    TesseraError::new_err(format!("{e:#}"))
}

/// A core error with its `#[source]` chain on one line.
fn core_error(e: &(dyn std::error::Error + 'static)) -> PyErr {
    TesseraError::new_err(tessera_core::error::chain(e))
}

/// The device `device` names (`cpu`, `wgpu`, `vulkan`, `cuda` where built) in `precision`.
fn device_of(device: &str, precision: &str) -> PyResult<(Backend, Device)> {
    let backend = Backend::from_str(device, true).map_err(|_| {
        let known: Vec<String> = Backend::value_variants()
            .iter()
            .filter_map(|b| b.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        TesseraError::new_err(format!(
            "device {device:?}: expected one of {}",
            known.join(", ")
        ))
    })?;
    let precision = Precision::from_str(precision)
        .map_err(|e| TesseraError::new_err(format!("precision {precision:?}: {e}")))?;
    let device = backend.device_in(precision).map_err(error)?;
    Ok((backend, device))
}

/// A BMFM-RNA bundle loaded for annotation and embeddings.
#[pyclass(unsendable, module = "tessera._native")]
struct RnaModel {
    pipeline: RnaPipeline,
    device: Device,
}

#[pymethods]
impl RnaModel {
    #[new]
    #[pyo3(signature = (path, device = "cpu", precision = "f32", pooling = None))]
    fn new(path: PathBuf, device: &str, precision: &str, pooling: Option<&str>) -> PyResult<Self> {
        let (backend, device) = device_of(device, precision)?;
        let mut pipeline = tessera::rna::annotate::load(&path, backend, &device).map_err(error)?;
        if let Some(pooling) = pooling {
            let pooling = Pooling::from_str(pooling)
                .map_err(|e| TesseraError::new_err(format!("pooling: {e}")))?;
            pipeline.set_pooling(pooling).map_err(|e| core_error(&e))?;
        }
        Ok(Self { pipeline, device })
    }

    /// Label columns with their class names, the embedding width and the genes the model knows.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let info = PyDict::new(py);
        let labels = PyList::empty(py);
        for (i, label) in self.pipeline.model.config.labels().iter().enumerate() {
            let entry = PyDict::new(py);
            entry.set_item("column", &label.label_column_name)?;
            entry.set_item("classes", self.pipeline.class_names(i))?;
            labels.append(entry)?;
        }
        info.set_item("labels", labels)?;
        info.set_item("dim", self.pipeline.embedding_dim())?;
        info.set_item("genes", self.pipeline.gene_count())?;
        Ok(info)
    }

    /// Every cell of a CSR count matrix (`indptr`, `indices`, `data`: scipy's arrays, read in
    /// place) through the model, `batch_size` at a time; `progress(cells_done)` after each
    /// batch. `file` names the matrix in errors (e.g. `adata.layers['counts']`).
    #[pyo3(signature = (
        file, cells, genes, gene_columns, indptr, indices, data,
        gene_symbols = None, min_genes = None, batch_size = 32, progress = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        file: &str,
        cells: Vec<String>,
        genes: Vec<String>,
        gene_columns: BTreeMap<String, Vec<String>>,
        indptr: PyBuffer<i64>,
        indices: PyBuffer<i32>,
        data: PyBuffer<f32>,
        gene_symbols: Option<String>,
        min_genes: Option<usize>,
        batch_size: usize,
        progress: Option<Bound<'_, PyAny>>,
        py: Python<'_>,
    ) -> PyResult<CellRun> {
        if batch_size == 0 {
            return Err(TesseraError::new_err("batch_size 0: must be at least 1"));
        }
        let matrix = csr_matrix(
            py,
            file,
            cells,
            genes,
            gene_columns,
            &indptr,
            &indices,
            &data,
        )?;
        let names = match gene_symbols {
            Some(column) => GeneNames::Column(column),
            None => GeneNames::Auto,
        };
        // The match is counted before any refusal, so a refused caller learns it too.
        let unchecked = GeneMatch {
            names,
            min_genes: Some(0),
        };
        let panel = self
            .pipeline
            .panel_by(file, &matrix, &unchecked)
            .map_err(|e| core_error(&e))?;
        self.pipeline
            .require_genes(file, &panel, min_genes)
            .map_err(|e| {
                TesseraError::new_err(format!(
                    "{} (min_genes=N sets the minimum; 0 for none)",
                    tessera_core::error::chain(&e)
                ))
            })?;
        let rows: Vec<usize> = (0..matrix.n_cells()).collect();
        let mut failed = None;
        let mut done = 0;
        let results = self
            .pipeline
            .run_cells(&matrix, &panel, &rows, batch_size, &self.device, |cells| {
                done += cells;
                if let (Some(callback), None) = (&progress, &failed) {
                    failed = callback.call1((done,)).err();
                }
            })
            .map_err(|e| core_error(&e))?;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(CellRun {
            results,
            classes: self.pipeline.class_names(0),
            has_labels: !self.pipeline.model.config.labels().is_empty(),
            genes_matched: panel.len(),
            gene_source: panel.source.clone(),
        })
    }
}

/// Checks scipy's CSR arrays (read through the buffer protocol, so any numpy array of the right
/// type is taken as it is) and copies them into the core's matrix.
#[allow(clippy::too_many_arguments)]
fn csr_matrix(
    py: Python<'_>,
    file: &str,
    cells: Vec<String>,
    genes: Vec<String>,
    gene_columns: BTreeMap<String, Vec<String>>,
    indptr: &PyBuffer<i64>,
    indices: &PyBuffer<i32>,
    data: &PyBuffer<f32>,
) -> PyResult<CountMatrix> {
    let field =
        |name: &str, message: &str| TesseraError::new_err(format!("{file}: {name}: {message}"));
    let one_dimensional = |name: &str, dimensions: usize| {
        (dimensions == 1)
            .then_some(())
            .ok_or_else(|| field(name, &format!("{dimensions} dimensions, not 1")))
    };
    one_dimensional("indptr", indptr.dimensions())?;
    one_dimensional("indices", indices.dimensions())?;
    one_dimensional("data", data.dimensions())?;
    let indptr = indptr
        .to_vec(py)?
        .into_iter()
        .map(usize::try_from)
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| field("indptr", "a negative row pointer"))?;
    let indices = indices
        .to_vec(py)?
        .into_iter()
        .map(u32::try_from)
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| field("indices", "a negative column index"))?;
    let values = data.to_vec(py)?;
    let matrix = CountMatrix {
        cell_ids: cells,
        genes,
        indptr,
        indices,
        values,
        annotations: BTreeMap::new(),
        gene_columns,
    };
    matrix.validate(file).map_err(|e| core_error(&e))?;
    Ok(matrix)
}

/// Whether every value is a whole number (a matrix of raw counts).
#[pyfunction]
fn are_count_values(py: Python<'_>, data: PyBuffer<f32>) -> PyResult<bool> {
    Ok(are_counts(&data.to_vec(py)?))
}

/// The results of one pass over a data set's cells.
#[pyclass(unsendable, module = "tessera._native")]
struct CellRun {
    results: CellResults,
    classes: Vec<String>,
    has_labels: bool,
    #[pyo3(get)]
    genes_matched: usize,
    #[pyo3(get)]
    gene_source: String,
}

#[pymethods]
impl CellRun {
    /// The embeddings, `cells × dim` (float32).
    fn embeddings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        rows(py, self.results.embeddings.clone(), self.results.dim)
    }

    /// What `rna annotate --out-h5ad` adds to the file: `obs` columns as `(name, kind, values)`
    /// (`kind` categorical, float32 or uint32), `obsm` as `(name, array)`, `uns` as `(name, list)`.
    #[pyo3(signature = (min_cell_genes, min_confidence, umap = true))]
    fn annotations<'py>(
        &self,
        py: Python<'py>,
        min_cell_genes: u32,
        min_confidence: f32,
        umap: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        if !self.has_labels {
            return Err(TesseraError::new_err(
                "the model has no label head; fine-tune one with `tessera rna train --objective finetune --init`",
            ));
        }
        let rule = CallRule::new(min_cell_genes, min_confidence)
            .map_err(|e| TesseraError::new_err(format!("min_confidence {e}")))?;
        let results = &self.results;
        let calls = Call::all(
            &results.probabilities[0],
            self.classes.len(),
            &results.qc,
            &rule,
        );
        let tables = AnnotationTables {
            calls: &calls,
            qc: &results.qc,
            classes: &self.classes,
            probabilities: &results.probabilities[0],
            embedding: &results.embeddings,
            dim: results.dim,
        };
        let mut additions = tables.additions();
        if umap {
            additions
                .obsm
                .push((UMAP_KEY.into(), umap_rows(&results.embeddings, results.dim)));
        }
        let out = PyDict::new(py);
        let obs = PyList::empty(py);
        for (name, column) in additions.obs {
            let (kind, values): (&str, Bound<'py, PyAny>) = match column {
                ObsColumn::Categorical(v) => ("categorical", v.into_pyobject(py)?.into_any()),
                ObsColumn::F32(v) => ("float32", le_bytes(py, &v, f32::to_le_bytes)),
                ObsColumn::U32(v) => ("uint32", le_bytes(py, &v, u32::to_le_bytes)),
            };
            obs.append((name, kind, values))?;
        }
        out.set_item("obs", obs)?;
        let obsm = PyList::empty(py);
        for (name, matrix) in additions.obsm {
            obsm.append((name, rows(py, matrix.values, matrix.columns)?))?;
        }
        out.set_item("obsm", obsm)?;
        out.set_item("uns", additions.uns)?;
        Ok(out)
    }
}

/// A row-major `[rows, columns]` float32 matrix as `(rows, columns, bytes)`, for
/// `numpy.frombuffer` on the Python side (which owns no Rust memory that way).
fn rows(py: Python<'_>, values: Vec<f32>, columns: usize) -> PyResult<Bound<'_, PyAny>> {
    let n = values.len().checked_div(columns).unwrap_or(0);
    Ok((n, columns, le_bytes(py, &values, f32::to_le_bytes))
        .into_pyobject(py)?
        .into_any())
}

/// Little-endian bytes of `values` in a `bytearray` (writable, so numpy's view of it is too).
fn le_bytes<'py, T: Copy, const N: usize>(
    py: Python<'py>,
    values: &[T],
    bytes: fn(T) -> [u8; N],
) -> Bound<'py, PyAny> {
    let raw: Vec<u8> = values.iter().flat_map(|&v| bytes(v)).collect();
    PyByteArray::new(py, &raw).into_any()
}

/// A MAMMAL bundle loaded with its tokenizer.
#[pyclass(unsendable, module = "tessera._native")]
struct Mammal {
    loaded: Loaded,
    info: MammalInfo,
    device: Device,
}

#[pymethods]
impl Mammal {
    #[new]
    #[pyo3(signature = (path, device = "cpu", precision = "f32", tokenizer = None))]
    fn new(
        path: PathBuf,
        device: &str,
        precision: &str,
        tokenizer: Option<PathBuf>,
    ) -> PyResult<Self> {
        let (backend, device) = device_of(device, precision)?;
        let loaded = load_mammal(&path, tokenizer.as_deref(), backend, &device).map_err(error)?;
        let info = MammalInfo::from_bundle(&loaded.bundle).map_err(|e| core_error(&e))?;
        Ok(Self {
            loaded,
            info,
            device,
        })
    }

    /// The bundle's tasks (`tessera.json`) as JSON.
    fn tasks_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.info.tasks).map_err(|e| TesseraError::new_err(e.to_string()))
    }

    /// The prompt of the bundle's task `name`, its holes filled from `inputs`.
    fn task_prompt(&self, name: &str, inputs: Vec<(String, String)>) -> PyResult<String> {
        let task = self.info.task(name).map_err(|e| core_error(&e))?;
        task.fill(&inputs).map_err(|e| core_error(&e))
    }

    /// Answers every prompt, one JSON object each as `tessera mammal run --json` prints it:
    /// with the readout of the bundle's task `task`, else the one `readout` names.
    #[pyo3(signature = (
        prompts, task = None, readout = "generate", classes = None, mean = 0.0, std = 1.0,
        max_new_tokens = 5, beams = 1
    ))]
    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        prompts: Vec<String>,
        task: Option<&str>,
        readout: &str,
        classes: Option<Vec<String>>,
        mean: f64,
        std: f64,
        max_new_tokens: usize,
        beams: usize,
    ) -> PyResult<Vec<String>> {
        let bundle_task = task
            .map(|name| self.info.task(name).cloned())
            .transpose()
            .map_err(|e| core_error(&e))?;
        let task = match (&bundle_task, readout) {
            (Some(task), _) => task.task(),
            (None, "generate") => {
                if !(1..=512).contains(&max_new_tokens) {
                    return Err(TesseraError::new_err(format!(
                        "max_new_tokens {max_new_tokens}: between 1 and 512"
                    )));
                }
                if !(1..=16).contains(&beams) {
                    return Err(TesseraError::new_err(format!(
                        "beams {beams}: between 1 and 16"
                    )));
                }
                Task::Generate {
                    max_new_tokens,
                    num_beams: beams,
                }
            }
            (None, "classify") => Task::Classify {
                classes: classes.unwrap_or_else(|| vec!["<0>".into(), "<1>".into()]),
            },
            (None, "regress") => Task::Regress { mean, std },
            (None, other) => {
                return Err(TesseraError::new_err(format!(
                    "readout {other:?}: expected generate, classify or regress"
                )));
            }
        };
        let names = class_names(bundle_task.as_ref(), &task);
        let (encodings, answers) = self
            .loaded
            .answer(&prompts, &task, &self.device)
            .map_err(error)?;
        Ok(prompts
            .iter()
            .zip(&encodings)
            .zip(&answers)
            .map(|((prompt, encoding), answer)| {
                answer_json(prompt, encoding, answer, &names).to_string()
            })
            .collect())
    }
}

/// Scores `policies` on the boards of a board file's text (JSON Lines), or on a graph file or
/// edge list when `graph` (with `flow`'s sides `source` / `sink`, ids or labels), under
/// `definition`: the JSON array `tessera game eval --json` prints.
#[pyfunction]
#[pyo3(signature = (
    file, text, definition, policies, seed = 0, moves = false, graph = false,
    source = Vec::new(), sink = Vec::new()
))]
#[allow(clippy::too_many_arguments)]
fn game_evaluate(
    file: &str,
    text: &str,
    definition: &str,
    policies: Vec<String>,
    seed: u64,
    moves: bool,
    graph: bool,
    source: Vec<String>,
    sink: Vec<String>,
) -> PyResult<String> {
    let definition = Definition::parse(definition).map_err(|e| core_error(&e))?;
    let boards = if graph {
        let source: Vec<&str> = source.iter().map(String::as_str).collect();
        let sink: Vec<&str> = sink.iter().map(String::as_str).collect();
        Boards::Graph(graph_of(file, text.as_bytes(), &source, &sink, definition).map_err(error)?)
    } else {
        Boards::Lattice(boards_of(file, text).map_err(error)?)
    };
    let players = policies
        .iter()
        .map(|name| Contender::parse(name.trim(), definition, seed, graph))
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(error)?;
    let rows = score(&boards, definition, &players, moves).map_err(error)?;
    Ok(serde_json::Value::from(rows).to_string())
}

/// `count` boards of `n × n` sites at occupation `p`, as `tessera game boards` draws them for
/// `seed`: board-file lines.
#[pyfunction]
#[pyo3(signature = (n, p, count, seed = 0))]
fn game_boards(n: usize, p: f64, count: usize, seed: u64) -> PyResult<Vec<String>> {
    if n < 2 {
        return Err(TesseraError::new_err(format!("n {n}: must be at least 2")));
    }
    let boards = draw_boards(n, p, count, seed).map_err(|e| core_error(&e))?;
    Ok(boards.iter().map(|b| b.to_json_line()).collect())
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TesseraError", m.py().get_type::<TesseraError>())?;
    m.add(
        "COUNT_LAYERS",
        tessera_core::data::h5ad::COUNT_LAYERS.to_vec(),
    )?;
    m.add("VERSION", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_MIN_CELL_GENES", CallRule::DEFAULT_MIN_MODEL_GENES)?;
    m.add("DEFAULT_MIN_CONFIDENCE", CallRule::DEFAULT_MIN_CONFIDENCE)?;
    m.add_class::<RnaModel>()?;
    m.add_class::<CellRun>()?;
    m.add_class::<Mammal>()?;
    m.add_function(wrap_pyfunction!(are_count_values, m)?)?;
    m.add_function(wrap_pyfunction!(game_evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(game_boards, m)?)?;
    Ok(())
}
