//! Sharded corpora as users make and train on them: `tessera data shard`, then
//! `tessera rna train --corpus`, streaming a corpus several times the memory the process may
//! use, and resuming mid-corpus.

mod common;

use std::path::Path;

use common::{fails, ok, p, scratch, shared, tensors};

fn pbmc() -> std::path::PathBuf {
    shared().join("data/pbmc3k/pbmc3k_counts_labeled.h5ad")
}

/// `tessera data shard --data pbmc3k EXTRA… --cells-per-shard N --out OUT` (EXTRA may start
/// with more input files).
fn shard(out: &Path, cells_per_shard: &str, extra: &[&str]) {
    let data = pbmc();
    let mut args = vec!["data", "shard", "--data", p(&data)];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--cells-per-shard", cells_per_shard, "--out", p(out)]);
    ok(&args);
}

/// `rna train --corpus CORPUS --out OUT` with the tiny model and `extra`.
fn train<'a>(corpus: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["rna", "train", "--corpus", p(corpus), "--out", p(out)];
    args.extend_from_slice(TINY);
    args.extend_from_slice(extra);
    args
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("corpus.json")).unwrap()).unwrap()
}

/// Flags for a tiny model.
const TINY: &[&str] = &[
    "--genes",
    "64",
    "--hidden",
    "8",
    "--layers",
    "1",
    "--heads",
    "2",
    "--intermediate",
    "16",
    "--max-length",
    "16",
    "--warmup",
    "1",
];

#[test]
fn shards_hold_the_inputs_cells_and_train_with_their_labels() {
    let dir = scratch("corpus-shard");
    let corpus = dir.join("corpus");
    // pbmc3k twice.
    let data = pbmc();
    shard(
        &corpus,
        "1000",
        &[p(&data), "--where", "split=train", "--label", "cell_type"],
    );
    let m = manifest(&corpus);
    let shards = m["shards"].as_array().unwrap();
    let cells: u64 = shards.iter().map(|s| s["cells"].as_u64().unwrap()).sum();
    assert_eq!(cells, 2 * 2074, "both inputs' train cells");
    assert_eq!(shards.len(), 5, "1000 cells a shard: {shards:?}");
    assert_eq!(m["labels"]["cell_type"].as_array().unwrap().len(), 8);
    for shard in shards {
        assert!(corpus.join(shard["file"].as_str().unwrap()).is_file());
    }
    // A second corpus is not written over the first.
    let error = fails(&["data", "shard", "--data", p(&pbmc()), "--out", p(&corpus)]);
    assert!(error.contains("already holds a corpus"), "{error}");

    // Pretraining with a cell-type head reads the classes the shards kept.
    let out = dir.join("run");
    let args = train(
        &corpus,
        &out,
        &[
            "--objective",
            "wced-multitask",
            "--batch-size",
            "8",
            "--steps",
            "3",
            "--shuffle-buffer",
            "32",
        ],
    );
    let log = String::from_utf8(common::tessera(&args).stderr).unwrap();
    assert!(log.contains("streaming 4148 cells in 5 shards"), "{log}");
    assert!(out.join("model/model.safetensors").is_file(), "{log}");

    // Another study's file joins by gene name (genes the first file lacks are left out); one
    // that shares no gene, or holds normalised values, is refused by name.
    let csv = dir.join("other-study.csv");
    std::fs::write(&csv, "cell,CD3D,LYZ,FOO1\nx1,3,0,2\nx2,0,5,1\n").unwrap();
    let mixed = dir.join("mixed");
    let out = common::tessera(&[
        "data",
        "shard",
        "--data",
        p(&pbmc()),
        p(&csv),
        "--out",
        p(&mixed),
    ]);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("other-study.csv: 2 cells, 2 of its 3 genes"),
        "{log}"
    );
    assert_eq!(manifest(&mixed)["shards"][0]["cells"], 2638 + 2);
    for (name, text, why) in [
        (
            "foreign.csv",
            "cell,FOO1,BAR2\nx1,3,0\n",
            "none of its genes",
        ),
        (
            "normalised.csv",
            "cell,CD3D,LYZ\nx1,0.69,0\n",
            "raw integer counts",
        ),
    ] {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let error = fails(&[
            "data",
            "shard",
            "--data",
            p(&pbmc()),
            p(&file),
            "--cells-per-shard",
            "1000",
            "--out",
            p(&dir.join(format!("refused-{name}"))),
        ]);
        assert!(error.contains(name) && error.contains(why), "{error}");
        let refused = dir.join(format!("refused-{name}"));
        assert!(
            !refused.exists(),
            "the first file's two shards are removed again"
        );
    }

    // A corpus without the head's column says how to shard with it.
    let bare = dir.join("bare");
    shard(&bare, "2000", &[]);
    let bare_run = dir.join("bare-run");
    let args = train(
        &bare,
        &bare_run,
        &["--objective", "wced-multitask", "--steps", "1"],
    );
    let error = fails(&args);
    assert!(error.contains("`cell_type`"), "{error}");

    // A manifest that misstates a shard is refused naming the shard file.
    let mut m = manifest(&bare);
    m["shards"][0]["cells"] = 5.into();
    std::fs::write(bare.join("corpus.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let bad_run = dir.join("bad-run");
    let args = train(&bare, &bad_run, &["--steps", "1", "--shuffle-buffer", "4"]);
    let error = fails(&args);
    assert!(error.contains("shard-00000.h5ad"), "{error}");
    assert!(error.contains("manifest says 5"), "{error}");
}

/// `tessera ARGS` with its address space capped at `cap_kb` (`ulimit -v`).
fn capped(cap_kb: u64, args: &[&str]) -> String {
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {cap_kb} && exec \"$0\" \"$@\""))
        .arg(common::BIN)
        .args(args)
        .output()
        .expect("sh");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "tessera {args:?} under ulimit -v {cap_kb} failed: {stderr}"
    );
    stderr
}

