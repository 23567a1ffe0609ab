//! `tessera rna train | annotate | embed | eval` and `tessera data` as a user runs them, on
//! real pbmc3k cells with a deliberately tiny model so the whole file runs in seconds.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn pbmc() -> PathBuf {
    shared().join("data/pbmc3k/pbmc3k_counts_labeled.h5ad")
}

/// Flags for a short run (with [`common::RNA_TINY`]'s tiny model).
const SHORT: &[&str] = &["--batch-size", "8", "--warmup", "2"];

fn train(out: &Path, extra: &[&str]) -> String {
    let data = pbmc();
    let mut args = vec!["rna", "train", "--data", p(&data), "--out", p(out)];
    args.extend_from_slice(common::RNA_TINY);
    args.extend_from_slice(SHORT);
    args.extend_from_slice(extra);
    let output = tessera(&args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "tessera {args:?} failed: {stderr}");
    stderr
}

/// `tessera data subset` of pbmc3k's cells where `filter` (`COLUMN=VALUE`) holds.
fn subset(filter: &str, out: &Path) {
    ok(&[
        "data",
        "subset",
        "--data",
        p(&pbmc()),
        "--where",
        filter,
        "--out",
        p(out),
    ]);
}

#[test]
fn training_writes_a_bundle_checkpoints_and_resumes_to_the_same_weights() {
    let dir = scratch("rna-train");
    let full = dir.join("full");
    let log = train(&full, &["--steps", "6", "--checkpoint-every", "3"]);
    assert!(log.contains("6 steps"), "{log}");
    for file in [
        "model/config.json",
        "model/model.safetensors",
        "model/tessera.json",
        "model/tokenizers/genes/vocab.json",
        "checkpoints/step-3/trainer.json",
        "checkpoints/step-3/optimizer.safetensors",
        "history.json",
    ] {
        assert!(full.join(file).is_file(), "{file} missing");
    }
    let vocab: serde_json::Value = serde_json::from_slice(
        &std::fs::read(full.join("model/tokenizers/genes/vocab.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        vocab.as_object().unwrap().len(),
        64 + 5,
        "64 genes and the 5 specials"
    );
    assert_eq!(vocab["[PAD]"], 2);

    let resumed = dir.join("resumed");
    let data = pbmc();
    let mut args = vec!["rna", "train", "--data", p(&data), "--out", p(&resumed)];
    let checkpoint = full.join("checkpoints/step-3");
    args.extend_from_slice(&["--resume", p(&checkpoint)]);
    let out = tessera(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resuming at step 3 of 6"), "{stderr}");
    assert!(
        tensors(&resumed.join("model/model.safetensors"))
            == tensors(&full.join("model/model.safetensors")),
        "a resumed run ends with the weights of an uninterrupted one"
    );
}

#[test]
fn a_finetuned_model_annotates_embeds_and_evaluates() {
    let dir = scratch("rna-annotate");
    train(
        &dir.join("pre"),
        &["--steps", "3", "--checkpoint-every", "0"],
    );
    let pre = dir.join("pre/model");
    // A model without a label head cannot annotate, and says how to get one.
    let sample = dir.join("test.h5ad");
    subset("split=test", &sample);
    let labels = dir.join("labels.csv");
    let error = fails(&[
        "rna",
        "annotate",
        "--model",
        p(&pre),
        "--data",
        p(&sample),
        "--out",
        p(&labels),
    ]);
    assert!(
        error.contains("no label head") && error.contains("finetune"),
        "{error}"
    );
    assert!(!labels.exists(), "nothing is written on failure");

    let tuned = dir.join("tuned");
    train(
        &tuned,
        &[
            "--objective",
            "finetune",
            "--init",
            p(&pre),
            "--steps",
            "3",
            "--checkpoint-every",
            "0",
        ],
    );
    let model = tuned.join("model");
    // The bundle says how each stage was made: the pretraining, then this run.
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("tessera.json")).unwrap()).unwrap();
    let provenance = &info["provenance"];
    assert_eq!(provenance["objective"], "Wced", "{provenance}");
    let stages = provenance["continued"]
        .as_array()
        .expect("continued stages");
    assert_eq!(stages.len(), 1, "{provenance}");
    assert_eq!(
        (&stages[0]["objective"], &stages[0]["steps"]),
        (&serde_json::json!("Finetune"), &serde_json::json!(3))
    );
    let embedding = dir.join("embedding.csv");
    ok(&[
        "rna",
        "annotate",
        "--model",
        p(&model),
        "--data",
        p(&sample),
        "--out",
        p(&labels),
        "--embedding",
        p(&embedding),
    ]);
    let csv = std::fs::read_to_string(&labels).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "cell_id,predicted_type,confidence,best_type,unassigned_reason,total_counts,n_genes,n_model_genes"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 564);
    let types = PBMC3K_TYPES;
    for row in &rows {
        assert!(types.contains(&row[3]), "{row:?}");
        let p: f64 = row[2].parse().unwrap();
        assert!(
            (1.0 / 8.0 - 1e-4..=1.0).contains(&p),
            "confidence {p} is a max of 8 probabilities"
        );
        // Cells expressing fewer than 50 of the tiny model's 64 genes, and, a 3-step model being
        // rarely sure, those under 0.5, are Unassigned, and say why.
        let model_genes: u32 = row[7].parse().unwrap();
        let expected = if model_genes < 50 {
            ("Unassigned", "too_few_genes")
        } else if p < 0.5 {
            ("Unassigned", "low_confidence")
        } else {
            (row[3], "")
        };
        assert_eq!((row[1], row[4]), expected, "{row:?}");
    }
    let embedded = std::fs::read_to_string(&embedding).unwrap();
    assert_eq!(embedded.lines().count(), 565);
    assert_eq!(embedded.lines().next().unwrap().split(',').count(), 1 + 16);

    // The same embeddings through `embed`, as safetensors.
    let st = dir.join("embedding.safetensors");
    ok(&[
        "rna",
        "embed",
        "--model",
        p(&model),
        "--data",
        p(&sample),
        "--out",
        p(&st),
    ]);
    let bytes = std::fs::read(&st).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(tensors.tensor("embedding").unwrap().shape(), &[564, 16]);

    let report = dir.join("eval.json");
    let table = ok(&[
        "rna",
        "eval",
        "--model",
        p(&model),
        "--data",
        p(&pbmc()),
        "--report",
        p(&report),
    ]);
    assert!(
        table.contains("linear probe") && table.contains("baseline"),
        "{table}"
    );
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    for key in [
        "ari",
        "nmi",
        "silhouette",
        "probe_accuracy",
        "probe_macro_f1",
    ] {
        let v = json["embedding"][key].as_f64().unwrap();
        assert!(v.is_finite(), "{key} = {v}");
    }
    assert!(json["head"]["accuracy"].as_f64().unwrap() > 0.0);
    assert_eq!(json["test_cells"], 564);
}

