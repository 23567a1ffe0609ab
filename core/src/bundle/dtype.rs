//! How a bundle stores its float weights — f32, f16, bf16 or q8 — and the conversions to and
//! from the f32 every model computes in.
//!
//! q8 is symmetric int8 per output channel: a 2-D float tensor `NAME` of shape `[out, in]`
//! (PyTorch's Linear layout; an embedding's rows) is stored as `NAME` (I8, same shape) with
//! `NAME.q8_scale` (F32, `[out]`) beside it, and read back as `int8 × scale` row by row. Each
//! scale is the row's largest magnitude / 127, so no value is clipped. In every dtype, vectors
//! (biases, norm scales, BMFM-RNA's `scale_adapt` frequency basis) stay f32: they are a tiny
//! share of the bytes and the most sensitive to rounding. q8 applies to 2-D tensors of at least
//! [`Q8_MIN_ROWS`] rows: smaller ones — classification heads, special-token tables — are a few KB,
//! and each of their rows is a whole class's decision (an augmented pbmc3k candidate's 8-row probe
//! head, folded from standardised embeddings, changed 9 of 564 calls as int8).

use std::str::FromStr;

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use safetensors::Dtype;

use super::BundleError;

/// The fewest rows a matrix needs to be stored as q8; smaller ones stay f32 (see the module doc).
pub const Q8_MIN_ROWS: usize = 16;

/// The suffix of a q8 tensor's scales: `NAME` + this.
pub const Q8_SCALE_SUFFIX: &str = ".q8_scale";

/// A bundle's float storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightDtype {
    F32,
    F16,
    Bf16,
    Q8,
}

impl WeightDtype {
    pub const ALL: [WeightDtype; 4] = [Self::F32, Self::F16, Self::Bf16, Self::Q8];

    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
            Self::Q8 => "q8",
        }
    }

    /// The stored dtype of a float tensor of `shape` (vectors stay f32; q8 applies to 2-D
    /// tensors of at least [`Q8_MIN_ROWS`] rows).
    pub fn stored(self, shape: &[usize]) -> Dtype {
        match self {
            _ if shape.len() < 2 => Dtype::F32,
            Self::F32 => Dtype::F32,
            Self::F16 => Dtype::F16,
            Self::Bf16 => Dtype::BF16,
            Self::Q8 if shape.len() == 2 && shape[0] >= Q8_MIN_ROWS => Dtype::I8,
            Self::Q8 => Dtype::F32,
        }
    }
}

impl std::fmt::Display for WeightDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A dtype name that is not one of f32, f16, bf16, q8.
#[derive(Debug, thiserror::Error)]
#[error("unknown weight dtype `{0}` (expected f32, f16, bf16 or q8)")]
pub struct UnknownDtype(pub String);

impl FromStr for WeightDtype {
    type Err = UnknownDtype;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| UnknownDtype(s.into()))
    }
}

/// Whether a stored dtype holds float weights that load as f32 (I8 only with its scales).
pub fn is_float(dtype: Dtype) -> bool {
    matches!(dtype, Dtype::F32 | Dtype::F16 | Dtype::BF16 | Dtype::F64)
}

/// Little-endian `bytes` of a float dtype as f32 values; `tensor` names it in errors.
pub fn decode_float(
    file: &str,
    tensor: &str,
    dtype: Dtype,
    bytes: &[u8],
) -> Result<Vec<f32>, BundleError> {
    let mut out = vec![0f32; bytes.len() / (dtype.bitsize() / 8).max(1)];
    decode_float_into(file, tensor, dtype, bytes, &mut out)?;
    Ok(out)
}

