//! Tessera's core: everything that is the same natively and in the browser.
//!
//! Platform-free by design (bytes in, bytes out, any burn [`Device`](burn::tensor::Device)):
//! the native CLI and the wasm API are thin front-ends over these modules.

pub mod bundle;
pub mod data;
pub mod error;
pub mod eval;
pub mod game;
pub mod heap;
pub mod models;
pub mod nn;
pub mod precision;
pub mod tokenize;
#[cfg(feature = "train")]
pub mod train;
