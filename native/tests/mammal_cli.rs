//! `tessera mammal tokenize | forward | run` as a user or a script runs them, on the reference
//! fixtures (`../shared/fixtures/mammal-*`) and the published tokenizer folder.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value;

fn tokenizer() -> PathBuf {
    shared().join("data/mammal-tokenizer")
}

fn tiny() -> PathBuf {
    shared().join("fixtures/mammal-tiny")
}

fn json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn tokenize_cases_match_the_reference_and_refusals_are_named() {
    let dir = scratch("mammal-tokenize");
    let cases = shared().join("fixtures/mammal-tokenizer-cases.json");
    let out = dir.join("tokens.json");
    ok(&[
        "mammal",
        "tokenize",
        "--tokenizer",
        p(&tokenizer()),
        "--cases",
        p(&cases),
        "--out",
        p(&out),
    ]);
    let got = json(&out);
    let want = json(&cases);
    let want = want["cases"].as_array().unwrap();
    assert_eq!(got.as_array().unwrap().len(), want.len());
    for (g, w) in got.as_array().unwrap().iter().zip(want) {
        assert_eq!(g["name"], w["name"]);
        if w["expect_error"] == true {
            assert!(g["error"].is_string(), "{}: accepted", w["name"]);
            continue;
        }
        for key in ["ids", "attention_mask", "scalars_valid_mask"] {
            assert_eq!(g[key], w["expect"][key], "{}: {key}", w["name"]);
        }
    }

    let table = ok(&[
        "mammal",
        "tokenize",
        "--tokenizer",
        p(&tokenizer()),
        "--max-len",
        "12",
        "--prompt",
        "<@TOKENIZER-TYPE=AA><MASK><@TOKENIZER-TYPE=SCALARS_LITERALS>0.5<@TOKENIZER-TYPE=SMILES>CCO<EOS>",
    ]);
    assert!(
        table.contains("<SCALAR>") && table.contains("SCALARS_LITERALS") && table.contains("0.5"),
        "{table}"
    );
    assert!(
        table.contains("SMILES") && table.contains("(padding)") && table.contains("12 tokens"),
        "{table}"
    );
    let err = fails(&[
        "mammal",
        "tokenize",
        "--tokenizer",
        p(&tokenizer()),
        "--prompt",
        "<@TOKENIZER-TYPE=DNA>ACGT<EOS>",
    ]);
    assert!(
        err.contains("unknown tokenizer \"DNA\"") && err.contains("character 1"),
        "{err}"
    );
}

#[test]
fn forward_writes_every_fixture_tensor() {
    let dir = scratch("mammal-forward");
    let out = dir.join("out.safetensors");
    ok(&[
        "mammal",
        "forward",
        "--model",
        p(&tiny()),
        "--cases",
        p(&tiny().join("cases.json")),
        "--out",
        p(&out),
    ]);
    let got_bytes = std::fs::read(&out).unwrap();
    let got = safetensors::SafeTensors::deserialize(&got_bytes).unwrap();
    let want_bytes = std::fs::read(tiny().join("expected.safetensors")).unwrap();
    let want = safetensors::SafeTensors::deserialize(&want_bytes).unwrap();
    let mut names = want.names();
    names.sort();
    assert!(names.len() >= 12);
    for name in names {
        let (g, w) = (
            got.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}")),
            want.tensor(name).unwrap(),
        );
        assert_eq!(g.shape(), w.shape(), "{name}");
        assert_eq!(g.dtype(), w.dtype(), "{name}");
        if w.dtype() == safetensors::Dtype::I64 {
            assert_eq!(g.data(), w.data(), "{name}");
            continue;
        }
        let f = |d: &[u8]| -> Vec<f32> {
            d.chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        };
        for (a, e) in f(g.data()).iter().zip(f(w.data())) {
            assert!((a - e).abs() <= 1e-4 + 1e-4 * e.abs(), "{name}: {a} vs {e}");
        }
    }
    let ids = json(&dir.join("out.json"));
    assert!(
        ids["case2.generated_ids"].as_array().unwrap().len() == 2,
        "{ids}"
    );
}

#[test]
fn run_generates_classifies_and_regresses() {
    const PPI: &str = "<@TOKENIZER-TYPE=AA><BINDING_AFFINITY_CLASS><SENTINEL_ID_0><MOLECULAR_ENTITY><MOLECULAR_ENTITY_GENERAL_PROTEIN><SEQUENCE_NATURAL_START>MKTAYIAKQR<SEQUENCE_NATURAL_END><EOS>";
    let (model, tokenizer) = (tiny(), tokenizer());
    let base = [
        "mammal",
        "run",
        "--model",
        p(&model),
        "--tokenizer",
        p(&tokenizer),
    ];
    let run = |extra: &[&str]| ok(&[&base[..], extra].concat());
    let generated = run(&["--prompt", PPI]);
    assert!(generated.starts_with("generated: "), "{generated}");
    // This random model's greedy answer starts `[CL:0000860]` then the SMILES piece
    // `[C@@H](C(C)(C)C)` (id 3256): read as a class at position 1, that piece must win over `<1>`.
    let piece = "[C@@H](C(C)(C)C)";
    assert!(
        generated.starts_with(&format!("generated: [CL:0000860]{piece}")),
        "{generated}"
    );
    let classes = format!("<1>,{piece}");
    let classified = run(&[
        "--prompt",
        PPI,
        "--readout",
        "classify",
        "--classes",
        &classes,
    ]);
    let p: Vec<f64> = classified
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().last().unwrap().parse().unwrap())
        .collect();
    assert_eq!(p.len(), 2, "{classified}");
    assert!(
        (p[0] + p[1] - 1.0).abs() < 1e-3 && p[1] > p[0],
        "{classified}"
    );
    assert!(
        classified.contains(&format!("predicted: {piece}")),
        "{classified}"
    );
    let dti = "<@TOKENIZER-TYPE=AA><MASK><@TOKENIZER-TYPE=SCALARS_LITERALS>0.5<@TOKENIZER-TYPE=AA><SEQUENCE_NATURAL_START>ACDEF<SEQUENCE_NATURAL_END><EOS>";
    let raw = run(&["--prompt", dti, "--readout", "regress"]);
    let scaled = run(&[
        "--prompt",
        dti,
        "--readout",
        "regress",
        "--mean",
        "5",
        "--std",
        "2",
    ]);
    let value = |s: &str| -> (f64, f64) {
        let w: Vec<&str> = s.split_whitespace().collect();
        (
            w[1].parse().unwrap(),
            w[4].trim_end_matches(')').parse().unwrap(),
        )
    };
    let (v0, head0) = value(&raw);
    let (v1, head1) = value(&scaled);
    assert!(
        (v0 - head0).abs() < 1e-5 && (head0 - head1).abs() < 1e-6,
        "{raw} {scaled}"
    );
    assert!((v1 - (2.0 * head1 + 5.0)).abs() < 1e-4, "{scaled}");
    let err = fails(&[&base[..], &["--prompt", "<@TOKENIZER-TYPE=AA>ACD"]].concat());
    assert!(
        err.contains("prompt 1") && err.contains("must end with <EOS>"),
        "{err}"
    );
}

