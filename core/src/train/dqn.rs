//! Training the game agent (../shared/specs/lattice-game.md §5): double DQN over a replay memory,
//! a target net copied every few steps, Boltzmann exploration, Huber loss, clipped Adam — the
//! convolutional agent on lattices of one size, or the graph agent on a mix of random graphs.
//!
//! Every random choice (boards, symmetries, moves, samples) is drawn from the seed and a counter,
//! so a resumed run is the same run; the weights with the best greedy validation score are kept.
//! Written here: burn 0.22 has no RL building blocks, and the burn RL crates (rl4burn,
//! thrust-rl) are written for the generic-backend API before 0.22 and checkpoint no replay
//! memory or sampling state.

use std::sync::Arc;

use burn::nn::loss::{HuberLossConfig, Reduction};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::fit::{self, Fit, StepLog, TrainError, TrainerState, mix};
use super::optimizer::{AdamW, AdamWConfig, Schedule};
use super::replay::{REPLAY_FILE, Replay, Transition};
use crate::bundle::{Bundle, BundleError};
use crate::game::agent::{AGENT_MODEL, Agent, AgentInfo, move_scale, play_greedy};
use crate::game::board::{rng, unit};
use crate::game::gnn::GraphState;
use crate::game::optimal::{flow_critical_sites, flow_optimum};
use crate::game::qnet::{QNetConfig, masked_argmax};
use crate::game::random_graphs::{GraphMix, Start};
use crate::game::rules::draw_boards;
use crate::game::topology::Topology;
use crate::game::{Architecture, Board, Definition, Game, Net, Site};

/// Checkpoint files besides the common ones.
pub const TARGET_FILE: &str = "target.safetensors";
pub const BEST_FILE: &str = "best.safetensors";

// Random streams (see `fit::mix`).
const TRAIN_BOARDS: u64 = 0x7472;
const VALIDATION_BOARDS: u64 = 0x7661;
const GAMES: u64 = 0x6761;
const SAMPLES: u64 = 0x7361;

/// Boltzmann temperature over gradient steps: `end + (start − end)·exp(−step/decay)`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Temperature {
    pub start: f64,
    pub end: f64,
    pub decay: f64,
}

impl Temperature {
    pub fn at(&self, step: usize) -> f64 {
        self.end + (self.start - self.end) * (-(step as f64) / self.decay.max(1e-9)).exp()
    }
}

/// A training run's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DqnConfig {
    pub definition: Definition,
    /// Board side and occupation probability of the training and validation lattices.
    pub size: usize,
    pub p: f64,
    /// Further lattice sides whose boards join `size`'s, the same number of each (the
    /// convolutional net plays any side): training on mixed sizes. Empty: `size` alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mixed_sizes: Vec<usize>,
    /// A graph agent (the message-passing net) trained on these random graphs besides the
    /// lattices; `None`: the convolutional net on lattices only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graphs: Option<GraphMix>,
    pub net: QNetConfig,
    /// Gradient steps.
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    /// Maximum norm of all gradients together.
    pub grad_clip: f64,
    pub gamma: f64,
    /// The target net is copied from the online net every this many steps.
    pub target_every: usize,
    /// Replay capacity in transitions.
    pub replay: usize,
    /// Uniformly random games played before the first step.
    pub burn_in_games: usize,
    /// Every `round_steps` steps, `round_games` games are played with Boltzmann exploration.
    pub round_steps: usize,
    pub round_games: usize,
    /// The fixed set of training boards (each game takes one, turned by a random symmetry).
    pub train_boards: usize,
    /// Held-out boards played greedily every `validate_every` steps.
    pub validation_boards: usize,
    pub validate_every: usize,
    pub temperature: Temperature,
    /// What a move's value is regressed on.
    #[serde(default)]
    pub targets: Targets,
    pub seed: u64,
}

