//! BMFM-RNA's trainer: cells → seeded batches (MLM masking, WCED targets, labels), the
//! objectives' weighted loss; the loop and checkpoints are [`super::fit`]'s.

use burn::module::Module;
use burn::tensor::Device;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::augment::{Augment, gene_variability};
use super::collate::{Collator, MlmConfig, SequenceConfig, TrainBatch};
use super::fit::{self, Fit, StepLog, TrainError, TrainerState, mix};
use super::objectives::{
    ClassLoss, LossTerm, class_loss, is_zero_bce, mse_ignore_zero, weighted_mean,
};
use super::optimizer::{AdamW, AdamWConfig};
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

pub struct Trainer {
    pub pipeline: RnaPipeline,
    pub optimizer: AdamW,
    pub state: TrainerState<TrainConfig>,
    data: TrainData,
    /// The panel genes' variability, for variable-gene panel augmentation (empty without).
    variability: Vec<f32>,
    bundle: Bundle,
    device: Device,
}

impl Trainer {
    /// Starts training `bundle` (fresh or pretrained) on `device` (made autodiff here).
    pub fn new(
        bundle: Bundle,
        data: TrainData,
        config: TrainConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let device = device.clone().autodiff();
        let pipeline = RnaPipeline::from_bundle(&bundle, &device)?;
        let optimizer = AdamW::new(config.optimizer.clone());
        let variability = match &config.augment {
            Some(augment) if augment.variable_probability > 0.0 => {
                gene_variability(data.cells.iter().map(Vec::as_slice), data.panel.len())
            }
            _ => Vec::new(),
        };
        let trainer = Self {
            pipeline,
            optimizer,
            state: TrainerState::new(config),
            data,
            variability,
            bundle,
            device,
        };
        trainer.check()?;
        Ok(trainer)
    }

    /// Continues from a checkpoint written by [`Trainer::checkpoint`].
    pub fn resume(
        checkpoint: Bundle,
        data: TrainData,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut optimizer = AdamW::new(Default::default());
        let state: TrainerState<TrainConfig> = fit::restore(&checkpoint, &mut optimizer, device)?;
        let mut trainer = Self::new(checkpoint, data, state.config.clone(), device)?;
        optimizer.config = state.config.optimizer.clone();
        trainer.optimizer = optimizer;
        trainer.state = state;
        Ok(trainer)
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
        if config.batch_size == 0 || self.data.cells.is_empty() {
            return Err(TrainError::Setup("no cells or a batch size of 0".into()));
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
        if self.data.labels.len() != model.config.labels().len() {
            return Err(TrainError::Setup(format!(
                "{} label columns of data for {} label heads",
                self.data.labels.len(),
                model.config.labels().len()
            )));
        }
        Ok(())
    }

    /// The collated batch of step `step` (deterministic in seed and step).
    pub fn batch(&self, step: usize) -> Result<TrainBatch, TrainError> {
        let config = &self.state.config;
        let rows = fit::batch_rows(self.data.cells.len(), config.batch_size, config.seed, step);
        let panel = &self.data.panel;
        let full: Vec<Vec<f32>> = rows
            .iter()
            .map(|&i| {
                let mut dense = vec![0.0; panel.len()];
                for &(g, c) in &self.data.cells[i] {
                    dense[g as usize] = c;
                }
                dense
            })
            .collect();
        let mut augment_rng =
            Xoshiro256PlusPlus::seed_from_u64(mix(config.seed, step as u64, 0xa06));
        let cells: Vec<(&str, Vec<f32>)> = rows
            .iter()
            .zip(&full)
            .map(|(&i, dense)| {
                let mut input = dense.clone();
                if let Some(augment) = &config.augment {
                    augment.apply(&mut input, &self.variability, &mut augment_rng);
                }
                (self.data.cell_ids[i].as_str(), input)
            })
            .collect();
        let labels = self
            .data
            .labels
            .iter()
            .map(|column| rows.iter().map(|&i| column[i]).collect())
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
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(mix(config.seed, step as u64, 0xba7c));
        let targets = config.augment.is_some().then_some(full.as_slice());
        collator
            .collate(&cells, targets, labels, &mut rng)
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
                            value: Some(mse_ignore_zero(value.clone(), target, device)),
                        });
                        terms.push(LossTerm {
                            name: format!("wced_{set}_is_zero_bce"),
                            weight,
                            value: is_zero_bce(logit.clone(), target, device),
                        });
                    }
                }
                (DecodeMode::Regression, _, Some(weights), _, Some(targets)) => {
                    terms.push(LossTerm {
                        name: "mlm_expressions_mse".into(),
                        weight: weights.mse_weight,
                        value: Some(mse_ignore_zero(
                            output.reshape([b, l]),
                            &targets.expressions,
                            device,
                        )),
                    });
                }
                (DecodeMode::IsZero, _, Some(weights), _, Some(targets)) => {
                    terms.push(LossTerm {
                        name: "mlm_expressions_is_zero_bce".into(),
                        weight: weights.is_zero_weight,
                        value: is_zero_bce(output.reshape([b, l]), &targets.expressions, device),
                    });
                }
                (DecodeMode::TokenScores, _, Some(weights), _, Some(targets))
                    if weights.masking.mask_genes =>
                {
                    let [_, _, v] = output.dims();
                    terms.push(LossTerm {
                        name: "mlm_genes_ce".into(),
                        weight: weights.genes_weight,
                        value: class_loss(
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
                    value: class_loss(logits, &batch.labels[k], objective.loss, device),
                });
            }
        }
        Ok(terms)
    }

    /// One optimisation step.
    pub fn step(&mut self) -> Result<StepLog, TrainError> {
        let step = self.state.step;
        let batch = self.batch(step)?;
        fit::seed_step(&self.device, self.state.config.seed, step);
        let terms = self.losses(&batch)?;
        let Some(loss) = weighted_mean(&terms) else {
            return Err(TrainError::Setup(format!(
                "step {step}: no loss term has any target (check the objectives and labels)"
            )));
        };
        let (net, log) = fit::descend(
            &mut self.optimizer,
            self.pipeline.model.net.clone(),
            loss,
            &terms,
            step,
        )?;
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
