//! `tessera rna train`: pretrain (WCED, MLM, WCED + cell types) or fine-tune a model on the
//! train cells of a data set, with checkpoints and resume.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use tessera_core::bundle::Bundle;
use tessera_core::models::bmfm_rna::panel::{GeneMatch, GenePanel};
use tessera_core::models::bmfm_rna::pipeline::read_vocab;
use tessera_core::tokenize::rna::{CellEncoderConfig, Padding, SequenceOrder};
use tessera_core::train::augment::Augment;
use tessera_core::train::collate::{MlmConfig, SequenceConfig};
use tessera_core::train::corpus::{Manifest, StreamConfig};
use tessera_core::train::fit::mix;
use tessera_core::train::objectives::ClassLoss;
use tessera_core::train::optimizer::AdamWConfig;
use tessera_core::train::recipe::{self, ModelSpec};
use tessera_core::train::rna::Cells;
use tessera_core::train::rna::{LabelObjective, MlmObjective, WcedObjective};
use tessera_core::train::{TrainConfig, Trainer};

use super::data::{read_counts, rows_where};
use crate::backend::Backend;
use crate::bundle_io;
use crate::corpus::CorpusFiles;
use crate::parallel::{ParallelArgs, Ranks};

/// What the model learns from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Objective {
    /// Whole-cell expression decoding from the [CLS] state.
    Wced,
    /// Masked expression modelling (value regression + is-zero).
    Mlm,
    /// WCED plus a cell-type head (focal loss, γ = 2).
    WcedMultitask,
    /// A cell-type head on a pretrained model (`--init`), cross-entropy.
    Finetune,
    /// A cell-type head on a pretrained model (`--init`) fitted by logistic regression on its
    /// frozen embeddings (the linear probe, kept as the model's head).
    Probe,
}

#[derive(clap::Args)]
pub struct TrainArgs {
    /// Training cells: .h5ad, 10x folder or CSV, read into memory.
    #[arg(long, required_unless_present = "corpus")]
    pub data: Option<PathBuf>,
    /// Training cells streamed from a corpus folder written by `tessera data shard` (any
    /// size: one shard per stream in memory at a time). Its cells are all training cells.
    #[arg(long, conflicts_with_all = ["data", "split"])]
    pub corpus: Option<PathBuf>,
    /// With --corpus: cells each stream holds to shuffle.
    #[arg(long, default_value_t = 1024, requires = "corpus")]
    pub shuffle_buffer: usize,
    /// With --corpus: streams the corpus is cut into (each rank reads its own; default: the
    /// number of ranks). Runs with the same streams take the same steps on any rank count
    /// that divides it.
    #[arg(long, requires = "corpus")]
    pub streams: Option<usize>,
    /// Output folder: `model/` (the bundle), `checkpoints/step-N/`, `history.json`.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "wced")]
    pub objective: Objective,
    /// `mlm` only: mask gene identities too and predict them (cross-entropy over the
    /// vocabulary, weight 0.7, as the reference's v1 `mlm.multitask`); a new model gets the
    /// `genes_token_scores` decoder for it.
    #[arg(long)]
    pub mask_genes: bool,
    /// Start from this bundle (required for `finetune`).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Continue from a checkpoint folder (`OUT/checkpoints/step-N`).
    #[arg(long, conflicts_with = "init")]
    pub resume: Option<PathBuf>,
    /// Cell annotation with the cell types.
    #[arg(long, default_value = "cell_type")]
    pub label: String,
    /// Cell annotation whose `train` cells are used (`none`: all cells).
    #[arg(long, default_value = "split")]
    pub split: String,
    /// Vocabulary of a new model: the genes expressed in the most training cells.
    #[arg(long, default_value_t = 2048)]
    pub genes: usize,
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    #[arg(long, default_value_t = 512)]
    pub intermediate: usize,
    #[arg(long, default_value_t = 0.1)]
    pub dropout: f64,
    /// Tokens per cell, [CLS] and [SEP] included.
    #[arg(long, default_value_t = 256)]
    pub max_length: usize,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 200)]
    pub warmup: usize,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 0.5)]
    pub grad_clip: f64,
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,
    /// Write a checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Degrade the training inputs as other studies differ — half the cells lose up to 80 % of
    /// their genes, half are thinned to as little as 10 % of their counts — while the targets
    /// stay the full cells' (pretraining, fine-tuning); a probe head also fits on a degraded
    /// copy of every cell.
    #[arg(long)]
    pub augment: bool,
    /// With --augment: the share of cells that lose genes, and (independently) the share
    /// thinned.
    #[arg(long, default_value_t = 0.5, requires = "augment")]
    pub augment_share: f64,
    /// With --augment: the share of cells that (first) keep only their most variable genes —
    /// 15–60 % of the panel, ranked as scanpy's `highly_variable_genes` ranks them — as the
    /// files other studies publish after selecting variable genes.
    #[arg(long, default_value_t = 0.0, requires = "augment")]
    pub augment_variable_share: f64,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    #[command(flatten)]
    pub parallel: ParallelArgs,
}