/// The regression targets of a training step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Targets {
    /// Double DQN's: the move's reward plus the discounted target net's value of the next board
    /// at the online net's choice (the spec's).
    #[default]
    DoubleDqn,
    /// `flow` only: the move's reward plus the discounted value of the next board played
    /// optimally, its minimum cut (exact at any size, by duality): Q* itself, so the net learns
    /// the optimum's values instead of bootstrapping its own.
    FlowOptimum,
    /// `flow` on lattices: every Alive site of each sampled board regressed on its exact value,
    /// not only the move that was played (each site's minimum cut after it is attacked, from two
    /// searches a board): a board's every value, so the net learns which sites lie on a minimum
    /// cut from hundreds of targets a board instead of one.
    FlowOptimumAll,
}

impl Targets {
    pub fn name(&self) -> &'static str {
        match self {
            Self::DoubleDqn => "double-dqn",
            Self::FlowOptimum => "flow-optimum",
            Self::FlowOptimumAll => "flow-optimum-all",
        }
    }
}

impl DqnConfig {
    /// The paper's settings (n = 20, F = 64, depth 10, 10⁶ steps): for a GPU.
    pub fn reference(definition: Definition) -> Self {
        Self {
            definition,
            size: 20,
            p: 0.8,
            mixed_sizes: Vec::new(),
            graphs: None,
            net: QNetConfig::new(64, 10),
            steps: 1_000_000,
            batch: 128,
            lr: 1e-4,
            grad_clip: 1.0,
            gamma: 0.95,
            target_every: 1000,
            replay: 1_000_000,
            burn_in_games: 100,
            round_steps: 100,
            round_games: 10,
            train_boards: 10_000,
            validation_boards: 100,
            validate_every: 1000,
            temperature: Temperature {
                start: 100.0,
                end: 0.01,
                decay: 1e5,
            },
            targets: Targets::DoubleDqn,
            seed: 0,
        }
    }

    /// Scaled down for two CPU cores: n = 10, F = 16, depth 4, 20,000 steps of 64, a 10× larger
    /// learning rate, and the target copy, validation and temperature decay shortened with them.
    pub fn cpu(definition: Definition) -> Self {
        let mut config = Self::reference(definition);
        config.size = 10;
        config.net = QNetConfig::new(16, 4);
        config.batch = 64;
        config.lr = 1e-3;
        config.replay = 50_000;
        config.target_every = 500;
        config.validate_every = 500;
        config.with_steps(20_000)
    }

    /// `steps` gradient steps, the temperature decaying over the first tenth as in the reference.
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps;
        self.temperature.decay = (steps as f64 / 10.0).max(1.0);
        self
    }

    /// Every lattice side trained on: `size`, then `mixed_sizes`.
    pub fn sides(&self) -> Vec<usize> {
        std::iter::once(self.size)
            .chain(self.mixed_sizes.iter().copied())
            .collect()
    }

    /// The net these settings train.
    pub fn architecture(&self) -> Architecture {
        match self.graphs {
            Some(_) => Architecture::MessagePassing,
            None => Architecture::Convolutional,
        }
    }

    fn optimizer(&self) -> AdamWConfig {
        AdamWConfig {
            lr: self.lr,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
            warmup_steps: 0,
            grad_clip: Some(self.grad_clip),
            schedule: Schedule::Constant,
        }
    }

    fn check(&self) -> Result<(), TrainError> {
        // Named by the config's fields (a checkpoint's `trainer.json` holds them too); the CLI's
        // flags share the names.
        let bad = |what: String| Err(TrainError::Setup(format!("dqn: {what}")));
        if let Some(size) = self.sides().into_iter().find(|&n| n < 2) {
            return bad(format!("size {size}: must be at least 2"));
        }
        if self.graphs.is_some() && !self.mixed_sizes.is_empty() {
            return bad(format!(
                "mixed_sizes {:?}: a graph agent's lattices are of one size (its graphs mix the sizes)",
                self.mixed_sizes
            ));
        }
        if !(self.p > 0.0 && self.p <= 1.0) {
            return bad(format!("p {}: must be in (0, 1]", self.p));
        }
        if self.batch == 0 || self.round_steps == 0 || self.target_every == 0 {
            return bad("batch, round_steps and target_every must be positive".into());
        }
        if self.net.features == 0 {
            return bad("net.features must be positive".into());
        }
        if self.train_boards == 0 || self.validation_boards == 0 || self.burn_in_games == 0 {
            return bad(
                "train_boards, validation_boards and burn_in_games must be positive".into(),
            );
        }
        if self.targets != Targets::DoubleDqn && !matches!(self.definition, Definition::Flow { .. })
        {
            return bad(format!(
                "targets {}: the exact optimum's values are known for flow only, not {}",
                self.targets.name(),
                self.definition.name()
            ));
        }
        if self.targets == Targets::FlowOptimumAll && self.graphs.is_some() {
            return bad(
                "targets flow-optimum-all: every site's exact value is found on lattices (by \
                 duality) only; a graph agent takes flow-optimum"
                    .into(),
            );
        }
        if let Some(mix) = &self.graphs {
            mix.check(self.size)
                .map_err(|e| TrainError::Setup(format!("dqn: {e}")))?;
        }
        Ok(())
    }
}

