//! `model.safetensors` ↔ module parameters, one tensor at a time.
//!
//! Loading reads the header, then puts each tensor into its parameter straight from where its
//! bytes lie (a memory map, a tar member, a chunk of a stream): nothing holds the file twice,
//! and f16 / bf16 / q8 weights become the f32 the models compute in at that step. burn-store's
//! applier does the module walk and PyTorch's layout conventions (Linear weights transposed);
//! its own safetensors store would first copy the whole file into a `Vec`.

use std::collections::{BTreeSet, HashMap};

use burn::store::burn_pack::{Error as PackError, Tensor as PackTensor};
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore, bridge,
};
use burn::tensor::{DType, TensorData};
use safetensors::Dtype;

use super::dtype::{Q8_SCALE_SUFFIX, decode_float, dequantize_q8, is_float};
use super::keymap::Renamer;
use super::safetensors::{TensorEntry, parse_header};
use super::{BundleError, KeyMap, SharedBytes, WEIGHTS_FILE};

/// One row of a bundle's tensor table.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
}

/// What a successful load did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Parameters filled from the file.
    pub applied: usize,
    /// Tensors in the file the module has no place for (after key mapping), sorted.
    pub unused: Vec<String>,
    /// Module parameters the file lacks (only a partial load allows any), sorted.
    pub missing: Vec<String>,
}

fn corrupt(file: &str, message: impl ToString) -> BundleError {
    BundleError::Corrupt {
        file: file.into(),
        message: message.to_string(),
    }
}

fn tensor_error(file: &str, tensor: &str, message: impl ToString) -> BundleError {
    BundleError::Tensor {
        file: file.into(),
        tensor: tensor.into(),
        message: message.to_string(),
    }
}

