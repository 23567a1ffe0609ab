//! `tessera game train`: trains the attack agent for one definition (double DQN), with progress,
//! checkpoints, resume and a hot start from an agent trained on smaller boards.

use std::path::PathBuf;

use anyhow::{Context, Result};
use tessera_core::game::Definition;
use tessera_core::game::qnet::QNetConfig;
use tessera_core::game::random_graphs::GraphMix;
use tessera_core::train::dqn::{DqnConfig, DqnTrainer, Targets};

use crate::backend::Backend;
use crate::bundle_io;

#[derive(clap::Args)]
pub struct TrainArgs {
    /// network, flow (left–right) or noodle (d = 2).
    #[arg(long)]
    pub definition: String,
    /// Start from the paper's settings (n = 20, F = 64, depth 10, 10⁶ steps of 128: for a GPU)
    /// instead of the 2-core ones (n = 10, F = 16, depth 4, 20,000 steps of 64).
    #[arg(long)]
    pub reference: bool,
    /// Train the graph agent (a message-passing net that plays any graph) on a mix of lattices
    /// and Erdős–Rényi, Barabási–Albert and random geometric graphs, instead of the lattice agent.
    #[arg(long)]
    pub graphs: bool,
    /// With --graphs: the random graphs' node counts, MIN-MAX (default 20-100).
    #[arg(long, requires = "graphs")]
    pub nodes: Option<String>,
    /// Board side of the training and validation lattices; several (`10,20`) mix the sizes,
    /// as many boards of each (lattice agent only).
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub size: Option<Vec<usize>>,
    /// Occupation probability.
    #[arg(long)]
    pub p: Option<f64>,
    /// Gradient steps (the exploration temperature decays over the first tenth). With --resume:
    /// the run's new end, its other settings and temperature schedule kept (train longer).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Channels F of the net.
    #[arg(long)]
    pub features: Option<usize>,
    /// Residual blocks.
    #[arg(long)]
    pub depth: Option<usize>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    /// What each move's value is regressed on: double-dqn (the spec's bootstrapped targets) or,
    /// for flow, flow-optimum (the played move's exact value, a minimum cut per board) or
    /// flow-optimum-all (on lattices: every Alive site's exact value, two searches a board).
    #[arg(long, value_parser = ["double-dqn", "flow-optimum", "flow-optimum-all"])]
    pub targets: Option<String>,
    /// Greedy validation on the held-out boards every N steps (the best weights are kept).
    #[arg(long)]
    pub validate_every: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Hot start: an agent bundle (trained on any board size) to start from.
    #[arg(long, conflicts_with = "resume")]
    pub init: Option<PathBuf>,
    /// Continue from a checkpoint folder (OUT/checkpoints/step-N); its settings are kept.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Output folder: model/ (the best-validated agent), checkpoints/, history.json.
    #[arg(long)]
    pub out: PathBuf,
    /// Write a checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 2000)]
    pub checkpoint_every: usize,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
}

fn config(args: &TrainArgs) -> Result<DqnConfig> {
    let definition = Definition::parse(&args.definition)?;
    let mut config = if args.reference {
        DqnConfig::reference(definition)
    } else {
        DqnConfig::cpu(definition)
    };
    if let Some(steps) = args.steps {
        config = config.with_steps(steps);
    }
    if let Some(sizes) = &args.size {
        config.size = sizes[0];
        config.mixed_sizes = sizes[1..].to_vec();
    }
    config.p = args.p.unwrap_or(config.p);
    config.net = QNetConfig::new(
        args.features.unwrap_or(config.net.features),
        args.depth.unwrap_or(config.net.depth),
    );
    config.batch = args.batch.unwrap_or(config.batch);
    config.lr = args.lr.unwrap_or(config.lr);
    config.validate_every = args.validate_every.unwrap_or(config.validate_every);
    config.seed = args.seed;
    if let Some(targets) = &args.targets {
        config.targets = match targets.as_str() {
            "flow-optimum" => Targets::FlowOptimum,
            "flow-optimum-all" => Targets::FlowOptimumAll,
            _ => Targets::DoubleDqn,
        };
    }
    if args.graphs {
        let mut mix = GraphMix::default();
        if let Some(range) = &args.nodes {
            let (min, max) = range
                .split_once('-')
                .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
                .with_context(|| format!("--nodes {range:?}: expected MIN-MAX, e.g. 20-100"))?;
            (mix.min_nodes, mix.max_nodes) = (min, max);
        }
        config.graphs = Some(mix);
    }
    Ok(config)
}

pub fn train(args: TrainArgs) -> Result<()> {
    let device = args.backend.device()?;
    let mut trainer = match &args.resume {
        Some(dir) => {
            let mut trainer = DqnTrainer::resume(&bundle_io::read(dir)?, &device)?;
            if let Some(steps) = args.steps {
                trainer.extend(steps)?;
            }
            let (step, total) = tessera_core::train::Fit::position(&trainer);
            eprintln!("resuming at step {step} of {total}");
            trainer
        }
        None => {
            let config = config(&args)?;
            let init = args.init.as_deref().map(bundle_io::read).transpose()?;
            let trainer = DqnTrainer::new(config, init.as_ref(), &device);
            match &args.init {
                Some(path) => {
                    trainer.with_context(|| format!("hot start from {}", path.display()))?
                }
                None => trainer?,
            }
        }
    };
    let c = trainer.config();
    let boards = match &c.graphs {
        None => {
            let sides: Vec<String> = c.sides().iter().map(|n| format!("{n}×{n}")).collect();
            format!("{} boards at p = {}", sides.join(" and "), c.p)
        }
        Some(mix) => format!(
            "{}×{} lattices at p = {} and random graphs of {}–{} nodes",
            c.size, c.size, c.p, mix.min_nodes, mix.max_nodes
        ),
    };
    eprintln!(
        "training a {} {} agent: {boards}, net F = {} depth {}, {} steps of {}, seed {}",
        c.definition.name(),
        c.architecture().name(),
        c.net.features,
        c.net.depth,
        c.steps,
        c.batch,
        c.seed
    );
    crate::fit::run(
        &mut trainer,
        &args.out,
        args.checkpoint_every,
        "transitions",
    )?;
    if let (_, Some(best)) = trainer.validations() {
        eprintln!(
            "best greedy validation: {:.2} moves at step {} (model/ holds those weights)",
            best.moves, best.step
        );
    }
    Ok(())
}