/// A validation: greedy mean moves on the held-out boards after `step` steps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    pub step: usize,
    pub moves: f64,
}

/// What a checkpoint keeps besides the nets, optimizer and replay memory.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DqnRun {
    #[serde(flatten)]
    pub config: DqnConfig,
    /// Games played so far (each game's randomness is drawn from its number).
    pub games: u64,
    pub best: Option<Validation>,
    pub last: Option<Validation>,
}

pub struct DqnTrainer {
    /// On the autodiff device.
    online: Net,
    target: Net,
    best: Option<Net>,
    optimizer: AdamW,
    state: TrainerState<DqnRun>,
    replay: Replay,
    pool: Pool,
    device: Device,
    inner: Device,
}

/// The fixed training and validation boards.
enum Pool {
    /// The convolutional agent's: lattices of one side or of several mixed, each game's turned
    /// by a symmetry.
    Lattices {
        train: Vec<Board>,
        validation: Vec<Board>,
        /// One per side, as `DqnConfig::sides`.
        topologies: Vec<Arc<Topology>>,
    },
    /// The graph agent's mix (lattices among them, as graphs; no symmetries, the net has them).
    Graphs {
        train: Vec<Start>,
        validation: Vec<Start>,
    },
}

impl Pool {
    fn draw(config: &DqnConfig) -> Result<Self, TrainError> {
        let setup = |e: String| TrainError::Setup(format!("dqn: {e}"));
        Ok(match &config.graphs {
            None => {
                // `size`'s boards are drawn as in a run of one size; each further side from its
                // own stream.
                let draw = |count, stream| -> Result<Vec<Board>, TrainError> {
                    let mut boards = Vec::new();
                    for (k, n) in config.sides().into_iter().enumerate() {
                        let counter = if k == 0 { 0 } else { n as u64 };
                        boards.extend(
                            draw_boards(n, config.p, count, mix(config.seed, counter, stream))
                                .map_err(|e| setup(e.to_string()))?,
                        );
                    }
                    Ok(boards)
                };
                Self::Lattices {
                    train: draw(config.train_boards, TRAIN_BOARDS)?,
                    validation: draw(config.validation_boards, VALIDATION_BOARDS)?,
                    topologies: config
                        .sides()
                        .into_iter()
                        .map(|n| Arc::new(Topology::lattice(n)))
                        .collect(),
                }
            }
            Some(graphs) => {
                let draw = |count, stream| {
                    graphs
                        .draw(
                            config.size,
                            config.p,
                            count,
                            config.definition,
                            mix(config.seed, 0, stream),
                        )
                        .map_err(|e| setup(e.to_string()))
                };
                Self::Graphs {
                    train: draw(config.train_boards, TRAIN_BOARDS)?,
                    validation: draw(config.validation_boards, VALIDATION_BOARDS)?,
                }
            }
        })
    }