#[test]
fn bad_training_input_is_reported_by_name() {
    let dir = scratch("rna-errors");
    let args = |label: &str| {
        vec![
            "rna".to_string(),
            "train".into(),
            "--data".into(),
            p(&pbmc()).into(),
            "--out".into(),
            p(&dir.join("out")).into(),
            "--label".into(),
            label.into(),
            "--steps".into(),
            "1".into(),
        ]
    };
    let error = fails(
        &args("celltype")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(error.contains("celltype"), "{error}");
    let error = fails(&[
        "rna",
        "train",
        "--data",
        p(&pbmc()),
        "--out",
        p(&dir.join("o")),
        "--objective",
        "finetune",
    ]);
    assert!(error.contains("--init"), "{error}");
    let error = fails(&[
        "data",
        "subset",
        "--data",
        p(&pbmc()),
        "--where",
        "split",
        "--out",
        p(&dir.join("x.h5ad")),
    ]);
    assert!(error.contains("COLUMN=VALUE"), "{error}");
    let error = fails(&[
        "rna",
        "embed",
        "--model",
        p(&shared().join("fixtures/rna-scbert-tiny")),
        "--data",
        p(&dir.join("nothing.h5ad")),
        "--out",
        p(&dir.join("e.csv")),
    ]);
    assert!(error.contains("nothing.h5ad"), "{error}");

    // A user's CSV whose genes the model does not know, and one with normalised values.
    let fixture = shared().join("fixtures/rna-scbert-tiny");
    let unknown = dir.join("unknown.csv");
    std::fs::write(&unknown, "cell,FOO1,BAR2\nc1,3,0\nc2,1,4\n").unwrap();
    let out = dir.join("e.csv");
    let embed_fails = |data: &Path| {
        fails(&[
            "rna",
            "embed",
            "--model",
            p(&fixture),
            "--data",
            p(data),
            "--out",
            p(&out),
        ])
    };
    let error = embed_fails(&unknown);
    assert!(
        error.contains("unknown.csv") && error.contains("FOO1") && error.contains("vocabulary"),
        "{error}"
    );
    let normalised = dir.join("normalised.csv");
    std::fs::write(&normalised, "cell,A1BG,ABCD3\nc1,0.693,0\nc2,1,4\n").unwrap();
    let error = embed_fails(&normalised);
    assert!(
        error.contains("normalised.csv")
            && error.contains("`c1`")
            && error.contains("raw integer counts"),
        "{error}"
    );
    assert!(!dir.join("e.csv").exists());
}

#[test]
fn a_probe_head_scores_as_the_linear_probe_does() {
    let dir = scratch("rna-probe");
    train(
        &dir.join("pre"),
        &["--steps", "3", "--checkpoint-every", "0"],
    );
    let probe = dir.join("probe");
    // From a checkpoint: the new model carries none of that run's optimizer or trainer state.
    let checkpoint = dir.join("pre/checkpoints/step-3");
    assert!(checkpoint.join("optimizer.safetensors").exists());
    let log = train(&probe, &["--objective", "probe", "--init", p(&checkpoint)]);
    assert!(log.contains("train accuracy"), "{log}");
    for file in ["optimizer.safetensors", "trainer.json"] {
        assert!(!probe.join("model").join(file).exists(), "{file}");
    }
    let report = dir.join("eval.json");
    ok(&[
        "rna",
        "eval",
        "--model",
        p(&probe.join("model")),
        "--data",
        p(&pbmc()),
        "--report",
        p(&report),
    ]);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    // The head is the probe, folded into one linear layer on the [CLS] state.
    let (head, probe_accuracy) = (
        json["head"]["accuracy"].as_f64().unwrap(),
        json["embedding"]["probe_accuracy"].as_f64().unwrap(),
    );
    assert!(
        (head - probe_accuracy).abs() < 0.01,
        "head {head} vs probe {probe_accuracy}"
    );
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(probe.join("model/tessera.json")).unwrap()).unwrap();
    assert!(
        info["provenance"]["head"]["kind"]
            .as_str()
            .unwrap()
            .contains("linear probe")
    );
}

