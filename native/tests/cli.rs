//! The `tessera` binary as a user runs it: bundles, the encoder on each backend, errors.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::*;

/// Our encoder config beside the reference SCBert fixture's weights (reference key names).
fn encoder_bundle(dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/scbert-tiny-encoder.json"),
        bundle.join("config.json"),
    )
    .unwrap();
    std::fs::copy(
        shared().join("fixtures/rna-scbert-tiny/model.safetensors"),
        bundle.join("model.safetensors"),
    )
    .unwrap();
    bundle
}

#[test]
fn inspect_prints_config_and_tensor_table() {
    let dir = scratch("inspect");
    let text = ok(&["bundle", "inspect", p(&encoder_bundle(&dir))]);
    assert!(text.contains("\"architecture\": \"encoder\""), "{text}");
    let row = text
        .lines()
        .find(|l| l.starts_with("scbert.encoder.layer.0.intermediate.dense.weight"))
        .expect(&text);
    assert!(
        row.contains("F32") && row.contains("[128, 64]") && row.trim_end().ends_with("8192"),
        "{row}"
    );
    assert!(text.contains("56 tensors"), "{text}");
}

#[test]
fn pack_and_unpack_round_trip() {
    let dir = scratch("pack");
    let archive = dir.join("b.tar");
    ok(&["bundle", "pack", p(&encoder_bundle(&dir)), p(&archive)]);
    let unpacked = dir.join("unpacked");
    ok(&["bundle", "unpack", p(&archive), p(&unpacked)]);
    for file in ["config.json", "model.safetensors"] {
        assert_eq!(
            std::fs::read(dir.join("bundle").join(file)).unwrap(),
            std::fs::read(unpacked.join(file)).unwrap()
        );
    }
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    // Unpacking over a folder that is not a bundle is refused and leaves it alone.
    let precious = dir.join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), "keep").unwrap();
    let message = fails(&["bundle", "unpack", p(&archive), p(&precious)]);
    assert!(message.contains("not a bundle"), "{message}");
    assert_eq!(
        std::fs::read_to_string(precious.join("notes.txt")).unwrap(),
        "keep"
    );
}

/// Case 0 of the fixture as the CLI's JSON input, and the reference output.
fn case0(dir: &Path) -> (PathBuf, Vec<f32>) {
    let expected =
        std::fs::read(shared().join("fixtures/rna-scbert-tiny/expected.safetensors")).unwrap();
    let file = safetensors::SafeTensors::deserialize(&expected).unwrap();
    let floats = |name: &str| -> (Vec<f32>, Vec<usize>) {
        let view = file.tensor(name).unwrap();
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        (values, view.shape().to_vec())
    };
    let (input, shape) = floats("case0.embedding_output");
    let cases: serde_json::Value = serde_json::from_slice(
        &std::fs::read(shared().join("fixtures/rna-scbert-tiny/cases.json")).unwrap(),
    )
    .unwrap();
    let mask: Vec<f64> = cases["cases"][0]["attention_mask"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    let path = dir.join("input.json");
    std::fs::write(
        &path,
        serde_json::json!({"shape": shape, "values": input, "attention_mask": mask}).to_string(),
    )
    .unwrap();
    (path, floats("case0.last_hidden_state").0)
}

/// `tessera encoder forward` on the given files.
fn run_forward(bundle: &Path, input: &Path, output: &Path, backend: &str) -> Output {
    tessera(&[
        "encoder",
        "forward",
        "--bundle",
        p(bundle),
        "--input",
        p(input),
        "--output",
        p(output),
        "--backend",
        backend,
    ])
}

fn read_values(output: &Path) -> Vec<f32> {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(output).unwrap()).unwrap();
    json["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn forward(dir: &Path, bundle: &Path, input: &Path, backend: &str) -> Vec<f32> {
    let output = dir.join(format!("out-{backend}.json"));
    let run = run_forward(bundle, input, &output, backend);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    read_values(&output)
}

/// The error message of a forward run that must fail.
fn forward_fails(bundle: &Path, input: &Path, output: &Path) -> String {
    let run = run_forward(bundle, input, output, "cpu");
    assert!(!run.status.success(), "forward should fail");
    String::from_utf8(run.stderr).unwrap()
}

fn assert_close(what: &str, actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, b)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - b).abs() <= 1e-4 + 1e-4 * b.abs(),
            "{what}[{i}]: {a} vs {b}"
        );
    }
}