    fn len(&self) -> usize {
        match self {
            Self::Lattices { train, .. } => train.len(),
            Self::Graphs { train, .. } => train.len(),
        }
    }

    /// The topology of training board `index`.
    fn topology(&self, index: u32) -> &Arc<Topology> {
        match self {
            Self::Lattices {
                train, topologies, ..
            } => {
                let n = train[index as usize].n;
                topologies
                    .iter()
                    .find(|t| t.lattice_side() == Some(n))
                    .expect("a topology per side drawn")
            }
            Self::Graphs { train, .. } => &train[index as usize].topology,
        }
    }

    /// A new game on training board `index` (a lattice turned by `symmetry`).
    fn game(&self, index: usize, symmetry: crate::game::Symmetry, definition: Definition) -> Game {
        match self {
            Self::Lattices { train, .. } => {
                Game::new(&train[index].transformed(symmetry), definition)
            }
            Self::Graphs { train, .. } => train[index].game(definition),
        }
    }

    fn validation_games(&self, definition: Definition) -> Vec<Game> {
        match self {
            Self::Lattices { validation, .. } => validation
                .iter()
                .map(|b| Game::new(b, definition))
                .collect(),
            Self::Graphs { validation, .. } => {
                validation.iter().map(|s| s.game(definition)).collect()
            }
        }
    }
}

impl DqnTrainer {
    /// A new run on `device`, from a fresh net or, for a hot start, from an agent trained before
    /// (any board size; its net shape replaces `config.net`).
    pub fn new(
        mut config: DqnConfig,
        init: Option<&Bundle>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        config.check()?;
        let autodiff = device.clone().autodiff();
        let online = match init {
            Some(bundle) => {
                let agent = Agent::from_bundle(bundle, &autodiff)?;
                if agent.info.architecture != config.architecture() {
                    return Err(TrainError::Setup(format!(
                        "dqn: the hot start is a {} agent; these settings train a {} one",
                        agent.info.architecture.name(),
                        config.architecture().name()
                    )));
                }
                config.net = agent.info.net;
                agent.net
            }
            None => Net::init(config.architecture(), &config.net, config.seed, &autodiff),
        };
        Self::assemble(
            DqnRun {
                config,
                games: 0,
                best: None,
                last: None,
            },
            online,
            device,
        )
    }

    /// Continues a run from a checkpoint written by [`Fit::checkpoint`].
    pub fn resume(checkpoint: &Bundle, device: &Device) -> Result<Self, TrainError> {
        let inner = device.clone().without_autodiff();
        let mut optimizer = AdamW::new(AdamWConfig::default());
        let state: TrainerState<DqnRun> = fit::restore(checkpoint, &mut optimizer, device)?;
        let config = &state.config.config;
        let fresh = |device: &Device| Net::init(config.architecture(), &config.net, 0, device);
        let mut online = fresh(&device.clone().autodiff());
        online.load(checkpoint, None)?;
        let mut trainer = Self::assemble(state.config.clone(), online, device)?;
        trainer.target.load(checkpoint, Some(TARGET_FILE))?;
        if checkpoint.file(BEST_FILE).is_ok() {
            let mut best = fresh(&inner);
            best.load(checkpoint, Some(BEST_FILE))?;
            trainer.best = Some(best);
        }
        trainer.replay = Replay::from_bytes(checkpoint.file(REPLAY_FILE)?)?;
        trainer.check_replay()?;
        optimizer.config = trainer.optimizer.config.clone();
        trainer.optimizer = optimizer;
        trainer.state = state;
        Ok(trainer)
    }

    fn assemble(run: DqnRun, online: Net, device: &Device) -> Result<Self, TrainError> {
        run.config.check()?;
        let pool = Pool::draw(&run.config)?;
        Ok(Self {
            target: online.valid(),
            online,
            best: None,
            optimizer: AdamW::new(run.config.optimizer()),
            replay: Replay::new(run.config.replay),
            state: TrainerState::new(run),
            pool,
            device: device.clone().autodiff(),
            inner: device.clone().without_autodiff(),
        })
    }

