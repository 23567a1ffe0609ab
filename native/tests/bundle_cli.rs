//! `tessera bundle random / convert` and `bench load` as a user runs them: bundles in the
//! published MAMMAL and BMFM-RNA layouts made without a download, stored as f16 / q8, loaded
//! and answering.

use std::path::PathBuf;

mod common;

use common::*;

const PPI: &str = "<@TOKENIZER-TYPE=AA><BINDING_AFFINITY_CLASS><SENTINEL_ID_0><MOLECULAR_ENTITY><MOLECULAR_ENTITY_GENERAL_PROTEIN><SEQUENCE_NATURAL_START>MKTAYIAKQR<SEQUENCE_NATURAL_END><EOS>";

fn tokenizer() -> PathBuf {
    shared().join("data/mammal-tokenizer")
}

fn generated(model: &std::path::Path) -> String {
    let text = ok(&["mammal", "run", "--model", p(model), "--prompt", PPI]);
    text.lines()
        .find(|l| l.starts_with("generated: "))
        .unwrap_or_else(|| panic!("{text}"))
        .to_string()
}

#[test]
fn random_published_layout_converts_and_answers() {
    let dir = scratch("bundle-random");
    let f32_dir = dir.join("narrow");
    let random = |out: &std::path::Path| {
        ok(&[
            "bundle",
            "random",
            "--like",
            "mammal-458m-narrow",
            "--seed",
            "3",
            "--out",
            p(out),
            "--from",
            p(&tokenizer()),
        ])
    };
    random(&f32_dir);
    // The published names, shapes and vocabulary, and the tokenizer beside them.
    let table = ok(&["bundle", "inspect", p(&f32_dir)]);
    for row in [
        ("t5_model.decoder.embed_tokens.weight", "[100001, 64]"),
        (
            "t5_model.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            "[32, 4]",
        ),
        ("encoder_head.classifier.6.weight", "[100001, 64]"),
    ] {
        let line = table.lines().find(|l| l.starts_with(row.0)).expect(&table);
        assert!(line.contains(row.1), "{line}");
    }
    assert!(table.contains("tokenizer/config.yaml"), "{table}");
    // The same seed writes the same bytes.
    let again = dir.join("again");
    random(&again);
    assert_eq!(
        std::fs::read(f32_dir.join("model.safetensors")).unwrap(),
        std::fs::read(again.join("model.safetensors")).unwrap()
    );
    let answer = generated(&f32_dir);
    // f16 as an archive: half the weight bytes, the same greedy answer.
    let f16 = dir.join("narrow-f16.tar");
    ok(&["bundle", "convert", "--dtype", "f16", p(&f32_dir), p(&f16)]);
    assert_eq!(generated(&f16), answer);
    let f32_size = std::fs::metadata(f32_dir.join("model.safetensors"))
        .unwrap()
        .len();
    let f16_size = std::fs::metadata(&f16).unwrap().len();
    assert!(f16_size < f32_size * 6 / 10, "{f16_size} vs {f32_size}");
    // q8 loads and answers (its answer may differ from f32's on random weights).
    let q8 = dir.join("narrow-q8");
    ok(&["bundle", "convert", "--dtype", "q8", p(&f16), p(&q8)]);
    let table = ok(&["bundle", "inspect", p(&q8)]);
    let scale = table
        .lines()
        .find(|l| l.starts_with("t5_model.lm_head.weight.q8_scale"))
        .expect(&table);
    assert!(
        scale.contains("F32") && scale.contains("[100001]"),
        "{scale}"
    );
    assert!(generated(&q8).starts_with("generated: "));
    // Load figures, one row per bundle.
    let bench = ok(&[
        "bench",
        "load",
        "--backend",
        "cpu",
        "--model",
        &format!("{},{}", p(&f32_dir), p(&q8)),
    ]);
    assert_eq!(
        bench.lines().filter(|l| l.starts_with("cpu")).count(),
        2,
        "{bench}"
    );
    // Refusals by name, with nothing left behind.
    let error = fails(&[
        "bundle",
        "convert",
        "--dtype",
        "int4",
        p(&f32_dir),
        p(&dir.join("x")),
    ]);
    assert!(error.contains("`int4`"), "{error}");
    assert!(!dir.join("x").exists());
    let error = fails(&[
        "bundle",
        "random",
        "--like",
        "mammal-458m-narrow",
        "--out",
        p(&dir.join("y")),
        "--from",
        p(&dir),
    ]);
    assert!(error.contains("--from"), "{error}");
    assert!(!dir.join("y").exists());
}

