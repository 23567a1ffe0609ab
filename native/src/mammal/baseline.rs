//! `tessera mammal baseline --task FILE`: the simple baseline of a task on its held-out rows
//! (hashed SMILES n-grams with logistic or ridge regression), the figure a fine-tuned model is
//! reported beside.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;
use tessera_core::data::Table;
use tessera_core::eval::molecule_baseline;
use tessera_core::models::mammal::finetune::{Example, Prediction, Target, TaskKind, TaskSpec};

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
    let (method, predictions) = match &spec.task {
        TaskKind::Classification { .. } => {
            let y: Vec<usize> = examples
                .train
                .iter()
                .map(|e| match e.target {
                    Target::Class(c) => c,
                    Target::Value(_) => 0,
                })
                .collect();
            let k = examples.classes.len();
            let proba = molecule_baseline::classify(&train, &y, k, &test);
            let predictions = (0..test.len())
                .map(|i| Prediction::Classes((0..k).map(|c| f64::from(proba[(i, c)])).collect()))
                .collect::<Vec<_>>();
            ("SMILES n-grams + logistic regression", predictions)
        }
        TaskKind::Regression => {
            let y: Vec<f64> = examples
                .train
                .iter()
                .map(|e| match e.target {
                    Target::Value(v) => v,
                    Target::Class(_) => 0.0,
                })
                .collect();
            let predictions = molecule_baseline::regress(&train, &y, &test)
                .into_iter()
                .map(Prediction::Value)
                .collect();
            ("SMILES n-grams + ridge", predictions)
        }
    };
    let score = examples.score(&predictions)?;
    if score.rmse.is_some_and(|e| !e.is_finite()) {
        bail!("the baseline's RMSE is not finite");
    }
    println!("baseline ({method}): {score}");
    let mut report = serde_json::to_value(&score)?;
    report["task"] = json!(args.task);
    report["train"] = json!(train.len());
    report["method"] = json!(method);
    if let Some(path) = &args.report {
        bundle_io::write_file_atomic(path, serde_json::to_string_pretty(&report)?.as_bytes())?;
    }
    Ok(())
}