    /// Every remembered transition names a training board of this run, is as long as that board
    /// and attacks one of its sites: a checkpoint's memory is checked before a step reads it.
    fn check_replay(&self) -> Result<(), BundleError> {
        for i in 0..self.replay.len() {
            let t = self.replay.get(i);
            let sites = (t.board as usize)
                .lt(&self.pool.len())
                .then(|| self.pool.topology(t.board).len());
            if sites != Some(t.before.len())
                || t.after.len() != t.before.len()
                || t.action >= t.before.len()
            {
                return Err(BundleError::Corrupt {
                    file: REPLAY_FILE.into(),
                    message: format!(
                        "transition {i}: board {} ({} sites, action {}) is not one of this run's {} \
                         training boards",
                        t.board,
                        t.before.len(),
                        t.action,
                        self.pool.len()
                    ),
                });
            }
        }
        Ok(())
    }

    pub fn config(&self) -> &DqnConfig {
        &self.state.config.config
    }

    /// Moves a resumed run's end to `steps` gradient steps (train longer, or stop sooner), keeping
    /// everything else, the exploration temperature's schedule included; refused below the steps
    /// already taken.
    pub fn extend(&mut self, steps: usize) -> Result<(), TrainError> {
        if steps < self.state.step {
            return Err(TrainError::Setup(format!(
                "dqn: steps {steps}: the run has already taken {} steps",
                self.state.step
            )));
        }
        self.state.config.config.steps = steps;
        Ok(())
    }

    /// The latest and the best validation.
    pub fn validations(&self) -> (Option<Validation>, Option<Validation>) {
        (self.state.config.last, self.state.config.best)
    }

    fn info(&self, validation: Option<Validation>) -> AgentInfo {
        let config = self.config();
        AgentInfo {
            model: AGENT_MODEL.into(),
            architecture: config.architecture(),
            net: config.net.clone(),
            definition: config.definition,
            size: config.size,
            mixed_sizes: config.mixed_sizes.clone(),
            p: config.p,
            graphs: config.graphs.clone(),
            steps: validation.map_or(self.state.step, |v| v.step),
            validation_moves: validation.map(|v| v.moves),
        }
    }

    /// Plays `count` games on training boards (lattices turned by a random symmetry) into the
    /// replay memory: uniformly random moves without a temperature, Boltzmann over the online
    /// net's Q with one.
    fn play(&mut self, count: usize, temperature: Option<f64>) {
        let config = self.state.config.config.clone();
        let net = self.online.valid();
        let symmetries = config.definition.symmetries();
        let mut games = Vec::with_capacity(count);
        let mut boards = Vec::with_capacity(count);
        let mut rngs = Vec::with_capacity(count);
        for _ in 0..count {
            let mut rng = rng(mix(config.seed, self.state.config.games, GAMES));
            self.state.config.games += 1;
            let board = pick(&mut rng, self.pool.len());
            let symmetry = symmetries[pick(&mut rng, symmetries.len())];
            games.push(self.pool.game(board, symmetry, config.definition));
            boards.push(board as u32);
            rngs.push(rng);
        }
        loop {
            let playing: Vec<usize> = (0..count).filter(|&i| !games[i].is_over()).collect();
            if playing.is_empty() {
                break;
            }
            let q = match temperature {
                Some(_) => {
                    let states: Vec<GraphState<'_>> = playing
                        .iter()
                        .map(|&i| crate::game::agent::state(&games[i]))
                        .collect();
                    net.q_values(&states, config.definition, &self.inner)
                }
                None => Vec::new(),
            };
            for (k, &i) in playing.iter().enumerate() {
                let game = &mut games[i];
                let site = match temperature {
                    Some(t) => boltzmann(&q[k], game.sites(), t, &mut rngs[i]),
                    None => {
                        let mut alive: Vec<u32> = game.alive_sites().to_vec();
                        alive.sort_unstable();
                        alive[pick(&mut rngs[i], alive.len())] as usize
                    }
                };
                let before = game.sites().to_vec();
                game.attack(site).expect("an Alive site");
                self.replay.push(Transition {
                    before,
                    action: site,
                    after: game.sites().to_vec(),
                    done: game.is_over(),
                    board: boards[i],
                });
            }
        }
    }

