//! `tessera mammal baseline --task FILE`: the simple baseline of a task on its held-out rows
//! (hashed SMILES n-grams with logistic or ridge regression), the figure a fine-tuned model is
//! reported beside.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;
use tessera_core::data::Table;
use tessera_core::eval::metrics::{accuracy, rmse, roc_auc};
use tessera_core::eval::molecule_baseline;
use tessera_core::models::mammal::finetune::{Example, Target, TaskKind, TaskSpec};

use crate::bundle_io;

#[derive(clap::Args)]
pub struct BaselineArgs {
    /// A task file (JSON; see native/tasks/).
    #[arg(long)]
    pub task: PathBuf,
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// A task file and its table (its `data` path is relative to the task file).
pub fn load_task(path: &Path) -> Result<(TaskSpec, Table)> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("{name}: cannot read"))?;
    let spec = TaskSpec::from_json(&name, &bytes)?;
    let data = path.parent().unwrap_or(Path::new(".")).join(&spec.data);
    let table_bytes = std::fs::read(&data)
        .with_context(|| format!("{name}: data {}: cannot read", data.display()))?;
    let table = Table::read(&data.display().to_string(), &table_bytes)?;
    Ok((spec, table))
}

pub fn run(args: BaselineArgs) -> Result<()> {
    let (spec, table) = load_task(&args.task)?;
    let examples = spec.examples(&table)?;
    let column = table.column(&spec.input)?;
    let smiles = |rows: &[Example]| -> Vec<String> {
        rows.iter()
            .map(|e| table.rows[e.row][column].trim().to_owned())
            .collect()
    };
    let (train, test) = (smiles(&examples.train), smiles(&examples.test));
    let train: Vec<&str> = train.iter().map(String::as_str).collect();
    let test: Vec<&str> = test.iter().map(String::as_str).collect();
    println!(
        "{}: {} train / {} test rows ({} skipped)",
        args.task.display(),
        train.len(),
        test.len(),
        examples.skipped.len()
    );
    let report = match &spec.task {
        TaskKind::Classification { .. } => {
            let class = |e: &Example| match e.target {
                Target::Class(c) => c,
                Target::Value(_) => 0,
            };
            let y: Vec<usize> = examples.train.iter().map(class).collect();
            let truth: Vec<usize> = examples.test.iter().map(class).collect();
            let k = examples.classes.len();
            let proba = molecule_baseline::classify(&train, &y, k, &test);
            let predicted: Vec<usize> = (0..test.len())
                .map(|i| (0..k).fold(0, |b, c| if proba[(i, c)] > proba[(i, b)] { c } else { b }))
                .collect();
            // The positive class is the one answered `<1>` (else the last).
            let positive = examples
                .classes
                .iter()
                .position(|(_, t)| t == "<1>")
                .unwrap_or(k - 1);
            let scores: Vec<f64> = (0..test.len())
                .map(|i| f64::from(proba[(i, positive)]))
                .collect();
            let is_positive: Vec<bool> = truth.iter().map(|&t| t == positive).collect();
            let auc = if k == 2 {
                roc_auc(&scores, &is_positive)
            } else {
                None
            };
            println!(
                "baseline (SMILES n-grams + logistic regression): accuracy {:.3}{}",
                accuracy(&truth, &predicted),
                auc.map_or(String::new(), |a| format!(", ROC-AUC {a:.3}"))
            );
            json!({"task": args.task, "train": train.len(), "test": test.len(), "accuracy": accuracy(&truth, &predicted), "roc_auc": auc})
        }
        TaskKind::Regression => {
            let value = |e: &Example| match e.target {
                Target::Value(v) => v,
                Target::Class(_) => 0.0,
            };
            let y: Vec<f64> = examples.train.iter().map(value).collect();
            let truth: Vec<f64> = examples.test.iter().map(value).collect();
            let predicted = molecule_baseline::regress(&train, &y, &test);
            let error = rmse(&predicted, &truth);
            let mean = truth.iter().sum::<f64>() / truth.len().max(1) as f64;
            let sd = (truth.iter().map(|t| (t - mean).powi(2)).sum::<f64>()
                / truth.len().max(1) as f64)
                .sqrt();
            if !error.is_finite() {
                bail!("the baseline's RMSE is not finite");
            }
            println!("baseline (SMILES n-grams + ridge): RMSE {error:.3} (test label sd {sd:.3})");
            json!({"task": args.task, "train": train.len(), "test": test.len(), "rmse": error, "label_sd": sd})
        }
    };
    if let Some(path) = &args.report {
        bundle_io::write_file_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}
