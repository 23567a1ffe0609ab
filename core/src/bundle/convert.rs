//! Rewriting a bundle's weights in another [`WeightDtype`] and writing random weights in a
//! published layout — both streamed tensor by tensor into a safetensors writer, so a 2 GB
//! checkpoint is never held.

use std::collections::BTreeMap;
use std::io::Write;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use safetensors::Dtype;

use super::dtype::{
    Q8_SCALE_SUFFIX, decode_float, dequantize_q8, encode_float, f32_bytes, is_float, quantize_q8,
};
use super::safetensors::{SafetensorsWriter, TensorEntry, TensorSpec, parse_header};
use super::weights::pair_scales;
use super::{BundleError, SharedBytes, WeightDtype};

/// How the tensors of `dtype` are laid out for float values of `name` and `shape`: a q8
/// matrix is its scales, then its int8 values (a streaming reader meets the scales first).
fn float_specs(name: &str, shape: &[usize], dtype: WeightDtype) -> Vec<TensorSpec> {
    match dtype.stored(shape) {
        Dtype::I8 => vec![
            TensorSpec::new(
                format!("{name}{Q8_SCALE_SUFFIX}"),
                Dtype::F32,
                vec![shape[0]],
            ),
            TensorSpec::new(name, Dtype::I8, shape.to_vec()),
        ],
        stored => vec![TensorSpec::new(name, stored, shape.to_vec())],
    }
}

/// The stored bytes of f32 `values` for the specs [`float_specs`] gave.
fn float_bytes(values: &[f32], shape: &[usize], dtype: WeightDtype) -> Vec<Vec<u8>> {
    match dtype.stored(shape) {
        Dtype::I8 => {
            let (q, scales) = quantize_q8(values, shape[0]);
            vec![f32_bytes(&scales), q]
        }
        stored => vec![encode_float(values, stored)],
    }
}

fn metadata(dtype: WeightDtype) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("tessera_dtype".to_string(), dtype.name().to_string()),
    ])
}

/// Rewrites the safetensors file `input` with every float tensor stored as `dtype` (q8
/// scales dequantised first; integer tensors copied), writing to `out` one tensor at a time
/// and releasing each input tensor's bytes once written.
pub fn convert_weights<W: Write>(
    file: &str,
    input: &SharedBytes,
    dtype: WeightDtype,
    out: W,
) -> Result<W, BundleError> {
    let entries = pair_scales(file, parse_header(file, input, input.len())?)?;
    let is_matrix = |e: &TensorEntry| is_float(e.dtype) || e.dtype == Dtype::I8;
    let specs = entries
        .iter()
        .flat_map(|(entry, _)| {
            if is_matrix(entry) {
                float_specs(&entry.name, &entry.shape, dtype)
            } else {
                vec![TensorSpec::new(
                    &entry.name,
                    entry.dtype,
                    entry.shape.clone(),
                )]
            }
        })
        .collect();
    let mut writer = SafetensorsWriter::new(file, out, specs, &metadata(dtype))?;
    let window = |entry: &TensorEntry| {
        input
            .slice(entry.range.clone())
            .ok_or_else(|| BundleError::Corrupt {
                file: file.into(),
                message: format!("tensor `{}` lies past the file's end", entry.name),
            })
    };
    for (entry, scale) in &entries {
        let data = window(entry)?;
        if !is_matrix(entry) {
            writer.tensor(&data)?;
            continue;
        }
        let values = match scale {
            Some(scale) => {
                let scales = decode_float(file, &scale.name, scale.dtype, &window(scale)?)?;
                dequantize_q8(&data, &scales)
            }
            None => decode_float(file, &entry.name, entry.dtype, &data)?,
        };
        for bytes in float_bytes(&values, &entry.shape, dtype) {
            writer.tensor(&bytes)?;
        }
        data.release();
    }
    writer.finish()
}

/// How a published tensor is initialised when made at random (the reference's own inits).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// N(0, std²), as Linear and Embedding weights.
    Normal(f32),
    /// All ones (norm scales).
    Ones,
    /// All zeros (biases).
    Zeros,
}

/// One tensor of a published checkpoint layout: its name there, shape and initialisation.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
}

impl PublishedTensor {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, init: Init) -> Self {
        Self {
            name: name.into(),
            shape,
            init,
        }
    }
}

/// Writes random weights for `layout` (seeded; the same seed gives the same bytes) as a
/// safetensors file of `dtype`, one tensor at a time; `progress` hears each tensor's index.
pub fn write_random<W: Write>(
    file: &str,
    layout: &[PublishedTensor],
    dtype: WeightDtype,
    seed: u64,
    out: W,
    mut progress: impl FnMut(usize),
) -> Result<W, BundleError> {
    let specs = layout
        .iter()
        .flat_map(|t| float_specs(&t.name, &t.shape, dtype))
        .collect();
    let mut writer = SafetensorsWriter::new(file, out, specs, &metadata(dtype))?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    for (i, tensor) in layout.iter().enumerate() {
        let n: usize = tensor.shape.iter().product();
        let values = match tensor.init {
            Init::Ones => vec![1.0; n],
            Init::Zeros => vec![0.0; n],
            Init::Normal(std) => normal(&mut rng, n, std),
        };
        for bytes in float_bytes(&values, &tensor.shape, dtype) {
            writer.tensor(&bytes)?;
        }
        progress(i);
    }
    writer.finish()
}

/// `n` draws of N(0, std²) by the Box–Muller transform (two a pair of uniforms).
fn normal(rng: &mut Xoshiro256PlusPlus, n: usize, std: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f32 = 1.0 - rng.random::<f32>();
        let u2: f32 = rng.random::<f32>();
        let r = (-2.0 * u1.ln()).sqrt() * std;
        let (s, c) = (std::f32::consts::TAU * u2).sin_cos();
        out.push(r * c);
        out.push(r * s);
    }
    out.truncate(n);
    out
}