pub fn run(args: TrainArgs) -> Result<()> {
    for (flag, share) in [
        ("--augment-share", args.augment_share),
        ("--augment-variable-share", args.augment_variable_share),
    ] {
        if !(0.0..=1.0).contains(&share) {
            bail!("{flag} {share}: a share of cells, between 0 and 1");
        }
    }
    let ranks = Ranks::new(&args.parallel, || args.backend.device())?;
    let device = ranks.device().clone();
    if args.mask_genes && args.objective != Objective::Mlm {
        bail!("--mask-genes goes with --objective mlm");
    }
    let source = match (&args.data, &args.corpus) {
        (Some(data), _) => {
            let file = data.display().to_string();
            let matrix = read_counts(data, None)?;
            matrix.require_counts(&file)?;
            let split = (args.split != "none").then_some(args.split.as_str());
            let rows = rows_where(&matrix, &file, split, "train")?;
            Source::File { file, matrix, rows }
        }
        (None, Some(dir)) => Source::Corpus {
            dir: dir.clone(),
            manifest: CorpusFiles::manifest(dir)?,
        },
        (None, None) => bail!("give --data or --corpus"),
    };
    let classes = source.classes(&args.label)?;
    if args.objective == Objective::Probe {
        let (Source::File { file, matrix, rows }, Ranks::Alone(_)) = (&source, &ranks) else {
            bail!("--objective probe fits on one device, on cells in memory (--data)");
        };
        return probe(&args, file, matrix, rows, &classes, &device);
    }
    let (bundle, resume) = match &args.resume {
        Some(checkpoint) => (bundle_io::read(checkpoint)?, true),
        None => (initial_bundle(&args, &source, &classes, &device)?, false),
    };
    let cells = match &source {
        Source::File { file, matrix, rows } => {
            Training::Memory(train_data(&bundle, file, matrix, rows, &args.label)?)
        }
        Source::Corpus { dir, .. } => {
            let vocab = read_vocab(bundle.files())?;
            Training::Corpus(CorpusFiles::open(
                dir,
                &vocab,
                heads(&bundle, &args.label)?,
            )?)
        }
    };
    let mut config = config(&args);
    if let Training::Corpus(files) = &cells {
        let manifest = &files.manifest;
        config.stream = Some(StreamConfig {
            streams: args.streams.unwrap_or(ranks.world()),
            shuffle_buffer: args.shuffle_buffer,
        });
        if ranks.writes() {
            let nonzeros: u64 = manifest.shards.iter().map(|s| s.nonzeros).sum();
            eprintln!(
                "streaming {} cells in {} shards ({:.0} MB of counts; each stream holds one \
                 shard and its buffer)",
                manifest.cells(),
                manifest.shards.len(),
                nonzeros as f64 * 8e-6
            );
        }
    }
    // Said once, by the process that writes, however many ranks it holds.
    let announce = std::sync::Once::new();
    let verbose = ranks.writes();
    ranks.train(
        |device| {
            let cells = match &cells {
                Training::Memory(data) => Cells::from(data.clone()),
                Training::Corpus(files) => Cells::from(files.corpus()),
            };
            if !resume {
                return Ok(Trainer::new(bundle.clone(), cells, config.clone(), device)?);
            }
            let trainer = Trainer::resume(bundle.clone(), cells, device)?;
            if verbose {
                announce.call_once(|| {
                    let (step, steps) = (trainer.state.step, trainer.state.config.steps);
                    eprintln!("resuming at step {step} of {steps}");
                });
            }
            Ok(trainer)
        },
        |trainer, collective| Ok(trainer.with_collective(collective)?),
        &args.out,
        args.checkpoint_every,
        "cells",
    )
}