/// Little-endian `bytes` of a float dtype decoded into `out` (one value per stored one; `out`
/// as long as `bytes` holds values); `tensor` names it in errors.
pub fn decode_float_into(
    file: &str,
    tensor: &str,
    dtype: Dtype,
    bytes: &[u8],
    out: &mut [f32],
) -> Result<(), BundleError> {
    fn each<const N: usize>(bytes: &[u8], out: &mut [f32], f: impl Fn([u8; N]) -> f32) {
        for (value, chunk) in out.iter_mut().zip(bytes.chunks_exact(N)) {
            *value = f(chunk.try_into().expect("N bytes"));
        }
    }
    match dtype {
        Dtype::F32 => each(bytes, out, f32::from_le_bytes),
        Dtype::F64 => each(bytes, out, |b| f64::from_le_bytes(b) as f32),
        Dtype::F16 => each(bytes, out, |b| f16::from_le_bytes(b).to_f32()),
        Dtype::BF16 => each(bytes, out, |b| bf16::from_le_bytes(b).to_f32()),
        other => {
            return Err(BundleError::Tensor {
                file: file.into(),
                tensor: tensor.into(),
                message: format!("{other:?} is not a float dtype the models can load"),
            });
        }
    }
    Ok(())
}

/// int8 rows times their scales: `values` is `[rows, cols]` row-major, one scale a row.
pub fn dequantize_q8(values: &[u8], scales: &[f32]) -> Vec<f32> {
    let cols = values.len() / scales.len().max(1);
    let mut out = Vec::with_capacity(values.len());
    for (row, &scale) in values.chunks_exact(cols.max(1)).zip(scales) {
        out.extend(row.iter().map(|&q| q as i8 as f32 * scale));
    }
    out
}

/// Per-row symmetric int8: the int8 bytes and one scale per row of `[rows, cols]` `values`.
pub fn quantize_q8(values: &[f32], rows: usize) -> (Vec<u8>, Vec<f32>) {
    let cols = values.len() / rows.max(1);
    let mut quantized = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(rows);
    for row in values.chunks_exact(cols.max(1)).take(rows) {
        let largest = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
        scales.push(scale);
        quantized.extend(
            row.iter()
                .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8 as u8),
        );
    }
    (quantized, scales)
}

/// f32 `values` as little-endian bytes of a float dtype (F32, F16 or BF16).
pub fn encode_float(values: &[f32], dtype: Dtype) -> Vec<u8> {
    match dtype {
        Dtype::F16 => {
            let mut halves = vec![f16::ZERO; values.len()];
            halves.convert_from_f32_slice(values);
            halves.iter().flat_map(|h| h.to_le_bytes()).collect()
        }
        Dtype::BF16 => {
            let mut halves = vec![bf16::ZERO; values.len()];
            halves.convert_from_f32_slice(values);
            halves.iter().flat_map(|h| h.to_le_bytes()).collect()
        }
        _ => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
    }
}

/// The little-endian bytes of f32 values.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    encode_float(values, Dtype::F32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q8_round_trip_is_within_half_a_step_per_row() {
        let values: Vec<f32> = (0..24).map(|i| ((i * 7) % 11) as f32 - 5.3).collect();
        let (q, scales) = quantize_q8(&values, 4);
        let back = dequantize_q8(&q, &scales);
        for (row, scale) in scales.iter().enumerate() {
            for col in 0..6 {
                let (a, b) = (values[row * 6 + col], back[row * 6 + col]);
                assert!((a - b).abs() <= scale / 2.0 + 1e-6, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn half_precisions_round_trip() {
        let values = [1.0f32, -2.5, 0.333_333, 65504.0];
        for dtype in [Dtype::F16, Dtype::BF16, Dtype::F32] {
            let back = decode_float("f", "t", dtype, &encode_float(&values, dtype)).unwrap();
            for (a, b) in values.iter().zip(&back) {
                assert!((a - b).abs() <= a.abs() * 0.01, "{dtype:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn names_are_parsed_or_refused() {
        assert_eq!("bf16".parse::<WeightDtype>().unwrap(), WeightDtype::Bf16);
        assert!(
            "int4"
                .parse::<WeightDtype>()
                .unwrap_err()
                .to_string()
                .contains("`int4`")
        );
    }
}
