//! BMFM-RNA's trainer: cells → seeded batches (MLM masking, WCED targets, labels), the
//! objectives' weighted loss; the loop and checkpoints are [`super::fit`]'s.

use std::collections::BTreeMap;

use burn::module::Module;
use burn::tensor::Device;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::augment::{Augment, gene_variability};
use super::collate::{Collator, MlmConfig, SequenceConfig, TrainBatch};
use super::corpus::{Cell, CellStream, ShardReader, StreamConfig};
use super::fit::{self, Fit, StepLog, TrainError, TrainerState};
use super::objectives::{ClassLoss, Combine, LossTerm, class_loss, is_zero_bce, mse_ignore_zero};
use super::optimizer::{AdamW, AdamWConfig};
use super::parallel::{self, Alone, Collective, Shared, Split, micro_seed};
use crate::bundle::Bundle;
use crate::models::bmfm_rna::config::{DecodeMode, ExpressionKind};
use crate::models::bmfm_rna::panel::GenePanel;
use crate::models::bmfm_rna::{RnaError, RnaPipeline};

/// MLM loss weights (the v1 multitask checkpoint: genes 0.7, value 1, is-zero 1.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlmObjective {
    pub masking: MlmConfig,
    pub genes_weight: f64,
    pub mse_weight: f64,
    pub is_zero_weight: f64,
}

impl Default for MlmObjective {
    fn default() -> Self {
        Self {
            masking: MlmConfig::default(),
            genes_weight: 0.7,
            mse_weight: 1.0,
            is_zero_weight: 1.5,
        }
    }
}

/// WCED loss weights per label set (v1: input and non-input genes, weight 1 each).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WcedObjective {
    pub input_weight: f64,
    pub non_input_weight: f64,
    pub all_weight: f64,
}

impl Default for WcedObjective {
    fn default() -> Self {
        Self {
            input_weight: 1.0,
            non_input_weight: 1.0,
            all_weight: 0.0,
        }
    }
}

/// A supervised label head trained during (pre)training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LabelObjective {
    pub column: String,
    pub loss: ClassLoss,
    pub weight: f64,
}

/// Everything that decides a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub seed: u64,
    pub batch_size: usize,
    pub steps: usize,
    pub optimizer: AdamWConfig,
    pub sequence: SequenceConfig,
    pub mlm: Option<MlmObjective>,
    pub wced: Option<WcedObjective>,
    pub labels: Vec<LabelObjective>,
    /// Degrade the input cells (panel dropout, depth thinning); targets stay the full cells'.
    #[serde(default)]
    pub augment: Option<Augment>,
    /// Cells collated and run forward together; a step's `batch_size` cells are cut into
    /// micro-batches of this size, which data-parallel ranks share. `None`: the whole batch.
    #[serde(default)]
    pub micro_batch: Option<usize>,
    /// How cells are streamed when they come from a sharded corpus (`None`: all in memory).
    #[serde(default)]
    pub stream: Option<StreamConfig>,
}

/// The training cells: counts over the gene panel (sparse) and label ids per label column.
#[derive(Clone, Debug)]
pub struct TrainData {
    pub panel: GenePanel,
    pub cell_ids: Vec<String>,
    pub cells: Vec<Vec<(u32, f32)>>,
    /// `labels[k][i]`: class of cell `i` for the model's label head `k` (−100 = unknown).
    pub labels: Vec<Vec<i64>>,
}

/// A sharded corpus as a trainer reads it: the panel every shard shares, a reader for the
/// shards, and each shard's number of cells (the manifest's).
pub struct Corpus {
    pub panel: GenePanel,
    /// Label heads the reader gives ids for.
    pub label_heads: usize,
    pub sizes: Vec<usize>,
    pub reader: Box<dyn ShardReader>,
}

/// Where a run's cells come from.
pub enum Cells {
    /// All in memory: a step's batch is a seeded draw without replacement, epoch by epoch.
    Memory(TrainData),
    /// Streamed from a corpus (the run's `stream` config says how).
    Corpus(Corpus),
}

impl From<TrainData> for Cells {
    fn from(data: TrainData) -> Self {
        Self::Memory(data)
    }
}

impl From<Corpus> for Cells {
    fn from(corpus: Corpus) -> Self {
        Self::Corpus(corpus)
    }
}