#[test]
fn bench_prints_a_row_per_size_with_speed_and_memory() {
    let out = ok(&[
        "bench",
        "rna",
        "--size",
        "small",
        "--batch",
        "1,2",
        "--length",
        "16,32",
        "--backend",
        "cpu",
    ]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .filter(|l| l.starts_with("cpu "))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    let sizes: Vec<(&str, &str)> = rows.iter().map(|r| (r[1], r[2])).collect();
    assert_eq!(sizes, [("1", "16"), ("2", "16"), ("1", "32"), ("2", "32")]);
    for row in &rows {
        let number = |i: usize| row[i].parse::<f64>().unwrap_or_else(|_| panic!("{out}"));
        let (cells, tokens, heap) = (number(3), number(4), number(5));
        assert!(cells > 0.0, "{out}");
        let length: f64 = row[2].parse().unwrap();
        // tokens/s is printed rounded to a whole number, cells/s to 0.01.
        assert!(
            (tokens - cells * length).abs() <= 0.5 + 0.005 * length + 1e-6 * tokens,
            "{out}"
        );
        // The small model's 2,048-gene weights alone are over 1 MiB.
        assert!(heap >= 1.0, "{out}");
    }
}

/// Rows of an embedding CSV (`cell_id,e0,e1,…`), values only.
fn embedding_rows(csv: &Path) -> Vec<Vec<f32>> {
    std::fs::read_to_string(csv)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(1).map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn embed_pools_as_asked_and_concatenates_a_list() {
    let dir = scratch("rna-pooling");
    train(&dir.join("m"), &["--steps", "1", "--checkpoint-every", "0"]);
    let model = dir.join("m/model");
    let cells = dir.join("cells.h5ad");
    subset("cell_type=NK", &cells);
    let embed = |pooling: &str| {
        let out = dir.join(format!("{}.csv", pooling.replace(',', "+")));
        ok(&[
            "rna",
            "embed",
            "--model",
            p(&model),
            "--data",
            p(&cells),
            "--pooling",
            pooling,
            "--out",
            p(&out),
        ]);
        embedding_rows(&out)
    };
    let first = embed("first_token");
    let mean = embed("mean_pooling");
    let both = embed("first_token,mean_pooling");
    let position = embed("0");
    assert_eq!(first[0].len(), 16);
    assert_ne!(first, mean, "different poolings give different embeddings");
    assert_eq!(position, first, "position 0 is the first token");
    for ((f, m), b) in first.iter().zip(&mean).zip(&both) {
        assert_eq!(b.len(), 32);
        assert_eq!(&b[..16], &f[..]);
        assert_eq!(&b[16..], &m[..]);
    }
    let refused = |pooling: &str| {
        let out = dir.join("refused.csv");
        let args = [
            "rna",
            "embed",
            "--model",
            p(&model),
            "--data",
            p(&cells),
            "--out",
            p(&out),
        ];
        fails(&[&args[..], &["--pooling", pooling]].concat())
    };
    let err = refused("first_token,cls");
    assert!(err.contains("unknown pooling \"cls\""), "{err}");
    let err = refused("999");
    assert!(
        err.contains("pooling position 999 is beyond max_length 32"),
        "{err}"
    );
}

#[test]
fn mlm_can_mask_genes_too() {
    let dir = scratch("rna-mlm-genes");
    let out = dir.join("run");
    train(
        &out,
        &[
            "--objective",
            "mlm",
            "--mask-genes",
            "--steps",
            "2",
            "--checkpoint-every",
            "0",
        ],
    );
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("model/config.json")).unwrap()).unwrap();
    assert_eq!(config["fields"][0]["field_name"], "genes");
    assert_eq!(config["fields"][0]["is_masked"], true);
    assert!(config["fields"][0]["decode_modes"]["token_scores"].is_object());
    let history: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("history.json")).unwrap()).unwrap();
    let genes_ce = history[0]["terms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t[0] == "mlm_genes_ce")
        .map(|t| t[1].as_f64().unwrap())
        .expect("a gene cross-entropy term");
    // Untrained, the gene scores are near uniform over the 69 tokens: CE ≈ ln 69.
    assert!((genes_ce - 69f64.ln()).abs() < 0.5, "{genes_ce}");

    let err = fails(&[
        "rna",
        "train",
        "--data",
        p(&pbmc()),
        "--out",
        p(&dir.join("bad")),
        "--mask-genes",
    ]);
    assert!(
        err.contains("--mask-genes goes with --objective mlm"),
        "{err}"
    );
}

