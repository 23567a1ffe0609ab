//! MAMMAL fine-tuning: task examples → tokenized prompts and targets, seeded batches, and the
//! reference's loss (`MammalTask.losses`): cross-entropy on decoder labels (−100 ignored) plus a
//! scalar loss on the scalar head at encoder position 0, weight 1 each. The loop is `fit`'s.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::fit::{self, Fit, StepLog, TrainError, TrainerState};
use super::objectives::{Combine, LossTerm, Part, Reduce};
use super::optimizer::{AdamW, AdamWConfig};
use super::parallel::{self, Alone, Collective, Shared, Split};
use crate::bundle::Bundle;
use crate::models::mammal::finetune::{Examples, Target, TaskSpec};
use crate::models::mammal::{EncoderInputs, MammalError, MammalModel, token_loss_sum};
use crate::tokenize::mammal::{EncodeOptions, Encoding, ModularTokenizer};

/// The scalar loss (`mse` is the reference's default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarLoss {
    #[default]
    Mse,
    Mae,
    /// √(mse + 1e-6).
    Rmse,
}

/// Everything that decides a fine-tuning run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MammalTrainConfig {
    pub seed: u64,
    pub batch_size: usize,
    pub steps: usize,
    pub optimizer: AdamWConfig,
    #[serde(default)]
    pub scalar_loss: ScalarLoss,
    /// Examples run forward together; a step's batch is cut into micro-batches of this size,
    /// which data-parallel ranks share. `None`: the whole batch.
    #[serde(default)]
    pub micro_batch: Option<usize>,
}

/// What one example teaches.
#[derive(Clone, Debug, PartialEq)]
pub enum Supervision {
    /// Teacher-forced decoder input and its labels (same length; −100 where nothing is scored).
    Tokens {
        decoder_ids: Vec<u32>,
        decoder_mask: Vec<f32>,
        labels: Vec<i64>,
    },
    /// A standardised value for the scalar head at encoder position 0.
    Scalar(f32),
}

/// A tokenized training example.
#[derive(Clone, Debug, PartialEq)]
pub struct Prepared {
    pub encoding: Encoding,
    pub supervision: Supervision,
}

/// Tokenizes a task's examples as the reference's task code does: the prompt as it is, a class
/// as `<DECODER_START><SENTINEL_ID_0><class><EOS>` with labels shifted by one (padding → −100),
/// a value standardised with the training rows' mean and deviation.
pub fn prepare(
    spec: &TaskSpec,
    examples: &Examples,
    rows: &[crate::models::mammal::finetune::Example],
    tokenizer: &ModularTokenizer,
) -> Result<Vec<Prepared>, MammalError> {
    let encode = |text: &str, options: EncodeOptions, what: &dyn Fn() -> String| {
        tokenizer
            .encode(text, options)
            .map_err(|e| MammalError::Input(format!("{}: {e}", what())))
    };
    let prompt_options = EncodeOptions {
        max_len: spec.max_len,
        ..EncodeOptions::default()
    };
    let answer_options = EncodeOptions {
        max_len: Some(4),
        validate_ends_with_eos: true,
    };
    let pad = tokenizer.pad_id();
    rows.iter()
        .map(|example| {
            let row = || format!("row {}", example.row + 1);
            let encoding = encode(&example.prompt, prompt_options, &row)?;
            let supervision = match example.target {
                Target::Class(c) => {
                    let token = &examples.classes[c].1;
                    let (input, label) = spec.answer_strings(token).ok_or_else(|| {
                        MammalError::Input("a class target in a regression task".into())
                    })?;
                    let input = encode(&input, answer_options, &row)?;
                    let label = encode(&label, answer_options, &row)?;
                    Supervision::Tokens {
                        decoder_mask: input.attention_mask.iter().map(|&m| m as f32).collect(),
                        decoder_ids: input.ids,
                        labels: label
                            .ids
                            .iter()
                            .map(|&id| if id == pad { -100 } else { i64::from(id) })
                            .collect(),
                    }
                }
                Target::Value(v) => {
                    Supervision::Scalar(((v - examples.mean) / examples.std) as f32)
                }
            };
            Ok(Prepared {
                encoding,
                supervision,
            })
        })
        .collect()
}

/// The MAMMAL trainer: a model (fresh or pretrained) on an autodiff device, its examples, AdamW.
pub struct MammalTrainer {
    pub model: MammalModel,
    pub optimizer: AdamW,
    pub state: TrainerState<MammalTrainConfig>,
    data: Vec<Prepared>,
    bundle: Bundle,
    device: Device,
    collective: Box<dyn Collective>,
    split: Split,
}

