//! `tessera rna …`: BMFM-RNA models on the command line.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use safetensors::{Dtype, tensor::TensorView};
use tessera_core::models::bmfm_rna::RnaModel;
use tessera_core::models::bmfm_rna::cases::read_cases;

use crate::backend::Backend;
use crate::bundle_io;

#[derive(Subcommand)]
pub enum RnaCommand {
    /// Run every case of a fixture-format cases.json and write every output tensor under the
    /// reference's names (`case{i}.last_hidden_state`, …) to a safetensors file.
    Forward {
        /// Model folder (reference config.json + model.safetensors) or bundle archive.
        #[arg(long)]
        model: PathBuf,
        #[arg(long)]
        cases: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: Backend,
    },
}

pub fn run(command: RnaCommand) -> Result<()> {
    let RnaCommand::Forward {
        model,
        cases,
        out,
        backend,
    } = command;
    let device = backend.device()?;
    let bundle = bundle_io::read(&model)?;
    let rna = RnaModel::from_bundle(&bundle, &device)
        .with_context(|| format!("model {}", model.display()))?;
    let bytes =
        std::fs::read(&cases).with_context(|| format!("{}: cannot read", cases.display()))?;
    let cases_name = cases.display().to_string();
    let batches = read_cases(&cases_name, &bytes)?;

    let progress = ProgressBar::new(batches.len() as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} cases {msg}").expect("valid template"),
    );
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (i, case) in batches.iter().enumerate() {
        progress.set_message(case.name.clone());
        let outputs = rna
            .forward(&case.batch, &device)
            .with_context(|| format!("{cases_name}: case {i} ({})", case.name))?;
        for (name, tensor, shape) in rna.named_outputs(&outputs) {
            let values = tensor
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.push((format!("case{i}.{name}"), shape, bytes));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    let views = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            Ok((
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), bytes)?,
            ))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    let file = safetensors::serialize(views, None)?;
    bundle_io::write_file_atomic(&out, &file)?;
    eprintln!(
        "{} cases, {} tensors → {}",
        batches.len(),
        tensors.len(),
        out.display()
    );
    Ok(())
}
