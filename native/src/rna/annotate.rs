//! `tessera rna embed` / `annotate`: every cell of a data set through a bundle, in batches,
//! to embeddings and predicted types.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use tessera_core::data::{AnnDataAdditions, CountMatrix, add_to_h5ad_file, write_h5ad_with};
use tessera_core::models::bmfm_rna::annotation::{
    AnnotationTables, Call, CallRule, UMAP_KEY, UNASSIGNED, Unassigned, annotations_csv, csv_field,
    umap_rows,
};
use tessera_core::models::bmfm_rna::panel::{GeneMatch, GeneNames};
use tessera_core::models::bmfm_rna::{CellResults, Pooling, RnaPipeline};
use tessera_core::precision::Precision;

use super::data::read_opened;
use crate::backend::Backend;
use crate::bundle_io;

/// A model and the cells to run it on.
#[derive(clap::Args)]
pub struct CellsArgs {
    /// Model bundle (folder or .tar).
    #[arg(long)]
    pub model: PathBuf,
    /// Cells: .h5ad, a 10x folder (or its matrix.mtx[.gz]), or .csv/.tsv.
    #[arg(long)]
    pub data: PathBuf,
    /// An .h5ad layer to read instead of X (`raw` for raw/X).
    #[arg(long)]
    pub layer: Option<String>,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// The precision the model computes in: f32, or f16 on a backend with f16 arithmetic.
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
    /// The gene table (`var`) column whose names to match against the model's genes, instead
    /// of the index or a known symbol column it finds (`feature_name`, `gene_symbols`, …).
    #[arg(long)]
    pub gene_symbols: Option<String>,
    /// The fewest of the model's genes the data must hold (default: half of them, at most
    /// 1,000); fewer are refused, since the answers would be confident and wrong. 0: no minimum.
    #[arg(long)]
    pub min_genes: Option<usize>,
    /// How a cell's hidden states become its embedding, instead of the bundle's: first_token,
    /// pooling_layer, mean_pooling, a position, or a comma-separated list (concatenated).
    #[arg(long)]
    pub pooling: Option<Pooling>,
}

impl CellsArgs {
    /// Every cell through the model.
    pub fn run(&self) -> Result<(CountMatrix, CellResults)> {
        let device = self.backend.device_in(self.precision)?;
        self.run_with(&self.load(&device)?, &device)
    }

    /// The model, with `--pooling` applied.
    pub fn load(&self, device: &Device) -> Result<RnaPipeline> {
        let mut pipeline = load(&self.model, self.backend, device)?;
        if let Some(pooling) = &self.pooling {
            pipeline.set_pooling(pooling.clone())?;
        }
        Ok(pipeline)
    }

    fn run_with(
        &self,
        pipeline: &RnaPipeline,
        device: &Device,
    ) -> Result<(CountMatrix, CellResults)> {
        let (matrix, results, _) = self.run_read(pipeline, device)?;
        Ok((matrix, results))
    }

    /// [`run_with`](Self::run_with), with the format the data was read in.
    fn run_read(
        &self,
        pipeline: &RnaPipeline,
        device: &Device,
    ) -> Result<(CountMatrix, CellResults, &'static str)> {
        let file = self.data.display().to_string();
        let opened = read_opened(&self.data, self.layer.as_deref())?;
        let (matrix, format) = (opened.matrix, opened.format);
        let rows: Vec<usize> = (0..matrix.n_cells()).collect();
        let genes = GeneMatch {
            names: match &self.gene_symbols {
                Some(column) => GeneNames::Column(column.clone()),
                None => GeneNames::Auto,
            },
            min_genes: self.min_genes,
        };
        let results = run(
            pipeline,
            &file,
            &matrix,
            &genes,
            &rows,
            self.batch_size,
            device,
        )?;
        Ok((matrix, results, format))
    }
}

/// When a cell is called `Unassigned` instead of its most probable type.
#[derive(clap::Args)]
pub struct CallArgs {
    /// Cells expressing fewer of the model's genes are `Unassigned` (too_few_genes).
    #[arg(long, default_value_t = CallRule::DEFAULT_MIN_MODEL_GENES)]
    pub min_cell_genes: u32,
    /// Cells whose most probable type is less likely are `Unassigned` (low_confidence); 0: never.
    #[arg(long, default_value_t = CallRule::DEFAULT_MIN_CONFIDENCE)]
    pub min_confidence: f32,
}

