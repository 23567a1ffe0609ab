//! Cell → gene/expression sequence, exactly as BMFM-RNA's collator builds it: genes ordered by
//! raw count (stable) or seeded at random, `log1p(1e4·x/(Σx+1))` over the whole gene list,
//! `[CLS] genes… [SEP]`, truncation, padding, and special tokens written as `−(id+1)` in the
//! expression channel.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// The special tokens every BMFM-RNA gene vocabulary starts with.
pub const UNK: &str = "[UNK]";
pub const SEP: &str = "[SEP]";
pub const PAD: &str = "[PAD]";
pub const CLS: &str = "[CLS]";
pub const MASK: &str = "[MASK]";

/// Gene symbol → token id (case-sensitive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneVocab {
    ids: HashMap<String, u32>,
    unk: u32,
    sep: u32,
    pad: u32,
    cls: u32,
    mask: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RnaTokenizeError {
    #[error("{file}: {message}")]
    Vocab { file: String, message: String },
    #[error("cell {cell}: {message}")]
    Cell { cell: String, message: String },
}

impl GeneVocab {
    /// From a `token → id` JSON map (the fixtures' `vocab.json`, or a WordLevel `model.vocab`).
    pub fn from_map(file: &str, ids: HashMap<String, u32>) -> Result<Self, RnaTokenizeError> {
        let special = |name: &str| {
            ids.get(name)
                .copied()
                .ok_or_else(|| RnaTokenizeError::Vocab {
                    file: file.into(),
                    message: format!("special token `{name}` is missing"),
                })
        };
        Ok(Self {
            unk: special(UNK)?,
            sep: special(SEP)?,
            pad: special(PAD)?,
            cls: special(CLS)?,
            mask: special(MASK)?,
            ids,
        })
    }

    pub fn from_json(file: &str, bytes: &[u8]) -> Result<Self, RnaTokenizeError> {
        let ids = serde_json::from_slice(bytes).map_err(|e| RnaTokenizeError::Vocab {
            file: file.into(),
            message: e.to_string(),
        })?;
        Self::from_map(file, ids)
    }

    /// The id of a token, `[UNK]` for symbols outside the vocabulary.
    pub fn id(&self, token: &str) -> u32 {
        self.ids.get(token).copied().unwrap_or(self.unk)
    }

    pub fn contains(&self, token: &str) -> bool {
        self.ids.contains_key(token)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The genes among the tokens (all but the special ones).
    pub fn gene_count(&self) -> usize {
        self.ids
            .values()
            .filter(|&&id| !self.is_special(id))
            .count()
    }

    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    pub fn mask_id(&self) -> u32 {
        self.mask
    }

    /// Whether `id` is one of `[UNK]`, `[SEP]`, `[PAD]`, `[CLS]`, `[MASK]`.
    pub fn is_special(&self, id: u32) -> bool {
        [self.unk, self.sep, self.pad, self.cls, self.mask].contains(&id)
    }
}

/// Which genes of a cell enter its sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposeZeros {
    /// Only expressed genes (the reference's `expose_zeros=None`).
    None,
    /// Every gene, zeros after the expressed ones (`expose_zeros='all'`).
    All,
}

/// Gene order within a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum SequenceOrder {
    /// Descending raw count; ties keep column order.
    Sorted,
    /// A random permutation drawn from `seed` and the cell's index.
    Random { seed: u64 },
}

/// How to pad a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// Always to `max_length`.
    MaxLength,
    /// Not at all (batches pad to their longest).
    None,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellEncoderConfig {
    /// Tokens per sequence including `[CLS]`/prefix tokens and `[SEP]`.
    pub max_length: usize,
    pub expose_zeros: ExposeZeros,
    pub order: SequenceOrder,
    pub padding: Padding,
    /// `log1p(1e4·x/(Σx+1))` when true; raw counts otherwise.
    pub log_normalize: bool,
    /// Tokens before the genes; `["[CLS]"]` for most checkpoints.
    pub prepend: Vec<String>,
}

impl CellEncoderConfig {
    pub fn new(max_length: usize) -> Self {
        Self {
            max_length,
            expose_zeros: ExposeZeros::None,
            order: SequenceOrder::Sorted,
            padding: Padding::MaxLength,
            log_normalize: true,
            prepend: vec![CLS.into()],
        }
    }
}

/// One cell as model input: two channels of equal length and the attention mask.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedCell {
    pub gene_ids: Vec<u32>,
    /// Normalised expression at gene positions, `−(id+1)` at special positions.
    pub expressions: Vec<f32>,
    pub attention_mask: Vec<u8>,
}

