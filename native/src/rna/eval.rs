//! `tessera rna eval`: a model's embeddings and cell-type head on the held-out cells of a data
//! set, beside the PCA + logistic-regression baseline, as a table and a JSON report.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use tessera_core::eval::baseline::{self, BaselineConfig, BaselineReport};
use tessera_core::eval::embedding::{EmbeddingReport, evaluate};
use tessera_core::eval::metrics::{accuracy, macro_f1};
use tessera_core::models::bmfm_rna::Pooling;
use tessera_core::models::bmfm_rna::annotation::argmax;

use super::annotate;
use super::data::{read_counts, rows_where};
use crate::backend::Backend;
use crate::bundle_io;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Model bundle (folder or .tar).
    #[arg(long)]
    pub model: PathBuf,
    /// Cells with labels and a train/test split.
    #[arg(long)]
    pub data: PathBuf,
    #[arg(long, default_value = "cell_type")]
    pub label: String,
    #[arg(long, default_value = "split")]
    pub split: String,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also write the report as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// How a cell's hidden states become its embedding, instead of the bundle's: first_token,
    /// pooling_layer, mean_pooling, a position, or a comma-separated list (concatenated).
    #[arg(long)]
    pub pooling: Option<Pooling>,
}

#[derive(Serialize)]
struct Report {
    model: String,
    data: String,
    label: String,
    train_cells: usize,
    test_cells: usize,
    embedding: EmbeddingReport,
    /// The model's own head for `label`, when it has one.
    head: Option<HeadReport>,
    baseline: BaselineReport,
}

#[derive(Serialize)]
struct HeadReport {
    accuracy: f64,
    macro_f1: f64,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let device = args.backend.device()?;
    let file = args.data.display().to_string();
    let matrix = read_counts(&args.data, None)?;
    let train = rows_where(&matrix, &file, Some(&args.split), "train")?;
    let test = rows_where(&matrix, &file, Some(&args.split), "test")?;
    let labels = matrix.annotation(&file, &args.label)?.to_vec();
    let mut classes: Vec<String> = train.iter().map(|&r| labels[r].clone()).collect();
    classes.sort();
    classes.dedup();
    let class_of = |l: &str| classes.iter().position(|c| c == l).unwrap_or(usize::MAX);

    let mut pipeline = annotate::load(&args.model, args.backend, &device)?;
    if let Some(pooling) = &args.pooling {
        pipeline.set_pooling(pooling.clone())?;
    }
    let all: Vec<usize> = (0..matrix.n_cells()).collect();
    let names = Default::default();
    let results = annotate::run(
        &pipeline,
        &file,
        &matrix,
        &names,
        &all,
        args.batch_size,
        &device,
    )?;
    let truth: Vec<usize> = labels.iter().map(|l| class_of(l)).collect();
    let embedding = evaluate(
        &results.embeddings,
        results.dim,
        &truth,
        classes.len(),
        &train,
        &test,
        args.seed,
    );
    let head = pipeline
        .model
        .config
        .labels()
        .iter()
        .position(|l| l.label_column_name == args.label)
        .map(|k| {
            let names = pipeline.class_names(k);
            let probabilities = &results.probabilities[k];
            let test_truth: Vec<usize> = test.iter().map(|&i| truth[i]).collect();
            let test_pred: Vec<usize> = test
                .iter()
                .map(|&i| {
                    let row = &probabilities[i * names.len()..(i + 1) * names.len()];
                    class_of(&names[argmax(row).0 as usize])
                })
                .collect();
            HeadReport {
                accuracy: accuracy(&test_truth, &test_pred),
                macro_f1: macro_f1(&test_truth, &test_pred),
            }
        });
    let baseline = baseline::run(
        &file,
        &matrix,
        BaselineConfig {
            label: args.label.clone(),
            split: args.split.clone(),
            genes: 2000,
            components: 50,
            seed: args.seed,
        },
        None,
    )?;

    println!(
        "{file}: {} train / {} test cells, {} classes",
        train.len(),
        test.len(),
        classes.len()
    );
    println!(
        "{:<40} {:>8} {:>8} {:>8} {:>9} {:>9}",
        "", "ARI", "NMI", "silh.", "accuracy", "macro-F1"
    );
    let e = &embedding;
    println!(
        "{:<40} {:>8.4} {:>8.4} {:>8.4} {:>9.4} {:>9.4}",
        "embedding: k-means / linear probe",
        e.ari,
        e.nmi,
        e.silhouette,
        e.probe_accuracy,
        e.probe_macro_f1
    );
    if let Some(h) = &head {
        println!(
            "{:<40} {:>8} {:>8} {:>8} {:>9.4} {:>9.4}",
            format!("model's `{}` head", args.label),
            "",
            "",
            "",
            h.accuracy,
            h.macro_f1
        );
    }
    println!(
        "{:<40} {:>8} {:>8} {:>8} {:>9.4} {:>9.4}",
        "baseline: PCA(50) + logistic regression", "", "", "", baseline.accuracy, baseline.macro_f1
    );
    if let Some(path) = &args.report {
        let report = Report {
            model: args.model.display().to_string(),
            data: file.clone(),
            label: args.label.clone(),
            train_cells: train.len(),
            test_cells: test.len(),
            embedding,
            head,
            baseline,
        };
        bundle_io::write_file_atomic(path, &serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}
