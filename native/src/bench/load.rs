//! `tessera bench load`: how long a bundle takes to load, how much memory that takes, and how
//! long until its first answer — per bundle, so f32 / f16 / q8 copies of one model sit side by
//! side.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::module::Module;
use tessera_core::bundle::WEIGHTS_FILE;
use tessera_core::heap;
use tessera_core::models::bmfm_rna::RnaPipeline;
use tessera_core::models::bmfm_rna::bench::synthetic_batch;
use tessera_core::models::mammal::MammalModel;

use super::{MIB, devices, mammal::prompt};
use crate::backend::Backend;
use crate::bundle_io;

#[derive(clap::Args)]
pub struct LoadBench {
    /// Bundles (folders or .tar), comma-separated: MAMMAL or BMFM-RNA.
    #[arg(long, value_delimiter = ',', required = true)]
    model: Vec<PathBuf>,
    #[arg(long, value_enum, value_delimiter = ',')]
    backend: Vec<Backend>,
}

/// The process's resident-memory high-water mark (`VmHWM`), in bytes.
fn peak_resident() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Starts a new resident high-water mark from what is resident now (Linux's `clear_refs` 5).
fn reset_peak_resident() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn run(args: LoadBench) -> Result<()> {
    println!(
        "{:<8} {:<32} {:>11} {:>9} {:>14} {:>14} {:>10} {:>13}",
        "backend",
        "bundle",
        "weights MiB",
        "load s",
        "peak RSS MiB",
        "peak heap MiB",
        "RSS/weights",
        "first answer s"
    );
    for (backend, device) in devices(&args.backend) {
        for path in &args.model {
            reset_peak_resident();
            heap::reset_peak();
            let started = Instant::now();
            let bundle = bundle_io::read_for(path, backend)?;
            let weights = bundle.file(WEIGHTS_FILE)?.len() as f64;
            let is_mammal = bundle.config_json()?.get("t5_config").is_some();
            let (load, first, params) = if is_mammal {
                let model = MammalModel::from_bundle(&bundle, &device)
                    .with_context(|| format!("model {}", path.display()))?;
                let load = started.elapsed().as_secs_f64();
                let inputs = prompt(&model, 64);
                model.encode(&inputs, &device)?.into_data();
                (
                    load,
                    started.elapsed().as_secs_f64() - load,
                    model.net.num_params(),
                )
            } else {
                let pipeline = RnaPipeline::for_annotation(&bundle, &device)
                    .with_context(|| format!("model {}", path.display()))?;
                let load = started.elapsed().as_secs_f64();
                let batch = synthetic_batch(&pipeline, 1, 256, 7);
                let _ = pipeline.outputs(&batch, &device)?;
                let params = pipeline.model.net.num_params();
                (load, started.elapsed().as_secs_f64() - load, params)
            };
            let rss = peak_resident().unwrap_or(0) as f64;
            // What was loaded, in the f32 it computes in (annotation leaves decoders out).
            let f32_bytes = params as f64 * 4.0;
            println!(
                "{:<8} {:<32} {:>11.0} {:>9.2} {:>14.0} {:>14.0} {:>10.2} {:>13.2}",
                backend.name(),
                path.display().to_string(),
                weights / MIB,
                load,
                rss / MIB,
                heap::peak_bytes() as f64 / MIB,
                rss / f32_bytes,
                first,
            );
            drop(bundle);
        }
    }
    println!(
        "load = read the bundle (memory-mapped) and put every tensor on the device; first answer = one 64-token \
         MAMMAL encoder pass or one 256-gene cell after loading. Peak RSS is the process's resident high-water \
         mark over the row (Linux VmHWM, reset before each row; it includes the binary and the runtime); \
         RSS/weights divides it by the loaded model's parameters as f32 (what it computes in; \
         annotation loads BMFM-RNA without its decoders)."
    );
    Ok(())
}