impl MammalTrainer {
    /// Starts training the model of `bundle` (config.json + weights) on `device`.
    pub fn new(
        bundle: Bundle,
        data: Vec<Prepared>,
        config: MammalTrainConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let device = device.clone().autodiff();
        let model = MammalModel::from_bundle(&bundle, &device)?;
        if data.is_empty() || config.batch_size == 0 {
            return Err(TrainError::Setup("no examples or a batch size of 0".into()));
        }
        let scalar = data
            .iter()
            .any(|p| matches!(p.supervision, Supervision::Scalar(_)));
        if scalar && model.net.scalars_head.is_none() {
            return Err(TrainError::Setup(
                "a regression task needs a scalar head (config.json scalars_prediction_head)"
                    .into(),
            ));
        }
        let split = Split::new(config.batch_size, config.micro_batch, data.len(), &Alone)?;
        Ok(Self {
            model,
            optimizer: AdamW::new(config.optimizer.clone()),
            state: TrainerState::new(config),
            data,
            bundle,
            device,
            collective: Box::new(Alone),
            split,
        })
    }

    /// Shares every step with the other ranks of `collective` (see
    /// [`super::rna::Trainer::with_collective`]).
    pub fn with_collective(mut self, collective: Box<dyn Collective>) -> Result<Self, TrainError> {
        let config = &self.state.config;
        self.split = Split::new(
            config.batch_size,
            config.micro_batch,
            self.data.len(),
            collective.as_ref(),
        )?;
        self.collective = collective;
        Ok(self)
    }

    /// Continues from a checkpoint written by [`MammalTrainer::checkpoint`].
    pub fn resume(
        checkpoint: Bundle,
        data: Vec<Prepared>,
        device: &Device,
    ) -> Result<Self, TrainError> {
        let mut optimizer = AdamW::new(AdamWConfig::default());
        let state: TrainerState<MammalTrainConfig> =
            fit::restore(&checkpoint, &mut optimizer, device)?;
        let mut trainer = Self::new(checkpoint, data, state.config.clone(), device)?;
        optimizer.config = state.config.optimizer.clone();
        trainer.optimizer = optimizer;
        trainer.state = state;
        Ok(trainer)
    }

    /// The examples (row indices) of step `step`'s batch, deterministic in seed and step.
    pub fn rows(&self, step: usize) -> Vec<usize> {
        let config = &self.state.config;
        fit::batch_rows(self.data.len(), config.batch_size, config.seed, step)
    }