impl Cells {
    fn panel(&self) -> &GenePanel {
        match self {
            Self::Memory(data) => &data.panel,
            Self::Corpus(corpus) => &corpus.panel,
        }
    }
}

pub struct Trainer {
    pub pipeline: RnaPipeline,
    pub optimizer: AdamW,
    pub state: TrainerState<TrainConfig>,
    cells: Cells,
    /// This rank's streams of a corpus, by stream index (empty for cells in memory).
    streams: BTreeMap<usize, CellStream>,
    /// The panel genes' variability, for variable-gene panel augmentation (empty without).
    variability: Vec<f32>,
    bundle: Bundle,
    device: Device,
    collective: Box<dyn Collective>,
    split: Split,
}

/// Examples a batch can draw from (a corpus streams without end).
fn available(cells: &Cells) -> usize {
    match cells {
        Cells::Memory(data) => data.cells.len(),
        Cells::Corpus(_) => usize::MAX,
    }
}

impl Trainer {
    /// Starts training `bundle` (fresh or pretrained) on `device` (made autodiff here) on
    /// `cells` (a [`TrainData`] in memory, or a [`Corpus`] with `config.stream` set).
    pub fn new(
        bundle: Bundle,
        cells: impl Into<Cells>,
        config: TrainConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let cells = cells.into();
        let device = device.clone().autodiff();
        let pipeline = RnaPipeline::from_bundle(&bundle, &device)?;
        let optimizer = AdamW::new(config.optimizer.clone());
        let variability = match (&config.augment, &cells) {
            (Some(augment), Cells::Memory(data)) if augment.variable_probability > 0.0 => {
                gene_variability(data.cells.iter().map(Vec::as_slice), data.panel.len())
            }
            _ => Vec::new(),
        };
        let split = Split::new(
            config.batch_size,
            config.micro_batch,
            available(&cells),
            &Alone,
        )?;
        let trainer = Self {
            pipeline,
            optimizer,
            state: TrainerState::new(config),
            cells,
            streams: BTreeMap::new(),
            variability,
            bundle,
            device,
            collective: Box::new(Alone),
            split,
        };
        trainer.check()?;
        trainer.check_streams()?;
        Ok(trainer)
    }

    /// Shares every step with the other ranks of `collective`: this rank runs its micro-batches
    /// and every rank takes the same step. Each rank holds the same checkpoint, and the same
    /// cells in memory or the same corpus (of which it reads only its own streams' shards).
    pub fn with_collective(mut self, collective: Box<dyn Collective>) -> Result<Self, TrainError> {
        let config = &self.state.config;
        self.split = Split::new(
            config.batch_size,
            config.micro_batch,
            available(&self.cells),
            collective.as_ref(),
        )?;
        self.collective = collective;
        self.check_streams()?;
        // This rank's streams open at its first step.
        self.streams.clear();
        Ok(self)
    }

    /// Continues from a checkpoint written by [`Trainer::checkpoint`]; a corpus's streams
    /// continue from the checkpoint's step.
    pub fn resume(
        checkpoint: Bundle,
        cells: impl Into<Cells>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut optimizer = AdamW::new(Default::default());
        let state: TrainerState<TrainConfig> = fit::restore(&checkpoint, &mut optimizer, device)?;
        let mut trainer = Self::new(checkpoint, cells, state.config.clone(), device)?;
        optimizer.config = state.config.optimizer.clone();
        trainer.optimizer = optimizer;
        trainer.state = state;
        Ok(trainer)
    }

    /// Micro-batches in a step.
    fn micro_batches(&self) -> usize {
        let config = &self.state.config;
        let batch = match &self.cells {
            Cells::Memory(data) => config.batch_size.min(data.cells.len()),
            Cells::Corpus(_) => config.batch_size,
        };
        batch.div_ceil(self.split.micro_batch)
    }

    /// A corpus's streams must split evenly: whole micro-batches, as many from each stream,
    /// and the same number of streams on every rank.
    fn check_streams(&self) -> Result<(), TrainError> {
        let (Cells::Corpus(_), Some(stream)) = (&self.cells, &self.state.config.stream) else {
            return Ok(());
        };
        let config = &self.state.config;
        let (micro, count) = (self.split.micro_batch, self.micro_batches());
        if !config.batch_size.is_multiple_of(micro) {
            return Err(TrainError::Setup(format!(
                "batch_size {} is not a whole number of micro-batches of {micro}",
                config.batch_size
            )));
        }
        if stream.streams == 0 || !count.is_multiple_of(stream.streams) {
            return Err(TrainError::Setup(format!(
                "streams {}: the {count} micro-batches of a step must split evenly among them",
                stream.streams
            )));
        }
        if !stream.streams.is_multiple_of(self.split.world) {
            return Err(TrainError::Setup(format!(
                "streams {}: not a multiple of the {} ranks",
                stream.streams, self.split.world
            )));
        }
        Ok(())
    }