impl CallArgs {
    fn rule(&self) -> Result<CallRule> {
        CallRule::new(self.min_cell_genes, self.min_confidence)
            .map_err(|e| anyhow!("--min-confidence {e}"))
    }
}

/// Where `tessera rna annotate` writes.
pub struct Outputs {
    pub csv: Option<PathBuf>,
    pub h5ad: Option<PathBuf>,
    pub embedding: Option<PathBuf>,
}

/// `tessera rna annotate`: the CSV of calls and QC and/or the annotated `.h5ad`, and optionally
/// the embeddings.
pub fn annotate(cells: CellsArgs, calls: CallArgs, outputs: Outputs) -> Result<()> {
    let rule = calls.rule()?;
    if outputs.csv.is_none() && outputs.h5ad.is_none() {
        bail!("nothing to write: give --out (CSV) and/or --out-h5ad");
    }
    let device = cells.backend.device_in(cells.precision)?;
    let pipeline = cells.load(&device)?;
    if pipeline.model.config.labels().is_empty() {
        bail!(
            "model {} has no label head; fine-tune one with `tessera rna train --objective finetune --init`",
            cells.model.display()
        );
    }
    let (matrix, results, format) = cells.run_read(&pipeline, &device)?;
    let names = pipeline.class_names(0);
    let calls = Call::all(&results.probabilities[0], names.len(), &results.qc, &rule);
    let mut written = Vec::new();
    if let Some(out) = &outputs.csv {
        let csv = annotations_csv(&matrix.cell_ids, &calls, &results.qc, &names);
        bundle_io::write_file_atomic(out, csv.as_bytes())?;
        written.push(out.display().to_string());
    }
    if let Some(out) = &outputs.h5ad {
        let tables = AnnotationTables {
            calls: &calls,
            qc: &results.qc,
            classes: &names,
            probabilities: &results.probabilities[0],
            embedding: &results.embeddings,
            dim: results.dim,
        };
        let mut additions = tables.additions();
        let spinner = ProgressBar::new_spinner()
            .with_message(format!("UMAP of {} cells' embeddings", matrix.n_cells()));
        spinner.enable_steady_tick(std::time::Duration::from_millis(200));
        let started = std::time::Instant::now();
        let map = umap_rows(&results.embeddings, results.dim);
        spinner.finish_and_clear();
        eprintln!(
            "UMAP of {} cells: {:.1} s",
            matrix.n_cells(),
            started.elapsed().as_secs_f64()
        );
        additions.obsm.push((UMAP_KEY.into(), map));
        let input = (format == "h5ad").then_some(cells.data.as_path());
        write_annotated_h5ad(out, input, &matrix, &additions)?;
        written.push(out.display().to_string());
    }
    if let Some(path) = &outputs.embedding {
        write_embedding(path, &matrix.cell_ids, &results.embeddings, results.dim)?;
    }
    eprintln!("{} cells → {}", matrix.n_cells(), written.join(", "));
    eprint!("{}", call_summary(&calls, &names, &rule));
    Ok(())
}

/// Writes `out`: a copy of the `input` `.h5ad` with `additions` added (everything else in it
/// kept), or — for other formats, or a file the in-place edit cannot handle, said so — a new
/// `.h5ad` of `matrix` with them. Atomic: nothing is left at `out` on failure.
fn write_annotated_h5ad(
    out: &Path,
    input: Option<&Path>,
    matrix: &CountMatrix,
    additions: &AnnDataAdditions,
) -> Result<()> {
    let name = out.display().to_string();
    if let Some(input) = input {
        let copy = bundle_io::temp_path(out);
        let added = std::fs::copy(input, &copy)
            .with_context(|| format!("{name}: cannot copy {} there", input.display()))
            .and_then(|_| Ok(add_to_h5ad_file(&copy, matrix.n_cells(), additions)?));
        match added {
            Ok(()) => {
                return std::fs::rename(&copy, out).or_else(|e| {
                    let _ = std::fs::remove_file(&copy);
                    Err(e).with_context(|| {
                        format!("{name}: cannot move the finished file into place")
                    })
                });
            }
            Err(error) => {
                let _ = std::fs::remove_file(&copy);
                eprintln!(
                    "{name}: could not add the results to a copy of {} ({error:#}); writing a new \
                     file with its counts, obs annotations and var names instead",
                    input.display()
                );
            }
        }
    }
    let bytes = write_h5ad_with(&name, matrix, additions)?;
    bundle_io::write_file_atomic(out, &bytes)
}

