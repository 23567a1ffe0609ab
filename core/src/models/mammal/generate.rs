//! Generation with a key/value cache: greedy (optionally keeping every step's logits) and beam
//! search with Hugging Face's scoring (log-probability sum / generated length^penalty), both
//! starting from `decoder_start_token_id` and stopping at `<EOS>` or `max_new_tokens`.
//!
//! Async because reading each step's choice back is the only kind of read WebGPU allows.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::model::{EncoderInputs, MammalError, MammalModel};

/// How to generate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GenerateConfig {
    pub max_new_tokens: usize,
    /// 1: greedy; more: beam search.
    pub num_beams: usize,
    pub length_penalty: f64,
    /// Beam search stops as soon as `num_beams` hypotheses are finished.
    pub early_stopping: bool,
    /// Greedy: keep the raw logits of every step (`[B, steps, V]`).
    pub keep_logits: bool,
    /// Greedy: reuse keys and values between steps (off: rerun the decoder over the whole
    /// prefix every step — the same result, for checking and for benchmarks).
    pub use_cache: bool,
    /// Stop a row at `<EOS>` (off: always `max_new_tokens`, for benchmarks).
    pub stop_at_eos: bool,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 5,
            num_beams: 1,
            length_penalty: 1.0,
            early_stopping: false,
            keep_logits: false,
            use_cache: true,
            stop_at_eos: true,
        }
    }
}

/// Generated tokens per row (without the start token; rows that stopped early are padded with
/// `<PAD>` to the longest), and what the mode gives beside them.
#[derive(Clone, Debug, PartialEq)]
pub struct Generated {
    pub ids: Vec<Vec<u32>>,
    /// Greedy with `keep_logits`: `steps` blocks of `[B, V]`, row-major.
    pub step_logits: Option<Vec<f32>>,
    /// Beam search: the best hypothesis's score per row.
    pub sequence_scores: Option<Vec<f32>>,
}

impl Generated {
    pub fn steps(&self) -> usize {
        self.ids.first().map_or(0, Vec::len)
    }
}

async fn read_ids(tensor: Tensor<2, Int>) -> Result<Vec<u32>, MammalError> {
    let data = tensor
        .into_data_async()
        .await
        .map_err(|e| MammalError::Input(format!("reading generated ids: {e:?}")))?;
    data.convert::<i64>()
        .try_into_vec::<i64>()
        .map(|v| v.into_iter().map(|id| id as u32).collect())
        .map_err(|e| MammalError::Input(format!("reading generated ids: {e:?}")))
}

/// A tensor's values on the host (the one read WebGPU allows: asynchronous).
pub(super) async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, MammalError> {
    let data = tensor
        .into_data_async()
        .await
        .map_err(|e| MammalError::Input(format!("reading a result: {e:?}")))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| MammalError::Input(format!("reading a result: {e:?}")))
}

impl MammalModel {
    /// Generates a continuation of each encoder input row.
    pub async fn generate(
        &self,
        inputs: &EncoderInputs,
        config: GenerateConfig,
        device: &Device,
    ) -> Result<Generated, MammalError> {
        if config.max_new_tokens == 0 {
            return Err(MammalError::Input(
                "max_new_tokens must be at least 1".into(),
            ));
        }
        if config.num_beams <= 1 {
            self.greedy(inputs, config, device).await
        } else {
            self.beam_search(inputs, config, device).await
        }
    }

    async fn greedy(
        &self,
        inputs: &EncoderInputs,
        config: GenerateConfig,
        device: &Device,
    ) -> Result<Generated, MammalError> {
        let batch = inputs.batch;
        let memory = self.encode(inputs, device)?;
        let mask = Tensor::<2>::from_data(
            TensorData::new(inputs.attention_mask.clone(), [batch, inputs.len]),
            device,
        );
        let mut cache = config
            .use_cache
            .then(|| self.net.decoder.start(memory.clone(), Some(mask)));
        let (eos, pad) = (self.config.eos(), self.config.pad());
        let start = self.config.decoder_start();
        let mut next = vec![start; batch];
        let mut prefix = next.clone();
        let mut finished = vec![false; batch];
        let mut ids = vec![Vec::new(); batch];
        let mut logits_kept = config.keep_logits.then(Vec::new);
        for step in 0..config.max_new_tokens {
            let logits = match &mut cache {
                Some(cache) => self.step(self.ids(&next, [batch, 1], device)?, cache),
                None => {
                    let len = step + 1;
                    let all = self.decode(
                        memory.clone(),
                        &inputs.attention_mask,
                        &prefix,
                        &vec![1.0; batch * len],
                        [batch, len],
                        device,
                    )?;
                    let vocab = self.config.t5_config.vocab_size;
                    all.slice([0..batch, step..len, 0..vocab])
                        .reshape([batch, vocab])
                }
            };
            let choice = read_ids(logits.clone().argmax(1)).await?;
            if let Some(kept) = &mut logits_kept {
                kept.extend(read_f32(logits).await?);
            }
            for row in 0..batch {
                next[row] = if finished[row] { pad } else { choice[row] };
                ids[row].push(next[row]);
                finished[row] |= config.stop_at_eos && next[row] == eos;
            }
            // The uncached path feeds the whole prefix, row by row.
            prefix = (0..batch)
                .flat_map(|row| std::iter::once(start).chain(ids[row].iter().copied()))
                .collect();
            if finished.iter().all(|&f| f) {
                break;
            }
        }
        Ok(Generated {
            ids,
            step_logits: logits_kept,
            sequence_scores: None,
        })
    }