/// Where `rna train`'s cells come from.
enum Source {
    /// One file, read whole; its training rows.
    File {
        file: String,
        matrix: tessera_core::data::CountMatrix,
        rows: Vec<usize>,
    },
    /// A sharded corpus.
    Corpus { dir: PathBuf, manifest: Manifest },
}

impl Source {
    /// The classes of `label` among the training cells. A file must have the column; a corpus
    /// keeps only the columns it was sharded with (empty: only a new label head needs them).
    fn classes(&self, label: &str) -> Result<Vec<String>> {
        Ok(match self {
            Source::File { file, matrix, rows } => {
                let types = matrix.annotation(file, label)?;
                let mut classes: Vec<String> = rows.iter().map(|&r| types[r].clone()).collect();
                classes.sort();
                classes.dedup();
                classes
            }
            Source::Corpus { manifest, .. } => {
                manifest.labels.get(label).cloned().unwrap_or_default()
            }
        })
    }

    /// The `n` genes expressed in the most training cells.
    fn genes(&self, n: usize) -> Vec<String> {
        match self {
            Source::File { matrix, rows, .. } => recipe::select_genes(matrix, rows, n),
            Source::Corpus { manifest, .. } => {
                recipe::top_genes(&manifest.genes, &manifest.cells_with, n)
            }
        }
    }

    fn describe(&self) -> (String, usize) {
        match self {
            Source::File { file, rows, .. } => (file.clone(), rows.len()),
            Source::Corpus { dir, manifest } => (dir.display().to_string(), manifest.cells()),
        }
    }
}

/// The training cells, ready for the trainers of every rank.
enum Training {
    Memory(tessera_core::train::TrainData),
    Corpus(CorpusFiles),
}

/// The degradation `--augment` asks for.
fn augment(args: &TrainArgs) -> Augment {
    Augment {
        panel_probability: args.augment_share,
        depth_probability: args.augment_share,
        variable_probability: args.augment_variable_share,
        ..Augment::default()
    }
}

fn config(args: &TrainArgs) -> TrainConfig {
    let finetune = args.objective == Objective::Finetune;
    TrainConfig {
        seed: args.seed,
        batch_size: args.batch_size,
        steps: args.steps,
        optimizer: AdamWConfig {
            lr: args.lr,
            warmup_steps: args.warmup,
            weight_decay: args.weight_decay,
            grad_clip: (args.grad_clip > 0.0).then_some(args.grad_clip),
            ..AdamWConfig::default()
        },
        sequence: if finetune {
            // Exactly as at inference: expressed genes, highest counts first.
            SequenceConfig {
                expressed_sample_ratio: 1.0,
                interleave_zero_ratio: None,
                sorted_expressed: true,
            }
        } else {
            SequenceConfig::default()
        },
        mlm: (args.objective == Objective::Mlm).then(|| MlmObjective {
            masking: MlmConfig {
                mask_genes: args.mask_genes,
                ..MlmConfig::default()
            },
            ..MlmObjective::default()
        }),
        wced: matches!(args.objective, Objective::Wced | Objective::WcedMultitask)
            .then(WcedObjective::default),
        augment: args.augment.then(|| augment(args)),
        micro_batch: args.parallel.micro_batch,
        stream: None,
        labels: match args.objective {
            Objective::WcedMultitask => vec![LabelObjective {
                column: args.label.clone(),
                loss: ClassLoss::Focal { gamma: 2.0 },
                weight: 1.0,
            }],
            Objective::Finetune => vec![LabelObjective {
                column: args.label.clone(),
                loss: ClassLoss::CrossEntropy,
                weight: 1.0,
            }],
            _ => Vec::new(),
        },
    }
}

/// The `--init` model. A checkpoint folder also holds the run's optimizer and trainer state; a
/// new run starts its own, and the model it writes must not carry the old one.
fn read_init(path: &std::path::Path) -> Result<Bundle> {
    use tessera_core::train::fit::{OPTIMIZER_FILE, TRAINER_FILE};
    Ok(bundle_io::read(path)?
        .without_file(OPTIMIZER_FILE)
        .without_file(TRAINER_FILE))
}