/// The shipped sample: the 564 held-out pbmc3k cells.
fn held_out_cells() -> tessera_core::data::CountMatrix {
    use tessera_core::data::h5ad::{MatrixSource, read_h5ad};
    let bytes = std::fs::read(repo().join("www/samples/pbmc3k-test.h5ad")).unwrap();
    read_h5ad("pbmc3k-test.h5ad", bytes, &MatrixSource::X).unwrap()
}

/// An annotation CSV's rows after the header, split at commas (no quoted fields here).
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// A CELLxGENE-style file (Ensembl ids as the gene index, symbols in `var['feature_name']`)
/// annotates as the same cells with symbols as the index, and says which names matched.
#[test]
fn genes_are_matched_by_a_symbol_column_when_the_index_holds_ids() {
    use tessera_core::data::h5ad::{MatrixSource, read_h5ad};
    use tessera_core::data::write_h5ad;

    let dir = scratch("rna-gene-symbols");
    let plain = dir.join("b-cells.h5ad");
    ok(&[
        "data",
        "subset",
        "--data",
        p(&repo().join("www/samples/pbmc3k-test.h5ad")),
        "--where",
        "cell_type=B",
        "--out",
        p(&plain),
    ]);
    let mut cells = read_h5ad(
        "b-cells.h5ad",
        std::fs::read(&plain).unwrap(),
        &MatrixSource::X,
    )
    .unwrap();
    let ids: Vec<String> = (0..cells.n_genes())
        .map(|i| format!("ENSG{i:011}"))
        .collect();
    let symbols = std::mem::replace(&mut cells.genes, ids);
    cells.gene_columns.insert("feature_name".into(), symbols);
    let cxg = dir.join("cxg.h5ad");
    std::fs::write(&cxg, write_h5ad("cxg.h5ad", &cells).unwrap()).unwrap();

    let model = repo().join("www/models/rna-pbmc3k.tar");
    let annotate = |data: &Path, out: &Path, extra: &[&str]| {
        let mut args = vec![
            "rna",
            "annotate",
            "--model",
            p(&model),
            "--data",
            p(data),
            "--out",
            p(out),
        ];
        args.extend_from_slice(extra);
        tessera(&args)
    };
    let run = annotate(&cxg, &dir.join("cxg.csv"), &[]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains(
            "2048 of the model's 2048 genes found among its 16579 (matched by var['feature_name'])"
        ),
        "{stderr}"
    );
    assert!(
        annotate(&plain, &dir.join("plain.csv"), &[])
            .status
            .success()
    );
    let csv = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(csv("cxg.csv"), csv("plain.csv"));

    // Refusals write nothing.
    let refused = |data: &Path, extra: &[&str]| {
        let out = dir.join("x.csv");
        let run = annotate(data, &out, extra);
        assert!(
            !run.status.success() && !out.exists(),
            "{extra:?} should be refused"
        );
        String::from_utf8_lossy(&run.stderr).into_owned()
    };
    let error = refused(&cxg, &["--gene-symbols", "gene_symbol"]);
    assert!(
        error.contains("`var['gene_symbol']`: no such gene column (available: feature_name)"),
        "{error}"
    );
    // Fewer of the model's genes than asked for: refused with both counts.
    let error = refused(&plain, &["--min-genes", "2049"]);
    assert!(
        error.contains(
            "`var_names`: only 2048 of the model's 2048 genes are in the data, fewer than the 2049 it needs"
        ),
        "{error}"
    );
}

