//! `tessera mammal eval --model DIR --task FILE`: a model's figures on a task's held-out rows
//! (accuracy and ROC-AUC, or RMSE), the numbers the baseline is reported beside.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tessera_core::models::mammal::MammalModel;
use tessera_core::models::mammal::finetune::{
    BundleTask, Example, MammalInfo, Prediction, TaskSpec,
};
use tessera_core::models::mammal::task::{Answer, answer};
use tessera_core::tokenize::mammal::{EncodeOptions, ModularTokenizer};

use super::baseline::load_task;
use crate::backend::Backend;
use crate::bundle_io;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Model folder or .tar (with `tokenizer/`, and `tessera.json` naming its tasks).
    #[arg(long)]
    pub model: PathBuf,
    /// Task file(s) (JSON; see native/tasks/); repeat for several.
    #[arg(long, required = true)]
    pub task: Vec<PathBuf>,
    /// Also write the figures as JSON here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
}

pub fn run(args: EvalArgs) -> Result<()> {
    let device = args.backend.device()?;
    let bundle = bundle_io::read_for(&args.model, args.backend)?;
    let model = MammalModel::from_bundle(&bundle, &device)
        .with_context(|| format!("model {}", args.model.display()))?;
    let tokenizer = ModularTokenizer::from_folder(bundle.files())
        .with_context(|| format!("{}: tokenizer/", args.model.display()))?;
    let info = MammalInfo::from_bundle(&bundle)?;
    let mut rows = Vec::new();
    for path in &args.task {
        let (spec, table) = load_task(path)?;
        let examples = spec.examples(&table)?;
        // The bundle's own normalisation when it was trained on this task, else the task's.
        let fallback = spec.bundle_task(&examples, &task_name(path));
        let task = info
            .tasks
            .iter()
            .find(|t| t.name == fallback.name)
            .cloned()
            .unwrap_or(fallback);
        let score = predict(
            &model,
            &tokenizer,
            &spec,
            &task,
            &examples.test,
            args.batch,
            &device,
        )
        .and_then(|p| Ok(examples.score(&p)?))
        .with_context(|| format!("task {}", path.display()))?;
        println!("{} ({}): {score}", task.name, path.display());
        rows.push(json!({"task": task.name, "file": path, "score": score}));
    }
    if let Some(path) = &args.report {
        bundle_io::write_file_atomic(path, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    }
    Ok(())
}

/// A task's name from its file (`native/tasks/esol.json` → `esol`).
pub fn task_name(path: &std::path::Path) -> String {
    path.file_stem()
        .map_or_else(|| "task".into(), |s| s.to_string_lossy().into_owned())
}

/// The model's answers to `rows`, in batches, with a progress bar.
pub fn predict(
    model: &MammalModel,
    tokenizer: &ModularTokenizer,
    spec: &TaskSpec,
    task: &BundleTask,
    rows: &[Example],
    batch: usize,
    device: &burn::tensor::Device,
) -> Result<Vec<Prediction>> {
    let progress = ProgressBar::new(rows.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} held-out rows {msg}")
            .expect("valid template"),
    );
    progress.set_message(task.name.clone());
    let options = EncodeOptions {
        max_len: spec.max_len,
        ..EncodeOptions::default()
    };
    let question = task.task();
    let mut predictions = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(batch.max(1)) {
        let encodings = chunk
            .iter()
            .map(|e| {
                tokenizer
                    .encode(&e.prompt, options)
                    .with_context(|| format!("row {}", e.row + 1))
            })
            .collect::<Result<Vec<_>>>()?;
        let answers = pollster::block_on(answer(model, tokenizer, &encodings, &question, device))?;
        for a in answers {
            predictions.push(match a {
                Answer::Classes { probabilities, .. } => {
                    Prediction::Classes(probabilities.iter().map(|&p| f64::from(p)).collect())
                }
                Answer::Value { value, .. } => Prediction::Value(value),
                // A task's readout is a class or a value, never free text.
                Answer::Text { .. } => bail!("task {}: its readout generated text", task.name),
            });
        }
        progress.inc(chunk.len() as u64);
    }
    progress.finish_and_clear();
    Ok(predictions)
}
