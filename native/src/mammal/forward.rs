//! `tessera mammal forward`: every case of a model fixture (`cases.json` in the format of
//! `../shared/fixtures/mammal-tiny`) run from its ids, each output written under the fixture's
//! name (`case{i}.logits`, …; generated ids as I64, and also as JSON beside the file).

use std::path::PathBuf;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use safetensors::Dtype;
use serde_json::json;
use tessera_core::models::mammal::MammalModel;
use tessera_core::models::mammal::cases::{CaseTensor, read_cases};
use tessera_core::precision::Precision;

use crate::backend::Backend;
use crate::bundle_io::{self, NamedTensor};

#[derive(clap::Args)]
pub struct ForwardArgs {
    /// Model folder or .tar: `config.json` (the published layout) + `model.safetensors`.
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long)]
    pub cases: PathBuf,
    /// The outputs (.safetensors); generated ids also go to the same name with `.json`.
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// The precision the model computes in: f32, or f16 on a backend with f16 arithmetic.
    #[arg(long, default_value = "f32")]
    pub precision: Precision,
}

pub fn run(args: ForwardArgs) -> Result<()> {
    let device = args.backend.device_in(args.precision)?;
    let model = MammalModel::from_bundle(&bundle_io::read_for(&args.model, args.backend)?, &device)
        .with_context(|| format!("model {}", args.model.display()))?;
    let file = args.cases.display().to_string();
    let bytes = std::fs::read(&args.cases).with_context(|| format!("{file}: cannot read"))?;
    let cases = read_cases(&file, &bytes)?;
    let progress = ProgressBar::new(cases.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cases {msg}").expect("valid template"),
    );
    let mut tensors: Vec<NamedTensor> = Vec::new();
    let mut generated = serde_json::Map::new();
    for (i, case) in cases.iter().enumerate() {
        progress.set_message(case.name.clone());
        let outputs = pollster::block_on(case.run(&model, &device))
            .with_context(|| format!("{file}: case {i} ({})", case.name))?;
        for (name, tensor) in outputs {
            let key = format!("case{i}.{name}");
            tensors.push(match tensor {
                CaseTensor::F32 { shape, values } => (
                    key,
                    Dtype::F32,
                    shape,
                    values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                ),
                CaseTensor::I64 { shape, values } => {
                    let rows: Vec<&[i64]> = values.chunks(shape[1].max(1)).collect();
                    generated.insert(key.clone(), json!(rows));
                    (
                        key,
                        Dtype::I64,
                        shape,
                        values.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    )
                }
            });
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    bundle_io::write_safetensors(&args.out, &tensors)?;
    if !generated.is_empty() {
        let path = args.out.with_extension("json");
        bundle_io::write_file_atomic(&path, serde_json::to_string_pretty(&generated)?.as_bytes())?;
    }
    eprintln!(
        "{} cases, {} tensors → {}",
        cases.len(),
        tensors.len(),
        args.out.display()
    );
    Ok(())
}
