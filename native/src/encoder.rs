//! `tessera encoder forward`: run a bare encoder bundle on hidden states from a JSON file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde::{Deserialize, Serialize};
use tessera_core::models::encoder::EncoderModel;

use crate::backend::Backend;
use crate::bundle_io;

#[derive(Subcommand)]
pub enum EncoderCommand {
    /// Encode `[batch, len, d_model]` hidden states; JSON in, JSON out.
    Forward {
        /// Bundle folder or .tar archive.
        #[arg(long)]
        bundle: PathBuf,
        /// JSON `{"shape": [B, L, D], "values": [...], "attention_mask": [...]?}`.
        #[arg(long)]
        input: PathBuf,
        /// Where to write `{"shape": [...], "values": [...]}`.
        #[arg(long)]
        output: PathBuf,
        #[arg(long, value_enum, default_value = "cpu")]
        backend: Backend,
    },
}

/// The JSON tensor format shared with the browser test.
#[derive(Serialize, Deserialize)]
pub struct JsonTensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention_mask: Option<Vec<f32>>,
}

pub fn run(command: EncoderCommand) -> Result<()> {
    let EncoderCommand::Forward {
        bundle,
        input,
        output,
        backend,
    } = command;
    let device = backend.device()?;
    let model = EncoderModel::from_bundle(&bundle_io::read_for(&bundle, backend)?, &device)
        .with_context(|| format!("bundle {}", bundle.display()))?;
    let bytes =
        std::fs::read(&input).with_context(|| format!("{}: cannot read", input.display()))?;
    let tensor: JsonTensor =
        tessera_core::bundle::parse_json(&input.display().to_string(), &bytes)?;
    let shape: [usize; 3] = tensor.shape.as_slice().try_into().with_context(|| {
        format!(
            "{}: field `shape` must have 3 entries [batch, len, d_model]",
            input.display()
        )
    })?;
    let hidden = model
        .forward_values(tensor.values, shape, tensor.attention_mask, &device)
        .with_context(|| format!("{}", input.display()))?;
    let result = JsonTensor {
        shape: hidden.dims().to_vec(),
        values: hidden
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        attention_mask: None,
    };
    bundle_io::write_file_atomic(&output, &serde_json::to_vec(&result)?)?;
    eprintln!(
        "{} on {}: {:?} → {}",
        bundle.display(),
        backend.name(),
        result.shape,
        output.display()
    );
    Ok(())
}
