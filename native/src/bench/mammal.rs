//! `tessera bench mammal`: encoder tokens/s, and generated tokens/s with and without the
//! key/value cache, per prompt length, on synthetic protein prompts (batch 1).

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use tessera_core::heap;
use tessera_core::models::mammal::{
    EncoderInputs, GenerateConfig, MammalConfig, MammalModel, T5Config,
};

use super::{MIB, devices, median_seconds};
use crate::backend::Backend;
use crate::bundle_io;

/// Model shapes to benchmark without a bundle (random weights).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// The published 458M model: 12 + 12 layers × 768, 12 heads × 64, FFN 2048, 100,001 tokens.
    Mammal,
    /// A small model: 4 + 4 layers × 256, 4 heads × 64, FFN 1024, 4,096 tokens.
    Small,
}

#[derive(clap::Args)]
pub struct MammalBench {
    /// A model bundle; without it, random weights of `--size`.
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "mammal")]
    size: Size,
    /// Prompt lengths (tokens).
    #[arg(long, value_delimiter = ',', default_value = "64,512,1500")]
    length: Vec<usize>,
    /// Tokens generated per prompt (never stopping early).
    #[arg(long, default_value_t = 16)]
    new_tokens: usize,
    #[arg(long, value_enum, value_delimiter = ',')]
    backend: Vec<Backend>,
    /// One JSON object per figure instead of the table (scripts/bench-vs-pytorch.sh reads it).
    #[arg(long)]
    json: bool,
}

const SEED: u64 = 7;

pub fn run(args: MammalBench) -> Result<()> {
    if !args.json {
        println!(
            "{:<8} {:>6} {:>14} {:>15} {:>15} {:>15} {:>14}",
            "backend",
            "length",
            "encoder tok/s",
            "generate tok/s",
            "decode tok/s",
            "no-cache tok/s",
            "peak heap MiB"
        );
    }
    for (backend, device) in devices(&args.backend) {
        let model = model(&args, &device)?;
        for &length in &args.length {
            heap::reset_peak();
            let inputs = prompt(&model, length);
            let encode = || {
                let hidden = model.encode(&inputs, &device)?;
                // Reading the result waits for the device.
                hidden.into_data();
                Ok(())
            };
            encode()?;
            let encoder = median_seconds(encode)?;
            let generate = |use_cache: bool| -> Result<f64> {
                let config = GenerateConfig {
                    max_new_tokens: args.new_tokens,
                    use_cache,
                    stop_at_eos: false,
                    ..GenerateConfig::default()
                };
                let pass = || -> Result<()> {
                    pollster::block_on(model.generate(&inputs, config, &device))?;
                    Ok(())
                };
                pass()?;
                median_seconds(pass)
            };
            let cached = generate(true)?;
            let per_second = |n: usize, s: f64| n as f64 / s;
            let decode = per_second(args.new_tokens, (cached - encoder).max(1e-9));
            if args.json {
                for (row, value) in [("encoder", per_second(length, encoder)), ("decode", decode)] {
                    println!(
                        "{}",
                        serde_json::json!({
                            "engine": "tessera", "backend": backend.name(), "model": "mammal",
                            "row": row, "batch": 1, "length": length, "per_second": value,
                            "unit": "tokens/s",
                        })
                    );
                }
                continue;
            }
            // Rerunning the decoder over the prefix is slow; only the table shows it.
            let uncached = generate(false)?;
            println!(
                "{:<8} {length:>6} {:>14.0} {:>15.2} {:>15.2} {:>15.2} {:>14.0}",
                backend.name(),
                per_second(length, encoder),
                per_second(args.new_tokens, cached),
                decode,
                per_second(args.new_tokens, uncached),
                heap::peak_bytes() as f64 / MIB,
            );
        }
    }
    if args.json {
        return Ok(());
    }
    println!(
        "Batch 1; synthetic protein prompts (random amino acids, seed {SEED}); median pass after a warm-up. \
         generate = {} new tokens / the whole greedy call (encoder included); decode = the same tokens / \
         (that call − one encoder pass); no-cache = greedy rerunning the decoder over the prefix each step.",
        args.new_tokens
    );
    Ok(())
}

fn model(args: &MammalBench, device: &Device) -> Result<MammalModel> {
    if let Some(path) = &args.model {
        return MammalModel::from_bundle(&bundle_io::read(path)?, device)
            .with_context(|| format!("model {}", path.display()));
    }
    let t5 = match args.size {
        Size::Mammal => T5Config::v1_1(768, 64, 2048, 12, 12, 100_001),
        Size::Small => T5Config::v1_1(256, 64, 1024, 4, 4, 4096),
    };
    Ok(MammalModel::new(MammalConfig::new(t5), device)?)
}

/// `<MASK>`, then random amino acids (ids 501..526), then `<EOS>`: `length` tokens.
pub(super) fn prompt(model: &MammalModel, length: usize) -> EncoderInputs {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    let top = (model.config.t5_config.vocab_size as u32).min(526);
    let mut ids: Vec<u32> = (0..length)
        .map(|_| rng.random_range(501.min(top - 1)..top))
        .collect();
    ids[0] = 4;
    ids[length - 1] = model.config.eos();
    EncoderInputs {
        batch: 1,
        len: length,
        ids,
        attention_mask: vec![1.0; length],
        scalars: vec![-1000.0; length],
        scalars_valid: vec![false; length],
    }
}
