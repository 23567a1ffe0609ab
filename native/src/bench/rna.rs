//! `tessera bench rna`: cell embedding throughput and peak heap per batch size × length.

use anyhow::{Result, bail};
use burn::tensor::Device;
use tessera_core::models::bmfm_rna::bench::{SEED, synthetic_batch};
use tessera_core::models::bmfm_rna::{RnaBatch, RnaPipeline};
use tessera_core::tokenize::rna::CellEncoderConfig;
use tessera_core::train::recipe::{self, ModelSpec};

use super::{MIB, devices, median_seconds};
use crate::backend::Backend;
use crate::bundle_io;

/// Model sizes to benchmark without a bundle (random weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// SCBert as released: 12 layers × 768, 12 heads, FFN 3072 (the PyTorch comparison size).
    Scbert,
    /// The shipped demo model's shape: 4 layers × 128, 4 heads, FFN 512.
    Small,
}

#[derive(clap::Args)]
pub struct RnaBench {
    /// A model bundle; without it, random weights of `--size`.
    #[arg(long)]
    model: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "scbert")]
    size: Size,
    #[arg(long, value_delimiter = ',', default_value = "1,32,256")]
    batch: Vec<usize>,
    #[arg(long, value_delimiter = ',', default_value = "256,1024")]
    length: Vec<usize>,
    /// Backends to measure (default: every compiled one that initialises).
    #[arg(long, value_enum, value_delimiter = ',')]
    backend: Vec<Backend>,
    /// Skip a configuration whose estimated time for one batch exceeds this.
    #[arg(long, default_value_t = 120.0)]
    max_seconds: f64,
    /// One JSON object per figure instead of the table (scripts/bench-vs-pytorch.sh reads it).
    #[arg(long)]
    json: bool,
}

pub fn run(args: RnaBench) -> Result<()> {
    if !args.json {
        println!(
            "{:<8} {:>6} {:>6} {:>12} {:>12} {:>14}",
            "backend", "batch", "length", "cells/s", "tokens/s", "peak heap MiB"
        );
    }
    for (backend, device) in devices(&args.backend) {
        let pipeline = model(&args, &device)?;
        // Seconds per token from the smallest run, to skip what would take too long.
        let mut per_token: Option<f64> = None;
        for &length in &args.length {
            for &batch in &args.batch {
                let tokens = (batch * length) as f64;
                if let Some(t) = per_token
                    && t * tokens * (length as f64 / args.length[0] as f64) > args.max_seconds
                {
                    println!(
                        "{:<8} {batch:>6} {length:>6} {:>12}",
                        backend.name(),
                        format!("skipped (>{:.0} s)", args.max_seconds)
                    );
                    continue;
                }
                tessera_core::heap::reset_peak();
                let input = synthetic_batch(&pipeline, batch, length, SEED);
                // One warm-up pass (kernel compilation, autotuning), then timed passes.
                embed(&pipeline, &input, &device)?;
                let seconds = median_seconds(|| embed(&pipeline, &input, &device))?;
                per_token.get_or_insert(seconds / tokens);
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "engine": "tessera", "backend": backend.name(), "model": "rna",
                            "row": "embed", "batch": batch, "length": length,
                            "per_second": batch as f64 / seconds, "unit": "cells/s",
                        })
                    );
                    continue;
                }
                println!(
                    "{:<8} {batch:>6} {length:>6} {:>12.2} {:>12.0} {:>14}",
                    backend.name(),
                    batch as f64 / seconds,
                    tokens / seconds,
                    format!("{:.0}", tessera_core::heap::peak_bytes() as f64 / MIB)
                );
            }
        }
    }
    if args.json {
        return Ok(());
    }
    println!(
        "Synthetic cells: every sequence is full length (random genes and values, seed {SEED}); peak heap is \
         the most host memory in use at once during the row, model included (GPU memory not included)."
    );
    Ok(())
}

fn model(args: &RnaBench, device: &Device) -> Result<RnaPipeline> {
    if let Some(path) = &args.model {
        return Ok(RnaPipeline::for_annotation(
            &bundle_io::read(path)?,
            device,
        )?);
    }
    let (hidden, layers, heads, intermediate, genes) = match args.size {
        Size::Scbert => (768, 12, 12, 3072, 19_316),
        Size::Small => (128, 4, 4, 512, 2048),
    };
    let spec = ModelSpec {
        hidden,
        layers,
        heads,
        intermediate,
        dropout: 0.0,
        wced: false,
        mlm: false,
        mask_genes: false,
        labels: vec![],
    };
    let names: Vec<String> = (0..genes).map(|g| format!("GENE{g}")).collect();
    let bundle = recipe::new_bundle(&spec, &names, CellEncoderConfig::new(1024), None, 0, device)?;
    Ok(RnaPipeline::for_annotation(&bundle, device)?)
}

fn embed(pipeline: &RnaPipeline, input: &RnaBatch, device: &Device) -> Result<()> {
    let outputs = pipeline.outputs(input, device)?;
    // Reading the result waits for the device to finish.
    let values = outputs.embedding.into_data();
    if values.num_elements() == 0 {
        bail!("empty embedding");
    }
    Ok(())
}