/// Cells the model cannot judge are `Unassigned` with the reason, beside their QC: an empty cell
/// and a 1-UMI cell (too few of the model's genes, however sure the model looks), and, under a
/// confidence rule, the unsure ones; a real cell keeps its type.
#[test]
fn cells_the_model_cannot_judge_are_unassigned() {
    use tessera_core::data::write_h5ad;

    let dir = scratch("rna-unassigned");
    let sample = held_out_cells();
    // Cell 0 as it is, then an empty cell and one with a single count of its first gene.
    let mut cells = sample.subset(&[0, 0, 0]);
    cells.cell_ids = vec!["real".into(), "empty".into(), "one-umi".into()];
    let first = cells.indptr[1];
    let (gene, _) = sample.row(0).next().unwrap();
    cells.indices = [&cells.indices[..first], &[gene as u32][..]].concat();
    cells.values = [&cells.values[..first], &[1.0][..]].concat();
    cells.indptr = vec![0, first, first, first + 1];
    let data = dir.join("cells.h5ad");
    std::fs::write(&data, write_h5ad("cells.h5ad", &cells).unwrap()).unwrap();

    let model = repo().join("www/models/rna-pbmc3k.tar");
    let annotate = |extra: &[&str]| {
        let out = dir.join("calls.csv");
        let mut args = vec![
            "rna",
            "annotate",
            "--model",
            p(&model),
            "--data",
            p(&data),
            "--out",
            p(&out),
        ];
        args.extend_from_slice(extra);
        let run = tessera(&args);
        let stderr = String::from_utf8_lossy(&run.stderr).into_owned();
        assert!(run.status.success(), "{stderr}");
        (csv_rows(&out), stderr)
    };
    let (rows, stderr) = annotate(&["--min-genes", "0"]);
    let real_genes: usize = sample.row(0).filter(|&(_, v)| v > 0.0).count();
    assert_ne!(rows[0][1], "Unassigned", "{rows:?}");
    assert_eq!(rows[0][4], "");
    assert_eq!(rows[0][6], real_genes.to_string());
    for (row, counts, genes) in [(&rows[1], "0", "0"), (&rows[2], "1", "1")] {
        assert_eq!(row[1], "Unassigned", "{row:?}");
        assert_eq!(row[4], "too_few_genes", "{row:?}");
        assert_eq!(
            (row[5].as_str(), row[6].as_str(), row[7].as_str()),
            (counts, genes, genes)
        );
        assert!(PBMC3K_TYPES.contains(&row[3].as_str()), "{row:?}");
    }
    assert!(
        stderr.contains("Unassigned                    2 cells: 2 express fewer than 50 of the model's genes, 0 have no type at 0.50 or more"),
        "{stderr}"
    );
    // Nothing unassigned when told so; the real cell unassigned for confidence when asked for
    // more than it has.
    let (all, _) = annotate(&[
        "--min-genes",
        "0",
        "--min-cell-genes",
        "0",
        "--min-confidence",
        "0",
    ]);
    assert!(
        all.iter().all(|r| r[1] != "Unassigned" && r[4].is_empty()),
        "{all:?}"
    );
    let confidence: f32 = rows[0][2].parse().unwrap();
    let strict = format!("{}", (confidence + 0.001).min(1.0));
    if confidence < 0.999 {
        let (sure, _) = annotate(&["--min-genes", "0", "--min-confidence", &strict]);
        assert_eq!(
            (sure[0][1].as_str(), sure[0][4].as_str()),
            ("Unassigned", "low_confidence")
        );
    }
    let run = tessera(&[
        "rna",
        "annotate",
        "--model",
        p(&model),
        "--data",
        p(&data),
        "--out",
        p(&dir.join("x.csv")),
        "--min-confidence",
        "1.5",
    ]);
    assert!(!run.status.success());
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("--min-confidence 1.5 is not a probability")
    );
}

