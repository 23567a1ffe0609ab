//! `tessera bundle …`: look inside a bundle, pack it into the browser's single archive, store
//! its weights in another dtype, or make one with random weights in a published layout. Every
//! command streams: memory stays flat whatever the bundle's size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use tessera_core::bundle::convert::{PublishedTensor, convert_weights, write_random};
use tessera_core::bundle::{BundleFiles, CONFIG_FILE, WEIGHTS_FILE, WeightDtype};
use tessera_core::models::bmfm_rna::RnaConfig;
use tessera_core::models::bmfm_rna::keys::{self as rna_keys, BertGeometry};
use tessera_core::models::bmfm_rna::pipeline::{INFO_FILE, VOCAB_FILES};
use tessera_core::models::mammal::MammalConfig;
use tessera_core::models::mammal::keys::published_tensors;

use crate::bundle_io;

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Print a bundle's config and tensor table.
    Inspect {
        /// Bundle folder or .tar archive.
        bundle: PathBuf,
    },
    /// Pack a bundle folder into one .tar archive (what the browser fetches).
    Pack {
        bundle: PathBuf,
        /// Output archive.
        output: PathBuf,
    },
    /// Unpack a bundle archive into a folder (replacing a bundle already there, atomically).
    Unpack {
        archive: PathBuf,
        /// Output folder.
        output: PathBuf,
    },
    /// Store a bundle's float weights as f32, f16, bf16 or q8 (int8 per output channel with
    /// its scales in `NAME.q8_scale`); the other files are copied.
    Convert {
        /// f32 | f16 | bf16 | q8.
        #[arg(long)]
        dtype: String,
        /// Bundle folder or .tar archive.
        input: PathBuf,
        /// Output folder, or a .tar archive.
        output: PathBuf,
    },
    /// Write a bundle with random weights in a published model's layout and config (the same
    /// tensor names and shapes as its checkpoint, tokenizer included), to try a size before
    /// fetching real weights.
    Random {
        #[arg(long, value_enum)]
        like: Published,
        /// Output folder, or a .tar archive.
        #[arg(long)]
        out: PathBuf,
        /// f32 | f16 | bf16 | q8.
        #[arg(long, default_value = "f32")]
        dtype: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Where the files beside the weights come from. MAMMAL: its tokenizer, from a tokenizer
        /// folder or a bundle holding one in `tokenizer/` (default: the shipped playground
        /// model, which has the published one). BMFM-RNA: the expression field, label heads,
        /// class names, cell settings and the genes of the vocabulary, from a BMFM-RNA bundle
        /// (default: the shipped annotation model; the vocabulary is filled up to the
        /// published size with placeholder genes).
        #[arg(long, alias = "tokenizer")]
        from: Option<PathBuf>,
    },
}

/// Published models `bundle random` can imitate.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Published {
    /// ibm/biomed.omics.bl.sm.ma-ted-458m: T5 12 + 12 layers × 768, vocabulary 100,001.
    #[value(name = "mammal-458m")]
    Mammal458m,
    /// The same layout and vocabulary at 2 + 2 layers × 64 (19 M parameters, for tests).
    #[value(name = "mammal-458m-narrow")]
    Mammal458mNarrow,
    /// biomed.rna.bert.110m.wced.multitask.v1: SCBert 12 × 768 over 94,911 genes, with the
    /// WCED decoder and label heads (305 M parameters).
    #[value(name = "bmfm-rna-110m")]
    BmfmRna110m,
    /// The same layout and vocabulary at 2 layers × 64 (18 M parameters, for tests).
    #[value(name = "bmfm-rna-110m-narrow")]
    BmfmRna110mNarrow,
}

impl Published {
    fn name(self) -> String {
        self.to_possible_value()
            .map_or_else(String::new, |v| v.get_name().to_string())
    }

    fn is_mammal(self) -> bool {
        matches!(self, Self::Mammal458m | Self::Mammal458mNarrow)
    }
}

pub fn run(command: BundleCommand) -> Result<()> {
    match command {
        BundleCommand::Inspect { bundle } => inspect(&bundle),
        BundleCommand::Pack { bundle, output } => {
            let files = bundle_io::read_files(&bundle)?;
            let size = bundle_io::write_tar(&files, &output)?;
            println!("{} ({size} bytes)", output.display());
            Ok(())
        }
        BundleCommand::Unpack { archive, output } => {
            let bundle = bundle_io::read(&archive)?;
            bundle_io::write_dir(&bundle, &output)?;
            println!(
                "{} ({} files)",
                output.display(),
                bundle.files().iter().count()
            );
            Ok(())
        }
        BundleCommand::Convert {
            dtype,
            input,
            output,
        } => convert(&input, &output, parse_dtype(&dtype)?),
        BundleCommand::Random {
            like,
            out,
            dtype,
            seed,
            from,
        } => {
            let from = from.unwrap_or_else(|| {
                PathBuf::from(if like.is_mammal() {
                    "www/models/mammal-molecules.tar"
                } else {
                    "www/models/rna-pbmc3k.tar"
                })
            });
            random(like, &out, parse_dtype(&dtype)?, seed, &from)
        }
    }
}

