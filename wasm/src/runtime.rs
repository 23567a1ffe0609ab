//! The device models run on (CPU or WebGPU, in the precision asked for), the loaders that put
//! bundles on it, and the bare encoder; in every module that holds models.

use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Float32Array, Promise};
use tessera_core::bundle::Bundle;
use tessera_core::models::encoder::EncoderModel;
use tessera_core::precision::Precision;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

#[cfg(feature = "game")]
use crate::GameAgent;
#[cfg(feature = "game")]
use crate::game;
#[cfg(feature = "mammal")]
use crate::{MammalLoader, MammalSession};
#[cfg(feature = "rna")]
use crate::{RnaAnnotator, RnaLoader};
use crate::{js_error, js_error_debug};

/// The device every model of this module runs on, and how it was chosen.
#[wasm_bindgen]
pub struct Runtime {
    device: Device,
    backend: String,
    note: String,
    precision: Precision,
    /// The largest tensor one GPU buffer binding holds (WebGPU only), in bytes; the loaders
    /// refuse larger ones by name (a game agent's net is far below any limit).
    #[cfg_attr(not(any(feature = "rna", feature = "mammal")), allow(dead_code))]
    max_tensor_bytes: Option<u64>,
}

/// Whether this build can use WebGPU at all.
#[wasm_bindgen(js_name = hasWebGpu)]
pub fn has_webgpu() -> bool {
    cfg!(feature = "webgpu")
}

/// Picks the device: WebGPU when `preferGpu` and the browser gives an adapter, else the CPU.
/// `precision` `"f16"` computes in half precision where the device has f16 arithmetic (WebGPU:
/// an adapter with `shader-f16`); where it has not, the note says so and f32 is used.
#[wasm_bindgen(js_name = initRuntime)]
pub async fn init_runtime(prefer_gpu: bool, precision: Option<String>) -> Result<Runtime, JsError> {
    let asked: Precision = match precision.as_deref() {
        None => Precision::F32,
        Some(name) => name
            .parse()
            .map_err(|e| JsError::new(&format!("initRuntime: `precision`: {e}")))?,
    };
    if !prefer_gpu {
        return Runtime::new(Device::flex(), "cpu", "CPU requested".into(), None, asked);
    }
    #[cfg(feature = "webgpu")]
    {
        use burn::tensor::wgpu::WgpuBackend;
        // The runtime asks for the adapter's own limits (not WebGPU's 128 MiB / 256 MiB
        // defaults); a tensor past them is refused by name when it loads.
        match Device::wgpu_options()
            .graphics_api(WgpuBackend::WebGpu)
            .init_with_setup_async()
            .await
        {
            Ok((device, setup)) => {
                let limits = setup.device.limits();
                let max = limits
                    .max_storage_buffer_binding_size
                    .min(limits.max_buffer_size);
                let note = format!("WebGPU adapter (buffers up to {} MiB)", max / (1024 * 1024));
                Runtime::new(device, "webgpu", note, Some(max), asked)
            }
            Err(error) => Runtime::new(
                Device::flex(),
                "cpu",
                format!("WebGPU unavailable ({error}); using the CPU"),
                None,
                asked,
            ),
        }
    }
    #[cfg(not(feature = "webgpu"))]
    Runtime::new(
        Device::flex(),
        "cpu",
        "this module is CPU-only".into(),
        None,
        asked,
    )
}

impl Runtime {
    /// A runtime on `device`, computing in `asked` where the device can (else f32, said in
    /// the note).
    fn new(
        mut device: Device,
        backend: &str,
        mut note: String,
        max_tensor_bytes: Option<u64>,
        asked: Precision,
    ) -> Result<Self, JsError> {
        let precision = if asked.supported_on(&device) {
            asked.configure(&mut device).map_err(js_error)?;
            asked
        } else {
            Precision::F32
        };
        match (asked, precision) {
            (Precision::F16, Precision::F16) => note.push_str("; computing in f16"),
            (Precision::F16, _) if backend == "webgpu" => note
                .push_str("; f16 asked for, but the adapter has no shader-f16: computing in f32"),
            (Precision::F16, _) => note.push_str(
                "; f16 asked for, but this device has no f16 arithmetic: computing in f32",
            ),
            _ => {}
        }
        Ok(Self {
            device,
            backend: backend.into(),
            note,
            precision,
            max_tensor_bytes,
        })
    }
}

