//! Tessera's browser API: JS values in, a core call, JS values out. Every entry point returns
//! `Result`, so bad input surfaces as a JS exception rather than a trap.
//!
//! Built per model family (feature `rna`, `mammal` or `game`, so each page downloads only its
//! own) and per backend (scripts/build-wasm.sh): a small CPU-only module and a WebGPU module,
//! which still falls back to the CPU when the browser offers no adapter. Feature `anndata` is
//! the annotation page's on-demand extras (UMAP, the annotated `.h5ad`), without any model.

use wasm_bindgen::prelude::*;

#[cfg(feature = "anndata")]
mod anndata;
#[cfg(feature = "game")]
mod game;
#[cfg(feature = "mammal")]
mod mammal;
#[cfg(all(feature = "game", target_arch = "wasm32"))]
mod render;
#[cfg(feature = "rna")]
mod rna;
#[cfg(feature = "models")]
mod runtime;

mod boundary;
#[cfg(feature = "anndata")]
pub use anndata::{annotated_h5ad, umap_2d};
#[cfg(feature = "mammal")]
use boundary::from_js_tagged;
use boundary::js_error;
#[cfg(feature = "models")]
use boundary::js_error_debug;
#[cfg(any(feature = "rna", feature = "anndata"))]
use boundary::named_files;
#[cfg(feature = "models")]
use boundary::{from_js, to_js};
#[cfg(feature = "game")]
pub use game::{GameAgent, GameSession};
#[cfg(feature = "mammal")]
pub use mammal::{MammalLoader, MammalSession};
#[cfg(all(feature = "game", target_arch = "wasm32"))]
pub use render::GameRenderer;
#[cfg(feature = "rna")]
pub use rna::{RnaAnnotator, RnaDataset, RnaLoader};
#[cfg(feature = "models")]
pub use runtime::{Encoder, Runtime, has_webgpu, init_runtime};

/// The browser's allocator, counted so the benchmark can report peak memory.
#[global_allocator]
static ALLOCATOR: tessera_core::heap::CountingAllocator<std::alloc::System> =
    tessera_core::heap::CountingAllocator(std::alloc::System);

/// The most heap bytes this module had in use at once since the last `resetHeapPeak()`
/// (host memory; WebGPU buffers are not counted).
#[wasm_bindgen(js_name = heapPeakBytes)]
pub fn heap_peak_bytes() -> f64 {
    tessera_core::heap::peak_bytes() as f64
}

/// Starts a new heap high-water mark at the bytes in use now.
#[wasm_bindgen(js_name = resetHeapPeak)]
pub fn reset_heap_peak() {
    tessera_core::heap::reset_peak();
}

#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
}

/// A streamed load in progress (the loaders' shared state): over once a push fails or it
/// finishes, after which every call says so.
#[cfg(any(feature = "rna", feature = "mammal"))]
struct Loading<T>(Option<T>);

#[cfg(any(feature = "rna", feature = "mammal"))]
impl<T> Loading<T> {
    fn new(load: T) -> Self {
        Self(Some(load))
    }

    /// Feeds the load with `push`; a failed load is over, as nothing more can go in.
    fn push<E: std::error::Error + 'static>(
        &mut self,
        push: impl FnOnce(&mut T) -> Result<(), E>,
    ) -> Result<(), JsError> {
        let load = self.0.as_mut().ok_or_else(finished)?;
        let result = push(load);
        if result.is_err() {
            self.0 = None;
        }
        result.map_err(js_error)
    }

    fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }

    /// The load, to finish it.
    fn take(&mut self) -> Result<T, JsError> {
        self.0.take().ok_or_else(finished)
    }
}

#[cfg(any(feature = "rna", feature = "mammal"))]
fn finished() -> JsError {
    JsError::new("this loader has already finished")
}