#[test]
fn a_corpus_several_times_the_memory_cap_trains_through_and_resumes() {
    let dir = scratch("corpus-capped");
    // pbmc3k in four shards, then the same shards 50 times over (hard links: 50 times the
    // cells for the reader, once on disk).
    let base = dir.join("base");
    shard(&base, "675", &[]);
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let mut m = manifest(&base);
    let mut shards = Vec::new();
    for copy in 0..50 {
        for shard in m["shards"].as_array().unwrap() {
            let file = shard["file"].as_str().unwrap();
            let name = format!("copy{copy:02}-{file}");
            std::fs::hard_link(base.join(file), corpus.join(&name)).unwrap();
            let mut entry = shard.clone();
            entry["file"] = name.into();
            shards.push(entry);
        }
    }
    let nonzeros: u64 = shards.iter().map(|s| s["nonzeros"].as_u64().unwrap()).sum();
    let cells: u64 = shards.iter().map(|s| s["cells"].as_u64().unwrap()).sum();
    m["shards"] = shards.into();
    std::fs::write(corpus.join("corpus.json"), serde_json::to_vec(&m).unwrap()).unwrap();

    // 256 MB of address space (the binary, its threads and allocator included); the corpus's
    // counts alone (4-byte index + 4-byte value each) are over three times that.
    let cap_kb = 256 * 1024;
    let counts_kb = nonzeros * 8 / 1024;
    assert!(counts_kb > 3 * cap_kb, "{counts_kb} KB of counts");

    // One pass over every cell, with a checkpoint half-way.
    let steps = cells.div_ceil(128);
    let (steps, half) = (steps.to_string(), (steps / 2).to_string());
    let run = |out: &Path| {
        let args = train(
            &corpus,
            out,
            &[
                "--batch-size",
                "128",
                "--steps",
                &steps,
                "--checkpoint-every",
                &half,
                "--shuffle-buffer",
                "256",
            ],
        );
        capped(cap_kb, &args)
    };
    let full = dir.join("full");
    let log = run(&full);
    assert!(log.contains(&format!("streaming {cells} cells")), "{log}");
    assert!(log.contains(&format!("{steps} steps")), "{log}");

    // Resumed from the half-way checkpoint, under the same cap: the same run.
    let resumed = dir.join("resumed");
    let checkpoint = full.join(format!("checkpoints/step-{half}"));
    let log = capped(
        cap_kb,
        &[
            "rna",
            "train",
            "--corpus",
            p(&corpus),
            "--out",
            p(&resumed),
            "--resume",
            p(&checkpoint),
        ],
    );
    assert!(log.contains(&format!("resuming at step {half}")), "{log}");
    assert!(
        tensors(&resumed.join("model/model.safetensors"))
            == tensors(&full.join("model/model.safetensors")),
        "a run resumed mid-corpus ends with the uninterrupted run's weights"
    );
    // 200 shard links need not be read back by CI's anndata check.
    std::fs::remove_dir_all(&corpus).unwrap();
}