    /// How the nets read transition `row`'s board before or after its move.
    fn state(&self, row: usize, after: bool) -> GraphState<'_> {
        let t = self.replay.get(row);
        GraphState {
            sites: if after { &t.after } else { &t.before },
            topology: self.pool.topology(t.board),
        }
    }

    /// Double-DQN targets `−1/√sites + γ·Q_target(s', argmax_a' Q_online(s', a'))` (−1/n on an
    /// n×n lattice; no second term when the move ended the game).
    fn targets(&self, rows: &[usize]) -> Vec<f32> {
        let config = self.config();
        if config.targets == Targets::FlowOptimum {
            return rows.iter().map(|&r| self.optimum_target(r)).collect();
        }
        let pending: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&r| !self.replay.get(r).done)
            .collect();
        let after: Vec<GraphState<'_>> = pending.iter().map(|&r| self.state(r, true)).collect();
        let definition = config.definition;
        let chooser = self
            .online
            .valid()
            .q_values(&after, definition, &self.inner);
        let valuer = self.target.q_values(&after, definition, &self.inner);
        let mut next = (0..pending.len()).map(|k| {
            let a = masked_argmax(&chooser[k], after[k].sites)
                .expect("a game not over has an Alive site");
            valuer[k][a]
        });
        // `pending` keeps the order of `rows`, so its values come in turn.
        rows.iter()
            .map(|&r| {
                let t = self.replay.get(r);
                let future = if t.done {
                    0.0
                } else {
                    next.next().expect("one value per pending row")
                };
                -1.0 / move_scale(t.before.len()) + config.gamma as f32 * future
            })
            .collect()
    }

    /// `−1/√sites + γ·V*(s')`, V* the value of playing the board after the move optimally: its
    /// minimum cut of c moves is worth `−(1 + γ + … + γ^(c−1))/√sites`.
    fn optimum_target(&self, row: usize) -> f32 {
        let t = self.replay.get(row);
        let cut = if t.done {
            0
        } else {
            flow_optimum(&self.flow_game(&t.after, t.board)).map_or(0, |(cut, _)| cut)
        };
        self.exact_value(t.before.len(), cut)
    }

    /// Training board `board` in the state `sites`, as a new game: flow has no history, so the
    /// board is its sites, attacked ones removed.
    fn flow_game(&self, sites: &[Site], board: u32) -> Game {
        let occupied = sites
            .iter()
            .map(|&s| s == Site::Alive || s == Site::Dead)
            .collect();
        let topology = self.pool.topology(board).clone();
        Game::on_topology(topology, occupied, self.config().definition)
    }

    /// The exact value of a move on a board of `sites` sites that leaves a minimum cut of `cut`:
    /// `−1/√sites − γ·(1 + γ + … + γ^(cut−1))/√sites`.
    fn exact_value(&self, sites: usize, cut: usize) -> f32 {
        let gamma = self.config().gamma as f32;
        let scale = move_scale(sites);
        let future: f32 = (0..cut).map(|k| gamma.powi(k as i32)).sum();
        -1.0 / scale - gamma * future / scale
    }

    /// [`Targets::FlowOptimumAll`]'s loss: the Huber loss of every Alive site of each sampled
    /// board against its exact value, each board weighing the same whatever its size.
    fn every_site_loss(&self, rows: &[usize]) -> Tensor<1> {
        let config = self.config();
        let before: Vec<GraphState<'_>> = rows.iter().map(|&r| self.state(r, false)).collect();
        let (q, starts) = self
            .online
            .every_site(&before, config.definition, &self.device);
        let (mut picked, mut targets, mut weights) = (Vec::new(), Vec::new(), Vec::new());
        for ((state, start), &row) in before.iter().zip(starts).zip(rows) {
            let game = self.flow_game(state.sites, self.replay.get(row).board);
            let (cut, critical) =
                flow_critical_sites(&game).expect("flow on a lattice (checked with the config)");
            let alive = game.alive_sites();
            for &site in alive {
                let after = cut - usize::from(critical[site as usize]);
                picked.push((start + site as usize) as i64);
                targets.push(self.exact_value(state.sites.len(), after));
                weights.push(1.0 / (alive.len() * rows.len()) as f32);
            }
        }
        let count = picked.len();
        let tensor = |values: Vec<f32>| {
            Tensor::<1>::from_data(TensorData::new(values, [count]), &self.device)
        };
        let picked = Tensor::<1, Int>::from_data(TensorData::new(picked, [count]), &self.device);
        let errors = HuberLossConfig::new(1.0)
            .init()
            .forward_no_reduction(q.select(0, picked), tensor(targets));
        (errors * tensor(weights)).sum()
    }

    fn validate(&mut self) -> f64 {
        let config = self.config();
        let played = play_greedy(
            &self.online.valid(),
            &self.inner,
            self.pool.validation_games(config.definition),
        );
        let moves =
            played.iter().map(|p| p.moves.len()).sum::<usize>() as f64 / played.len() as f64;
        let validation = Validation {
            step: self.state.step,
            moves,
        };
        self.state.config.last = Some(validation);
        if self.state.config.best.is_none_or(|best| moves < best.moves) {
            self.state.config.best = Some(validation);
            self.best = Some(self.online.valid());
        }
        moves
    }
}