#[test]
fn random_bmfm_rna_layout_annotates_the_sample() {
    let dir = scratch("bundle-random-rna");
    let bundle = dir.join("rna-narrow-q8.tar");
    ok(&[
        "bundle",
        "random",
        "--like",
        "bmfm-rna-110m-narrow",
        "--dtype",
        "q8",
        "--out",
        p(&bundle),
        "--from",
        p(&repo().join("www/models/rna-pbmc3k.tar")),
    ]);
    let table = ok(&["bundle", "inspect", p(&bundle)]);
    // Big matrices as int8; the 8-row cell-type head stays f32 (q8 skips matrices under 16 rows).
    for row in [
        (
            "scbert.embeddings.genes_embeddings.weight ",
            "[94911, 64]",
            "I8",
        ),
        (
            "cls.predictions.predictions.decoder.field_decoders.expressions_wced.weight ",
            "[189822, 64]",
            "I8",
        ),
        (
            "cls.label_predictions.predictions.label_decoders.cell_type.decoder.weight ",
            "[8, 64]",
            "F32",
        ),
    ] {
        let line = table.lines().find(|l| l.starts_with(row.0)).expect(&table);
        assert!(line.contains(row.1) && line.contains(row.2), "{line}");
    }
    // The sample's genes keep their ids; the vocabulary is filled to the published size.
    let csv = dir.join("labels.csv");
    ok(&[
        "rna",
        "annotate",
        "--model",
        p(&bundle),
        "--data",
        p(&repo().join("www/samples/pbmc3k-test.h5ad")),
        "--out",
        p(&csv),
    ]);
    let labels = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(labels.lines().count(), 565);
    let classes = PBMC3K_TYPES;
    for line in labels.lines().skip(1) {
        // Random weights are unsure of every cell: the best type is a class, the call is that
        // type or Unassigned.
        let fields: Vec<&str> = line.split(',').collect();
        assert!(classes.contains(&fields[3]), "{line}");
        assert!(
            fields[1] == fields[3] || fields[1] == "Unassigned",
            "{line}"
        );
    }
}

#[test]
fn random_bmfm_rna_refuses_a_vocabulary_past_the_published_size() {
    let dir = scratch("bundle-random-rna-vocab");
    let from = dir.join("from");
    ok(&[
        "bundle",
        "unpack",
        p(&repo().join("www/models/rna-pbmc3k.tar")),
        p(&from),
    ]);
    let vocab_path = from.join("tokenizers/genes/vocab.json");
    let mut vocab: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&vocab_path).unwrap()).unwrap();
    vocab.insert("FAR_GENE".into(), 200_000.into());
    std::fs::write(&vocab_path, serde_json::to_vec(&vocab).unwrap()).unwrap();
    let out = dir.join("x.tar");
    let error = fails(&[
        "bundle",
        "random",
        "--like",
        "bmfm-rna-110m-narrow",
        "--out",
        p(&out),
        "--from",
        p(&from),
    ]);
    assert!(error.contains("`FAR_GENE` id 200000"), "{error}");
    assert!(!out.exists());
}

/// A bundle folder may not reach outside itself: a symbolic link to a file elsewhere is refused
/// by name when packing (and loading), as is one to a folder; a link inside the folder is fine.
#[cfg(unix)]
#[test]
fn bundle_folders_do_not_follow_links_out() {
    let dir = scratch("bundle-links");
    let bundle = dir.join("model");
    std::fs::create_dir_all(&bundle).unwrap();
    let fixture = shared().join("fixtures/mammal-tiny");
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture.join(name), bundle.join(name)).unwrap();
    }
    std::fs::write(dir.join("secret.txt"), "not part of the bundle").unwrap();
    std::os::unix::fs::symlink(dir.join("secret.txt"), bundle.join("notes.txt")).unwrap();
    let out = dir.join("model.tar");
    let error = fails(&["bundle", "pack", p(&bundle), p(&out)]);
    assert!(
        error.contains("notes.txt: a symbolic link to") && error.contains("outside the bundle"),
        "{error}"
    );
    assert!(!out.exists(), "nothing is written");

    std::fs::remove_file(bundle.join("notes.txt")).unwrap();
    std::os::unix::fs::symlink(&dir, bundle.join("up")).unwrap();
    let error = fails(&["bundle", "inspect", p(&bundle)]);
    assert!(
        error.contains("up: a symbolic link to") && error.contains("a folder"),
        "{error}"
    );

    std::fs::remove_file(bundle.join("up")).unwrap();
    std::os::unix::fs::symlink(bundle.join("config.json"), bundle.join("config-copy.json"))
        .unwrap();
    ok(&["bundle", "pack", p(&bundle), p(&out)]);
    assert!(out.exists());
}
