//! Training batches: gene order with batch-wise zero padding, MLM masking and WCED targets,
//! all drawn on the host from one seeded generator (`training/sample_transforms.py`,
//! `training/masking/*` in the reference).

use rand::seq::SliceRandom;
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::objectives::IGNORE;
use crate::models::bmfm_rna::RnaBatch;
use crate::models::bmfm_rna::panel::GenePanel;
use crate::tokenize::rna::{CellEncoder, RnaTokenizeError};

/// How the training input sequences are built.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SequenceConfig {
    /// Probability that a cell shows only its expressed genes.
    pub expressed_sample_ratio: f64,
    /// Share of expressed genes in the interleave with batch zeros (0.9: nine expressed genes,
    /// then one gene that is zero here but expressed elsewhere in the batch). `None` puts all
    /// expressed genes first (the v1 `batch_wise` strategy).
    pub interleave_zero_ratio: Option<f64>,
    /// Expressed genes only, highest count first: exactly what inference with a sorted
    /// encoder sees (used for fine-tuning, so a head trains on the inputs it will be given).
    #[serde(default)]
    pub sorted_expressed: bool,
}

impl Default for SequenceConfig {
    fn default() -> Self {
        Self {
            expressed_sample_ratio: 0.2,
            interleave_zero_ratio: Some(0.9),
            sorted_expressed: false,
        }
    }
}

/// MLM masking ratios; the defaults are the released models'.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MlmConfig {
    /// Share of gene positions selected per masked field.
    pub change_ratio: f64,
    /// Of the selected positions, the share replaced by `[MASK]`.
    pub mask_ratio: f64,
    /// Of the selected positions, the share replaced by a random gene / value.
    pub switch_ratio: f64,
    /// Mask the gene identities too (predicting them with a `genes_token_scores` decoder).
    pub mask_genes: bool,
}

impl Default for MlmConfig {
    fn default() -> Self {
        Self {
            change_ratio: 0.15,
            mask_ratio: 0.95,
            switch_ratio: 0.0,
            mask_genes: false,
        }
    }
}

/// WCED targets, `[B, V]` row-major; −100 where a gene is not in that label set.
#[derive(Clone, Debug, PartialEq)]
pub struct WcedTargets {
    pub input: Vec<f32>,
    pub non_input: Vec<f32>,
    pub all: Vec<f32>,
}

/// MLM targets, `[B, L]`; −100 at unselected positions.
#[derive(Clone, Debug, PartialEq)]
pub struct MlmTargets {
    pub genes: Vec<i64>,
    pub expressions: Vec<f32>,
}

/// One training batch and its targets.
#[derive(Clone, Debug)]
pub struct TrainBatch {
    pub input: RnaBatch,
    pub mlm: Option<MlmTargets>,
    pub wced: Option<WcedTargets>,
    /// Per label column, one class id per cell (−100 = unknown).
    pub labels: Vec<Vec<i64>>,
}

/// What the collator needs besides the cells.
pub struct Collator<'a> {
    pub encoder: &'a CellEncoder,
    pub panel: &'a GenePanel,
    pub vocab_size: usize,
    pub sequence: &'a SequenceConfig,
    pub mlm: Option<&'a MlmConfig>,
    pub wced: bool,
}

