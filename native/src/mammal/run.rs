//! `tessera mammal run`: prompts (one, or a file with one per line) through a model, printing
//! what each became — generated text, class probabilities, or a regression value.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use tessera_core::bundle::Bundle;
use tessera_core::models::mammal::MammalModel;
use tessera_core::models::mammal::finetune::{BundleTask, MammalInfo, Readout as TaskReadout};
use tessera_core::models::mammal::task::{Answer, Task, answer};
use tessera_core::precision::Precision;
use tessera_core::tokenize::mammal::{EncodeOptions, Encoding, ModularTokenizer};

use super::tokenize;
use crate::backend::Backend;
use crate::bundle_io;

/// What to read from the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Readout {
    /// The generated text.
    Generate,
    /// Class probabilities at generated position 1 (`--classes`).
    Classify,
    /// The scalar head at encoder position 0 (`--mean`, `--std` undo the normalisation).
    Regress,
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// Model folder or .tar (`config.json` + `model.safetensors`, tokenizer in `tokenizer/`).
    #[arg(long)]
    pub model: PathBuf,
    /// Tokenizer folder, when the model has none inside.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    #[arg(long, required_unless_present_any = ["prompts", "task"], conflicts_with = "prompts")]
    pub prompt: Option<String>,
    /// A text file with one prompt per line (with `--task`: one input per line).
    #[arg(long)]
    pub prompts: Option<PathBuf>,
    /// A task the model was fine-tuned for (its `tessera.json`): the prompt is the task's, its
    /// holes filled by `--input`, and the readout is the task's (`--readout` is ignored).
    #[arg(long, conflicts_with = "prompt")]
    pub task: Option<String>,
    /// A task input, `NAME=VALUE`, or just the value when the task has one hole (a SMILES).
    #[arg(long, requires = "task")]
    pub input: Vec<String>,
    #[arg(long, value_enum, default_value = "generate")]
    pub readout: Readout,
    /// Class tokens for `classify`, comma-separated.
    #[arg(long, default_value = "<0>,<1>")]
    pub classes: String,
    #[arg(long, default_value_t = 0.0)]
    pub mean: f64,
    #[arg(long, default_value_t = 1.0)]
    pub std: f64,
    #[arg(long, default_value_t = 5)]
    pub max_new_tokens: usize,
    #[arg(long, default_value_t = 1)]
    pub beams: usize,
    /// Show each prompt's tokens too.
    #[arg(long)]
    pub show_tokens: bool,
    /// One JSON object per prompt (JSON Lines): `prompt`, `tokens`, `answer` (`kind` text,
    /// classes or value, as the browser API returns it) and `classes` (the class names).
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// The precision the model computes in: f32, or f16 on a backend with f16 arithmetic.
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
}