    async fn beam_search(
        &self,
        inputs: &EncoderInputs,
        config: GenerateConfig,
        device: &Device,
    ) -> Result<Generated, MammalError> {
        let (batch, beams) = (inputs.batch, config.num_beams);
        let vocab = self.config.t5_config.vocab_size;
        let (eos, pad) = (self.config.eos(), self.config.pad());
        // Every row's encoder output, repeated once per beam.
        let memory = self.encode(inputs, device)?;
        let rows: Vec<i64> = (0..batch)
            .flat_map(|b| std::iter::repeat_n(b as i64, beams))
            .collect();
        let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [batch * beams]), device);
        let mask = Tensor::<2>::from_data(
            TensorData::new(inputs.attention_mask.clone(), [batch, inputs.len]),
            device,
        );
        let mut cache = self
            .net
            .decoder
            .start(memory.select(0, rows.clone()), Some(mask.select(0, rows)));
        let mut sequences: Vec<Vec<u32>> = vec![Vec::new(); batch * beams];
        // Only the first beam of each row is live at the start, so the first step does not
        // pick the same token `beams` times.
        let mut scores: Vec<f64> = (0..batch * beams)
            .map(|i| if i % beams == 0 { 0.0 } else { -1e9 })
            .collect();
        let mut finished: Vec<Vec<(f64, Vec<u32>)>> = vec![Vec::new(); batch];
        let mut done = vec![false; batch];
        let mut next = vec![self.config.decoder_start(); batch * beams];
        let normalise = |sum: f64, len: usize| sum / (len as f64).powf(config.length_penalty);
        for step in 0..config.max_new_tokens {
            let step_ids = self.ids(&next, [batch * beams, 1], device)?;
            let logits = self.step(step_ids, &mut cache);
            let log_probs = read_f32(log_softmax(logits, 1)).await?;
            let mut order = Vec::with_capacity(batch * beams);
            let mut new_sequences = Vec::with_capacity(batch * beams);
            let mut new_scores = Vec::with_capacity(batch * beams);
            for b in 0..batch {
                // The 2·beams best (beam, token) continuations of this row.
                let mut candidates: Vec<(f64, usize, u32)> = Vec::with_capacity(beams * vocab);
                for beam in 0..beams {
                    let row = b * beams + beam;
                    let base = scores[row];
                    let lp = &log_probs[row * vocab..(row + 1) * vocab];
                    candidates.extend(
                        lp.iter()
                            .enumerate()
                            .map(|(t, &p)| (base + p as f64, beam, t as u32)),
                    );
                }
                let keep = (2 * beams).min(candidates.len());
                candidates.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
                candidates.truncate(keep);
                candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
                let mut live = Vec::with_capacity(beams);
                for (rank, &(score, beam, token)) in candidates.iter().enumerate() {
                    let parent = b * beams + beam;
                    if token == eos {
                        // Only an EOS among the `beams` best counts as a finished hypothesis.
                        if rank < beams && !done[b] {
                            let mut hypothesis = sequences[parent].clone();
                            hypothesis.push(eos);
                            let len = hypothesis.len();
                            finished[b].push((normalise(score, len), hypothesis));
                        }
                    } else if live.len() < beams {
                        live.push((score, parent, token));
                    }
                }
                finished[b].sort_by(|x, y| y.0.total_cmp(&x.0));
                finished[b].truncate(beams);
                // Done when enough hypotheses are finished and no live beam can beat the worst.
                if !done[b] && finished[b].len() == beams {
                    done[b] = config.early_stopping || {
                        let best_live = live.first().map_or(f64::NEG_INFINITY, |l| l.0);
                        let worst = finished[b].last().map_or(f64::NEG_INFINITY, |f| f.0);
                        worst >= normalise(best_live, step + 1)
                    };
                }
                for &(score, parent, token) in &live {
                    let mut sequence = sequences[parent].clone();
                    sequence.push(if done[b] { pad } else { token });
                    order.push(parent as i64);
                    new_sequences.push(sequence);
                    new_scores.push(score);
                }
            }
            sequences = new_sequences;
            scores = new_scores;
            next = sequences
                .iter()
                .map(|s| *s.last().expect("one token per step"))
                .collect();
            if done.iter().all(|&d| d) || step + 1 == config.max_new_tokens {
                break;
            }
            let order =
                Tensor::<1, Int>::from_data(TensorData::new(order, [batch * beams]), device);
            cache.select(order);
        }
        // Rows still open at the end also count their live beams as hypotheses.
        let mut ids = Vec::with_capacity(batch);
        let mut best_scores = Vec::with_capacity(batch);
        for b in 0..batch {
            if !done[b] {
                for beam in 0..beams {
                    let row = b * beams + beam;
                    let len = sequences[row].len();
                    finished[b].push((normalise(scores[row], len), sequences[row].clone()));
                }
                finished[b].sort_by(|x, y| y.0.total_cmp(&x.0));
            }
            let (score, best) = finished[b].first().cloned().unwrap_or_default();
            ids.push(best);
            best_scores.push(score as f32);
        }
        let longest = ids.iter().map(Vec::len).max().unwrap_or(0);
        for row in &mut ids {
            row.resize(longest, pad);
        }
        Ok(Generated {
            ids,
            step_logits: None,
            sequence_scores: Some(best_scores),
        })
    }
}