impl Collator<'_> {
    /// Builds a batch from cells given as dense panel counts, with their label ids. `targets`
    /// (one per cell) are the counts WCED decodes when they differ from the input's (a degraded
    /// input: the model learns to recover the full cell).
    pub fn collate(
        &self,
        cells: &[(&str, Vec<f32>)],
        targets: Option<&[Vec<f32>]>,
        labels: Vec<Vec<i64>>,
        rng: &mut impl Rng,
    ) -> Result<TrainBatch, RnaTokenizeError> {
        let names = self.panel.names();
        let len = self.encoder.config.max_length;
        let n_panel = self.panel.len();
        // Genes expressed in at least one cell of the batch.
        let mut in_batch = vec![false; n_panel];
        for (_, counts) in cells {
            for (g, &c) in counts.iter().enumerate() {
                in_batch[g] |= c > 0.0;
            }
        }
        let mut encoded_cells = Vec::with_capacity(cells.len());
        let mut wced = self.wced.then(|| WcedTargets {
            input: vec![IGNORE; cells.len() * self.vocab_size],
            non_input: vec![IGNORE; cells.len() * self.vocab_size],
            all: vec![IGNORE; cells.len() * self.vocab_size],
        });
        for (b, (cell, counts)) in cells.iter().enumerate() {
            let order = self.order(counts, &in_batch, rng);
            let encoded = self.encoder.encode_in_order(cell, &names, counts, &order)?;
            if let Some(wced) = wced.as_mut() {
                let counts = targets.map_or(counts.as_slice(), |t| t[b].as_slice());
                let total: f64 = counts.iter().map(|&c| c as f64).sum();
                let shown = &order[..order.len().min(len - self.encoder.config.prepend.len() - 1)];
                let mut is_input = vec![false; n_panel];
                for &g in shown {
                    is_input[g] = true;
                }
                let row = b * self.vocab_size;
                for g in 0..n_panel {
                    let value = (1e4 * counts[g] as f64 / (total + 1.0)).ln_1p() as f32;
                    let at = row + self.panel.ids[g] as usize;
                    wced.all[at] = value;
                    if is_input[g] {
                        wced.input[at] = value;
                    } else {
                        wced.non_input[at] = value;
                    }
                }
            }
            encoded_cells.push(encoded);
        }
        // Every row is padded to max_length, whatever the encoder's own padding.
        let mut input = RnaBatch::padded(&encoded_cells, len, self.encoder.vocab.pad_id());
        let mlm = self.mlm.map(|config| self.mask(&mut input, config, rng));
        Ok(TrainBatch {
            input,
            mlm,
            wced,
            labels,
        })
    }

    /// The reference's batch-wise zero padding: expressed genes (shuffled), interleaved with
    /// genes zero here but expressed elsewhere in the batch, then the remaining zeros.
    fn order(&self, counts: &[f32], in_batch: &[bool], rng: &mut impl Rng) -> Vec<usize> {
        let mut expressed: Vec<usize> = (0..counts.len()).filter(|&g| counts[g] > 0.0).collect();
        if self.sequence.sorted_expressed {
            // Stable, descending by raw count, as the inference encoder orders them.
            expressed.sort_by(|&a, &b| counts[b].total_cmp(&counts[a]));
            return expressed;
        }
        expressed.shuffle(rng);
        if rng.random::<f64>() < self.sequence.expressed_sample_ratio {
            return expressed;
        }
        let (mut batch_zero, mut other_zero): (Vec<usize>, Vec<usize>) = (0..counts.len())
            .filter(|&g| counts[g] == 0.0)
            .partition(|&g| in_batch[g]);
        batch_zero.shuffle(rng);
        other_zero.shuffle(rng);
        let mut order = Vec::with_capacity(counts.len());
        match self.sequence.interleave_zero_ratio {
            Some(ratio) => {
                // Granularity 10: per cycle, round(10·ratio) expressed genes then the rest zeros.
                let take = ((10.0 * ratio).round() as usize).clamp(1, 10);
                let (mut e, mut z) = (expressed.into_iter(), batch_zero.into_iter());
                loop {
                    let before = order.len();
                    order.extend(e.by_ref().take(take));
                    let expressed_done = order.len() - before < take;
                    order.extend(z.by_ref().take(10 - take));
                    if expressed_done {
                        break;
                    }
                }
                order.extend(e);
                order.extend(z);
            }
            None => {
                order.extend(expressed);
                order.extend(batch_zero);
            }
        }
        order.extend(other_zero);
        order
    }

    /// MLM selection per field (genes first when masked, then expressions); a position chosen
    /// for one field is not eligible for the next, and `[UNK]` genes never are.
    fn mask(&self, batch: &mut RnaBatch, config: &MlmConfig, rng: &mut impl Rng) -> MlmTargets {
        let vocab = &self.encoder.vocab;
        let n = batch.gene_ids.len();
        let mut targets = MlmTargets {
            genes: vec![IGNORE as i64; n],
            expressions: vec![IGNORE; n],
        };
        let prefix = self.encoder.config.prepend.len();
        let len = batch.len;
        let mut taken = vec![false; n];
        let fields: &[bool] = if config.mask_genes {
            &[true, false]
        } else {
            &[false]
        };
        for &genes in fields {
            for (i, taken) in taken.iter_mut().enumerate() {
                if *taken
                    || i % len < prefix
                    || vocab.is_special(batch.gene_ids[i])
                    || batch.attention_mask[i] == 0.0
                {
                    continue;
                }
                if rng.random::<f64>() >= config.change_ratio {
                    continue;
                }
                *taken = true;
                let draw = rng.random::<f64>();
                if genes {
                    targets.genes[i] = batch.gene_ids[i] as i64;
                    if draw < config.mask_ratio {
                        batch.gene_ids[i] = vocab.mask_id();
                    } else if draw < config.mask_ratio + config.switch_ratio {
                        batch.gene_ids[i] = self.panel.ids[rng.random_range(0..self.panel.len())];
                    }
                } else {
                    targets.expressions[i] = batch.expressions[i];
                    if draw < config.mask_ratio {
                        batch.expressions[i] = -(vocab.mask_id() as f32 + 1.0);
                    } else if draw < config.mask_ratio + config.switch_ratio {
                        // Another gene position's value from the same batch.
                        let j = rng.random_range(0..n);
                        if batch.expressions[j] >= 0.0 {
                            batch.expressions[i] = batch.expressions[j];
                        }
                    }
                }
            }
        }
        targets
    }
}