fn parse_dtype(name: &str) -> Result<WeightDtype> {
    name.parse().context("--dtype")
}

/// Writes a bundle (folder or `.tar`, by `output`'s extension): `files` as they are, and
/// `model.safetensors` from `weights`, streamed into a file.
fn write_bundle(
    output: &Path,
    files: &BundleFiles,
    weights: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
) -> Result<()> {
    let is_tar = output.extension().is_some_and(|e| e == "tar");
    let folder = if is_tar {
        output.with_extension("tar.parts")
    } else {
        output.to_path_buf()
    };
    bundle_io::write_dir_with(&folder, |dir| {
        bundle_io::write_files(files, dir)?;
        bundle_io::write_atomic_with(&dir.join(WEIGHTS_FILE), |out| weights(out))
    })?;
    if is_tar {
        let result = bundle_io::read_files(&folder).and_then(|f| bundle_io::write_tar(&f, output));
        std::fs::remove_dir_all(&folder)
            .with_context(|| format!("{}: cannot remove", folder.display()))?;
        result?;
    }
    Ok(())
}

fn convert(input: &Path, output: &Path, dtype: WeightDtype) -> Result<()> {
    let bundle = bundle_io::read(input)?;
    let mut others = BundleFiles::default();
    for (name, _) in bundle.files().iter().filter(|(n, _)| *n != WEIGHTS_FILE) {
        others.insert(name, bundle.files().shared(name)?.clone());
    }
    let weights = bundle.files().shared(WEIGHTS_FILE)?;
    write_bundle(output, &others, |out| {
        convert_weights(WEIGHTS_FILE, weights, dtype, out)
            .with_context(|| format!("bundle {}", input.display()))?;
        Ok(())
    })?;
    println!(
        "{} ({dtype}, {} bytes of weights in)",
        output.display(),
        weights.len()
    );
    Ok(())
}

fn random(
    like: Published,
    output: &Path,
    dtype: WeightDtype,
    seed: u64,
    from: &Path,
) -> Result<()> {
    let (files, layout) = if like.is_mammal() {
        mammal_layout(like, from)?
    } else {
        rna_layout(like, from, seed)?
    };
    let params: usize = layout
        .iter()
        .map(|t| t.shape.iter().product::<usize>())
        .sum();
    let progress = ProgressBar::new(layout.len() as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tensors {elapsed}")
            .expect("valid template"),
    );
    write_bundle(output, &files, |out| {
        write_random(WEIGHTS_FILE, &layout, dtype, seed, out, |_| progress.inc(1))?;
        Ok(())
    })?;
    progress.finish_and_clear();
    println!(
        "{} ({like:?}, {params} parameters, {dtype}, seed {seed})",
        output.display()
    );
    Ok(())
}

/// MAMMAL's config, tokenizer and tensors for `like`.
fn mammal_layout(like: Published, from: &Path) -> Result<(BundleFiles, Vec<PublishedTensor>)> {
    let mut config = MammalConfig::published_458m();
    if matches!(like, Published::Mammal458mNarrow) {
        let t5 = &mut config.t5_config;
        (t5.d_model, t5.d_kv, t5.d_ff, t5.num_heads) = (64, 16, 128, 4);
        (t5.num_layers, t5.num_decoder_layers) = (2, Some(2));
        config.encoder_head_layers = vec![128, 64];
    }
    let mut files = BundleFiles::default();
    files.insert(CONFIG_FILE, serde_json::to_vec_pretty(&config)?);
    for (name, bytes) in tokenizer_files(from)?.iter() {
        files.insert(format!("tokenizer/{name}"), bytes.to_vec());
    }
    Ok((files, published_tensors(&config)))
}

