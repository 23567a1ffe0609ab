//! Training cells streamed from a sharded corpus (`tessera data shard`), so memory stays bounded
//! whatever the corpus size: each stream reads its own shards through a bounded shuffle buffer.
//!
//! Stream `s` of `n` owns shards `s, s + n, s + 2n, …` of the manifest and reads them in a
//! seeded order each epoch; draw `i` takes buffer slot `hash(seed, s, i) mod size` and refills
//! it with the stream's next cell. Where a stream is is therefore a function of how many cells it
//! has handed out, so a run resumed at step `t` rebuilds every buffer from the step alone (the
//! slots' bookkeeping is replayed, then only the cells still held are read again).

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::fit::{TrainError, mix};
use super::rna::TrainData;

/// The corpus manifest's file name in a shard folder.
pub const MANIFEST_FILE: &str = "corpus.json";
/// The manifest format this reader writes and reads.
pub const FORMAT: &str = "tessera-corpus/1";

/// A sharded corpus: every shard is an `.h5ad` file over the same genes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    /// Every shard's genes (`var_names`), in order.
    pub genes: Vec<String>,
    pub shards: Vec<ShardEntry>,
    /// For each gene, the number of cells of the corpus that express it (picks a new model's
    /// genes as an in-memory run would).
    pub cells_with: Vec<u64>,
    /// Categorical `obs` columns kept in the shards, with every class seen.
    pub labels: BTreeMap<String, Vec<String>>,
}

/// One shard file of a corpus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// Relative to the manifest's folder.
    pub file: String,
    pub cells: usize,
    /// Stored counts (the size of the shard in memory: ~8 bytes each).
    pub nonzeros: u64,
}

impl Manifest {
    /// Cells in all shards.
    pub fn cells(&self) -> usize {
        self.shards.iter().map(|s| s.cells).sum()
    }

    /// Checks what a reader relies on, naming the manifest's field at fault.
    pub fn check(&self, file: &str) -> Result<(), TrainError> {
        let bad = |what: String| Err(TrainError::Setup(format!("{file}: {what}")));
        if self.format != FORMAT {
            return bad(format!("format {:?}, expected {FORMAT:?}", self.format));
        }
        if self.cells_with.len() != self.genes.len() {
            return bad(format!(
                "cells_with has {} entries for {} genes",
                self.cells_with.len(),
                self.genes.len()
            ));
        }
        if self.shards.is_empty() {
            return bad("no shards".into());
        }
        for (i, shard) in self.shards.iter().enumerate() {
            if shard.cells == 0 {
                return bad(format!("shards[{i}] ({}) has no cells", shard.file));
            }
            if shard.file.contains("..") || shard.file.starts_with('/') {
                return bad(format!(
                    "shards[{i}]: {:?} is outside the corpus folder",
                    shard.file
                ));
            }
        }
        Ok(())
    }
}

/// How cells are streamed: how many streams split the corpus, and each one's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamConfig {
    /// Streams the corpus is cut into; a step's micro-batch `k` comes from stream `k mod
    /// streams`. Runs with the same streams take the same steps on any number of ranks that
    /// divides it.
    pub streams: usize,
    /// Cells each stream holds to shuffle.
    pub shuffle_buffer: usize,
}

/// Reads one shard of a corpus as training cells (the platform's file access).
pub trait ShardReader: Send + Sync {
    /// Every cell of shard `shard` (an index into the manifest's shards), over the run's
    /// panel, with label ids for its heads.
    fn read(&self, shard: usize) -> Result<TrainData, TrainError>;
    /// The shard's name for messages (its file).
    fn name(&self, shard: usize) -> String;
}

/// One training cell: its id, counts over the panel (sparse), and a class id per label head.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub id: String,
    pub counts: Vec<(u32, f32)>,
    pub labels: Vec<i64>,
}

impl Cell {
    /// Cell `row` of `data`.
    pub fn of(data: &TrainData, row: usize) -> Self {
        Self {
            id: data.cell_ids[row].clone(),
            counts: data.cells[row].clone(),
            labels: data.labels.iter().map(|column| column[row]).collect(),
        }
    }
}

/// One stream of a corpus: its shards, its shuffle buffer and where its reading is.
pub struct CellStream {
    stream: usize,
    seed: u64,
    /// The stream's shards (manifest indices) and their sizes, in manifest order.
    shards: Vec<(usize, usize)>,
    /// Cells in one pass over the stream's shards.
    per_epoch: u64,
    /// Slots in the shuffle buffer.
    size: u64,
    /// Each slot: the sequence position of the cell it holds, and the cell.
    buffer: Vec<(u64, Cell)>,
    /// Cells handed out so far.
    draws: u64,
    /// The next sequence position to read into the buffer.
    next: u64,
    /// The shard being read (its manifest index) and its cells.
    open: Option<(usize, TrainData)>,
}

