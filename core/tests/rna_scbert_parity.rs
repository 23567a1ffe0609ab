//! SCBert against the reference fixture: every tensor it lists, all cases, loaded from the
//! fixture's own config.json and model.safetensors (reference key names).

mod common;

use burn::tensor::{Device, Tensor};
use common::{assert_close, fixture, read, tensor_f32, values};
use tessera_core::bundle::{Bundle, BundleFiles};
use tessera_core::models::bmfm_rna::model::RnaError;
use tessera_core::models::bmfm_rna::{RnaBatch, RnaModel};

fn device() -> Device {
    Device::flex()
}

fn model() -> RnaModel {
    let mut files = BundleFiles::default();
    for file in ["config.json", "model.safetensors"] {
        files.insert(file, read(&fixture(&format!("rna-scbert-tiny/{file}"))));
    }
    RnaModel::from_bundle(&Bundle::from_files(files).unwrap(), &device()).unwrap()
}

/// The batch of case `i` from `input_ids_float` `[B][2][L]` and `attention_mask` `[B][L]`.
fn batch(cases: &serde_json::Value, i: usize) -> RnaBatch {
    let case = &cases["cases"][i];
    let cells = case["input_ids_float"].as_array().unwrap();
    let row = |cell: &serde_json::Value, channel: usize| -> Vec<f64> {
        cell[channel]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let len = row(&cells[0], 0).len();
    RnaBatch {
        batch: cells.len(),
        len,
        gene_ids: cells
            .iter()
            .flat_map(|c| row(c, 0))
            .map(|v| v as u32)
            .collect(),
        expressions: cells
            .iter()
            .flat_map(|c| row(c, 1))
            .map(|v| v as f32)
            .collect(),
        attention_mask: case["attention_mask"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap() as f32)
            })
            .collect(),
    }
}

fn slice_channel(t: Tensor<3>, channel: usize) -> Tensor<2> {
    let [b, n, _] = t.dims();
    t.slice([0..b, 0..n, channel..channel + 1]).reshape([b, n])
}

#[test]
fn every_fixture_tensor_matches_on_every_case() {
    let model = model();
    assert!(
        model.report.unused.is_empty(),
        "unused: {:?}",
        model.report.unused
    );
    let cases: serde_json::Value =
        serde_json::from_slice(&read(&fixture("rna-scbert-tiny/cases.json"))).unwrap();
    let expected = read(&fixture("rna-scbert-tiny/expected.safetensors"));
    let names: Vec<&str> = model.decoders.iter().map(|d| d.name.as_str()).collect();
    let decoder = |outputs: &tessera_core::models::bmfm_rna::RnaOutputs, name: &str| {
        outputs.decoders[names.iter().position(|n| *n == name).unwrap()].clone()
    };
    for i in 0..cases["cases"].as_array().unwrap().len() {
        let out = model.forward(&batch(&cases, i), &device()).unwrap();
        let [b, l, h] = out.hidden_states[0].dims();
        let last = out.hidden_states.last().unwrap().clone();
        let mut actual: Vec<(String, Vec<f32>)> = vec![
            (
                "embedding_output".into(),
                values(out.hidden_states[0].clone()),
            ),
            ("last_hidden_state".into(), values(last.clone())),
            (
                "cls_embedding".into(),
                values(last.slice([0..b, 0..1, 0..h]).reshape([b, h])),
            ),
            ("pooler_output".into(), values(out.pooler_output.clone())),
            (
                "mean_pooled_embedding".into(),
                values(out.mean_pooled.clone()),
            ),
            (
                "mlm_gene_token_scores".into(),
                values(decoder(&out, "genes_token_scores")),
            ),
            (
                "mlm_expression_regression".into(),
                values(slice_channel(decoder(&out, "expressions_regression"), 0)),
            ),
            (
                "mlm_expression_is_zero_logit".into(),
                values(slice_channel(decoder(&out, "expressions_is_zero"), 0)),
            ),
            (
                "wced_value".into(),
                values(slice_channel(decoder(&out, "expressions_wced"), 0)),
            ),
            (
                "wced_is_zero_logit".into(),
                values(slice_channel(decoder(&out, "expressions_wced"), 1)),
            ),
            (
                "label_logits.cell_type".into(),
                values(out.labels[0].clone()),
            ),
        ];
        for (layer, state) in out.hidden_states.iter().skip(1).enumerate() {
            actual.push((format!("layer_{layer}_output"), values(state.clone())));
        }
        assert_eq!(l, batch(&cases, i).len);
        for (name, values) in actual {
            let key = format!("case{i}.{name}");
            assert_close(&key, &values, &tensor_f32(&expected, &key).0);
        }
    }
}

#[test]
fn out_of_range_input_is_an_error() {
    let model = model();
    let cases: serde_json::Value =
        serde_json::from_slice(&read(&fixture("rna-scbert-tiny/cases.json"))).unwrap();
    let good = batch(&cases, 0);
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
