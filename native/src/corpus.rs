//! Sharded corpora on disk: `tessera data shard` cuts any number of cell files into `.h5ad`
//! shards over one gene list with a manifest (`corpus.json`); training reads them back a shard
//! at a time ([`CorpusFiles`], the core's [`ShardReader`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use tessera_core::data::{CountMatrix, write_h5ad};
use tessera_core::models::bmfm_rna::panel::GenePanel;
use tessera_core::train::TrainData;
use tessera_core::train::TrainError;
use tessera_core::train::corpus::{FORMAT, MANIFEST_FILE, Manifest, ShardEntry, ShardReader};
use tessera_core::train::recipe;
use tessera_core::train::rna::Corpus;

use crate::bundle_io;
use crate::rna::read_counts;

/// What `tessera data shard` is asked to do.
pub struct ShardRequest<'a> {
    pub inputs: &'a [PathBuf],
    pub out: &'a Path,
    pub cells_per_shard: usize,
    /// Keep only the cells where `COLUMN = VALUE`.
    pub filter: Option<(&'a str, &'a str)>,
    /// `obs` columns kept in the shards (label heads read them).
    pub labels: &'a [String],
}

/// Cuts the inputs into shards of `cells_per_shard` cells over the first input's genes (each
/// later input's genes matched by name; genes it lacks are zero), one input in memory at a
/// time, and writes the manifest last. Returns the manifest. `out` must be new or empty; when
/// an input is refused, what was written is removed again.
pub fn shard(request: &ShardRequest) -> Result<Manifest> {
    let out = request.out;
    if out.join(MANIFEST_FILE).exists() {
        bail!(
            "{}: already holds a corpus; give an empty folder",
            out.display()
        );
    }
    let existed = out.exists();
    if existed && std::fs::read_dir(out)?.next().is_some() {
        bail!("{}: not empty; give an empty or new folder", out.display());
    }
    if request.cells_per_shard == 0 {
        bail!("--cells-per-shard 0: a shard needs cells");
    }
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let result = write_corpus(request);
    if result.is_err() {
        // Everything in the folder is this run's: it was empty or new.
        let _ = std::fs::remove_dir_all(out);
        if existed {
            let _ = std::fs::create_dir(out);
        }
    }
    result
}

fn write_corpus(request: &ShardRequest) -> Result<Manifest> {
    let out = request.out;
    let progress = ProgressBar::new(request.inputs.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files {msg}").expect("valid template"),
    );
    let mut writer: Option<ShardWriter> = None;
    for path in request.inputs {
        let file = path.display().to_string();
        progress.set_message(file.clone());
        let matrix = read_counts(path, None)?;
        matrix.require_counts(&file)?;
        let rows: Vec<usize> = match request.filter {
            None => (0..matrix.n_cells()).collect(),
            Some((column, value)) => {
                let values = matrix.annotation(&file, column)?;
                (0..matrix.n_cells())
                    .filter(|&i| values[i] == value)
                    .collect()
            }
        };
        let writer = writer.get_or_insert_with(|| ShardWriter::new(out, &matrix.genes, request));
        let shared = writer.add(&file, &matrix, &rows)?;
        progress.suspend(|| {
            eprintln!(
                "{file}: {} cells, {shared} of its {} genes in the corpus's {}",
                rows.len(),
                matrix.n_genes(),
                writer.genes.len()
            )
        });
        progress.inc(1);
    }
    progress.finish_and_clear();
    let Some(writer) = writer else {
        bail!("no input files");
    };
    let manifest = writer.finish()?;
    bundle_io::write_file_atomic(
        &out.join(MANIFEST_FILE),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(manifest)
}

/// Cells waiting for a full shard, and what the manifest will say.
struct ShardWriter<'a> {
    out: &'a Path,
    request: &'a ShardRequest<'a>,
    genes: Vec<String>,
    index: HashMap<String, u32>,
    pending: CountMatrix,
    shards: Vec<ShardEntry>,
    cells_with: Vec<u64>,
    labels: BTreeMap<String, BTreeSet<String>>,
}

impl<'a> ShardWriter<'a> {
    fn new(out: &'a Path, genes: &[String], request: &'a ShardRequest<'a>) -> Self {
        let empty = CountMatrix {
            cell_ids: Vec::new(),
            genes: genes.to_vec(),
            indptr: vec![0],
            indices: Vec::new(),
            values: Vec::new(),
            annotations: request
                .labels
                .iter()
                .map(|c| (c.clone(), Vec::new()))
                .collect(),
            gene_columns: BTreeMap::new(),
        };
        Self {
            out,
            request,
            genes: genes.to_vec(),
            index: genes
                .iter()
                .enumerate()
                .map(|(i, g)| (g.clone(), i as u32))
                .collect(),
            pending: empty,
            shards: Vec::new(),
            cells_with: vec![0; genes.len()],
            labels: BTreeMap::new(),
        }
    }