impl Fit for DqnTrainer {
    fn step(&mut self) -> Result<StepLog, TrainError> {
        let config = self.config().clone();
        let step = self.state.step;
        if self.replay.is_empty() {
            self.play(config.burn_in_games, None);
        }
        let temperature = config.temperature.at(step);
        if step.is_multiple_of(config.round_steps) {
            self.play(config.round_games, Some(temperature));
        }
        let mut sampler = rng(mix(config.seed, step as u64, SAMPLES));
        let rows: Vec<usize> = (0..config.batch)
            .map(|_| pick(&mut sampler, self.replay.len()))
            .collect();
        let loss = match config.targets {
            Targets::FlowOptimumAll => self.every_site_loss(&rows),
            _ => {
                let targets = self.targets(&rows);
                let before: Vec<GraphState<'_>> =
                    rows.iter().map(|&r| self.state(r, false)).collect();
                let actions: Vec<usize> = rows.iter().map(|&r| self.replay.get(r).action).collect();
                let batch = rows.len();
                let chosen = self
                    .online
                    .chosen(&before, &actions, config.definition, &self.device);
                let targets =
                    Tensor::<1>::from_data(TensorData::new(targets, [batch]), &self.device);
                HuberLossConfig::new(1.0)
                    .init()
                    .forward(chosen, targets, Reduction::Mean)
            }
        };
        let (online, mut log) = match self.online.clone() {
            Net::Convolutional(net) => {
                let (net, log) = fit::descend(&mut self.optimizer, net, loss, step)?;
                (Net::Convolutional(net), log)
            }
            Net::MessagePassing(net) => {
                let (net, log) = fit::descend(&mut self.optimizer, net, loss, step)?;
                (Net::MessagePassing(net), log)
            }
        };
        self.online = online;
        self.state.step += 1;
        let done = self.state.step;
        if done.is_multiple_of(config.target_every) {
            self.target = self.online.valid();
        }
        log.terms.push(("temperature".into(), temperature));
        if done.is_multiple_of(config.validate_every.max(1)) || done == config.steps {
            let moves = self.validate();
            log.terms.push(("validation_moves".into(), moves));
        }
        self.state.history.push(log.clone());
        Ok(log)
    }

