//! `tessera mammal train`: fine-tune a MAMMAL model (new at a small size, or `--init` from a
//! bundle such as the published checkpoint) on one or more task files, with checkpoints and
//! resume; then score every task's held-out rows and keep the tasks in the bundle.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde_json::json;
use tessera_core::bundle::Bundle;
use tessera_core::models::mammal::finetune::{BundleTask, INFO_FILE, MammalInfo, TaskSpec};
use tessera_core::models::mammal::{MammalConfig, MammalModel, T5Config};
use tessera_core::train::fit::{TRAINER_FILE, TrainerState};
use tessera_core::train::mammal::{
    MammalTrainConfig, MammalTrainer, Prepared, ScalarLoss, new_bundle, prepare,
};
use tessera_core::train::optimizer::{AdamWConfig, Schedule};

use super::baseline::load_task;
use super::eval::{predict, task_name};
use crate::backend::Backend;
use crate::bundle_io;
use crate::parallel::{ParallelArgs, Ranks};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScalarLossArg {
    Mse,
    Mae,
    Rmse,
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Task file(s) (JSON; see native/tasks/): repeat to train one model on several tasks.
    #[arg(long, required = true)]
    pub task: Vec<PathBuf>,
    /// Output folder: `model/` (the bundle), `checkpoints/step-N/`, `history.json`,
    /// `report.json` (held-out figures).
    #[arg(long)]
    pub out: PathBuf,
    /// Start from this bundle (its `tokenizer/` is kept) instead of a new model.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Continue from a checkpoint folder (`OUT/checkpoints/step-N`).
    #[arg(long, conflicts_with = "init")]
    pub resume: Option<PathBuf>,
    /// Tokenizer folder of a new model (copied into the bundle).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Shape of a new model (T5 v1.1; MAMMAL 458M is 768 / 64 / 3072 / 12 / 12 / 100001).
    #[arg(long, default_value_t = 128)]
    pub d_model: usize,
    #[arg(long, default_value_t = 32)]
    pub d_kv: usize,
    #[arg(long, default_value_t = 384)]
    pub d_ff: usize,
    /// Encoder and decoder blocks each.
    #[arg(long, default_value_t = 3)]
    pub layers: usize,
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Token ids a new model knows: 4352 covers the AA, SMILES and cell-attribute
    /// sub-tokenizers (gene tokens start at 5000).
    #[arg(long, default_value_t = 4352)]
    pub vocab: usize,
    #[arg(long, default_value_t = 0.1)]
    pub dropout: f64,
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Linear warm-up steps, then a cosine to 0 at the last step.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Maximum global gradient norm.
    #[arg(long, default_value_t = 1.0)]
    pub clip: f64,
    #[arg(long, value_enum, default_value = "mse")]
    pub scalar_loss: ScalarLossArg,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write a checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Held-out scoring batch size.
    #[arg(long, default_value_t = 64)]
    pub eval_batch: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    #[command(flatten)]
    pub parallel: ParallelArgs,
}

/// A task file, its examples and what the bundle will keep of it.
struct Loaded {
    path: PathBuf,
    spec: TaskSpec,
    examples: tessera_core::models::mammal::finetune::Examples,
    task: BundleTask,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let ranks = Ranks::new(&args.parallel, || args.backend.device())?;
    let device = ranks.device().clone();
    let mut tasks: Vec<Loaded> = Vec::new();
    for path in &args.task {
        let (spec, table) = load_task(path)?;
        let examples = spec
            .examples(&table)
            .with_context(|| format!("task {}", path.display()))?;
        let task = spec.bundle_task(&examples, &task_name(path));
        if tasks.iter().any(|t| t.task.name == task.name) {
            bail!("{}: a second task named {:?}", path.display(), task.name);
        }
        eprintln!(
            "{} ({}): {} train / {} held-out rows, {} skipped",
            task.name,
            path.display(),
            examples.train.len(),
            examples.test.len(),
            examples.skipped.len()
        );
        tasks.push(Loaded {
            path: path.clone(),
            spec,
            examples,
            task,
        });
    }

