//! Running the `tessera` binary from tests: paths, scratch folders, success and failure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_tessera");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn shared() -> PathBuf {
    std::env::var_os("TESSERA_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"))
}

pub fn tessera(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run tessera")
}

pub fn ok(args: &[&str]) -> String {
    let out = tessera(args);
    assert!(
        out.status.success(),
        "tessera {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn fails(args: &[&str]) -> String {
    let out = tessera(args);
    assert!(!out.status.success(), "tessera {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

/// Whether a run on Vulkan worked; when it failed for want of a driver, says the test is skipped
/// (software Vulkan, Mesa's lavapipe, is there in CI, where TESSERA_REQUIRE_VULKAN=1 makes a
/// missing driver fail instead).
pub fn vulkan_ran(run: &Output) -> bool {
    if run.status.success() {
        return true;
    }
    let message = String::from_utf8_lossy(&run.stderr);
    assert!(
        std::env::var("TESSERA_REQUIRE_VULKAN").as_deref() != Ok("1"),
        "Vulkan required: {message}"
    );
    eprintln!("skipped: no Vulkan here ({message})");
    false
}

/// A scratch folder per test, under `target/tmp` (where CI's anndata check reads back every
/// `.h5ad` the tests wrote).
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tessera-cli-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Flags for a tiny BMFM-RNA model (`rna train`).
pub const RNA_TINY: &[&str] = &[
    "--genes",
    "64",
    "--hidden",
    "16",
    "--layers",
    "1",
    "--heads",
    "2",
    "--intermediate",
    "32",
    "--max-length",
    "32",
];

/// Flags for a tiny MAMMAL model (`mammal train`).
pub const MAMMAL_TINY: &[&str] = &[
    "--d-model",
    "32",
    "--d-kv",
    "8",
    "--d-ff",
    "64",
    "--layers",
    "1",
    "--heads",
    "4",
];

pub fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every tensor of a safetensors file: name, dtype and bytes, sorted by name.
pub fn tensors(file: &Path) -> Vec<(String, safetensors::Dtype, Vec<u8>)> {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| (name, view.dtype(), view.data().to_vec()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The pbmc3k sample's eight cell types (the shipped annotation model's classes).
pub const PBMC3K_TYPES: [&str; 8] = [
    "B",
    "CD14 Monocytes",
    "CD4 T",
    "CD8 T",
    "Dendritic",
    "FCGR3A Monocytes",
    "Megakaryocytes",
    "NK",
];