    /// Positions this rank's streams of a corpus at the current step (at a run's first step,
    /// once the ranks are known; a resumed run's streams continue from its step).
    fn open_streams(&mut self) -> Result<(), TrainError> {
        let Cells::Corpus(corpus) = &self.cells else {
            return Ok(());
        };
        let config = &self.state.config;
        let stream = config.stream.ok_or_else(|| {
            TrainError::Setup("a corpus needs the run's `stream` settings".into())
        })?;
        self.check_streams()?;
        // The streams are replayed up to the step: a checkpoint past its run's end is refused
        // rather than replayed for as long as it claims.
        if self.state.step > config.steps {
            return Err(TrainError::Setup(format!(
                "trainer.json: step {} is past the run's {} steps",
                self.state.step, config.steps
            )));
        }
        let per_step = (self.split.micro_batch * self.micro_batches() / stream.streams) as u64;
        let draws = self.state.step as u64 * per_step;
        self.streams.clear();
        for s in (self.split.rank..stream.streams).step_by(self.split.world) {
            let cells = CellStream::new(
                s,
                stream,
                &corpus.sizes,
                config.seed,
                draws,
                corpus.reader.as_ref(),
            )?;
            self.streams.insert(s, cells);
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TrainError> {
        let model = &self.pipeline.model;
        let config = &self.state.config;
        if let ExpressionKind::ScaleAdapt {
            trainable: true, ..
        } = model.expression.kind
        {
            return Err(TrainError::Setup(
                "a trainable scale_adapt basis cannot be trained here (its sinusoids are computed on the host)".into(),
            ));
        }
        if config.batch_size == 0 || available(&self.cells) == 0 {
            return Err(TrainError::Setup("no cells or a batch size of 0".into()));
        }
        if let Cells::Corpus(_) = self.cells {
            if config
                .augment
                .as_ref()
                .is_some_and(|a| a.variable_probability > 0.0)
            {
                return Err(TrainError::Setup(
                    "variable-gene augmentation needs every cell's statistics; it is not \
                     available on a streamed corpus"
                        .into(),
                ));
            }
            if config.stream.is_none() {
                return Err(TrainError::Setup(
                    "a corpus needs the run's `stream` settings".into(),
                ));
            }
        }
        let has = |f: &dyn Fn(&DecodeMode) -> bool| model.decoders.iter().any(|d| f(&d.mode));
        if config.wced.is_some() && !has(&|m| matches!(m, DecodeMode::Wced { channels: 2, .. })) {
            return Err(TrainError::Setup(
                "WCED needs an `expressions_wced` decoder with logit_outputs [mse, is_zero_bce]"
                    .into(),
            ));
        }
        if let Some(mlm) = &config.mlm {
            if !has(&|m| *m == DecodeMode::Regression) || !has(&|m| *m == DecodeMode::IsZero) {
                return Err(TrainError::Setup(
                    "MLM needs `expressions_regression` and `expressions_is_zero` decoders".into(),
                ));
            }
            if mlm.masking.mask_genes && !has(&|m| *m == DecodeMode::TokenScores) {
                return Err(TrainError::Setup(
                    "masking genes needs a `genes_token_scores` decoder".into(),
                ));
            }
        }
        for objective in &config.labels {
            if !model
                .config
                .labels()
                .iter()
                .any(|l| l.label_column_name == objective.column)
            {
                return Err(TrainError::Setup(format!(
                    "label objective `{}` has no label head in config.json",
                    objective.column
                )));
            }
        }
        let columns = match &self.cells {
            Cells::Memory(data) => data.labels.len(),
            Cells::Corpus(corpus) => corpus.label_heads,
        };
        if columns != model.config.labels().len() {
            return Err(TrainError::Setup(format!(
                "{columns} label columns of data for {} label heads",
                model.config.labels().len()
            )));
        }
        Ok(())
    }

    /// This rank's micro-batches of the current step, by index: rows of the cells in memory
    /// (deterministic in seed and step), or the next cells of its corpus streams.
    fn local_cells(&mut self) -> Result<Vec<(usize, Vec<Cell>)>, TrainError> {
        let config = &self.state.config;
        let local = self.split.mine(self.micro_batches());
        match &self.cells {
            Cells::Memory(data) => {
                let rows = fit::batch_rows(
                    data.cells.len(),
                    config.batch_size,
                    config.seed,
                    self.state.step,
                );
                let micro = self.split.micro_batches(&rows);
                Ok(local
                    .into_iter()
                    .map(|k| (k, micro[k].iter().map(|&i| Cell::of(data, i)).collect()))
                    .collect())
            }
            Cells::Corpus(corpus) => {
                let streams = config.stream.map_or(1, |s| s.streams);
                local
                    .into_iter()
                    .map(|k| {
                        let stream = self.streams.get_mut(&(k % streams)).ok_or_else(|| {
                            TrainError::Setup(format!("stream {} is not open here", k % streams))
                        })?;
                        Ok((
                            k,
                            stream.take(self.split.micro_batch, corpus.reader.as_ref())?,
                        ))
                    })
                    .collect()
            }
        }
    }

    /// Micro-batch `k` of step `step` (its `cells`), collated; its random choices depend only
    /// on seed, step and `k`, whichever rank collates it.
    pub fn batch(&self, step: usize, k: usize, cells: &[Cell]) -> Result<TrainBatch, TrainError> {
        let config = &self.state.config;
        let panel = self.cells.panel();
        let full: Vec<Vec<f32>> = cells
            .iter()
            .map(|cell| {
                let mut dense = vec![0.0; panel.len()];
                for &(g, c) in &cell.counts {
                    dense[g as usize] = c;
                }
                dense
            })
            .collect();
        let mut augment_rng =
            Xoshiro256PlusPlus::seed_from_u64(micro_seed(config.seed, step, k, 0xa06));
        let inputs: Vec<(&str, Vec<f32>)> = cells
            .iter()
            .zip(&full)
            .map(|(cell, dense)| {
                let mut input = dense.clone();
                if let Some(augment) = &config.augment {
                    augment.apply(&mut input, &self.variability, &mut augment_rng);
                }
                (cell.id.as_str(), input)
            })
            .collect();
        let heads = self.pipeline.model.config.labels().len();
        let labels = (0..heads)
            .map(|h| cells.iter().map(|cell| cell.labels[h]).collect())
            .collect();
        let collator = Collator {
            encoder: &self.pipeline.encoder,
            panel,
            vocab_size: self
                .pipeline
                .model
                .config
                .gene_vocab_size()
                .map_err(RnaError::from)?,
            sequence: &config.sequence,
            mlm: config.mlm.as_ref().map(|m| &m.masking),
            wced: config.wced.is_some(),
        };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(micro_seed(config.seed, step, k, 0xba7c));
        let targets = config.augment.is_some().then_some(full.as_slice());
        collator
            .collate(&inputs, targets, labels, &mut rng)
            .map_err(|e| TrainError::Setup(e.to_string()))
    }

    /// The named loss terms of a batch under the current weights.
    pub fn losses(&self, batch: &TrainBatch) -> Result<Vec<LossTerm>, TrainError> {
        let model = &self.pipeline.model;
        let device = &self.device;
        let config = &self.state.config;
        let outputs = model.forward(&batch.input, device)?;
        let [b, l] = [batch.input.batch, batch.input.len];
        let mut terms = Vec::new();
        for (spec, output) in model.decoders.iter().zip(outputs.decoders) {
            match (
                &spec.mode,
                &config.wced,
                &config.mlm,
                &batch.wced,
                &batch.mlm,
            ) {
                (DecodeMode::Wced { vocab, .. }, Some(weights), _, Some(targets), _) => {
                    let v = *vocab;
                    let value = output.clone().slice([0..b, 0..v, 0..1]).reshape([b, v]);
                    let logit = output.slice([0..b, 0..v, 1..2]).reshape([b, v]);
                    for (set, weight, target) in [
                        ("input", weights.input_weight, &targets.input),
                        ("non_input", weights.non_input_weight, &targets.non_input),
                        ("all", weights.all_weight, &targets.all),
                    ] {
                        if weight <= 0.0 {
                            continue;
                        }
                        terms.push(LossTerm {
                            name: format!("wced_{set}_mse"),
                            weight,
                            part: mse_ignore_zero(value.clone(), target, device),
                        });
                        terms.push(LossTerm {
                            name: format!("wced_{set}_is_zero_bce"),
                            weight,
                            part: is_zero_bce(logit.clone(), target, device),
                        });
                    }
                }
                (DecodeMode::Regression, _, Some(weights), _, Some(targets)) => {
                    terms.push(LossTerm {
                        name: "mlm_expressions_mse".into(),
                        weight: weights.mse_weight,
                        part: mse_ignore_zero(output.reshape([b, l]), &targets.expressions, device),
                    });
                }
                (DecodeMode::IsZero, _, Some(weights), _, Some(targets)) => {
                    terms.push(LossTerm {
                        name: "mlm_expressions_is_zero_bce".into(),
                        weight: weights.is_zero_weight,
                        part: is_zero_bce(output.reshape([b, l]), &targets.expressions, device),
                    });
                }
                (DecodeMode::TokenScores, _, Some(weights), _, Some(targets))
                    if weights.masking.mask_genes =>
                {
                    let [_, _, v] = output.dims();
                    terms.push(LossTerm {
                        name: "mlm_genes_ce".into(),
                        weight: weights.genes_weight,
                        part: class_loss(
                            output.reshape([b * l, v]),
                            &targets.genes,
                            ClassLoss::CrossEntropy,
                            device,
                        ),
                    });
                }
                _ => {}
            }
        }
        for (k, (head, logits)) in model.config.labels().iter().zip(outputs.labels).enumerate() {
            if let Some(objective) = config
                .labels
                .iter()
                .find(|o| o.column == head.label_column_name)
            {
                terms.push(LossTerm {
                    name: format!("label_{}", objective.column),
                    weight: objective.weight,
                    part: class_loss(logits, &batch.labels[k], objective.loss, device),
                });
            }
        }
        Ok(terms)
    }

    /// One optimisation step (this rank's micro-batches of it).
    pub fn step(&mut self) -> Result<StepLog, TrainError> {
        let step = self.state.step;
        if matches!(self.cells, Cells::Corpus(_)) && self.streams.is_empty() {
            self.open_streams()?;
        }
        let micro = self.local_cells()?;
        let local: Vec<usize> = micro.iter().map(|(k, _)| *k).collect();
        let seed = self.state.config.seed;
        // The optimizer is moved out while the micro-batches borrow the trainer.
        let mut optimizer = std::mem::replace(&mut self.optimizer, AdamW::new(Default::default()));
        let result = parallel::descend(
            &mut optimizer,
            self.pipeline.model.net.clone(),
            Shared {
                step,
                local: &local,
                split: &self.split,
                collective: self.collective.as_ref(),
                combine: Combine::WeightedMean,
            },
            |k| {
                let cells = &micro
                    .iter()
                    .find(|(j, _)| *j == k)
                    .expect("a local micro-batch")
                    .1;
                let batch = self.batch(step, k, cells)?;
                parallel::seed_micro(&self.device, seed, step, k);
                self.losses(&batch)
            },
        );
        self.optimizer = optimizer;
        let (net, log) = result?;
        self.pipeline.model.net = net;
        self.state.step += 1;
        self.state.history.push(log.clone());
        Ok(log)
    }

    /// The model as a bundle (inference weights, the bundle's other files kept).
    pub fn bundle(&self) -> Result<Bundle, TrainError> {
        Ok(self
            .bundle
            .clone()
            .with_weights(&self.pipeline.model.net.valid())?)
    }

    /// The bundle plus optimizer moments and trainer state: everything [`Trainer::resume`] needs.
    pub fn checkpoint(&self) -> Result<Bundle, TrainError> {
        fit::checkpoint(self.bundle()?, &self.state, &self.optimizer)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl Fit for Trainer {
    fn step(&mut self) -> Result<StepLog, TrainError> {
        Trainer::step(self)
    }
    fn position(&self) -> (usize, usize) {
        (self.state.step, self.state.config.steps)
    }
    fn batch_size(&self) -> usize {
        self.state.config.batch_size
    }
    fn history(&self) -> &[StepLog] {
        &self.state.history
    }
    fn bundle(&self) -> Result<Bundle, TrainError> {
        Trainer::bundle(self)
    }
    fn checkpoint(&self) -> Result<Bundle, TrainError> {
        Trainer::checkpoint(self)
    }
}