impl CellStream {
    /// Stream `stream` of `config.streams` over shards of `sizes` cells, positioned after
    /// `draws` cells (0 for a new run): its buffer is rebuilt by reading only the cells it holds.
    pub fn new(
        stream: usize,
        config: StreamConfig,
        sizes: &[usize],
        seed: u64,
        draws: u64,
        reader: &dyn ShardReader,
    ) -> Result<Self, TrainError> {
        let shards: Vec<(usize, usize)> = sizes
            .iter()
            .copied()
            .enumerate()
            .skip(stream)
            .step_by(config.streams.max(1))
            .collect();
        let per_epoch: u64 = shards.iter().map(|&(_, n)| n as u64).sum();
        if shards.is_empty() || per_epoch == 0 {
            return Err(TrainError::Setup(format!(
                "streams {}: stream {stream} has no shard (the corpus has {})",
                config.streams,
                sizes.len()
            )));
        }
        let size = config.shuffle_buffer;
        if size == 0 || size as u64 > per_epoch {
            return Err(TrainError::Setup(format!(
                "shuffle_buffer {size}: must be between 1 and the {per_epoch} cells of stream \
                 {stream}'s shards"
            )));
        }
        let mut this = Self {
            stream,
            seed,
            shards,
            per_epoch,
            size: size as u64,
            buffer: Vec::new(),
            draws,
            next: size as u64,
            open: None,
        };
        // Replay the slots' bookkeeping (no cells), then read the cells the buffer holds.
        let mut held: Vec<u64> = (0..size as u64).collect();
        for i in 0..draws {
            held[this.slot(i)] = this.next;
            this.next += 1;
        }
        let mut wanted: BTreeMap<usize, Vec<(usize, usize)>> = BTreeMap::new();
        for (slot, &position) in held.iter().enumerate() {
            let (shard, row) = this.locate(position);
            wanted.entry(shard).or_default().push((slot, row));
        }
        let mut slots: Vec<Option<Cell>> = vec![None; size];
        for (shard, rows) in wanted {
            let data = read_checked(reader, shard, this.size_of(shard))?;
            for (slot, row) in rows {
                slots[slot] = Some(Cell::of(&data, row));
            }
        }
        this.buffer = held
            .into_iter()
            .zip(slots)
            .map(|(position, cell)| (position, cell.expect("every slot was located")))
            .collect();
        Ok(this)
    }

    /// The next `n` cells of the stream.
    pub fn take(&mut self, n: usize, reader: &dyn ShardReader) -> Result<Vec<Cell>, TrainError> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let slot = self.slot(self.draws);
            let incoming = (self.next, self.read(self.next, reader)?);
            out.push(std::mem::replace(&mut self.buffer[slot], incoming).1);
            self.next += 1;
            self.draws += 1;
        }
        Ok(out)
    }

    /// Cells handed out so far.
    pub fn draws(&self) -> u64 {
        self.draws
    }

    /// The buffer slot draw `i` takes.
    fn slot(&self, i: u64) -> usize {
        (mix(self.seed, i, 0x5ea0_0000 + self.stream as u64) % self.size) as usize
    }

    /// The shard (manifest index) and row of the stream's cell at sequence `position`.
    fn locate(&self, position: u64) -> (usize, usize) {
        let epoch = position / self.per_epoch;
        let mut offset = position % self.per_epoch;
        for &(shard, cells) in &self.epoch_order(epoch) {
            if offset < cells as u64 {
                return (shard, offset as usize);
            }
            offset -= cells as u64;
        }
        unreachable!("an offset within an epoch falls in one of its shards")
    }

    /// The stream's shards in epoch `epoch`'s order.
    fn epoch_order(&self, epoch: u64) -> Vec<(usize, usize)> {
        let mut order = self.shards.clone();
        order.shuffle(&mut Xoshiro256PlusPlus::seed_from_u64(mix(
            self.seed,
            epoch,
            0x5a4d_0000 + self.stream as u64,
        )));
        order
    }

    fn size_of(&self, shard: usize) -> usize {
        self.shards
            .iter()
            .find(|&&(s, _)| s == shard)
            .map_or(0, |&(_, n)| n)
    }

    /// The cell at sequence `position`, opening its shard when reading moves on to it.
    fn read(&mut self, position: u64, reader: &dyn ShardReader) -> Result<Cell, TrainError> {
        let (shard, row) = self.locate(position);
        if self.open.as_ref().is_none_or(|(open, _)| *open != shard) {
            // Drop the previous shard before reading the next: one shard in memory at a time.
            self.open = None;
            self.open = Some((shard, read_checked(reader, shard, self.size_of(shard))?));
        }
        let (_, data) = self.open.as_ref().expect("just opened");
        Ok(Cell::of(data, row))
    }
}

/// Reads a shard and checks it holds the cells the manifest says.
fn read_checked(
    reader: &dyn ShardReader,
    shard: usize,
    cells: usize,
) -> Result<TrainData, TrainError> {
    let data = reader.read(shard)?;
    if data.cells.len() != cells || data.cell_ids.len() != cells {
        return Err(TrainError::Setup(format!(
            "{}: {} cells; the corpus manifest says {cells}",
            reader.name(shard),
            data.cells.len()
        )));
    }
    Ok(data)
}