#[test]
fn the_baseline_beats_the_mean_on_held_out_molecules() {
    let dir = scratch("mammal-baseline");
    let task = repo().join("native/tasks/esol.json");
    let report = dir.join("esol.json");
    let out = ok(&[
        "mammal",
        "baseline",
        "--task",
        p(&task),
        "--report",
        p(&report),
    ]);
    assert!(out.contains("903 train / 225 test rows"), "{out}");
    let figures = json(&report);
    let (error, sd) = (
        figures["rmse"].as_f64().unwrap(),
        figures["label_sd"].as_f64().unwrap(),
    );
    assert!(error < 0.8 * sd, "RMSE {error} vs label sd {sd}");
}

#[test]
fn train_resume_eval_and_run_a_fine_tuned_task() {
    let dir = scratch("mammal-train");
    let tasks = repo().join("native/tasks");
    let (b3db, esol) = (tasks.join("b3db-bbb.json"), tasks.join("esol.json"));
    let out = dir.join("run");
    let train = |extra: &[&str]| {
        let mut args = vec![
            "mammal",
            "train",
            "--task",
            p(&b3db),
            "--task",
            p(&esol),
            "--out",
            p(&out),
            "--steps",
            "6",
            "--batch-size",
            "8",
            "--warmup",
            "2",
            "--checkpoint-every",
            "3",
        ];
        args.extend_from_slice(common::MAMMAL_TINY);
        args.extend_from_slice(extra);
        ok(&args)
    };
    let text = train(&["--tokenizer", p(&tokenizer())]);
    assert!(text.contains("b3db-bbb (held out): accuracy"), "{text}");
    assert!(text.contains("esol (held out): RMSE"), "{text}");
    let report = json(&out.join("report.json"));
    assert_eq!(report[0]["score"]["test"], 1561);
    assert_eq!(report[1]["score"]["test"], 225);
    let weights = std::fs::read(out.join("model/model.safetensors")).unwrap();
    let info = json(&out.join("model/tessera.json"));
    assert_eq!(info["tasks"][0]["inputs"][0], "SMILES");
    assert_eq!(info["tasks"][1]["readout"]["kind"], "regress");
    assert!(out.join("model/tokenizer/config.yaml").is_file());
    assert!(
        out.join("checkpoints/step-3/optimizer.safetensors")
            .is_file()
    );

    // Resume from step 3 runs the remaining steps (core/tests/mammal_train.rs checks that it
    // ends at the uninterrupted run's weights).
    train(&["--resume", p(&out.join("checkpoints/step-3"))]);
    let resumed = std::fs::read(out.join("model/model.safetensors")).unwrap();
    assert_eq!(resumed.len(), weights.len());
    let history = json(&out.join("history.json"));
    assert_eq!(history.as_array().unwrap().len(), 6);

    // The bundle's own task: fill its prompt, read its classes by their labels.
    let model = out.join("model");
    let answer = ok(&[
        "mammal",
        "run",
        "--model",
        p(&model),
        "--task",
        "b3db-bbb",
        "--input",
        "CCO",
    ]);
    assert!(
        answer.contains("BBB+") && answer.contains("predicted: BBB"),
        "{answer}"
    );
    let value = ok(&[
        "mammal",
        "run",
        "--model",
        p(&model),
        "--task",
        "esol",
        "--input",
        "SMILES=c1ccccc1",
    ]);
    assert!(value.contains("value: "), "{value}");
    let err = fails(&[
        "mammal",
        "run",
        "--model",
        p(&model),
        "--task",
        "tox21",
        "--input",
        "C",
    ]);
    assert!(
        err.contains("no task \"tox21\"") && err.contains("b3db-bbb, esol"),
        "{err}"
    );

    // `eval` gives the training run's held-out figures again.
    let figures = dir.join("eval.json");
    ok(&[
        "mammal",
        "eval",
        "--model",
        p(&model),
        "--task",
        p(&esol),
        "--report",
        p(&figures),
    ]);
    let again = json(&figures);
    let rmse = |v: &Value| v["score"]["rmse"].as_f64().unwrap();
    let trained = json(&out.join("report.json"));
    assert!(
        (rmse(&again[0]) - rmse(&trained[1])).abs() < 1e-3,
        "{again} vs {trained}"
    );
}