#[wasm_bindgen]
impl Runtime {
    /// `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.backend.clone()
    }

    /// Why this backend was chosen.
    #[wasm_bindgen(getter)]
    pub fn note(&self) -> String {
        self.note.clone()
    }

    /// The precision models compute in: `"f32"` or `"f16"`.
    #[wasm_bindgen(getter)]
    pub fn precision(&self) -> String {
        self.precision.name().into()
    }

    /// Bytes the device's allocator holds for tensors (WebGPU buffers; `undefined` on the
    /// CPU, whose tensors are in the heap).
    #[wasm_bindgen(js_name = gpuBytes)]
    pub fn gpu_bytes(&self) -> Option<f64> {
        if self.backend != "webgpu" {
            return None;
        }
        self.device
            .memory_pool_usage()
            .map(|usage| usage.bytes_reserved as f64)
    }

    /// Loads a bare encoder bundle from its tar archive.
    #[wasm_bindgen(js_name = loadEncoder)]
    pub fn load_encoder(&self, archive: &[u8]) -> Result<Encoder, JsError> {
        let bundle = Bundle::from_tar(archive).map_err(js_error)?;
        let model = EncoderModel::from_bundle(&bundle, &self.device).map_err(js_error)?;
        Ok(Encoder {
            inner: Rc::new((model, self.device.clone())),
        })
    }

    /// Loads a BMFM-RNA bundle (config, weights, gene vocabulary, optional `tessera.json`)
    /// from its tar archive, ready to annotate cells.
    #[cfg(feature = "rna")]
    #[wasm_bindgen(js_name = loadRnaModel)]
    pub fn load_rna_model(&self, archive: &[u8]) -> Result<RnaAnnotator, JsError> {
        let mut loader = self.stream_rna_model();
        loader.push(archive)?;
        loader.finish()
    }

    /// Starts loading a BMFM-RNA bundle chunk by chunk, for annotation (label heads only):
    /// push each chunk of the archive as it arrives, then `finish()`.
    #[cfg(feature = "rna")]
    #[wasm_bindgen(js_name = streamRnaModel)]
    pub fn stream_rna_model(&self) -> RnaLoader {
        RnaLoader::new(&self.device, self.max_tensor_bytes)
    }

    /// Loads a MAMMAL bundle (config, weights, `tokenizer/`, optional `tessera.json` with its
    /// tasks) from its tar archive.
    #[cfg(feature = "mammal")]
    #[wasm_bindgen(js_name = loadMammalModel)]
    pub fn load_mammal_model(&self, archive: &[u8]) -> Result<MammalSession, JsError> {
        let mut loader = self.stream_mammal_model();
        loader.push(archive)?;
        loader.finish()
    }

    /// Starts loading a MAMMAL bundle chunk by chunk: push each chunk of the archive as it
    /// arrives, then `finish()` (what the worker does with a download or a chosen file).
    #[cfg(feature = "mammal")]
    #[wasm_bindgen(js_name = streamMammalModel)]
    pub fn stream_mammal_model(&self) -> MammalLoader {
        MammalLoader::new(&self.device, self.max_tensor_bytes)
    }

    /// Loads an attack-game agent bundle (config and Q-network weights) from its tar archive.
    #[cfg(feature = "game")]
    #[wasm_bindgen(js_name = loadGameAgent)]
    pub fn load_game_agent(&self, archive: &[u8]) -> Result<GameAgent, JsError> {
        game::load(archive, &self.device)
    }
}

/// A loaded encoder bundle.
#[wasm_bindgen]
pub struct Encoder {
    inner: Rc<(EncoderModel, Device)>,
}

#[wasm_bindgen]
impl Encoder {
    #[wasm_bindgen(getter, js_name = dModel)]
    pub fn d_model(&self) -> usize {
        self.inner.0.config.encoder.d_model
    }

    /// Encodes `values` of `shape = [batch, len, d_model]`; `mask` is `[batch, len]` of 0/1.
    /// Resolves to a `Float32Array` of the same shape.
    pub fn forward(&self, values: Vec<f32>, shape: Vec<usize>, mask: Option<Vec<f32>>) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let (model, device) = &*inner;
            let shape: [usize; 3] = shape
                .as_slice()
                .try_into()
                .map_err(|_| JsError::new("shape must be [batch, len, d_model]"))?;
            let hidden = model
                .forward_values(values, shape, mask, device)
                .map_err(js_error)?;
            // WebGPU allows only asynchronous reads.
            let data = hidden.into_data_async().await.map_err(js_error_debug)?;
            let out = data
                .convert::<f32>()
                .try_to_vec::<f32>()
                .map_err(js_error_debug)?;
            Ok(Float32Array::from(out.as_slice()).into())
        })
    }
}
