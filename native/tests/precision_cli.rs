//! `--precision f16` as a user runs it: MAMMAL's fixture cases and the shipped annotation model
//! computed in half precision give the f32 answers (same ids and labels, values within a
//! documented tolerance) on the CPU and, where there is one, on Vulkan; a bad value is named.

mod common;

use std::path::Path;

use common::*;

/// Every tensor of a safetensors file as f64 (ids as their values), by name.
fn values(file: &Path) -> Vec<(String, Vec<f64>)> {
    tensors(file)
        .into_iter()
        .map(|(name, dtype, bytes)| {
            let values = match dtype {
                safetensors::Dtype::F32 => bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
                    .collect(),
                safetensors::Dtype::I64 => bytes
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64)
                    .collect(),
                other => panic!("{name}: {other:?}"),
            };
            (name, values)
        })
        .collect()
}

/// `mammal forward` on the fixture's cases; `None` when the backend is not here (Vulkan).
fn forward(dir: &Path, backend: &str, precision: &str) -> Option<Vec<(String, Vec<f64>)>> {
    let fixture = shared().join("fixtures/mammal-tiny");
    let out = dir.join(format!("{backend}-{precision}.safetensors"));
    let run = tessera(&[
        "mammal",
        "forward",
        "--model",
        p(&fixture),
        "--cases",
        p(&fixture.join("cases.json")),
        "--out",
        p(&out),
        "--backend",
        backend,
        "--precision",
        precision,
    ]);
    if !run.status.success() {
        let message = String::from_utf8_lossy(&run.stderr);
        assert!(
            backend == "vulkan" && std::env::var("TESSERA_REQUIRE_VULKAN").as_deref() != Ok("1"),
            "{backend} {precision}: {message}"
        );
        eprintln!("skipped: no Vulkan here ({message})");
        return None;
    }
    Some(values(&out))
}

/// f16 keeps ids exactly and every value within 1 % of its tensor's largest magnitude (+1e-3):
/// measured at most 0.42 % (beam scores), 0.18 % elsewhere.
#[test]
fn mammal_in_f16_answers_as_in_f32() {
    let dir = scratch("precision-mammal");
    let want = forward(&dir, "cpu", "f32").unwrap();
    for backend in ["cpu", "vulkan"] {
        let Some(got) = forward(&dir, backend, "f16") else {
            continue;
        };
        assert_eq!(got.len(), want.len());
        for ((name, a), (_, b)) in want.iter().zip(&got) {
            if name.ends_with("generated_ids") {
                assert_eq!(a, b, "{backend}: {name}");
                continue;
            }
            let scale = a.iter().fold(0f64, |m, v| m.max(v.abs()));
            let worst = a
                .iter()
                .zip(b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f64, f64::max);
            assert!(
                b.iter().all(|v| v.is_finite()) && worst <= 1e-2 * scale + 1e-3,
                "{backend}: {name} differs by {worst} (largest magnitude {scale})"
            );
        }
    }
}

fn labels(csv: &Path) -> Vec<(String, String, f64)> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split(',').collect();
            (
                cols[0].to_string(),
                cols[1].to_string(),
                cols[2].parse().unwrap(),
            )
        })
        .collect()
}

/// The shipped model annotates the same labels in f16, confidences within 0.01 (the whole
/// 564-cell sample measured 564 / 564 the same, within 0.0042).
#[test]
fn annotation_in_f16_gives_the_f32_labels() {
    let dir = scratch("precision-rna");
    let cells = dir.join("cells.h5ad");
    ok(&[
        "data",
        "subset",
        "--data",
        p(&repo().join("www/samples/pbmc3k-test.h5ad")),
        "--where",
        "cell_type=B",
        "--out",
        p(&cells),
    ]);
    let model = repo().join("www/models/rna-pbmc3k.tar");
    let annotate = |precision: &str| {
        let out = dir.join(format!("{precision}.csv"));
        let run = tessera(&[
            "rna",
            "annotate",
            "--model",
            p(&model),
            "--data",
            p(&cells),
            "--out",
            p(&out),
            "--precision",
            precision,
        ]);
        match run.status.success() {
            true => Ok(labels(&out)),
            false => Err(String::from_utf8_lossy(&run.stderr).into_owned()),
        }
    };
    let (want, got) = (annotate("f32").unwrap(), annotate("f16").unwrap());
    assert!(want.len() >= 50, "{} cells", want.len());
    assert_eq!(want.len(), got.len());
    for (a, b) in want.iter().zip(&got) {
        assert_eq!((&a.0, &a.1), (&b.0, &b.1));
        assert!((a.2 - b.2).abs() <= 0.01, "{}: {} vs {}", a.0, a.2, b.2);
    }

    let error = annotate("f8").unwrap_err();
    assert!(
        error.contains("`f8`") && error.contains("f32 or f16"),
        "{error}"
    );
}
