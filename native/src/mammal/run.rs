//! `tessera mammal run`: prompts (one, or a file with one per line) through a model, printing
//! what each became — generated text, class probabilities, or a regression value.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
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
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// The precision the model computes in: f32, or f16 on a backend with f16 arithmetic.
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
}

pub fn run(args: RunArgs) -> Result<()> {
    let device = args.backend.device_in(args.precision)?;
    let bundle = bundle_io::read_for(&args.model, args.backend)?;
    let model = MammalModel::from_bundle(&bundle, &device)
        .with_context(|| format!("model {}", args.model.display()))?;
    let tokenizer = match &args.tokenizer {
        Some(dir) => tokenize::load(dir)?,
        None => ModularTokenizer::from_folder(bundle.files()).with_context(|| {
            format!("{}: tokenizer/ (or give --tokenizer)", args.model.display())
        })?,
    };
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
        Some(name) => Some(MammalInfo::from_bundle(&bundle)?.task(name)?.clone()),
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
    // Class names: the task's labels, else the class tokens.
    let class_names: Vec<String> = match &bundle_task {
        Some(BundleTask {
            readout: TaskReadout::Classify { classes },
            ..
        }) => classes.iter().map(|(label, _)| label.clone()).collect(),
        _ => args
            .classes
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect(),
    };
    let encodings = prompts
        .iter()
        .enumerate()
        .map(|(i, prompt)| {
            tokenizer
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
    let answers = pollster::block_on(answer(&model, &tokenizer, &encodings, &task, &device))?;
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
