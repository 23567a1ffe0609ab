//! Helpers shared by the core tests: the `../shared` fixtures and tolerant comparison.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::tensor::Tensor;
use safetensors::SafeTensors;

/// `../shared` beside the repository (override with `TESSERA_SHARED`).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("TESSERA_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

pub fn fixture(path: &str) -> PathBuf {
    shared_dir().join("fixtures").join(path)
}

pub fn read(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An f32 tensor of a safetensors file as (values, shape).
pub fn tensor_f32(bytes: &[u8], name: &str) -> (Vec<f32>, Vec<usize>) {
    let file = SafeTensors::deserialize(bytes).expect("valid safetensors");
    let view = file.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let values = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (values, view.shape().to_vec())
}

pub fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

/// The fixtures' tolerance: |a − b| ≤ 1e-4 + 1e-4·|b| everywhere.
pub fn assert_close(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len(), "{what}: length");
    let worst = actual
        .iter()
        .zip(expected)
        .enumerate()
        .map(|(i, (a, b))| (i, (a - b).abs() - 1e-4 * b.abs()))
        .fold((0, f32::MIN), |acc, x| if x.1 > acc.1 { x } else { acc });
    assert!(
        worst.1 <= 1e-4,
        "{what}: index {} is {} but expected {}",
        worst.0,
        actual[worst.0],
        expected[worst.0]
    );
}

/// The CPU device's random generator is one per process: tests that draw from it (module init,
/// dropout) take turns through this lock, or one test's draws would land between another's
/// seeding and its dropout and break its reproducibility check.
pub fn device_rng() -> std::sync::MutexGuard<'static, ()> {
    static DEVICE_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    DEVICE_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// The hostile-input properties' settings: `PROPTEST_CASES` cases (48 unless set), the fixed seed
/// `TESSERA_FUZZ_SEED` (0 unless set: CI is reproducible), and failing inputs saved in a
/// `*.regressions` file beside the test and replayed first on every run.
pub fn fuzz_config() -> proptest::test_runner::Config {
    use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
    let number = |name: &str| std::env::var(name).ok().and_then(|s| s.parse().ok());
    Config {
        cases: number("PROPTEST_CASES").map_or(48, |n| n as u32),
        rng_seed: RngSeed::Fixed(number("TESSERA_FUZZ_SEED").unwrap_or(0)),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..Config::default()
    }
}

/// The published MAMMAL tokenizer (`../shared/data/mammal-tokenizer`).
pub fn mammal_tokenizer() -> tessera_core::tokenize::mammal::ModularTokenizer {
    let dir = shared_dir().join("data/mammal-tokenizer");
    let mut files = tessera_core::bundle::BundleFiles::default();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        files.insert(name, std::fs::read(&path).unwrap());
    }
    tessera_core::tokenize::mammal::ModularTokenizer::from_files(&files, "").unwrap()
}

/// A DQN run taken to its end in one go, and the same run stopped after `stop` steps,
/// checkpointed to a tar, resumed from those bytes and taken to its end: `(straight, resumed)`.
#[cfg(feature = "train")]
pub fn straight_and_resumed(
    config: &tessera_core::train::dqn::DqnConfig,
    stop: usize,
    device: &burn::tensor::Device,
) -> (
    tessera_core::train::dqn::DqnTrainer,
    tessera_core::train::dqn::DqnTrainer,
) {
    use tessera_core::bundle::Bundle;
    use tessera_core::train::Fit;
    use tessera_core::train::dqn::DqnTrainer;
    let mut straight = DqnTrainer::new(config.clone(), None, device).unwrap();
    while !straight.done() {
        straight.step().unwrap();
    }
    let mut first = DqnTrainer::new(config.clone(), None, device).unwrap();
    for _ in 0..stop {
        first.step().unwrap();
    }
    let tar = first.checkpoint().unwrap().to_tar().unwrap();
    let resumed = DqnTrainer::resume(&Bundle::from_tar(&tar).unwrap(), device).unwrap();
    assert_eq!(resumed.position(), (stop, config.steps));
    let mut resumed = resumed;
    while !resumed.done() {
        resumed.step().unwrap();
    }
    (straight, resumed)
}

/// Equal to float rounding (the CPU backend's threaded reductions may sum in another order from
/// run to run).
pub fn nearly_equal(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}