#[test]
fn encoder_forward_on_cpu_matches_the_reference() {
    let dir = scratch("forward-cpu");
    let (input, expected) = case0(&dir);
    let out = forward(&dir, &encoder_bundle(&dir), &input, "cpu");
    assert_close("cpu", &out, &expected);
}

/// Software Vulkan (lavapipe) in CI; set TESSERA_REQUIRE_VULKAN=1 to make a missing driver fail.
#[test]
fn encoder_forward_on_vulkan_matches_cpu() {
    let dir = scratch("forward-vulkan");
    let (input, _) = case0(&dir);
    let bundle = encoder_bundle(&dir);
    let cpu = forward(&dir, &bundle, &input, "cpu");
    let output = dir.join("out-vulkan.json");
    if !common::vulkan_ran(&run_forward(&bundle, &input, &output, "vulkan")) {
        return;
    }
    assert_close("vulkan vs cpu", &read_values(&output), &cpu);
}

#[test]
fn bad_input_is_reported_with_file_and_field() {
    let dir = scratch("errors");
    let bundle = encoder_bundle(&dir);
    let message = fails(&["bundle", "inspect", p(&dir.join("nowhere"))]);
    assert!(
        message.contains("nowhere") && message.contains("cannot open bundle"),
        "{message}"
    );

    let input = dir.join("bad.json");
    std::fs::write(&input, r#"{"shape": [1, 2, 64], "values": "zeros"}"#).unwrap();
    let output = dir.join("out.json");
    let message = forward_fails(&bundle, &input, &output);
    assert!(
        message.contains("bad.json") && message.contains("values"),
        "{message}"
    );
    assert!(!output.exists(), "nothing written on failure");

    std::fs::write(bundle.join("model.safetensors"), b"not safetensors").unwrap();
    std::fs::write(&input, r#"{"shape": [1, 1, 64], "values": []}"#).unwrap();
    let message = forward_fails(&bundle, &input, &output);
    assert!(
        message.contains("model.safetensors: not a valid safetensors file"),
        "{message}"
    );
}

#[test]
fn rna_forward_writes_every_fixture_tensor_under_its_name() {
    for name in ["rna-scbert-tiny", "rna-scllama-tiny"] {
        rna_forward_matches(name);
    }
}

fn rna_forward_matches(name: &str) {
    let dir = scratch(name);
    let fixture = shared().join("fixtures").join(name);
    let out = dir.join("out.safetensors");
    ok(&[
        "rna",
        "forward",
        "--model",
        p(&fixture),
        "--cases",
        p(&fixture.join("cases.json")),
        "--out",
        p(&out),
    ]);
    let ours = std::fs::read(&out).unwrap();
    let ours = safetensors::SafeTensors::deserialize(&ours).unwrap();
    let reference = std::fs::read(fixture.join("expected.safetensors")).unwrap();
    let reference = safetensors::SafeTensors::deserialize(&reference).unwrap();
    let mut names = ours.names();
    let mut expected = reference.names();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
    let floats = |view: safetensors::tensor::TensorView| -> Vec<f32> {
        view.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
            .collect()
    };
    for name in expected {
        let a = ours.tensor(name).unwrap();
        let b = reference.tensor(name).unwrap();
        assert_eq!(a.shape(), b.shape(), "{name}");
        assert_close(name, &floats(a), &floats(b));
    }
}

#[test]
fn rna_baseline_prints_a_table_and_writes_its_report() {
    let dir = scratch("baseline");
    let report = dir.join("baseline.json");
    let data = shared().join("data/pbmc3k/pbmc3k_counts_labeled.h5ad");
    let text = ok(&[
        "rna",
        "baseline",
        "--data",
        p(&data),
        "--report",
        p(&report),
    ]);
    assert!(
        text.contains("2074 train cells; 564 scored from ")
            && text.contains("(split = test); 8 classes"),
        "{text}"
    );
    assert!(text.contains("PCA(50) + logistic regression"), "{text}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    // The standard recipe at its best: scikit-learn (PCA svd_solver="full", StandardScaler,
    // LogisticRegression(C=1), lbfgs to convergence) scores the same genes 0.9468 / 0.9224.
    let (accuracy, f1) = (
        json["accuracy"].as_f64().unwrap(),
        json["macro_f1"].as_f64().unwrap(),
    );
    assert!((accuracy - 0.9468).abs() < 0.002, "{json}");
    assert!((f1 - 0.9224).abs() < 0.003, "{json}");
    let message = fails(&["rna", "baseline", "--data", p(&data), "--label", "tissue"]);
    assert!(
        message.contains("`tissue`") && message.contains("cell_type"),
        "{message}"
    );
}
