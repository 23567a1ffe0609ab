//! `model.safetensors` ↔ module parameters, one tensor at a time.
//!
//! Loading reads the header, then puts each tensor into its parameter straight from where its
//! bytes lie (a memory map, a tar member, a chunk of a stream), decoding it once into the f32
//! buffer the device takes: f16 / bf16 / q8 become f32 and Linear weights burn's transposed
//! layout in that one pass, so nothing holds the file, or a tensor, twice. burn-store's applier
//! does the module walk; its own safetensors store would first copy the whole file into a `Vec`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use burn::store::burn_pack::{Error as PackError, Tensor as PackTensor};
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, ModuleAdapter, ModuleContext, ModuleSnapshot,
    PyTorchToBurnAdapter, SafetensorsStore, bridge,
};
use burn::tensor::{DType, TensorData};
use safetensors::Dtype;

use super::dtype::{Q8_SCALE_SUFFIX, decode_float, is_float};
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

/// A tensor's values as they go into the module: floats as f32, q8 dequantised, decoded row
/// by row into one buffer (`transposed`: a 2-D tensor written column-major, burn's Linear
/// layout).
fn tensor_data(
    file: &str,
    entry: &TensorEntry,
    data: &SharedBytes,
    scales: Option<&[f32]>,
    transposed: bool,
) -> Result<TensorData, BundleError> {
    let bytes = data.as_slice();
    let mut shape = entry.shape.clone();
    if !(is_float(entry.dtype) || entry.dtype == Dtype::I8) {
        return Ok(TensorData::from_bytes_vec(
            bytes.to_vec(),
            shape,
            load_dtype(file, entry)?,
        ));
    }
    let count: usize = shape.iter().product();
    let (rows, cols) = match shape.as_slice() {
        [rows, cols] => (*rows, *cols),
        _ => (1, count),
    };
    let width = if entry.dtype == Dtype::I8 {
        1
    } else {
        entry.dtype.bitsize() / 8
    };
    if bytes.len() != count * width || (entry.dtype == Dtype::I8 && scales.is_none()) {
        return Err(tensor_error(
            file,
            &entry.name,
            format!("{} bytes for {:?} {:?}", bytes.len(), entry.dtype, shape),
        ));
    }
    let mut out = vec![0f32; count];
    let row_bytes = cols * width;
    let mut row = Vec::with_capacity(cols);
    // Bytes read are released every few MiB, so a mapped file's pages leave as the tensor
    // fills rather than after it (the peak holds the decoded model, not one more tensor).
    const RELEASE_EVERY: usize = 8 << 20;
    let mut released = 0;
    for r in 0..rows {
        if (r * row_bytes) - released >= RELEASE_EVERY {
            if let Some(done) = data.slice(released..r * row_bytes) {
                done.release();
            }
            released = r * row_bytes;
        }
        let stored = &bytes[r * row_bytes..(r + 1) * row_bytes];
        row.clear();
        match scales {
            Some(scales) => row.extend(stored.iter().map(|&q| q as i8 as f32 * scales[r])),
            None => row.extend(decode_float(file, &entry.name, entry.dtype, stored)?),
        }
        if transposed {
            for (c, &value) in row.iter().enumerate() {
                out[c * rows + r] = value;
            }
        } else {
            out[r * cols..(r + 1) * cols].copy_from_slice(&row);
        }
    }
    if transposed {
        shape.reverse();
    }
    Ok(TensorData::new(out, shape))
}

fn scale_values(file: &str, entry: &TensorEntry, bytes: &[u8]) -> Result<Vec<f32>, BundleError> {
    decode_float(file, &entry.name, entry.dtype, bytes)
}

/// Applies `tensors` to `module` with PyTorch's conventions; the Linear weights among
/// `sources` are decoded straight into burn's transposed layout, and any of them larger than
/// `max_tensor_bytes` as f32 fails by name when drawn.
fn apply<M: ModuleSnapshot>(
    module: &mut M,
    tensors: Vec<PackTensor>,
    sources: HashMap<String, Source>,
    max_tensor_bytes: Option<u64>,
) -> ApplyResult {
    let adapter = LoadAdapter {
        sources: Arc::new(sources),
        max_tensor_bytes,
    };
    module.apply(tensors, None, Some(Box::new(adapter)), true)
}

