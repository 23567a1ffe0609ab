//! SCBert and scLlama against the reference fixtures: every tensor each lists, all cases, loaded
//! from the fixture's own config.json and model.safetensors (reference key names).

mod common;

use burn::tensor::Device;
use common::{assert_close, fixture, read, tensor_f32, values};
use tessera_core::bundle::{Bundle, BundleFiles};
use tessera_core::models::bmfm_rna::RnaModel;
use tessera_core::models::bmfm_rna::cases::{NamedBatch, read_cases};
use tessera_core::models::bmfm_rna::model::RnaError;

fn device() -> Device {
    Device::flex()
}

fn model(name: &str) -> RnaModel {
    let mut files = BundleFiles::default();
    for file in ["config.json", "model.safetensors"] {
        files.insert(file, read(&fixture(&format!("{name}/{file}"))));
    }
    RnaModel::from_bundle(&Bundle::from_files(files).unwrap(), &device()).unwrap()
}

fn cases(name: &str) -> Vec<NamedBatch> {
    read_cases("cases.json", &read(&fixture(&format!("{name}/cases.json")))).unwrap()
}

#[test]
fn scbert_matches_every_fixture_tensor_on_every_case() {
    check_fixture("rna-scbert-tiny");
}

#[test]
fn scllama_matches_every_fixture_tensor_on_every_case() {
    check_fixture("rna-scllama-tiny");
}

fn check_fixture(name: &str) {
    let model = model(name);
    assert!(
        model.report.unused.is_empty(),
        "unused: {:?}",
        model.report.unused
    );
    let cases_json: serde_json::Value =
        serde_json::from_slice(&read(&fixture(&format!("{name}/cases.json")))).unwrap();
    let expected = read(&fixture(&format!("{name}/expected.safetensors")));
    let cases = cases(name);
    assert_eq!(cases.len(), 6);
    for (i, case) in cases.iter().enumerate() {
        let outputs = model.forward(&case.batch, &device()).unwrap();
        let named = model.named_outputs(&outputs);
        let mut names: Vec<String> = named.iter().map(|(n, _, _)| n.clone()).collect();
        names.sort();
        let expected_keys: Vec<String> = cases_json["cases"][i]["expected_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        assert_eq!(names, expected_keys, "{}", case.name);
        for (name, tensor, shape) in named {
            let key = format!("case{i}.{name}");
            let (reference, reference_shape) = tensor_f32(&expected, &key);
            assert_eq!(shape, reference_shape, "{key}");
            assert_close(&key, &values(tensor), &reference);
        }
    }
}

#[test]
fn out_of_range_input_is_an_error() {
    let model = model("rna-scbert-tiny");
    let good = cases("rna-scbert-tiny")[0].batch.clone();
    let mut bad_gene = good.clone();
    bad_gene.gene_ids[1] = 307;
    let error = model.forward(&bad_gene, &device()).unwrap_err();
    assert!(
        matches!(error, RnaError::Input(ref m) if m.contains("gene id 307")),
        "{error}"
    );
    let mut bad_special = good.clone();
    bad_special.expressions[0] = -9.0;
    let error = model.forward(&bad_special, &device()).unwrap_err();
    assert!(
        matches!(error, RnaError::Input(ref m) if m.contains("expression -9")),
        "{error}"
    );
    let mut short = good;
    short.attention_mask.pop();
    assert!(model.forward(&short, &device()).is_err());
}
