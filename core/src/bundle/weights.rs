//! `model.safetensors` ↔ module parameters, one tensor at a time.
//!
//! Loading reads the header, then puts each tensor into its parameter straight from where its
//! bytes lie (a memory map, a tar member, a chunk of a stream), decoding it once into the f32
//! buffer the device takes: f16 / bf16 / q8 become f32 and Linear weights burn's transposed
//! layout in that one pass ([`super::decode`]), so nothing holds the file, or a tensor, twice.
//! burn-store's applier does the module walk; its own safetensors store would first copy the
//! whole file into a `Vec`. A stream's tensors arrive decoded already ([`super::WeightStream`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use burn::module::{ModuleVisitor, Param};
use burn::store::burn_pack::{Error as PackError, Tensor as PackTensor};
use burn::store::{
    ApplyError, ApplyResult, BurnToPyTorchAdapter, ModuleAdapter, ModuleContext, ModuleSnapshot,
    PyTorchToBurnAdapter, SafetensorsStore, bridge,
};
use burn::tensor::{DType, Tensor, TensorData};
use safetensors::Dtype;

use super::decode::{TensorDecoder, load_dtype, tensor_error};
use super::dtype::{Q8_SCALE_SUFFIX, decode_float};
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
pub(super) fn check_q8(
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

pub(super) fn scale_values(
    file: &str,
    entry: &TensorEntry,
    bytes: &[u8],
) -> Result<Vec<f32>, BundleError> {
    decode_float(file, &entry.name, entry.dtype, bytes)
}

/// Applies `tensors` to `module` with PyTorch's conventions; the Linear weights among
/// `sources` are decoded straight into burn's transposed layout, and any of them larger than
/// `max_tensor_bytes` as f32 fails by name when drawn.
pub(super) fn apply<M: ModuleSnapshot>(
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

/// A tensor's values as they go into the module (`transposed`: burn's Linear layout), decoded
/// from where its bytes lie in one pass; those bytes are released every few MiB as they are
/// read, so a mapped file's pages leave as the tensor fills rather than after it (the peak
/// holds the decoded model, not one more tensor).
fn tensor_data(
    file: &str,
    entry: &TensorEntry,
    data: &SharedBytes,
    scales: Option<&[f32]>,
    transposed: bool,
) -> Result<TensorData, BundleError> {
    const RELEASE_EVERY: usize = 8 << 20;
    let mut decoder = TensorDecoder::new(file, entry, transposed)?;
    let mut at = 0;
    while at < data.len() {
        let end = (at + RELEASE_EVERY).min(data.len());
        let window = data.slice(at..end).expect("within the window");
        decoder.push(window.as_slice())?;
        window.release();
        at = end;
    }
    decoder.finish(scales)
}

/// One tensor on its way into the module, with its name and shape as stored.
#[derive(Clone)]
pub(super) struct Source {
    file: Arc<str>,
    entry: TensorEntry,
    values: Values,
    /// The dtype float tensors go into the module as: the one its device computes in.
    float: DType,
}

#[derive(Clone)]
enum Values {
    /// Stored bytes (with a q8 weight's scales), decoded when the parameter draws them.
    Stored {
        data: SharedBytes,
        scales: Option<Arc<[f32]>>,
    },
    /// Decoded already, as the stream received it; drawn once.
    Decoded {
        data: Arc<Mutex<Option<TensorData>>>,
        transposed: bool,
    },
}

impl Source {
    fn stored(
        file: Arc<str>,
        entry: TensorEntry,
        data: SharedBytes,
        scales: Option<Arc<[f32]>>,
        float: DType,
    ) -> Self {
        Self {
            file,
            entry,
            values: Values::Stored { data, scales },
            float,
        }
    }

    /// A tensor the stream decoded (`transposed` if into burn's Linear layout).
    pub(super) fn decoded(
        file: Arc<str>,
        entry: TensorEntry,
        data: TensorData,
        transposed: bool,
        float: DType,
    ) -> Self {
        Self {
            file,
            entry,
            values: Values::Decoded {
                data: Arc::new(Mutex::new(Some(data))),
                transposed,
            },
            float,
        }
    }

    /// The tensor as burn-store takes it, decoded (and `transposed`) only when its parameter
    /// draws it, into one buffer.
    pub(super) fn tensor(
        &self,
        name: String,
        param_id: Option<u64>,
        transposed: bool,
    ) -> PackTensor {
        let mut shape = self.entry.shape.clone();
        if transposed {
            shape.reverse();
        }
        // Checked when the source was made; an unloadable dtype never gets here.
        let dtype = match load_dtype(&self.file, &self.entry) {
            Ok(DType::F32) | Err(_) => self.float,
            Ok(other) => other,
        };
        let source = self.clone();
        bridge::deferred(name, dtype, shape.into(), param_id, move || {
            source
                .values(transposed)
                .map_err(|e| PackError::ValidationError(e.to_string()))
        })
    }

    /// The values in the dtype the module takes them (f32 decoded, then the device's float).
    fn values(&self, transposed: bool) -> Result<TensorData, BundleError> {
        let data = self.decoded_values(transposed)?;
        Ok(if data.dtype() == DType::F32 && self.float != DType::F32 {
            data.convert_dtype(self.float)
        } else {
            data
        })
    }

    fn decoded_values(&self, transposed: bool) -> Result<TensorData, BundleError> {
        let (file, name) = (&*self.file, &self.entry.name);
        match &self.values {
            Values::Stored { data, scales } => {
                let values = tensor_data(file, &self.entry, data, scales.as_deref(), transposed);
                data.release();
                values
            }
            // The stream decodes a parameter's Linear weight transposed, as the adapter
            // draws it; the two tests are one function, so they cannot disagree.
            Values::Decoded {
                data,
                transposed: decoded,
            } if *decoded == transposed => data
                .lock()
                .map_err(|_| tensor_error(file, name, "decoded values lost to a panic"))?
                .take()
                .ok_or_else(|| tensor_error(file, name, "drawn twice")),
            Values::Decoded { .. } => Err(tensor_error(
                file,
                name,
                "decoded in a layout its parameter does not take",
            )),
        }
    }
}

/// Whether the parameter `name` (in a module of `module_type`, `rank` dimensions) is a Linear
/// weight, which PyTorch stores `[out, in]` and burn `[in, out]`.
fn is_linear_weight(module_type: Option<&str>, name: &str, rank: usize) -> bool {
    module_type == Some("Struct:Linear") && name.rsplit('.').next() == Some("weight") && rank == 2
}

/// The float dtype `module`'s device computes in (f16 on a device set to it; see
/// [`crate::precision`]), read without touching any parameter's values.
pub(super) fn float_dtype<M: ModuleSnapshot>(module: &M) -> DType {
    struct First(Option<DType>);
    impl ModuleVisitor for First {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            if self.0.is_none() {
                self.0 = Some(param.lazy_device().settings().float_dtype.into());
            }
        }
    }
    let mut first = First(None);
    module.visit(&mut first);
    first.0.unwrap_or(DType::F32)
}

/// The paths of `module`'s Linear weights (see [`is_linear_weight`]), found without touching
/// any parameter's values (they may not be initialised yet).
pub(super) fn linear_weights<M: ModuleSnapshot>(module: &M) -> BTreeSet<String> {
    /// Tracks paths as burn-store's collector does (enum variants skipped).
    #[derive(Default)]
    struct Probe {
        path: Vec<String>,
        containers: Vec<String>,
        found: BTreeSet<String>,
    }
    impl ModuleVisitor for Probe {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            self.containers.push(container_type.into());
            if !container_type.starts_with("Enum:") {
                self.path.push(name.into());
            }
        }
        fn exit_module(&mut self, _name: &str, container_type: &str) {
            self.containers.pop();
            if !container_type.starts_with("Enum:") {
                self.path.pop();
            }
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            let path = self.path.join(".");
            let module_type = ModuleContext::new(&self.containers).module_type();
            if is_linear_weight(module_type, &path, D) {
                self.found.insert(path);
            }
        }
    }
    let mut probe = Probe::default();
    module.visit(&mut probe);
    probe.found
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
        let linear_weight = is_linear_weight(ctx.module_type(), &tensor.name, tensor.shape.len());
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
        if linear_weight && tensor.dtype.is_float() {
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
    let float = float_dtype(module);
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
        let source = Source::stored(file.clone(), entry, data, scales, float);
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

pub(super) fn finish(
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

/// Refuses a tensor larger than `limit` bytes as f32 (one GPU buffer), naming it.
pub(super) fn check_size(file: &str, entry: &TensorEntry, limit: u64) -> Result<(), BundleError> {
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
pub(super) fn holder(path: &str) -> &str {
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