/// `rna annotate --out-h5ad`: the user's `.h5ad` comes back whole (its layers, obsm, uns and obs
/// columns) with the calls, QC, embeddings, probabilities and a UMAP added — the same calls as
/// the CSV; annotating that file again replaces them; a CSV input becomes a new `.h5ad`.
/// (CI reads these files back with anndata: `scripts/check-h5ad.py`.)
#[test]
fn annotate_writes_the_results_into_the_users_h5ad() {
    use tessera_core::data::h5ad::{MatrixSource, read_h5ad};
    use tessera_core::data::{AnnDataAdditions, ObsColumn, Rows, write_h5ad_with};

    let dir = scratch("rna-out-h5ad");
    let sample = held_out_cells();
    let cells = sample.subset(&(0..40).collect::<Vec<_>>());
    // The user's own analysis, which must survive.
    let theirs = AnnDataAdditions {
        obs: vec![(
            "leiden".into(),
            ObsColumn::U32((0..40).map(|i| i % 4).collect()),
        )],
        obsm: vec![(
            "X_pca".into(),
            Rows {
                columns: 3,
                values: (0..120).map(|v| v as f32).collect(),
            },
        )],
        uns: vec![("leiden_colors".into(), vec!["#1f77b4".into()])],
    };
    let input = dir.join("theirs.h5ad");
    std::fs::write(
        &input,
        write_h5ad_with("theirs.h5ad", &cells, &theirs).unwrap(),
    )
    .unwrap();

    let model = repo().join("www/models/rna-pbmc3k.tar");
    let annotate = |data: &Path, extra: &[&str]| {
        let mut args = vec!["rna", "annotate", "--model", p(&model), "--data", p(data)];
        args.extend_from_slice(extra);
        let run = tessera(&args);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
    };
    let (out, csv) = (dir.join("annotated.h5ad"), dir.join("calls.csv"));
    annotate(
        &input,
        &[
            "--out-h5ad",
            p(&out),
            "--out",
            p(&csv),
            "--min-confidence",
            "0.9",
        ],
    );
    let calls = csv_rows(&csv);

    let check = |path: &Path, calls: &[Vec<String>]| {
        let bytes = std::fs::read(path).unwrap();
        let back = read_h5ad("annotated.h5ad", bytes.clone(), &MatrixSource::X).unwrap();
        assert_eq!(back.cell_ids, cells.cell_ids);
        assert_eq!(
            (back.indptr.clone(), back.values.clone()),
            (cells.indptr.clone(), cells.values.clone())
        );
        assert_eq!(
            back.annotations["cell_type"],
            cells.annotations["cell_type"]
        );
        let called: Vec<&str> = calls.iter().map(|r| r[1].as_str()).collect();
        assert_eq!(back.annotations["tessera_cell_type"], called);
        let reasons: Vec<&str> = calls.iter().map(|r| r[4].as_str()).collect();
        let read_reasons: Vec<&str> = back.annotations["tessera_unassigned_reason"]
            .iter()
            .map(String::as_str)
            .collect();
        assert_eq!(read_reasons, reasons, "missing reads as empty");
        let file = hdf5_pure::File::from_bytes(bytes).unwrap();
        let shape = |name: &str| file.dataset(name).unwrap().shape().unwrap();
        assert_eq!(shape("obsm/X_tessera"), vec![40, 128]);
        assert_eq!(shape("obsm/tessera_probabilities"), vec![40, 8]);
        assert_eq!(shape("obsm/X_umap"), vec![40, 2]);
        assert_eq!(
            file.dataset("obsm/X_pca").unwrap().read_f32().unwrap()[..3],
            [0.0, 1.0, 2.0]
        );
        assert_eq!(
            file.dataset("obs/leiden").unwrap().read_u32().unwrap()[..5],
            [0, 1, 2, 3, 0]
        );
        let confidence = file
            .dataset("obs/tessera_confidence")
            .unwrap()
            .read_f32()
            .unwrap();
        for (c, row) in confidence.iter().zip(calls) {
            assert!(
                (c - row[2].parse::<f32>().unwrap()).abs() <= 5e-5,
                "{c} vs {row:?}"
            );
        }
    };
    check(&out, &calls);
    assert!(
        calls.iter().any(|r| r[1] == "Unassigned"),
        "0.9 leaves some cells unassigned"
    );

    // Again, on the annotated file, with the default rule: the results are replaced.
    let (again, csv) = (dir.join("again.h5ad"), dir.join("again.csv"));
    annotate(&out, &["--out-h5ad", p(&again), "--out", p(&csv)]);
    let calls = csv_rows(&csv);
    check(&again, &calls);

    // A CSV of counts becomes a new .h5ad.
    let table = dir.join("cells.csv");
    let mut text = String::from("cell");
    for gene in &cells.genes {
        text += &format!(",{gene}");
    }
    text.push('\n');
    for i in 0..5 {
        text += &cells.cell_ids[i];
        for v in cells.dense_row(i) {
            text += &format!(",{v}");
        }
        text.push('\n');
    }
    std::fs::write(&table, text).unwrap();
    let fresh = dir.join("from-csv.h5ad");
    annotate(&table, &["--out-h5ad", p(&fresh)]);
    let back = read_h5ad(
        "from-csv.h5ad",
        std::fs::read(&fresh).unwrap(),
        &MatrixSource::X,
    )
    .unwrap();
    assert_eq!(back.cell_ids, cells.cell_ids[..5]);
    assert_eq!(back.annotations["tessera_cell_type"].len(), 5);
}

#[test]
fn an_augmentation_share_outside_0_to_1_is_refused_by_name() {
    let dir = scratch("rna-augment-share");
    let data = pbmc();
    let out = dir.join("run");
    let error = fails(&[
        "rna",
        "train",
        "--data",
        p(&data),
        "--out",
        p(&out),
        "--augment",
        "--augment-variable-share",
        "1.5",
    ]);
    assert!(
        error.contains("--augment-variable-share 1.5") && error.contains("between 0 and 1"),
        "{error}"
    );
    assert!(!out.exists(), "nothing is written");
}