    let start = match (&args.resume, &args.init) {
        (Some(checkpoint), _) => bundle_io::read(checkpoint)?,
        (None, Some(init)) => bundle_io::read(init)?,
        (None, None) => {
            let Some(tokenizer) = &args.tokenizer else {
                bail!("a new model needs --tokenizer (or start from a bundle with --init)");
            };
            let mut t5 = T5Config::v1_1(
                args.d_model,
                args.d_kv,
                args.d_ff,
                args.layers,
                args.heads,
                args.vocab,
            );
            t5.dropout_rate = args.dropout;
            let files = bundle_io::read_files(tokenizer)?;
            new_bundle(&MammalConfig::new(t5), &files, args.seed, &device)?
        }
    };
    let tokenizer = tessera_core::tokenize::mammal::ModularTokenizer::from_folder(start.files())
        .context("the model's tokenizer/ (give --tokenizer for a new model)")?;
    let mut data: Vec<Prepared> = Vec::new();
    for t in &tasks {
        data.extend(
            prepare(&t.spec, &t.examples, &t.examples.train, &tokenizer)
                .with_context(|| format!("task {}", t.path.display()))?,
        );
    }
    let vocab = start.config::<MammalConfig>()?.t5_config.vocab_size;
    if let Some((id, token)) = data
        .iter()
        .flat_map(|p| p.encoding.ids.iter().zip(&p.encoding.tokens))
        .find(|(id, _)| **id as usize >= vocab)
    {
        bail!(
            "token {token:?} (id {id}) of a training prompt is outside the model's vocabulary of \
             {vocab}; give a larger --vocab"
        );
    }

    // The run's settings: a resumed run keeps its checkpoint's.
    let config = match &args.resume {
        Some(checkpoint) => {
            let state: TrainerState<MammalTrainConfig> = tessera_core::bundle::parse_json(
                TRAINER_FILE,
                start.file(TRAINER_FILE).with_context(|| {
                    format!("{}: not a training checkpoint", checkpoint.display())
                })?,
            )?;
            eprintln!("resuming at step {} of {}", state.step, state.config.steps);
            state.config
        }
        None => config(&args),
    };
    let writes = ranks.writes();
    ranks.train(
        |device| match args.resume {
            Some(_) => Ok(MammalTrainer::resume(start.clone(), data.clone(), device)?),
            None => Ok(MammalTrainer::new(
                start.clone(),
                data.clone(),
                config.clone(),
                device,
            )?),
        },
        |trainer, collective| Ok(trainer.with_collective(collective)?),
        &args.out,
        args.checkpoint_every,
        "prompts",
    )?;
    if !writes {
        return Ok(());
    }

    // Score every task's held-out rows with the trained weights, and keep the tasks.
    let bundle = bundle_io::read(&args.out.join("model"))?;
    let model = MammalModel::from_bundle(&bundle, &device)?;
    let mut report = Vec::new();
    for t in &tasks {
        let predictions = predict(
            &model,
            &tokenizer,
            &t.spec,
            &t.task,
            &t.examples.test,
            args.eval_batch,
            &device,
        )?;
        let score = t.examples.score(&predictions)?;
        println!("{} (held out): {score}", t.task.name);
        report.push(json!({"task": t.task.name, "file": t.path, "score": score}));
    }
    let info = MammalInfo {
        tasks: tasks.iter().map(|t| t.task.clone()).collect(),
        provenance: json!({
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "tasks": args.task,
            "steps": config.steps,
            "batch_size": config.batch_size,
            "seed": config.seed,
            "optimizer": config.optimizer,
            "held_out": report,
            "made_by": format!("tessera {}", env!("CARGO_PKG_VERSION")),
        }),
    };
    let bundle: Bundle = bundle.with_file(INFO_FILE, serde_json::to_vec_pretty(&info)?);
    bundle_io::write_dir(&bundle, &args.out.join("model"))?;
    bundle_io::write_file_atomic(
        &args.out.join("report.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;
    Ok(())
}

fn config(args: &TrainArgs) -> MammalTrainConfig {
    MammalTrainConfig {
        seed: args.seed,
        batch_size: args.batch_size,
        steps: args.steps,
        optimizer: AdamWConfig {
            lr: args.lr,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: args.weight_decay,
            warmup_steps: args.warmup,
            grad_clip: Some(args.clip),
            schedule: Schedule::Cosine {
                total_steps: args.steps,
                floor: 0.0,
            },
        },
        scalar_loss: match args.scalar_loss {
            ScalarLossArg::Mse => ScalarLoss::Mse,
            ScalarLossArg::Mae => ScalarLoss::Mae,
            ScalarLossArg::Rmse => ScalarLoss::Rmse,
        },
        micro_batch: args.parallel.micro_batch,
    }
}