    /// The loss terms of a (micro-)batch under the current weights: the decoder's
    /// cross-entropy, and the scalar loss when the model has a scalar head, in that order.
    pub fn losses(&self, batch: &[&Prepared]) -> Result<Vec<LossTerm>, TrainError> {
        let device = &self.device;
        let model = &self.model;
        let encodings: Vec<Encoding> = batch.iter().map(|p| p.encoding.clone()).collect();
        let inputs = EncoderInputs::from_encodings(&encodings, model.config.pad());
        let hidden = model.encode(&inputs, device)?;
        let rows = |f: &dyn Fn(&Supervision) -> bool| -> Vec<usize> {
            (0..batch.len())
                .filter(|&i| f(&batch[i].supervision))
                .collect()
        };
        let pick = |rows: &[usize]| {
            let ids: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
            hidden.clone().select(
                0,
                Tensor::<1, Int>::from_data(TensorData::new(ids, [rows.len()]), device),
            )
        };
        // Every micro-batch has the same terms, empty ones included (no graph, count 0).
        let empty = |reduce| Part {
            sum: Tensor::<1>::zeros([1], device),
            count: 0.0,
            reduce,
        };
        let mut terms = Vec::new();

        let token_rows = rows(&|s| matches!(s, Supervision::Tokens { .. }));
        let mut tokens = empty(Reduce::Mean);
        if !token_rows.is_empty() {
            let (mut ids, mut mask, mut labels, mut memory_mask) = (vec![], vec![], vec![], vec![]);
            let mut len = 0;
            for &r in &token_rows {
                if let Supervision::Tokens {
                    decoder_ids,
                    decoder_mask,
                    labels: l,
                } = &batch[r].supervision
                {
                    len = decoder_ids.len();
                    ids.extend_from_slice(decoder_ids);
                    mask.extend_from_slice(decoder_mask);
                    labels.extend_from_slice(l);
                }
                memory_mask.extend_from_slice(
                    &inputs.attention_mask[r * inputs.len..(r + 1) * inputs.len],
                );
            }
            if ids.len() != len * token_rows.len() {
                return Err(TrainError::Setup(
                    "decoder inputs of different lengths in one batch".into(),
                ));
            }
            let logits = model.decode(
                pick(&token_rows),
                &memory_mask,
                &ids,
                &mask,
                [token_rows.len(), len],
                device,
            )?;
            let (sum, count) = token_loss_sum(logits, &labels, device)?;
            tokens = Part {
                sum,
                count: count as f64,
                reduce: Reduce::Mean,
            };
        }
        terms.push(LossTerm {
            name: "decoder_ce".into(),
            weight: 1.0,
            part: tokens,
        });

        let Some(head) = &model.net.scalars_head else {
            return Ok(terms);
        };
        let scalar_rows = rows(&|s| matches!(s, Supervision::Scalar(_)));
        let (per_row, reduce): (fn(Tensor<1>) -> Tensor<1>, _) = match self.state.config.scalar_loss
        {
            ScalarLoss::Mse => (|d| d.powi_scalar(2), Reduce::Mean),
            ScalarLoss::Mae => (|d| d.abs(), Reduce::Mean),
            ScalarLoss::Rmse => (|d| d.powi_scalar(2), Reduce::RootMean),
        };
        let mut scalar = empty(reduce);
        if !scalar_rows.is_empty() {
            let out = head.forward(pick(&scalar_rows));
            let [n, _, _] = out.dims();
            let predicted = out.slice([0..n, 0..1, 0..1]).reshape([n]);
            let targets: Vec<f32> = scalar_rows
                .iter()
                .map(|&r| match batch[r].supervision {
                    Supervision::Scalar(v) => v,
                    Supervision::Tokens { .. } => 0.0,
                })
                .collect();
            let diff = predicted - Tensor::<1>::from_data(TensorData::new(targets, [n]), device);
            scalar = Part {
                sum: per_row(diff).sum(),
                count: n as f64,
                reduce,
            };
        }
        terms.push(LossTerm {
            name: "scalar_loss".into(),
            weight: 1.0,
            part: scalar,
        });
        Ok(terms)
    }

    /// One optimisation step.
    pub fn step(&mut self) -> Result<StepLog, TrainError> {
        let step = self.state.step;
        let rows = self.rows(step);
        let micro = self.split.micro_batches(&rows);
        let local = self.split.mine(micro.len());
        let seed = self.state.config.seed;
        // The optimizer is moved out while the micro-batches borrow the trainer.
        let mut optimizer = std::mem::replace(&mut self.optimizer, AdamW::new(Default::default()));
        let result = parallel::descend(
            &mut optimizer,
            self.model.net.clone(),
            Shared {
                step,
                local: &local,
                split: &self.split,
                collective: self.collective.as_ref(),
                // The reference adds its losses (weight 1 each) rather than averaging them.
                combine: Combine::Sum,
            },
            |k| {
                parallel::seed_micro(&self.device, seed, step, k);
                let batch: Vec<&Prepared> = micro[k].iter().map(|&i| &self.data[i]).collect();
                self.losses(&batch)
            },
        );
        self.optimizer = optimizer;
        let (net, log) = result?;
        self.model.net = net;
        self.state.step += 1;
        self.state.history.push(log.clone());
        Ok(log)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }
}

impl Fit for MammalTrainer {
    fn step(&mut self) -> Result<StepLog, TrainError> {
        MammalTrainer::step(self)
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
        Ok(self.bundle.clone().with_weights(&self.model.net.valid())?)
    }
    fn checkpoint(&self) -> Result<Bundle, TrainError> {
        fit::checkpoint(Fit::bundle(self)?, &self.state, &self.optimizer)
    }
}

/// A new MAMMAL bundle of `config`'s shape, initialised on the host from `seed`
/// ([`super::recipe::reference_init`]), with the tokenizer folder's files under `tokenizer/`.
pub fn new_bundle(
    config: &crate::models::mammal::MammalConfig,
    tokenizer: &crate::bundle::BundleFiles,
    seed: u64,
    device: &Device,
) -> Result<Bundle, TrainError> {
    let model = MammalModel::new(config.clone(), device)?;
    let net = super::recipe::reference_init(model.net, seed, device);
    let mut bundle = Bundle::build(config, &net)?;
    for (path, bytes) in tokenizer.iter() {
        let path = path.strip_prefix("tokenizer/").unwrap_or(path);
        bundle = bundle.with_file(format!("tokenizer/{path}"), bytes.to_vec());
    }
    Ok(bundle)
}