    /// Adds `rows` of `matrix`, writing every shard that fills; returns how many of the file's
    /// genes the corpus has.
    fn add(&mut self, file: &str, matrix: &CountMatrix, rows: &[usize]) -> Result<usize> {
        let column: Vec<Option<u32>> = matrix
            .genes
            .iter()
            .map(|g| self.index.get(g).copied())
            .collect();
        let shared = column.iter().flatten().count();
        if shared == 0 {
            bail!("{file}: none of its genes is among the corpus's (named by the first input)");
        }
        let labels = self
            .request
            .labels
            .iter()
            .map(|name| Ok((name, matrix.annotation(file, name)?)))
            .collect::<Result<Vec<_>>>()?;
        for &row in rows {
            let mut entries: BTreeMap<u32, f32> = BTreeMap::new();
            for (c, value) in matrix.row(row) {
                if let Some(g) = column[c] {
                    *entries.entry(g).or_default() += value;
                }
            }
            let pending = &mut self.pending;
            for (g, value) in entries.into_iter().filter(|&(_, v)| v > 0.0) {
                pending.indices.push(g);
                pending.values.push(value);
                self.cells_with[g as usize] += 1;
            }
            pending.indptr.push(pending.indices.len());
            pending.cell_ids.push(matrix.cell_ids[row].clone());
            for &(name, values) in &labels {
                let value = values[row].clone();
                self.labels
                    .entry(name.clone())
                    .or_default()
                    .insert(value.clone());
                pending
                    .annotations
                    .get_mut(name)
                    .expect("one list per label")
                    .push(value);
            }
            if pending.cell_ids.len() == self.request.cells_per_shard {
                self.flush()?;
            }
        }
        Ok(shared)
    }

    /// Writes the pending cells as the next shard.
    fn flush(&mut self) -> Result<()> {
        if self.pending.cell_ids.is_empty() {
            return Ok(());
        }
        let name = format!("shard-{:05}.h5ad", self.shards.len());
        let path = self.out.join(&name);
        let bytes = write_h5ad(&path.display().to_string(), &self.pending)?;
        bundle_io::write_file_atomic(&path, &bytes)?;
        self.shards.push(ShardEntry {
            file: name,
            cells: self.pending.cell_ids.len(),
            nonzeros: self.pending.values.len() as u64,
        });
        let pending = &mut self.pending;
        pending.cell_ids.clear();
        pending.indptr.truncate(1);
        pending.indices.clear();
        pending.values.clear();
        for values in pending.annotations.values_mut() {
            values.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Manifest> {
        self.flush()?;
        if self.shards.is_empty() {
            bail!("no cell to shard (check --where)");
        }
        Ok(Manifest {
            format: FORMAT.into(),
            genes: self.genes,
            shards: self.shards,
            cells_with: self.cells_with,
            labels: self
                .labels
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().collect()))
                .collect(),
        })
    }
}

/// A corpus folder opened for training: its manifest, and what a shard's cells become.
#[derive(Clone)]
pub struct CorpusFiles {
    dir: PathBuf,
    pub manifest: Manifest,
    panel: GenePanel,
    /// The model's label heads: column and class names.
    heads: Vec<(String, Vec<String>)>,
}

impl CorpusFiles {
    /// Reads `dir`'s manifest. `vocab` and `heads` are the model's: every head's column must
    /// have been kept when sharding.
    pub fn open(
        dir: &Path,
        vocab: &tessera_core::tokenize::rna::GeneVocab,
        heads: Vec<(String, Vec<String>)>,
    ) -> Result<Self> {
        let manifest = Self::manifest(dir)?;
        let name = dir.join(MANIFEST_FILE).display().to_string();
        let panel = GenePanel::new(&name, &manifest.genes, vocab)?;
        for (column, _) in &heads {
            if !manifest.labels.contains_key(column) {
                bail!(
                    "{name}: the corpus has no `{column}` column for the model's label head \
                     (shard with --label {column})"
                );
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            panel,
            heads,
        })
    }

    /// `dir`'s manifest, checked.
    pub fn manifest(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let name = path.display().to_string();
        let bytes = std::fs::read(&path).with_context(|| {
            format!("{name}: cannot read (a folder written by `tessera data shard`?)")
        })?;
        let manifest: Manifest = tessera_core::bundle::parse_json(&name, &bytes)?;
        manifest.check(&name)?;
        Ok(manifest)
    }

    /// The corpus as a trainer reads it.
    pub fn corpus(&self) -> Corpus {
        Corpus {
            panel: self.panel.clone(),
            label_heads: self.heads.len(),
            sizes: self.manifest.shards.iter().map(|s| s.cells).collect(),
            reader: Box::new(self.clone()),
        }
    }
}

impl ShardReader for CorpusFiles {
    fn read(&self, shard: usize) -> Result<TrainData, TrainError> {
        let name = self.name(shard);
        let setup = |e: anyhow::Error| TrainError::Setup(format!("{e:#}"));
        let matrix =
            read_counts(&self.dir.join(&self.manifest.shards[shard].file), None).map_err(setup)?;
        if matrix.genes != self.manifest.genes {
            return Err(TrainError::Setup(format!(
                "{name}: its genes are not the corpus manifest's"
            )));
        }
        let rows: Vec<usize> = (0..matrix.n_cells()).collect();
        recipe::train_data(&name, &matrix, self.panel.clone(), &rows, &self.heads)
    }

    fn name(&self, shard: usize) -> String {
        self.dir
            .join(&self.manifest.shards[shard].file)
            .display()
            .to_string()
    }
}
