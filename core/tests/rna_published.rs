//! BMFM-RNA at published sizes: the random layout `bundle random` writes is the reference
//! checkpoint's (names and shapes of the fixture made by the reference code); a bundle streamed
//! in small chunks for annotation (label heads only) answers as the whole model does, without
//! decoding the field decoders; a tensor past a GPU buffer limit is refused by name.

mod common;

use burn::tensor::Device;
use common::{fixture, read, values};
use tessera_core::bundle::safetensors::parse_header;
use tessera_core::bundle::{Bundle, BundleFiles};
use tessera_core::models::bmfm_rna::cases::read_cases;
use tessera_core::models::bmfm_rna::keys::{BertGeometry, published_tensors};
use tessera_core::models::bmfm_rna::{RnaConfig, RnaModel, RnaPipeline};

const FIXTURE: &str = "rna-scbert-tiny";

fn fixture_files() -> BundleFiles {
    let mut files = BundleFiles::default();
    for file in ["config.json", "vocab.json", "model.safetensors"] {
        files.insert(file, read(&fixture(&format!("{FIXTURE}/{file}"))));
    }
    files
}

#[test]
fn the_random_layout_is_the_reference_checkpoints() {
    let files = fixture_files();
    let config = RnaConfig::parse(files.get("config.json").unwrap()).unwrap();
    let weights = files.get("model.safetensors").unwrap();
    let mut stored: Vec<(String, Vec<usize>)> =
        parse_header("model.safetensors", weights, weights.len())
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.shape))
            .collect();
    let mut layout: Vec<(String, Vec<usize>)> = published_tensors(&config)
        .unwrap()
        .into_iter()
        .map(|t| (t.name, t.shape))
        .collect();
    stored.sort();
    layout.sort();
    assert_eq!(layout, stored);
}

#[test]
fn the_published_geometry_counts_the_published_parameters() {
    let mut config: serde_json::Value =
        serde_json::from_slice(fixture_files().get("config.json").unwrap()).unwrap();
    BertGeometry::BERT_110M.apply(&mut config).unwrap();
    // The published WCED multitask model: one WCED decoder (mse + is_zero_bce) and its heads.
    config["fields"][0]["decode_modes"] = serde_json::json!({});
    config["fields"][1]["decode_modes"] = serde_json::json!({"wced": {"logit_outputs": ["mse", "is_zero_bce"], "vocab_field": "genes"}});
    let config = RnaConfig::parse(&serde_json::to_vec(&config).unwrap()).unwrap();
    let count = |filter: &dyn Fn(&str) -> bool| -> usize {
        published_tensors(&config)
            .unwrap()
            .iter()
            .filter(|t| filter(&t.name))
            .map(|t| t.shape.iter().product::<usize>())
            .sum()
    };
    // The spec's breakdown: encoder 85.05 M, gene embedding 72.89 M, WCED decoder 145.97 M.
    let millions = |n: usize| (n as f64 / 1e6 * 100.0).round() / 100.0;
    assert_eq!(
        millions(count(&|n| n.starts_with("scbert.encoder."))),
        85.05
    );
    assert_eq!(millions(count(&|n| n.contains("genes_embeddings"))), 72.89);
    assert_eq!(millions(count(&|n| n.contains("expressions_wced"))), 145.97);
}

#[test]
fn a_streamed_bundle_for_annotation_answers_as_the_whole_model() {
    let device = Device::flex();
    let files = fixture_files();
    let whole =
        RnaModel::from_bundle(&Bundle::from_files(files.clone()).unwrap(), &device).unwrap();

    let archive = files.to_tar().unwrap();
    let mut stream = RnaPipeline::stream(&device);
    for chunk in archive.chunks(997) {
        stream.push(chunk).unwrap();
    }
    let pipeline = stream.finish().unwrap();
    assert!(pipeline.model.net.decoders.is_empty());
    let unused = &pipeline.model.report.unused;
    assert_eq!(unused.len(), 8, "{unused:?}");
    assert!(
        unused.iter().all(|n| n.contains("field_decoders.")),
        "{unused:?}"
    );

    let cases = read_cases(
        "cases.json",
        &read(&fixture(&format!("{FIXTURE}/cases.json"))),
    )
    .unwrap();
    for case in &cases {
        let a = whole.forward(&case.batch, &device).unwrap();
        let b = pipeline.model.forward(&case.batch, &device).unwrap();
        assert!(b.decoders.is_empty());
        assert_eq!(values(a.labels[0].clone()), values(b.labels[0].clone()));
        assert_eq!(values(a.pooler_output), values(b.pooler_output));
    }
}

fn assert_refused(error: &str) {
    assert!(
        error.contains("scbert.embeddings.genes_embeddings.weight"),
        "{error}"
    );
    assert!(error.contains("more than one buffer may hold"), "{error}");
}

#[test]
fn a_tensor_past_the_buffer_limit_is_refused_by_name() {
    let archive = fixture_files().to_tar().unwrap();
    // 307 genes × 64 × 4 bytes = 78,592: the gene embedding is the largest tensor loaded.
    let mut stream = RnaPipeline::stream(&Device::flex()).with_tensor_limit(Some(70_000));
    let error = archive
        .chunks(4096)
        .try_for_each(|chunk| stream.push(chunk))
        .and_then(|()| stream.finish().map(|_| ()))
        .unwrap_err()
        .to_string();
    assert_refused(&error);

    // The same refusal when a whole bundle loads (natively, onto a wgpu device).
    let bundle = Bundle::from_files(fixture_files())
        .unwrap()
        .with_tensor_limit(Some(70_000));
    let error = RnaModel::from_bundle(&bundle, &Device::flex())
        .unwrap_err()
        .to_string();
    assert_refused(&error);
}