/// Records this run in the `--init` model's provenance (`provenance.continued`, one entry per
/// run), so a bundle trained in stages says how each stage was made.
fn with_continued_provenance(bundle: Bundle, args: &TrainArgs) -> Result<Bundle> {
    use tessera_core::models::bmfm_rna::pipeline::INFO_FILE;
    let Ok(bytes) = bundle.file(INFO_FILE) else {
        return Ok(bundle);
    };
    let mut info: serde_json::Value = serde_json::from_slice(bytes).context("tessera.json")?;
    let stage = serde_json::json!({
        "objective": format!("{:?}", args.objective),
        "steps": args.steps,
        "lr": args.lr,
        "seed": args.seed,
        "augment_share": args.augment.then_some(args.augment_share),
        "augment_variable_share": args.augment.then_some(args.augment_variable_share),
    });
    if !info["provenance"].is_object() {
        info["provenance"] = serde_json::json!({});
    }
    match info["provenance"]["continued"].as_array_mut() {
        Some(stages) => stages.push(stage),
        None => info["provenance"]["continued"] = serde_json::json!([stage]),
    }
    Ok(bundle.with_file(INFO_FILE, serde_json::to_vec_pretty(&info)?))
}

/// A new model for a pretraining objective, or `--init` (with a head for fine-tuning).
fn initial_bundle(
    args: &TrainArgs,
    source: &Source,
    classes: &[String],
    device: &burn::tensor::Device,
) -> Result<Bundle> {
    let needs_classes = matches!(
        args.objective,
        Objective::Finetune | Objective::WcedMultitask
    );
    if needs_classes && classes.is_empty() {
        bail!(
            "the training cells have no `{}` classes for a label head (--label)",
            args.label
        );
    }
    if let Some(init) = &args.init {
        let bundle = with_continued_provenance(read_init(init)?, args)?;
        return Ok(match args.objective {
            Objective::Finetune | Objective::WcedMultitask => {
                recipe::with_label_head(&bundle, &args.label, classes, args.seed, None, device)?
            }
            _ => bundle,
        });
    }
    if args.objective == Objective::Finetune {
        bail!("--objective finetune needs a pretrained model (--init)");
    }
    let spec = ModelSpec {
        hidden: args.hidden,
        layers: args.layers,
        heads: args.heads,
        intermediate: args.intermediate,
        dropout: args.dropout,
        wced: matches!(args.objective, Objective::Wced | Objective::WcedMultitask),
        mlm: args.objective == Objective::Mlm,
        mask_genes: args.objective == Objective::Mlm && args.mask_genes,
        labels: if args.objective == Objective::WcedMultitask {
            vec![(args.label.clone(), classes.to_vec(), None)]
        } else {
            Vec::new()
        },
    };
    let genes = source.genes(args.genes);
    let (data, train_cells) = source.describe();
    // Inference reads the expressed genes, highest counts first (deterministic).
    let mut encoder = CellEncoderConfig::new(args.max_length);
    encoder.order = SequenceOrder::Sorted;
    encoder.padding = Padding::None;
    let provenance = serde_json::json!({
        "data": data,
        "objective": format!("{:?}", args.objective),
        "train_cells": train_cells,
        "seed": args.seed,
        "steps": args.steps,
        "made_by": format!("tessera {}", env!("CARGO_PKG_VERSION")),
    });
    Ok(recipe::new_bundle(
        &spec,
        &genes,
        encoder,
        Some(provenance),
        args.seed,
        device,
    )?)
}

fn train_data(
    bundle: &Bundle,
    file: &str,
    matrix: &tessera_core::data::CountMatrix,
    rows: &[usize],
    label: &str,
) -> Result<tessera_core::train::TrainData> {
    let vocab = read_vocab(bundle.files())?;
    let panel = GenePanel::new(file, &matrix.genes, &vocab)?;
    Ok(recipe::train_data(
        file,
        matrix,
        panel,
        rows,
        &heads(bundle, label)?,
    )?)
}