    fn position(&self) -> (usize, usize) {
        (self.state.step, self.config().steps)
    }

    fn batch_size(&self) -> usize {
        self.config().batch
    }

    fn history(&self) -> &[StepLog] {
        &self.state.history
    }

    /// The agent with the best validation so far (the current net before the first one).
    fn bundle(&self) -> Result<Bundle, TrainError> {
        Ok(match &self.best {
            Some(best) => best.bundle(&self.info(self.state.config.best))?,
            None => self.online.valid().bundle(&self.info(None))?,
        })
    }

    fn checkpoint(&self) -> Result<Bundle, TrainError> {
        let bundle = self.online.valid().bundle(&self.info(None))?;
        let mut bundle = self
            .target
            .add_to(bundle, TARGET_FILE)?
            .with_file(REPLAY_FILE, self.replay.to_bytes());
        if let Some(best) = &self.best {
            bundle = best.add_to(bundle, BEST_FILE)?;
        }
        fit::checkpoint(bundle, &self.state, &self.optimizer)
    }

    fn status(&self) -> Option<String> {
        let (last, best) = self.validations();
        let temperature = self.config().temperature.at(self.state.step);
        Some(match (last, best) {
            (Some(last), Some(best)) => format!(
                "T {temperature:.2} · validation {:.2} moves (best {:.2} at step {})",
                last.moves, best.moves, best.step
            ),
            _ => format!("T {temperature:.2}"),
        })
    }
}

/// A uniform index below `len` (from the top 53 bits, the same on every platform).
fn pick(rng: &mut Xoshiro256PlusPlus, len: usize) -> usize {
    ((unit(rng) * len as f64) as usize).min(len.saturating_sub(1))
}

/// An `Alive` site drawn with probability ∝ exp(Q / T).
fn boltzmann(q: &[f32], sites: &[Site], temperature: f64, rng: &mut Xoshiro256PlusPlus) -> usize {
    let alive: Vec<usize> = (0..sites.len())
        .filter(|&i| sites[i] == Site::Alive)
        .collect();
    let top = alive
        .iter()
        .map(|&i| q[i] as f64)
        .fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = alive
        .iter()
        .map(|&i| ((q[i] as f64 - top) / temperature).exp())
        .collect();
    let mut u = unit(rng) * weights.iter().sum::<f64>();
    for (&site, w) in alive.iter().zip(&weights) {
        if u < *w {
            return site;
        }
        u -= w;
    }
    *alive.last().expect("a game in progress has an Alive site")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temperature_starts_high_and_ends_low() {
        let t = DqnConfig::reference(Definition::Network).temperature;
        assert!((t.at(0) - 100.0).abs() < 1e-9);
        assert!(t.at(2_000_000) < 0.0101);
        let cpu = DqnConfig::cpu(Definition::Network);
        assert_eq!(
            cpu.temperature.decay, 2000.0,
            "a tenth of the run, as the reference"
        );
    }

    #[test]
    fn boltzmann_is_uniform_when_hot_and_greedy_when_cold() {
        let sites = [Site::Alive, Site::Dead, Site::Alive, Site::Alive];
        let q = [0.0, 9.0, -0.5, -1.0];
        let mut rng = rng(3);
        let mut hot = [0usize; 4];
        let mut cold = [0usize; 4];
        for _ in 0..3000 {
            hot[boltzmann(&q, &sites, 100.0, &mut rng)] += 1;
            cold[boltzmann(&q, &sites, 0.01, &mut rng)] += 1;
        }
        assert_eq!(hot[1], 0, "a Dead site is never chosen");
        assert!(
            hot.iter()
                .enumerate()
                .all(|(i, &c)| i == 1 || (900..1100).contains(&c)),
            "{hot:?}"
        );
        assert_eq!(cold, [3000, 0, 0, 0]);
    }
}