/// Encodes cells under one configuration and vocabulary.
#[derive(Clone, Debug)]
pub struct CellEncoder {
    pub config: CellEncoderConfig,
    pub vocab: GeneVocab,
}

impl CellEncoder {
    pub fn new(config: CellEncoderConfig, vocab: GeneVocab) -> Self {
        Self { config, vocab }
    }

    /// Encodes one cell given its genes and raw counts (one entry per gene column).
    /// `index` seeds the random order so that each cell gets its own permutation.
    pub fn encode(
        &self,
        cell: &str,
        index: u64,
        genes: &[&str],
        counts: &[f32],
    ) -> Result<EncodedCell, RnaTokenizeError> {
        self.check(cell, genes, counts)?;
        let mut columns: Vec<usize> = match self.config.expose_zeros {
            ExposeZeros::None => (0..counts.len()).filter(|&i| counts[i] > 0.0).collect(),
            ExposeZeros::All => (0..counts.len()).collect(),
        };
        match self.config.order {
            SequenceOrder::Sorted => columns.sort_by(|&a, &b| counts[b].total_cmp(&counts[a])),
            SequenceOrder::Random { seed } => shuffle(
                &mut columns,
                seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            ),
        }
        Ok(self.assemble(genes, counts, &columns))
    }

    /// Input checks shared by both encoders: one count per gene, counts finite and ≥ 0, room for
    /// the special tokens.
    fn check(&self, cell: &str, genes: &[&str], counts: &[f32]) -> Result<(), RnaTokenizeError> {
        let fail = |message: String| RnaTokenizeError::Cell {
            cell: cell.into(),
            message,
        };
        if genes.len() != counts.len() {
            return Err(fail(format!(
                "{} genes but {} counts",
                genes.len(),
                counts.len()
            )));
        }
        if let Some(bad) = counts.iter().position(|c| !c.is_finite() || *c < 0.0) {
            return Err(fail(format!(
                "gene `{}` has count {}, expected a finite count ≥ 0",
                genes[bad], counts[bad]
            )));
        }
        let prefix = self.config.prepend.len();
        if self.config.max_length < prefix + 1 {
            return Err(fail(format!(
                "max_length {} leaves no room for the special tokens",
                self.config.max_length
            )));
        }
        Ok(())
    }

    /// Encodes one cell with the genes in a given order (training builds its own orders, see
    /// `train::collate`); the list is truncated to fit and normalised over all of `counts`.
    pub fn encode_in_order(
        &self,
        cell: &str,
        genes: &[&str],
        counts: &[f32],
        columns: &[usize],
    ) -> Result<EncodedCell, RnaTokenizeError> {
        self.check(cell, genes, counts)?;
        if let Some(&bad) = columns.iter().find(|&&c| c >= counts.len()) {
            return Err(RnaTokenizeError::Cell {
                cell: cell.into(),
                message: format!("column {bad} is outside the {} genes", counts.len()),
            });
        }
        Ok(self.assemble(genes, counts, columns))
    }

    fn assemble(&self, genes: &[&str], counts: &[f32], columns: &[usize]) -> EncodedCell {
        // The normalising sum runs over the whole list, before truncation.
        let total: f64 = counts.iter().map(|&c| c as f64).sum();
        let prefix = self.config.prepend.len();
        let columns = &columns[..columns.len().min(self.config.max_length - prefix - 1)];
        let special = |id: u32| -(id as f32 + 1.0);
        let mut gene_ids = Vec::with_capacity(self.config.max_length);
        let mut expressions = Vec::with_capacity(self.config.max_length);
        for token in &self.config.prepend {
            let id = self.vocab.id(token);
            gene_ids.push(id);
            expressions.push(special(id));
        }
        for &column in columns {
            gene_ids.push(self.vocab.id(genes[column]));
            let x = counts[column] as f64;
            let value = if self.config.log_normalize {
                (1e4 * x / (total + 1.0)).ln_1p()
            } else {
                x
            };
            expressions.push(value as f32);
        }
        gene_ids.push(self.vocab.sep);
        expressions.push(special(self.vocab.sep));
        let mut attention_mask = vec![1u8; gene_ids.len()];
        if self.config.padding == Padding::MaxLength {
            while gene_ids.len() < self.config.max_length {
                gene_ids.push(self.vocab.pad);
                expressions.push(special(self.vocab.pad));
                attention_mask.push(0);
            }
        }
        EncodedCell {
            gene_ids,
            expressions,
            attention_mask,
        }
    }
}

/// A seeded permutation; Xoshiro256++ is fully specified, so it is the same on every platform
/// and every release.
fn shuffle(items: &mut [usize], seed: u64) {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    items.shuffle(&mut rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed));
}
