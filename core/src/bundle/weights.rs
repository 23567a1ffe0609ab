//! `model.safetensors` ↔ module parameters, through burn-store with PyTorch conventions.

use burn::store::{
    ApplyError, BurnToPyTorchAdapter, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
use safetensors::SafeTensors;

use super::{BundleError, KeyMap, WEIGHTS_FILE};

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
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| corrupt(file, e))?;
    let mut rows: Vec<TensorInfo> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| TensorInfo {
            name,
            dtype: format!("{:?}", view.dtype()),
            shape: view.shape().to_vec(),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

pub(super) fn load<M: ModuleSnapshot>(
    file: &str,
    bytes: &[u8],
    module: &mut M,
    key_map: &KeyMap,
    partial: bool,
) -> Result<LoadReport, BundleError> {
    // Validate the container up front so a truncated or garbled file is reported as such,
    // rather than as a missing tensor.
    SafeTensors::deserialize(bytes).map_err(|e| corrupt(file, e))?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes.to_vec()))
        .with_from_adapter(PyTorchToBurnAdapter)
        .skip_enum_variants(true)
        .remap(key_map.remapper()?)
        .allow_partial(true)
        .validate(false);
    let result = module.load_from(&mut store).map_err(|e| corrupt(file, e))?;
    if let Some(error) = result.errors.first() {
        return Err(match error.clone() {
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
    if let Some((first, _)) = result.missing.first().filter(|_| !partial) {
        return Err(BundleError::MissingTensor {
            file: file.into(),
            tensor: first.clone(),
            more: result.missing.len() - 1,
        });
    }
    let mut unused = result.unused.clone();
    unused.sort();
    let mut missing: Vec<String> = result
        .missing
        .iter()
        .map(|(name, _)| name.clone())
        .collect();
    missing.sort();
    Ok(LoadReport {
        applied: result.applied.len(),
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
