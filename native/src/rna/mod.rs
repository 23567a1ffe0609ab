//! `tessera rna …`: BMFM-RNA models on the command line.

pub mod annotate;
mod data;
mod eval;
mod train;

pub use data::read_counts;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use safetensors::Dtype;
use tessera_core::eval::baseline::{self, BaselineConfig};
use tessera_core::models::bmfm_rna::RnaModel;
use tessera_core::models::bmfm_rna::cases::read_cases;

use crate::backend::Backend;
use crate::bundle_io;

#[derive(Subcommand)]
pub enum RnaCommand {
    /// Train a model: pretraining (WCED, MLM, WCED + cell types) or fine-tuning (`--init`).
    Train(train::TrainArgs),
    /// Score a model on held-out cells: zero-shot clustering, linear probe, its own head, and
    /// the PCA + logistic-regression baseline.
    Eval(eval::EvalArgs),
    /// Write every cell's embedding (.csv or .safetensors).
    Embed {
        #[command(flatten)]
        cells: annotate::CellsArgs,
        #[arg(long)]
        out: PathBuf,
    },
    /// Predict each cell's type: a CSV of cell_id, predicted_type (or Unassigned), confidence,
    /// best_type, unassigned_reason and the cell's QC (total_counts, n_genes, n_model_genes).
    Annotate {
        #[command(flatten)]
        cells: annotate::CellsArgs,
        #[command(flatten)]
        calls: annotate::CallArgs,
        /// The CSV of calls and QC.
        #[arg(long, required_unless_present = "out_h5ad")]
        out: Option<PathBuf>,
        /// Also (or instead) write the data as .h5ad with the results added: obs
        /// tessera_cell_type, tessera_confidence, …, obsm X_tessera (embeddings),
        /// tessera_probabilities and X_umap (a UMAP of the embeddings, seed 0); an .h5ad input
        /// is copied whole, everything in it kept.
        #[arg(long)]
        out_h5ad: Option<PathBuf>,
        /// Also write the embeddings here (.csv or .safetensors).
        #[arg(long)]
        embedding: Option<PathBuf>,
    },
    /// Run every case of a fixture-format cases.json and write every output tensor under the
    /// reference's names (`case{i}.last_hidden_state`, …) to a safetensors file.
    Forward {
        /// Model folder (reference config.json + model.safetensors) or bundle archive.
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        cases: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: Backend,
    },
    /// The cell-type baseline: log counts → most variable genes → PCA → logistic regression,
    /// fitted on the `train` cells and scored on the `test` cells of a split annotation (or on
    /// every cell of --test-data).
    Baseline {
        /// An .h5ad file with raw counts.
        #[arg(long)]
        data: PathBuf,
        /// Score on these cells instead (another study, a smaller panel…; labels in the same
        /// column, genes matched by name, a missing gene read as 0).
        #[arg(long)]
        test_data: Option<PathBuf>,
        /// With --test-data: choose the variable genes among those it has (the baseline refitted
        /// for its panel).
        #[arg(long, requires = "test_data")]
        refit_on_test_genes: bool,
        /// Cell annotation with the labels.
        #[arg(long, default_value = "cell_type")]
        label: String,
        /// Cell annotation with `train`/`test`.
        #[arg(long, default_value = "split")]
        split: String,
        #[arg(long, default_value_t = 2000)]
        genes: usize,
        #[arg(long, default_value_t = 50)]
        components: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Also write the report as JSON here.
        #[arg(long)]
        report: Option<PathBuf>,
    },
}

pub fn run(command: RnaCommand) -> Result<()> {
    match command {
        RnaCommand::Train(args) => train::run(args),
        RnaCommand::Eval(args) => eval::run(args),
        RnaCommand::Embed { cells, out } => {
            let (matrix, results) = cells.run()?;
            annotate::write_embedding(&out, &matrix.cell_ids, &results.embeddings, results.dim)?;
            eprintln!(
                "{} cells × {} → {}",
                matrix.n_cells(),
                results.dim,
                out.display()
            );
            Ok(())
        }
        RnaCommand::Annotate {
            cells,
            calls,
            out,
            out_h5ad,
            embedding,
        } => annotate::annotate(
            cells,
            calls,
            annotate::Outputs {
                csv: out,
                h5ad: out_h5ad,
                embedding,
            },
        ),
        RnaCommand::Forward {
            model,
            cases,
            out,
            backend,
        } => forward(model, cases, out, backend),
        RnaCommand::Baseline {
            data,
            test_data,
            refit_on_test_genes,
            label,
            split,
            genes,
            components,
            seed,
            report,
        } => {
            let name = data.display().to_string();
            let counts = data::read_counts(&data, None)?;
            let config = BaselineConfig {
                label,
                split,
                genes,
                components,
                seed,
            };
            let other = match &test_data {
                Some(path) => Some((path.display().to_string(), data::read_counts(path, None)?)),
                None => None,
            };
            let cells = other.as_ref().map(|(file, cells)| baseline::OtherCells {
                file,
                cells,
                refit: refit_on_test_genes,
            });
            let result = baseline::run(&name, &counts, config, cells)?;
            println!(
                "{name}: {} train cells; {} scored from {}; {} classes",
                result.train_cells,
                result.test_cells,
                result.test_data,
                result.classes.len()
            );
            println!("{:<34} {:>9} {:>9}", "model", "accuracy", "macro-F1");
            println!(
                "{:<34} {:>9.4} {:>9.4}",
                format!("PCA({}) + logistic regression", result.config.components),
                result.accuracy,
                result.macro_f1
            );
            println!(
                "{:<34} {:>9.4} {:>9}",
                "majority class", result.majority_accuracy, ""
            );
            if let Some(path) = report {
                bundle_io::write_file_atomic(&path, &serde_json::to_vec_pretty(&result)?)?;
            }
            Ok(())
        }
    }
}

fn forward(model: PathBuf, cases: PathBuf, out: PathBuf, backend: Backend) -> Result<()> {
    let device = backend.device()?;
    let bundle = bundle_io::read_for(&model, backend)?;
    let rna = RnaModel::from_bundle(&bundle, &device)
        .with_context(|| format!("model {}", model.display()))?;
    let bytes =
        std::fs::read(&cases).with_context(|| format!("{}: cannot read", cases.display()))?;
    let cases_name = cases.display().to_string();
    let batches = read_cases(&cases_name, &bytes)?;

    let progress = ProgressBar::new(batches.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cases {msg}").expect("valid template"),
    );
    let mut tensors: Vec<bundle_io::NamedTensor> = Vec::new();
    for (i, case) in batches.iter().enumerate() {
        progress.set_message(case.name.clone());
        let outputs = rna
            .forward(&case.batch, &device)
            .with_context(|| format!("{cases_name}: case {i} ({})", case.name))?;
        for (name, tensor, shape) in rna.named_outputs(&outputs) {
            let values = tensor
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.push((format!("case{i}.{name}"), Dtype::F32, shape, bytes));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    bundle_io::write_safetensors(&out, &tensors)?;
    eprintln!(
        "{} cases, {} tensors → {}",
        batches.len(),
        tensors.len(),
        out.display()
    );
    Ok(())
}
