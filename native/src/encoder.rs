//! `tessera encoder forward`: run a bare encoder bundle on hidden states from a JSON file.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
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
    check_sizes(&tensor, shape).with_context(|| input.display().to_string())?;
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

/// The sizes the JSON claims against the values it holds, before anything is allocated: the
/// product of `shape` in checked arithmetic (a huge shape must not wrap around to the number of
/// values), equal to the length of `values`, and `attention_mask` one value per position.
fn check_sizes(tensor: &JsonTensor, shape: [usize; 3]) -> Result<()> {
    let [batch, len, width] = shape;
    let positions = batch.checked_mul(len);
    let Some(total) = positions.and_then(|p| p.checked_mul(width)) else {
        bail!("field `shape` {shape:?}: batch·len·d_model overflows; it cannot match `values`");
    };
    if total == 0 {
        bail!("field `shape` {shape:?} has a zero dimension");
    }
    if total != tensor.values.len() {
        bail!(
            "field `values` has {} numbers, field `shape` {shape:?} needs {total}",
            tensor.values.len()
        );
    }
    if let (Some(mask), Some(positions)) = (&tensor.attention_mask, positions)
        && mask.len() != positions
    {
        bail!(
            "field `attention_mask` has {} values, field `shape` {shape:?} needs batch·len = {positions}",
            mask.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(values: usize, mask: Option<usize>) -> JsonTensor {
        JsonTensor {
            shape: Vec::new(),
            values: vec![0.0; values],
            attention_mask: mask.map(|n| vec![1.0; n]),
        }
    }

    #[test]
    fn sizes_are_checked_without_overflow() {
        assert!(check_sizes(&tensor(24, Some(6)), [2, 3, 4]).is_ok());
        // 2^62 · 4 · 4 wraps to 0 in usize; 2^63 · 2 · 3 wraps to 6.
        for (shape, values) in [
            ([1 << 62, 4, 4], 0),
            ([1 << 63, 2, 3], 6),
            ([usize::MAX, 2, 1], 1),
        ] {
            let e = check_sizes(&tensor(values, None), shape)
                .unwrap_err()
                .to_string();
            assert!(e.contains("field `shape`"), "{e}");
        }
        let e = check_sizes(&tensor(23, None), [2, 3, 4])
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `values` has 23"), "{e}");
        let e = check_sizes(&tensor(24, Some(5)), [2, 3, 4])
            .unwrap_err()
            .to_string();
        assert!(e.contains("field `attention_mask` has 5"), "{e}");
    }
}