/// One stored tensor (with its q8 scales): where its bytes lie and how they decode.
#[derive(Clone)]
struct Source {
    file: Arc<str>,
    entry: TensorEntry,
    data: SharedBytes,
    scales: Option<Arc<[f32]>>,
}

impl Source {
    /// The tensor as burn-store takes it, decoded (and `transposed`) only when its parameter
    /// draws it, into one buffer; its bytes are released then.
    fn tensor(&self, name: String, param_id: Option<u64>, transposed: bool) -> PackTensor {
        let mut shape = self.entry.shape.clone();
        if transposed {
            shape.reverse();
        }
        // Checked when the source was made; an unloadable dtype never gets here.
        let dtype = load_dtype(&self.file, &self.entry).unwrap_or(DType::F32);
        let source = self.clone();
        bridge::deferred(name, dtype, shape.into(), param_id, move || {
            let values = tensor_data(
                &source.file,
                &source.entry,
                &source.data,
                source.scales.as_deref(),
                transposed,
            )
            .map_err(|e| PackError::ValidationError(e.to_string()));
            source.data.release();
            values
        })
    }
}

/// PyTorch → burn conventions (burn-store's adapter), except that a Linear weight's
/// transpose happens while it is decoded: burn-store's would decode it whole, then copy it
/// transposed, holding the tensor twice (the 307 MB MAMMAL head).
#[derive(Clone)]
struct LoadAdapter {
    sources: Arc<HashMap<String, Source>>,
    max_tensor_bytes: Option<u64>,
}

impl ModuleAdapter for LoadAdapter {
    fn adapt(&self, tensor: PackTensor, ctx: ModuleContext<'_>) -> PackTensor {
        let linear_weight = ctx.module_type() == Some("Struct:Linear")
            && tensor.name.rsplit('.').next() == Some("weight")
            && tensor.shape.len() == 2;
        let Some(source) = self.sources.get(&tensor.name) else {
            return PyTorchToBurnAdapter.adapt(tensor, ctx);
        };
        if let Some(limit) = self.max_tensor_bytes
            && let Err(error) = check_size(&source.file, &source.entry, limit)
        {
            let message = error.to_string();
            return bridge::deferred(
                tensor.name.clone(),
                tensor.dtype,
                tensor.shape.clone(),
                tensor.param_id,
                move || Err(PackError::ValidationError(message.clone())),
            );
        }
        if linear_weight && tensor.dtype == DType::F32 {
            source.tensor(tensor.name.clone(), tensor.param_id, true)
        } else {
            PyTorchToBurnAdapter.adapt(tensor, ctx)
        }
    }