pub fn run(args: RunArgs) -> Result<()> {
    let device = args.backend.device_in(args.precision)?;
    let loaded = load(
        &args.model,
        args.tokenizer.as_deref(),
        args.backend,
        &device,
    )?;
    let bundle = &loaded.bundle;
    let lines: Option<Vec<String>> = match &args.prompts {
        Some(file) => Some(
            std::fs::read_to_string(file)
                .with_context(|| format!("{}: cannot read", file.display()))?
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        None => None,
    };
    let bundle_task = match &args.task {
        Some(name) => Some(MammalInfo::from_bundle(bundle)?.task(name)?.clone()),
        None => None,
    };
    let prompts: Vec<String> = match (&args.prompt, lines, &bundle_task) {
        (Some(prompt), _, _) => vec![prompt.clone()],
        (None, Some(lines), None) => lines,
        (None, lines, Some(task)) => {
            let given: Vec<(String, String)> = args
                .input
                .iter()
                .map(|i| match i.split_once('=') {
                    Some((name, value)) if task.inputs.iter().any(|n| n == name) => {
                        (name.to_owned(), value.to_owned())
                    }
                    _ => (task.inputs.first().cloned().unwrap_or_default(), i.clone()),
                })
                .collect();
            let rows: Vec<Vec<(String, String)>> = match lines {
                Some(lines) => lines
                    .into_iter()
                    .map(|line| {
                        let mut row = given.clone();
                        row.push((task.inputs.first().cloned().unwrap_or_default(), line));
                        row
                    })
                    .collect(),
                None => vec![given],
            };
            rows.iter()
                .map(|row| task.fill(row))
                .collect::<Result<_, _>>()?
        }
        (None, None, None) => bail!("give --prompt, --prompts or --task"),
    };
    let task = match (&bundle_task, args.readout) {
        (Some(task), _) => task.task(),
        (None, readout) => match readout {
            Readout::Generate => Task::Generate {
                max_new_tokens: args.max_new_tokens,
                num_beams: args.beams,
            },
            Readout::Classify => Task::Classify {
                classes: args
                    .classes
                    .split(',')
                    .map(|c| c.trim().to_owned())
                    .collect(),
            },
            Readout::Regress => Task::Regress {
                mean: args.mean,
                std: args.std,
            },
        },
    };
    let class_names = class_names(bundle_task.as_ref(), &task);
    let (encodings, answers) = loaded.answer(&prompts, &task, &device)?;
    if args.json {
        for ((prompt, encoding), answer) in prompts.iter().zip(&encodings).zip(&answers) {
            println!("{}", answer_json(prompt, encoding, answer, &class_names));
        }
        return Ok(());
    }
    for (i, (encoding, answer)) in encodings.iter().zip(&answers).enumerate() {
        if args.show_tokens || prompts.len() > 1 {
            println!("prompt {}: {} tokens", i + 1, encoding.len());
        }
        if args.show_tokens {
            println!("  tokens: {}", encoding.tokens.join(" "));
        }
        match answer {
            Answer::Text { text, score, ids } => {
                match score {
                    Some(score) => println!("generated: {text} (score {score:.4})"),
                    None => println!("generated: {text}"),
                }
                if args.show_tokens {
                    let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
                    println!("  generated ids: {}", ids.join(" "));
                }
            }
            Answer::Classes {
                text,
                probabilities,
                predicted,
            } => {
                println!("generated: {text}");
                for (class, p) in class_names.iter().zip(probabilities) {
                    println!("  {class:<16} {p:.4}");
                }
                println!("predicted: {}", class_names[*predicted]);
            }
            Answer::Value { value, raw } => println!("value: {value:.6} (head output {raw:.6})"),
        }
    }
    Ok(())
}

/// A MAMMAL bundle loaded: the model, its tokenizer and the bundle (for its tasks).
pub struct Loaded {
    pub bundle: Bundle,
    pub model: MammalModel,
    pub tokenizer: ModularTokenizer,
}

/// Reads the bundle at `model` onto `device`, with the tokenizer in it or in `tokenizer`.
pub fn load(
    model: &Path,
    tokenizer: Option<&Path>,
    backend: Backend,
    device: &Device,
) -> Result<Loaded> {
    let bundle = bundle_io::read_for(model, backend)?;
    let net = MammalModel::from_bundle(&bundle, device)
        .with_context(|| format!("model {}", model.display()))?;
    let tokenizer = match tokenizer {
        Some(dir) => tokenize::load(dir)?,
        None => ModularTokenizer::from_folder(bundle.files())
            .with_context(|| format!("{}: tokenizer/ (or give --tokenizer)", model.display()))?,
    };
    Ok(Loaded {
        bundle,
        model: net,
        tokenizer,
    })
}

impl Loaded {
    /// Every prompt tokenized (its warnings said on stderr) and answered as `task` asks.
    pub fn answer(
        &self,
        prompts: &[String],
        task: &Task,
        device: &Device,
    ) -> Result<(Vec<Encoding>, Vec<Answer>)> {
        let encodings = prompts
            .iter()
            .enumerate()
            .map(|(i, prompt)| {
                self.tokenizer
                    .encode(prompt, EncodeOptions::default())
                    .with_context(|| format!("prompt {}", i + 1))
            })
            .collect::<Result<Vec<Encoding>>>()?;
        for (i, encoding) in encodings.iter().enumerate() {
            for warning in &encoding.warnings {
                let warning = crate::terminal::printable(&warning.to_string()).into_owned();
                eprintln!("prompt {}: warning: {warning}", i + 1);
            }
        }
        let answers = pollster::block_on(answer(
            &self.model,
            &self.tokenizer,
            &encodings,
            task,
            device,
        ))?;
        Ok((encodings, answers))
    }
}

/// One prompt's answer as `mammal run --json` prints it.
pub fn answer_json(
    prompt: &str,
    encoding: &Encoding,
    answer: &Answer,
    class_names: &[String],
) -> serde_json::Value {
    let classes = matches!(answer, Answer::Classes { .. }).then_some(class_names);
    serde_json::json!({
        "prompt": prompt,
        "tokens": encoding.len(),
        "answer": answer,
        "classes": classes,
    })
}

/// The names of `task`'s classes: a bundle task's labels, else the class tokens.
pub fn class_names(bundle_task: Option<&BundleTask>, task: &Task) -> Vec<String> {
    match (bundle_task, task) {
        (
            Some(BundleTask {
                readout: TaskReadout::Classify { classes },
                ..
            }),
            _,
        ) => classes.iter().map(|(label, _)| label.clone()).collect(),
        (_, Task::Classify { classes }) => classes.clone(),
        _ => Vec::new(),
    }
}