/// The model's label heads: each one's column and class names (ids follow the bundle's names).
fn heads(bundle: &Bundle, label: &str) -> Result<Vec<(String, Vec<String>)>> {
    let info: tessera_core::models::bmfm_rna::RnaBundleInfo = bundle
        .file(tessera_core::models::bmfm_rna::pipeline::INFO_FILE)
        .ok()
        .map(serde_json::from_slice)
        .transpose()
        .context("tessera.json")?
        .unwrap_or_else(tessera_core::models::bmfm_rna::RnaBundleInfo::reference_defaults);
    // Label ids follow the bundle's class names for each of its heads.
    let config = bundle.config_json()?;
    let heads: Vec<(String, Vec<String>)> = config
        .get("label_columns")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|h| h.get("label_column_name").and_then(|n| n.as_str()))
        .map(|column| {
            let names = info.labels.get(column).cloned().unwrap_or_default();
            (column.to_string(), names)
        })
        .collect();
    if heads
        .iter()
        .any(|(c, names)| c == label && names.is_empty())
    {
        bail!("the model's `{label}` head has no class names in tessera.json");
    }
    Ok(heads)
}

/// Fits the linear-probe head and writes `OUT/model`.
fn probe(
    args: &TrainArgs,
    file: &str,
    matrix: &tessera_core::data::CountMatrix,
    rows: &[usize],
    classes: &[String],
    device: &burn::tensor::Device,
) -> Result<()> {
    use tessera_core::eval::logistic::LogisticRegression;
    use tessera_core::models::bmfm_rna::Pooling;
    let Some(init) = &args.init else {
        bail!("--objective probe needs a pretrained model (--init)");
    };
    let bundle = read_init(init)?;
    let pipeline = tessera_core::models::bmfm_rna::RnaPipeline::from_bundle(&bundle, device)?;
    let decode_from = match pipeline.info.pooling {
        Pooling::FirstToken => 0,
        Pooling::Position(k) => k,
        other => bail!("a probe head reads one position; this model pools with {other:?}"),
    };
    let embed = |matrix: &tessera_core::data::CountMatrix, rows: &[usize]| {
        super::annotate::run(
            &pipeline,
            file,
            matrix,
            &GeneMatch {
                min_genes: Some(0),
                ..Default::default()
            },
            rows,
            args.batch_size,
            device,
        )
    };
    let mut results = embed(matrix, rows)?;
    let types = matrix.annotation(file, &args.label)?;
    let mut y: Vec<usize> = rows
        .iter()
        .map(|&r| {
            classes
                .iter()
                .position(|c| *c == types[r])
                .expect("train class")
        })
        .collect();
    let mut cells = rows.len();
    if args.augment {
        // Each cell once more, degraded (seeded): the head learns what thinner data looks like.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(args.seed, 0, 0x9b0be));
        let degraded = augment(args).apply_to_rows(matrix, rows, &mut rng);
        let all: Vec<usize> = (0..degraded.n_cells()).collect();
        results
            .embeddings
            .extend(embed(&degraded, &all)?.embeddings);
        y.extend_from_within(..);
        cells *= 2;
    }
    let x = nalgebra::DMatrix::from_row_slice(cells, results.dim, &results.embeddings);
    // Converged (L-BFGS) at scikit-learn's default strength, C = 1.
    let fitted = LogisticRegression::fit_converged(&x, &y, classes.len(), 1.0 / cells as f32);
    // Scored on the plain cells only.
    let (x, y) = (x.rows(0, rows.len()).into_owned(), y[..rows.len()].to_vec());
    let train_accuracy = tessera_core::eval::metrics::accuracy(&y, &fitted.predict(&x));
    let (weight, bias) = fitted.as_linear();
    let head = recipe::LinearHead {
        decode_from,
        weight,
        bias,
    };
    let out =
        recipe::with_label_head(&bundle, &args.label, classes, args.seed, Some(head), device)?;
    // Say how the head was made beside how the body was.
    let info_file = tessera_core::models::bmfm_rna::pipeline::INFO_FILE;
    let mut info: serde_json::Value = serde_json::from_slice(out.file(info_file)?)?;
    info["provenance"]["head"] = serde_json::json!({
        "label": args.label,
        "kind": "linear probe: logistic regression (L-BFGS to convergence, C = 1) on frozen embeddings",
        "train_cells": rows.len(),
        "augmented": args.augment,
        "augment_share": args.augment.then_some(args.augment_share),
        "augment_variable_share": args.augment.then_some(args.augment_variable_share),
        "train_accuracy": train_accuracy,
    });
    let out = out.with_file(info_file, serde_json::to_vec_pretty(&info)?);
    bundle_io::write_dir(&out, &args.out.join("model"))?;
    eprintln!(
        "probe head on {} cells (train accuracy {train_accuracy:.4}) → {}",
        rows.len(),
        args.out.join("model").display()
    );
    Ok(())
}