    fn get_alternative_param_name(&self, param_name: &str, container_type: &str) -> Option<String> {
        PyTorchToBurnAdapter.get_alternative_param_name(param_name, container_type)
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(self.clone())
    }
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
    max_tensor_bytes: Option<u64>,
) -> Result<LoadReport, BundleError> {
    let renamer = key_map.compile()?;
    let entries = parse_header(file, bytes, bytes.len())?;
    let file: Arc<str> = file.into();
    let mut sources = HashMap::new();
    for (entry, scale) in pair_scales(&file, entries)? {
        let scales = match &scale {
            Some(scale) => {
                let window = window(&file, bytes, scale)?;
                Some(scale_values(&file, scale, &window)?.into())
            }
            None => None,
        };
        let data = window(&file, bytes, &entry)?;
        load_dtype(&file, &entry)?;
        let source = Source {
            file: file.clone(),
            entry,
            data,
            scales,
        };
        sources.insert(renamer.apply(&source.entry.name), source);
    }
    let tensors = sources
        .iter()
        .map(|(name, source)| source.tensor(name.clone(), None, false))
        .collect();
    let result = apply(module, tensors, sources, max_tensor_bytes);
    let file: &str = &file;
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
/// for their weights) if the file has them apart. Tensors the module has no place for are
/// counted unused without being decoded (a head the model was built without).
pub struct WeightStream {
    file: String,
    renamer: Renamer,
    parameters: BTreeSet<String>,
    /// The modules holding them (`a.b` for `a.b.weight`).
    holders: BTreeSet<String>,
    max_tensor_bytes: Option<u64>,
    scales: HashMap<String, (TensorEntry, Vec<f32>)>,
    waiting: HashMap<String, (TensorEntry, Vec<u8>)>,
    applied: BTreeSet<String>,
    unused: Vec<String>,
}

impl WeightStream {
    /// A stream into `module`'s parameters (walked once here for their names).
    pub fn new<M: ModuleSnapshot>(
        file: &str,
        key_map: &KeyMap,
        module: &mut M,
    ) -> Result<Self, BundleError> {
        // A walk with no tensors lists every parameter as missing.
        let parameters: BTreeSet<String> = apply(module, Vec::new(), HashMap::new(), None)
            .missing
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        let holders = parameters.iter().map(|p| holder(p).to_string()).collect();
        Ok(Self {
            file: file.into(),
            renamer: key_map.compile()?,
            parameters,
            holders,
            max_tensor_bytes: None,
            scales: HashMap::new(),
            waiting: HashMap::new(),
            applied: BTreeSet::new(),
            unused: Vec::new(),
        })
    }

    /// Refuses, by name, any tensor larger than `bytes` as f32 (one WebGPU buffer binding:
    /// better an error naming the tensor than a GPU validation error or a trap).
    pub fn with_tensor_limit(mut self, bytes: Option<u64>) -> Self {
        self.max_tensor_bytes = bytes;
        self
    }

    /// The parameter path the file's tensor `name` goes to.
    pub fn target(&self, name: &str) -> String {
        self.renamer.apply(name)
    }

    /// Puts one complete tensor (`bytes` = its data) into `module`.
    pub fn push<M: ModuleSnapshot>(
        &mut self,
        module: &mut M,
        entry: TensorEntry,
        bytes: Vec<u8>,
    ) -> Result<(), BundleError> {
        let file = self.file.clone();
        let base = entry
            .name
            .strip_suffix(Q8_SCALE_SUFFIX)
            .unwrap_or(&entry.name);
        let target = self.renamer.apply(base);
        // Matched by the module holding it (a norm's `weight` fills its `gamma`).
        if !self.holders.contains(holder(&target)) {
            if base == entry.name {
                self.unused.push(target);
            }
            return Ok(());
        }
        if let Some(limit) = self.max_tensor_bytes
            && base == entry.name
        {
            check_size(&file, &entry, limit)?;
        }
        if let Some(base) = entry.name.strip_suffix(Q8_SCALE_SUFFIX) {
            let base = base.to_string();
            let values = scale_values(&file, &entry, &bytes)?;
            return match self.waiting.remove(&base) {
                Some((weight, data)) => {
                    check_q8(&file, &weight, Some((entry.dtype, &entry.shape)))?;
                    self.apply_one(module, weight, data, Some(values))
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
                    self.apply_one(module, entry, bytes, Some(values))
                }
                None => {
                    self.waiting.insert(entry.name.clone(), (entry, bytes));
                    Ok(())
                }
            };
        }
        check_q8(&file, &entry, None)?;
        self.apply_one(module, entry, bytes, None)
    }

    fn apply_one<M: ModuleSnapshot>(
        &mut self,
        module: &mut M,
        entry: TensorEntry,
        bytes: Vec<u8>,
        scales: Option<Vec<f32>>,
    ) -> Result<(), BundleError> {
        load_dtype(&self.file, &entry)?;
        let name = self.renamer.apply(&entry.name);
        let source = Source {
            file: self.file.as_str().into(),
            entry,
            data: bytes.into(),
            scales: scales.map(Into::into),
        };
        let tensor = source.tensor(name.clone(), None, false);
        let result = apply(module, vec![tensor], HashMap::from([(name, source)]), None);
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
    pub fn finish(self, partial: bool) -> Result<LoadReport, BundleError> {
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
        let missing = self.parameters.into_iter().collect();
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

/// Refuses a tensor larger than `limit` bytes as f32 (one GPU buffer), naming it.
fn check_size(file: &str, entry: &TensorEntry, limit: u64) -> Result<(), BundleError> {
    const MIB: f64 = 1024.0 * 1024.0;
    let f32_bytes = 4 * entry.shape.iter().product::<usize>() as u64;
    if f32_bytes <= limit {
        return Ok(());
    }
    Err(tensor_error(
        file,
        &entry.name,
        format!(
            "{:?} is {:.0} MiB as f32, more than one buffer may hold on this GPU ({:.0} MiB: the \
             adapter's maxStorageBufferBindingSize / maxBufferSize); run this model on the CPU",
            entry.shape,
            f32_bytes as f64 / MIB,
            limit as f64 / MIB
        ),
    ))
}

/// The module path of parameter `path` (`a.b` for `a.b.weight`).
fn holder(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(holder, _)| holder)
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