/// Cells and mean confidence per type, then the unassigned cells by reason.
fn call_summary(calls: &[Call], names: &[String], rule: &CallRule) -> String {
    let mut types = std::collections::BTreeMap::<&str, (usize, f64)>::new();
    let (mut few, mut unsure) = (0usize, 0usize);
    for call in calls {
        match call.unassigned {
            Some(Unassigned::TooFewGenes) => few += 1,
            Some(Unassigned::LowConfidence) => unsure += 1,
            None => {
                let entry = types.entry(call.label(names)).or_default();
                entry.0 += 1;
                entry.1 += call.confidence as f64;
            }
        }
    }
    let mut out = String::new();
    for (name, (n, total)) in types {
        out += &format!(
            "  {name:<24} {n:>6} cells, mean confidence {:.3}\n",
            total / n as f64
        );
    }
    if few + unsure > 0 {
        out += &format!(
            "  {UNASSIGNED:<24} {:>6} cells: {few} express fewer than {} of the model's genes, \
             {unsure} have no type at {:.2} or more\n",
            few + unsure,
            rule.min_model_genes,
            rule.min_confidence
        );
    }
    out
}

pub fn load(model: &Path, backend: Backend, device: &Device) -> Result<RnaPipeline> {
    let bundle = bundle_io::read_for(model, backend)?;
    RnaPipeline::for_annotation(&bundle, device)
        .with_context(|| format!("model {}", model.display()))
}

/// Runs `rows` of `matrix` through the pipeline, `batch_size` cells at a time, with a progress
/// bar, after saying how many of the data's genes the model knows (and by which names).
pub fn run(
    pipeline: &RnaPipeline,
    file: &str,
    matrix: &CountMatrix,
    genes: &GeneMatch,
    rows: &[usize],
    batch_size: usize,
    device: &Device,
) -> Result<CellResults> {
    // The count is said before any refusal, so a refused user sees it too.
    let unchecked = GeneMatch {
        min_genes: Some(0),
        ..genes.clone()
    };
    let panel = pipeline.panel_by(file, matrix, &unchecked)?;
    eprintln!(
        "{file}: {} of the model's {} genes found among its {} (matched by {})",
        panel.len(),
        pipeline.gene_count(),
        matrix.n_genes(),
        panel.source
    );
    pipeline
        .require_genes(file, &panel, genes.min_genes)
        .map_err(|e| anyhow!("{e} (`--min-genes N` sets the minimum; 0 for none)"))?;
    let progress = ProgressBar::new(rows.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cells {per_sec} eta {eta}")
            .expect("valid template"),
    );
    let started = std::time::Instant::now();
    let results = pipeline.run_cells(matrix, &panel, rows, batch_size, device, |cells| {
        progress.inc(cells as u64)
    })?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} cells in {seconds:.2} s ({:.1} cells/s)",
        rows.len(),
        rows.len() as f64 / seconds.max(f64::EPSILON)
    );
    Ok(results)
}

/// `cell_id,dim_0,…` rows.
pub fn embedding_csv(cell_ids: &[String], embeddings: &[f32], dim: usize) -> String {
    let mut csv = String::from("cell_id");
    for j in 0..dim {
        csv.push_str(&format!(",dim_{j}"));
    }
    csv.push('\n');
    for (id, row) in cell_ids.iter().zip(embeddings.chunks(dim)) {
        csv.push_str(&csv_field(id));
        for v in row {
            csv.push_str(&format!(",{v}"));
        }
        csv.push('\n');
    }
    csv
}

/// Writes an embedding as CSV or as safetensors (`embedding` `[cells, dim]`) by extension.
pub fn write_embedding(
    path: &Path,
    cell_ids: &[String],
    embeddings: &[f32],
    dim: usize,
) -> Result<()> {
    let name = path.display().to_string();
    if name.ends_with(".csv") {
        return bundle_io::write_file_atomic(
            path,
            embedding_csv(cell_ids, embeddings, dim).as_bytes(),
        );
    }
    if !name.ends_with(".safetensors") {
        bail!("{name}: write embeddings as .csv or .safetensors");
    }
    let bytes: Vec<u8> = embeddings.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(
        safetensors::Dtype::F32,
        vec![cell_ids.len(), dim],
        &bytes,
    )?;
    let metadata = std::collections::HashMap::from([(
        "cell_ids".to_string(),
        serde_json::to_string(cell_ids)?,
    )]);
    let file = safetensors::serialize(vec![("embedding".to_string(), view)], Some(metadata))?;
    bundle_io::write_file_atomic(path, &file)
}