pub(super) fn table(file: &str, bytes: &[u8]) -> Result<Vec<TensorInfo>, BundleError> {
    let mut rows: Vec<TensorInfo> = parse_header(file, bytes, bytes.len())?
        .into_iter()
        .map(|entry| TensorInfo {
            name: entry.name,
            dtype: format!("{:?}", entry.dtype),
            shape: entry.shape,
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// The tensors a file loads as: each q8 weight joined with its scales; a scale without its
/// int8 weight, or an int8 weight without its scales, is refused by name.
pub(super) fn pair_scales(
    file: &str,
    entries: Vec<TensorEntry>,
) -> Result<Vec<(TensorEntry, Option<TensorEntry>)>, BundleError> {
    let mut scales: HashMap<String, TensorEntry> = HashMap::new();
    let mut rest = Vec::new();
    for entry in entries {
        match entry.name.strip_suffix(Q8_SCALE_SUFFIX) {
            Some(base) => {
                scales.insert(base.to_string(), entry);
            }
            None => rest.push(entry),
        }
    }
    let mut paired = Vec::with_capacity(rest.len());
    for entry in rest {
        let scale = scales.remove(&entry.name);
        check_q8(
            file,
            &entry,
            scale.as_ref().map(|s| (s.dtype, s.shape.as_slice())),
        )?;
        paired.push((entry, scale));
    }
    if let Some(orphan) = scales.keys().min() {
        return Err(tensor_error(
            file,
            &format!("{orphan}{Q8_SCALE_SUFFIX}"),
            format!("q8 scales for `{orphan}`, which the file does not hold"),
        ));
    }
    Ok(paired)
}

/// An int8 tensor must be 2-D with F32 scales of shape `[rows]`; scales only go with int8.
fn check_q8(
    file: &str,
    entry: &TensorEntry,
    scale: Option<(Dtype, &[usize])>,
) -> Result<(), BundleError> {
    match (entry.dtype, scale) {
        (Dtype::I8, None) => Err(tensor_error(
            file,
            &entry.name,
            format!(
                "int8 weights without their scales `{}{Q8_SCALE_SUFFIX}`",
                entry.name
            ),
        )),
        (Dtype::I8, Some((dtype, shape))) => {
            if entry.shape.len() != 2 || dtype != Dtype::F32 || shape != [entry.shape[0]] {
                Err(tensor_error(
                    file,
                    &format!("{}{Q8_SCALE_SUFFIX}", entry.name),
                    format!(
                        "q8 scales must be F32 [{}] for int8 weights {:?}; found {dtype:?} {shape:?}",
                        entry.shape.first().copied().unwrap_or(0),
                        entry.shape
                    ),
                ))
            } else {
                Ok(())
            }
        }
        (dtype, Some(_)) => Err(tensor_error(
            file,
            &format!("{}{Q8_SCALE_SUFFIX}", entry.name),
            format!("q8 scales beside a {dtype:?} tensor (only int8 weights have scales)"),
        )),
        (_, None) => Ok(()),
    }
}

/// The burn dtype a stored tensor loads as: every float (and q8) as f32, integers as they are.
fn load_dtype(file: &str, entry: &TensorEntry) -> Result<DType, BundleError> {
    Ok(match entry.dtype {
        d if is_float(d) || d == Dtype::I8 => DType::F32,
        Dtype::I64 => DType::I64,
        Dtype::I32 => DType::I32,
        Dtype::I16 => DType::I16,
        Dtype::U8 => DType::U8,
        Dtype::U32 => DType::U32,
        Dtype::U64 => DType::U64,
        other => {
            return Err(tensor_error(
                file,
                &entry.name,
                format!("{other:?} tensors cannot be loaded"),
            ));
        }
    })
}

/// A tensor's values as they go into the module: floats as f32, q8 dequantised.
fn tensor_data(
    file: &str,
    entry: &TensorEntry,
    bytes: &[u8],
    scales: Option<&[f32]>,
) -> Result<TensorData, BundleError> {
    let shape = entry.shape.clone();
    Ok(match (entry.dtype, scales) {
        (Dtype::I8, Some(scales)) => TensorData::new(dequantize_q8(bytes, scales), shape),
        (dtype, _) if is_float(dtype) => {
            TensorData::new(decode_float(file, &entry.name, dtype, bytes)?, shape)
        }
        _ => TensorData::from_bytes_vec(bytes.to_vec(), shape, load_dtype(file, entry)?),
    })
}

fn scale_values(file: &str, entry: &TensorEntry, bytes: &[u8]) -> Result<Vec<f32>, BundleError> {
    decode_float(file, &entry.name, entry.dtype, bytes)
}

fn apply<M: ModuleSnapshot>(module: &mut M, tensors: Vec<PackTensor>) -> ApplyResult {
    module.apply(tensors, None, Some(Box::new(PyTorchToBurnAdapter)), true)
}

/// Loads `bytes` (a whole safetensors file, anywhere it lies) into `module`, renaming keys
/// with `key_map` first. Each tensor is read, converted and handed to its parameter in turn,
/// and its bytes released (a memory map drops those pages) before the next.
pub(super) fn load<M: ModuleSnapshot>(
    file: &str,
    bytes: &SharedBytes,
    module: &mut M,
    key_map: &KeyMap,
    partial: bool,
) -> Result<LoadReport, BundleError> {
    let renamer = key_map.compile()?;
    let entries = parse_header(file, bytes, bytes.len())?;
    let mut tensors = Vec::with_capacity(entries.len());
    for (entry, scale) in pair_scales(file, entries)? {
        let scales = match &scale {
            Some(scale) => {
                let window = window(file, bytes, scale)?;
                Some(scale_values(file, scale, &window)?)
            }
            None => None,
        };
        let data = window(file, bytes, &entry)?;
        let dtype = load_dtype(file, &entry)?;
        let (name, shape) = (renamer.apply(&entry.name), entry.shape.clone());
        let file = file.to_string();
        tensors.push(bridge::deferred(
            name,
            dtype,
            shape.into(),
            None,
            move || {
                let values = tensor_data(&file, &entry, &data, scales.as_deref())
                    .map_err(|e| PackError::ValidationError(e.to_string()));
                data.release();
                values
            },
        ));
    }
    let result = apply(module, tensors);
    let applied: BTreeSet<String> = result.applied.iter().cloned().collect();
    let missing = result
        .missing
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    finish(
        file,
        result.errors,
        applied,
        result.unused,
        missing,
        partial,
    )
}

fn window(
    file: &str,
    bytes: &SharedBytes,
    entry: &TensorEntry,
) -> Result<SharedBytes, BundleError> {
    bytes.slice(entry.range.clone()).ok_or_else(|| {
        corrupt(
            file,
            format!("tensor `{}` lies past the file's end", entry.name),
        )
    })
}

fn finish(
    file: &str,
    errors: Vec<ApplyError>,
    applied: BTreeSet<String>,
    mut unused: Vec<String>,
    mut missing: Vec<String>,
    partial: bool,
) -> Result<LoadReport, BundleError> {
    if let Some(error) = errors.into_iter().next() {
        return Err(match error {
            ApplyError::ShapeMismatch {
                path,
                expected,
                found,
            } => BundleError::Shape {
                file: file.into(),
                tensor: path,
                expected: expected.to_vec(),
                found: found.to_vec(),
            },
            other => BundleError::Tensor {
                file: file.into(),
                tensor: apply_error_path(&other).into(),
                message: other.to_string(),
            },
        });
    }
    missing.retain(|name| !applied.contains(name));
    missing.sort();
    if let Some(first) = missing.first().filter(|_| !partial) {
        return Err(BundleError::MissingTensor {
            file: file.into(),
            tensor: first.clone(),
            more: missing.len() - 1,
        });
    }
    unused.sort();
    Ok(LoadReport {
        applied: applied.len(),
        unused,
        missing,
    })
}

fn apply_error_path(error: &ApplyError) -> &str {
    match error {
        ApplyError::ShapeMismatch { path, .. }
        | ApplyError::DTypeMismatch { path, .. }
        | ApplyError::AdapterError { path, .. }
        | ApplyError::LoadError { path, .. } => path,
    }
}

/// Loads a safetensors file into a module as its bytes arrive, tensor by tensor in file order
/// (the browser's streamed download): each tensor goes into its parameter as soon as it is
/// complete, so the file itself is never held. q8 weights wait for their scales (and scales
/// for their weights) if the file has them apart.
pub struct WeightStream {
    file: String,
    renamer: Renamer,
    scales: HashMap<String, (TensorEntry, Vec<f32>)>,
    waiting: HashMap<String, (TensorEntry, Vec<u8>)>,
    applied: BTreeSet<String>,
    unused: Vec<String>,
}

impl WeightStream {
    pub fn new(file: &str, key_map: &KeyMap) -> Result<Self, BundleError> {
        Ok(Self {
            file: file.into(),
            renamer: key_map.compile()?,
            scales: HashMap::new(),
            waiting: HashMap::new(),
            applied: BTreeSet::new(),
            unused: Vec::new(),
        })
    }

    /// Puts one complete tensor (`bytes` = its data) into `module`.
    pub fn push<M: ModuleSnapshot>(
        &mut self,
        module: &mut M,
        entry: TensorEntry,
        bytes: Vec<u8>,
    ) -> Result<(), BundleError> {
        let file = self.file.clone();
        if let Some(base) = entry.name.strip_suffix(Q8_SCALE_SUFFIX) {
            let base = base.to_string();
            let values = scale_values(&file, &entry, &bytes)?;
            return match self.waiting.remove(&base) {
                Some((weight, data)) => {
                    check_q8(&file, &weight, Some((entry.dtype, &entry.shape)))?;
                    self.apply_one(module, &weight, &data, Some(&values))
                }
                None => {
                    self.scales.insert(base, (entry, values));
                    Ok(())
                }
            };
        }
        if entry.dtype == Dtype::I8 {
            return match self.scales.remove(&entry.name) {
                Some((scale, values)) => {
                    check_q8(&file, &entry, Some((scale.dtype, &scale.shape)))?;
                    self.apply_one(module, &entry, &bytes, Some(&values))
                }
                None => {
                    self.waiting.insert(entry.name.clone(), (entry, bytes));
                    Ok(())
                }
            };
        }
        check_q8(&file, &entry, None)?;
        self.apply_one(module, &entry, &bytes, None)
    }

    fn apply_one<M: ModuleSnapshot>(
        &mut self,
        module: &mut M,
        entry: &TensorEntry,
        bytes: &[u8],
        scales: Option<&[f32]>,
    ) -> Result<(), BundleError> {
        let data = tensor_data(&self.file, entry, bytes, scales)?;
        let name = self.renamer.apply(&entry.name);
        let result = apply(module, vec![bridge::from_data(data, name, None)]);
        finish(
            &self.file,
            result.errors,
            BTreeSet::new(),
            vec![],
            vec![],
            true,
        )?;
        self.applied.extend(result.applied);
        self.unused.extend(result.unused);
        Ok(())
    }

    /// Ends the stream: every int8 weight must have met its scales, and (unless `partial`)
    /// every parameter of `module` must have been filled.
    pub fn finish<M: ModuleSnapshot>(
        self,
        module: &mut M,
        partial: bool,
    ) -> Result<LoadReport, BundleError> {
        if let Some(name) = self.waiting.keys().min() {
            let (entry, _) = &self.waiting[name];
            check_q8(&self.file, entry, None)?;
        }
        if let Some(base) = self.scales.keys().min() {
            return Err(tensor_error(
                &self.file,
                &format!("{base}{Q8_SCALE_SUFFIX}"),
                format!("q8 scales for `{base}`, which the file does not hold"),
            ));
        }
        // A walk with no tensors lists every parameter as missing.
        let all = apply(module, Vec::new());
        let missing = all.missing.into_iter().map(|(name, _)| name).collect();
        finish(
            &self.file,
            vec![],
            self.applied,
            self.unused,
            missing,
            partial,
        )
    }
}

pub(super) fn save<M: ModuleSnapshot>(module: &M) -> Result<Vec<u8>, BundleError> {
    let save_error = |e: &dyn std::fmt::Display| BundleError::Save {
        file: WEIGHTS_FILE.into(),
        message: e.to_string(),
    };
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true);
    module.save_into(&mut store).map_err(|e| save_error(&e))?;
    store.get_bytes().map_err(|e| save_error(&e))
}
