//! The native front end over tessera-core: files on disk (bundles memory-mapped, atomic writes),
//! backends and devices, and the `tessera` commands. The CLI (`main.rs`) and the Python package
//! (`python/`) share it, so both read models and data the same way.

pub mod backend;
pub mod bench;
pub mod bundle;
pub mod bundle_io;
pub mod corpus;
pub mod data;
pub mod encoder;
pub mod fit;
pub mod game;
pub mod info;
pub mod mammal;
pub mod parallel;
pub mod rna;
pub mod serve;
pub mod terminal;