/// BMFM-RNA's config (the published sizes on `from`'s fields and heads), its gene vocabulary
/// (`from`'s genes at their ids, then placeholders up to the published size), `tessera.json`
/// and tensors for `like`.
fn rna_layout(
    like: Published,
    from: &Path,
    seed: u64,
) -> Result<(BundleFiles, Vec<PublishedTensor>)> {
    let geometry = match like {
        Published::BmfmRna110mNarrow => BertGeometry {
            hidden: 64,
            layers: 2,
            heads: 4,
            intermediate: 256,
            ..BertGeometry::BERT_110M
        },
        _ => BertGeometry::BERT_110M,
    };
    let source = bundle_io::read(from)
        .with_context(|| format!("--from {}: not a BMFM-RNA bundle", from.display()))?;
    let context = || format!("--from {}", from.display());
    let mut config = source.config_json().with_context(context)?;
    geometry.apply(&mut config).with_context(context)?;
    let config_bytes = serde_json::to_vec_pretty(&config)?;
    let parsed = RnaConfig::parse(&config_bytes).with_context(context)?;
    let layout = rna_keys::published_tensors(&parsed).with_context(context)?;

    let (vocab_file, vocab) = VOCAB_FILES
        .iter()
        .find_map(|name| source.file(name).ok().map(|bytes| (*name, bytes)))
        .with_context(|| format!("--from {}: no gene vocabulary", from.display()))?;
    let mut vocab: BTreeMap<String, usize> = serde_json::from_slice(vocab)
        .with_context(|| format!("--from {}: {vocab_file}", from.display()))?;
    if vocab.len() > geometry.genes {
        bail!(
            "--from {}: {vocab_file} has {} tokens, more than the published {}",
            from.display(),
            vocab.len(),
            geometry.genes
        );
    }
    if let Some((gene, id)) = vocab.iter().find(|(_, id)| **id >= geometry.genes) {
        bail!(
            "--from {}: {vocab_file} gives `{gene}` id {id}, outside the published {} tokens",
            from.display(),
            geometry.genes
        );
    }
    let used: std::collections::BTreeSet<usize> = vocab.values().copied().collect();
    let mut free = (0..geometry.genes).filter(|id| !used.contains(id));
    while vocab.len() < geometry.genes {
        let id = free.next().context("vocabulary ids run out")?;
        vocab.insert(format!("RANDOM_GENE_{id}"), id);
    }

    let mut files = BundleFiles::default();
    files.insert(CONFIG_FILE, config_bytes);
    files.insert(VOCAB_FILES[0], serde_json::to_vec_pretty(&vocab)?);
    if let Ok(info) = source.file(INFO_FILE) {
        let mut info: serde_json::Value = serde_json::from_slice(info)
            .with_context(|| format!("--from {}: {INFO_FILE}", from.display()))?;
        info["provenance"] = serde_json::json!({
            "made_by": format!("tessera bundle random --like {}", like.name()),
            "weights": "random (not trained): for sizes and speed, not for answers",
            "seed": seed,
            "settings_from": from.display().to_string(),
        });
        files.insert(INFO_FILE, serde_json::to_vec_pretty(&info)?);
    }
    Ok((files, layout))
}

/// A MAMMAL tokenizer's files (relative to the tokenizer folder) from a folder holding
/// `config.yaml`, or from a bundle holding it in `tokenizer/`.
fn tokenizer_files(path: &Path) -> Result<BundleFiles> {
    let files = bundle_io::read_files(path)
        .with_context(|| format!("--from {}: no tokenizer there", path.display()))?;
    let mut out = BundleFiles::default();
    let inside = files.contains("tokenizer/config.yaml");
    for (name, bytes) in files.iter() {
        match (inside, name.strip_prefix("tokenizer/")) {
            (true, Some(rest)) => out.insert(rest, bytes.to_vec()),
            (false, _) => out.insert(name, bytes.to_vec()),
            _ => {}
        }
    }
    if !out.contains("config.yaml") {
        bail!(
            "--from {}: neither a tokenizer folder (config.yaml) nor a bundle with tokenizer/",
            path.display()
        );
    }
    Ok(out)
}

fn inspect(path: &Path) -> Result<()> {
    let bundle = bundle_io::read(path)?;
    println!("bundle {}\n", path.display());
    println!("config.json");
    println!(
        "{}\n",
        serde_json::to_string_pretty(&bundle.config_json()?)?
    );
    let tensors = bundle.tensors()?;
    let width = tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(6);
    println!(
        "{:<width$}  {:<5}  {:<16}  {:>10}",
        "tensor", "dtype", "shape", "params"
    );
    let mut total = 0usize;
    for tensor in &tensors {
        let count: usize = tensor.shape.iter().product();
        total += count;
        let shape = format!("{:?}", tensor.shape);
        println!(
            "{:<width$}  {:<5}  {:<16}  {:>10}",
            tensor.name, tensor.dtype, shape, count
        );
    }
    println!(
        "\n{} tensors, {} parameters, {} bytes of weights",
        tensors.len(),
        total,
        bundle.file(WEIGHTS_FILE)?.len()
    );
    let others: Vec<_> = bundle
        .files()
        .iter()
        .filter(|(name, _)| !matches!(*name, "config.json" | "model.safetensors"))
        .map(|(name, bytes)| format!("{name} ({} bytes)", bytes.len()))
        .collect();
    if !others.is_empty() {
        println!("other files: {}", others.join(", "));
    }
    Ok(())
}
