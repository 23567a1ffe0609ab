//! Model bundles: the one on-disk format every model uses, natively and in the browser —
//! `config.json` + `model.safetensors` (+ tokenizer files), as a folder or a single tar archive.
//!
//! Tensors are stored in PyTorch conventions (Linear weights `[out, in]`, norms `weight`/`bias`)
//! so reference checkpoints and our own bundles share one loader; a [`KeyMap`] renames
//! reference keys to module paths. Core does no file I/O: bundles are built from and turned
//! into bytes, and the native CLI reads and writes folders (atomically).
//!
//! Files are shared windows ([`SharedBytes`]) on wherever the bytes lie — a memory map
//! natively — and weights load one tensor at a time in any of the [`WeightDtype`]s, from
//! those windows or, in the browser, from a stream ([`ModelStream`]).

mod bytes;
pub mod convert;
mod decode;
pub mod dtype;
mod error;
mod files;
mod keymap;
mod model_stream;
pub mod safetensors;
mod stream;
mod weight_stream;
mod weights;

pub use bytes::{ByteSource, SharedBytes};
pub use dtype::WeightDtype;
pub use error::BundleError;
pub use files::{BundleFiles, member_path, pack_order, tar_header};
pub use keymap::KeyMap;
pub use model_stream::{ModelStream, StreamedModel};
pub use stream::{BundleStream, TensorPiece, TensorSink};
pub use weight_stream::{DecodedTensor, WeightStream};
pub use weights::{LoadReport, TensorInfo};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The config file every bundle has.
pub const CONFIG_FILE: &str = "config.json";
/// The weights file every bundle has.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// A model bundle held in memory.
#[derive(Clone, Debug, Default)]
pub struct Bundle {
    files: BundleFiles,
    /// The largest tensor (as f32) the target device holds in one buffer, if it has a limit.
    max_tensor_bytes: Option<u64>,
}

impl Bundle {
    /// A bundle from its files; fails unless both `config.json` and `model.safetensors` are there.
    pub fn from_files(files: BundleFiles) -> Result<Self, BundleError> {
        for required in [CONFIG_FILE, WEIGHTS_FILE] {
            files.get(required)?;
        }
        Ok(Self {
            files,
            max_tensor_bytes: None,
        })
    }

    /// Refuses, by name, any tensor larger than `bytes` as f32 when weights load (one GPU
    /// buffer binding: better an error naming the tensor than a GPU validation error).
    pub fn with_tensor_limit(mut self, bytes: Option<u64>) -> Self {
        self.max_tensor_bytes = bytes;
        self
    }

    /// A bundle from a tar archive; its files stay where they lie in `archive`.
    pub fn from_tar(archive: impl Into<SharedBytes>) -> Result<Self, BundleError> {
        Self::from_files(BundleFiles::from_tar(archive)?)
    }

    /// A new bundle with `config` as `config.json` and `module`'s weights as `model.safetensors`.
    pub fn build<C: Serialize, M: burn::store::ModuleSnapshot>(
        config: &C,
        module: &M,
    ) -> Result<Self, BundleError> {
        let config = serde_json::to_vec_pretty(config).map_err(|e| BundleError::Save {
            file: CONFIG_FILE.into(),
            message: e.to_string(),
        })?;
        let mut files = BundleFiles::default();
        files.insert(CONFIG_FILE, config);
        files.insert(WEIGHTS_FILE, weights::save(module)?);
        Ok(Self {
            files,
            max_tensor_bytes: None,
        })
    }

    /// Replaces `model.safetensors` with `module`'s weights (our module paths, which every
    /// reference key map passes through unchanged).
    pub fn with_weights<M: burn::store::ModuleSnapshot>(
        mut self,
        module: &M,
    ) -> Result<Self, BundleError> {
        self.files.insert(WEIGHTS_FILE, weights::save(module)?);
        Ok(self)
    }

    /// Adds or replaces a safetensors file of `module`'s weights under `path` (a checkpoint's
    /// second net, such as a DQN's target network).
    pub fn with_weights_file<M: burn::store::ModuleSnapshot>(
        self,
        path: impl Into<String>,
        module: &M,
    ) -> Result<Self, BundleError> {
        Ok(self.with_file(path, weights::save(module)?))
    }

    /// Loads the safetensors file `path` (written by [`Bundle::with_weights_file`]) into `module`.
    pub fn load_weights_file<M: burn::store::ModuleSnapshot>(
        &self,
        path: &str,
        module: &mut M,
    ) -> Result<LoadReport, BundleError> {
        weights::load(
            path,
            self.files.shared(path)?,
            module,
            &KeyMap::new(),
            false,
            self.max_tensor_bytes,
        )
    }

    /// Adds or replaces a file (tokenizer, vocabulary, …) under a relative path.
    pub fn with_file(mut self, path: impl Into<String>, bytes: impl Into<SharedBytes>) -> Self {
        self.files.insert(path, bytes);
        self
    }

    /// The bundle without the file `path` (unchanged if it has none).
    pub fn without_file(mut self, path: &str) -> Self {
        self.files.remove(path);
        self
    }

    pub fn files(&self) -> &BundleFiles {
        &self.files
    }

    pub fn into_files(self) -> BundleFiles {
        self.files
    }

    pub fn file(&self, path: &str) -> Result<&[u8], BundleError> {
        self.files.get(path)
    }

    /// `config.json` parsed as `C`; a bad value names its field path (`encoder.n_heads`).
    pub fn config<C: DeserializeOwned>(&self) -> Result<C, BundleError> {
        parse_json(CONFIG_FILE, self.file(CONFIG_FILE)?)
    }

    /// `config.json` as untyped JSON (for inspection).
    pub fn config_json(&self) -> Result<serde_json::Value, BundleError> {
        self.config()
    }

    /// Name, dtype and shape of every tensor in `model.safetensors`, sorted by name.
    pub fn tensors(&self) -> Result<Vec<TensorInfo>, BundleError> {
        weights::table(WEIGHTS_FILE, self.file(WEIGHTS_FILE)?)
    }

    /// Loads `model.safetensors` into `module`, renaming keys with `key_map` first. Every
    /// parameter of the module must be found with the right shape; extra tensors are reported.
    pub fn load_weights<M: burn::store::ModuleSnapshot>(
        &self,
        module: &mut M,
        key_map: &KeyMap,
    ) -> Result<LoadReport, BundleError> {
        weights::load(
            WEIGHTS_FILE,
            self.files.shared(WEIGHTS_FILE)?,
            module,
            key_map,
            false,
            self.max_tensor_bytes,
        )
    }

    /// Like [`Bundle::load_weights`], but parameters the file lacks keep their values and are
    /// listed in the report (a pretrained body under a new head).
    pub fn load_weights_partial<M: burn::store::ModuleSnapshot>(
        &self,
        module: &mut M,
        key_map: &KeyMap,
    ) -> Result<LoadReport, BundleError> {
        weights::load(
            WEIGHTS_FILE,
            self.files.shared(WEIGHTS_FILE)?,
            module,
            key_map,
            true,
            self.max_tensor_bytes,
        )
    }

    pub fn to_tar(&self) -> Result<Vec<u8>, BundleError> {
        self.files.to_tar()
    }
}

/// Parses a JSON file of the bundle, naming the field path at fault on error.
pub fn parse_json<T: DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, BundleError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        BundleError::Config {
            file: file.into(),
            field: if path == "." { None } else { Some(path) },
            message: e.into_inner().to_string(),
        }
    })
}
