//! The encoder stack against the reference SCBert fixture, loaded from its original key names,
//! and the bundle format: round trip and the errors a user meets with a broken bundle.

mod common;

use burn::tensor::Device;
use common::{assert_close, fixture, read, tensor_f32, values};
use tessera_core::bundle::{Bundle, BundleError, BundleFiles};
use tessera_core::models::encoder::{EncoderError, EncoderModel};

const CONFIG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/scbert-tiny-encoder.json"
);

fn device() -> Device {
    Device::flex()
}

fn reference_bundle() -> Bundle {
    let mut files = BundleFiles::default();
    files.insert("config.json", read(&CONFIG.into()));
    files.insert(
        "model.safetensors",
        read(&fixture("rna-scbert-tiny/model.safetensors")),
    );
    Bundle::from_files(files).expect("complete bundle")
}

struct Case {
    input: Vec<f32>,
    shape: [usize; 3],
    mask: Vec<f32>,
}

/// The fixture's `embedding_output` and attention mask of case `i`.
fn case(i: usize) -> Case {
    let expected = read(&fixture("rna-scbert-tiny/expected.safetensors"));
    let (input, shape) = tensor_f32(&expected, &format!("case{i}.embedding_output"));
    let cases: serde_json::Value =
        serde_json::from_slice(&read(&fixture("rna-scbert-tiny/cases.json"))).unwrap();
    let mask = cases["cases"][i]["attention_mask"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
        })
        .collect();
    Case {
        input,
        shape: [shape[0], shape[1], shape[2]],
        mask,
    }
}

#[test]
fn encoder_matches_reference_layer_by_layer_on_every_case() {
    let model = EncoderModel::from_bundle(&reference_bundle(), &device()).unwrap();
    // 2 layers × (q,k,v,out: 8 + 2 norms: 4 + ffn: 4) = 32 parameters
    assert_eq!(model.report.applied, 32);
    assert!(
        model
            .report
            .unused
            .iter()
            .all(|name| !name.starts_with("layers."))
    );
    let expected = read(&fixture("rna-scbert-tiny/expected.safetensors"));
    for i in 0..6 {
        let Case { input, shape, mask } = case(i);
        let x = burn::tensor::Tensor::<3>::from_data(
            burn::tensor::TensorData::new(input, shape),
            &device(),
        );
        let m = burn::tensor::Tensor::<2>::from_data(
            burn::tensor::TensorData::new(mask, [shape[0], shape[1]]),
            &device(),
        );
        let outputs = model.encoder.forward_layers(x, Some(m));
        for (layer, output) in outputs.into_iter().skip(1).enumerate() {
            let name = format!("case{i}.layer_{layer}_output");
            assert_close(&name, &values(output), &tensor_f32(&expected, &name).0);
        }
    }
}

#[test]
fn saved_bundle_reloads_through_tar_with_identical_outputs() {
    let model = EncoderModel::from_bundle(&reference_bundle(), &device()).unwrap();
    let tar = model.to_bundle().unwrap().to_tar().unwrap();
    let reloaded = Bundle::from_tar(&tar).unwrap();
    let config = reloaded.config_json().unwrap();
    assert!(
        config.get("reference_names").is_none(),
        "saved under our own names"
    );
    assert!(
        reloaded
            .tensors()
            .unwrap()
            .iter()
            .any(|t| t.name == "layers.0.attn_norm.weight")
    );
    let again = EncoderModel::from_bundle(&reloaded, &device()).unwrap();
    assert!(again.report.unused.is_empty());
    let Case { input, shape, mask } = case(1);
    let a = model
        .forward_values(input.clone(), shape, Some(mask.clone()), &device())
        .unwrap();
    let b = again
        .forward_values(input, shape, Some(mask), &device())
        .unwrap();
    assert_eq!(values(a), values(b));
}

/// The reference bundle with one text replacement in its config.
fn with_config_edit(from: &str, to: &str) -> Bundle {
    let config = std::fs::read_to_string(CONFIG).unwrap().replace(from, to);
    reference_bundle().with_file("config.json", config.into_bytes())
}

fn error_of(bundle: &Bundle) -> String {
    EncoderModel::from_bundle(bundle, &device())
        .unwrap_err()
        .to_string()
}

#[test]
fn missing_tensor_is_named() {
    let model = EncoderModel::from_bundle(&reference_bundle(), &device()).unwrap();
    let full = model.to_bundle().unwrap();
    // Rebuild the weights without one tensor.
    let bytes = full.file("model.safetensors").unwrap();
    let file = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let kept: Vec<_> = file
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "layers.1.ffn.out.bias")
        .collect();
    let pruned = safetensors::serialize(kept, None).unwrap();
    let broken = full.clone().with_file("model.safetensors", pruned);
    let message = error_of(&broken);
    assert!(message.contains("model.safetensors"), "{message}");
    assert!(message.contains("layers.1.ffn.out.bias"), "{message}");
}

#[test]
fn wrong_shape_is_named_with_both_shapes() {
    let bundle = with_config_edit("\"d_ff\": 128", "\"d_ff\": 96");
    let message = error_of(&bundle);
    assert!(message.contains("layers.0.ffn.inner.weight"), "{message}");
    assert!(
        message.contains("[64, 96]") && message.contains("[64, 128]"),
        "{message}"
    );
}

#[test]
fn corrupt_weights_are_reported_as_such() {
    let bytes = read(&fixture("rna-scbert-tiny/model.safetensors"));
    let bundle =
        reference_bundle().with_file("model.safetensors", bytes[..bytes.len() / 2].to_vec());
    let message = error_of(&bundle);
    assert!(
        message.starts_with("model.safetensors: not a valid safetensors file"),
        "{message}"
    );
}

#[test]
fn bad_config_field_is_named() {
    let bundle = with_config_edit("\"n_heads\": 4", "\"n_heads\": \"four\"");
    let message = error_of(&bundle);
    assert!(
        message.contains("config.json") && message.contains("encoder.n_heads"),
        "{message}"
    );
}

#[test]
fn wrong_architecture_is_refused() {
    let bundle = with_config_edit("\"encoder\",", "\"t5\",");
    assert!(error_of(&bundle).contains("architecture is `t5`"));
}

#[test]
fn missing_file_is_named() {
    let mut files = BundleFiles::default();
    files.insert("config.json", read(&CONFIG.into()));
    let error = Bundle::from_files(files).unwrap_err();
    assert!(matches!(error, BundleError::MissingFile(ref f) if f == "model.safetensors"));
}

#[test]
fn archive_entries_outside_the_bundle_are_refused() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(2);
    header.set_mode(0o644);
    // `append_data` refuses `..` itself, so write the name into the header by hand.
    header.as_gnu_mut().unwrap().name[..14].copy_from_slice(b"../config.json");
    header.set_cksum();
    builder.append(&header, &b"{}"[..]).unwrap();
    let tar = builder.into_inner().unwrap();
    let error = Bundle::from_tar(&tar).unwrap_err().to_string();
    assert!(
        error.contains("../config.json") && error.contains("outside"),
        "{error}"
    );
}

#[test]
fn bad_input_sizes_are_errors_not_panics() {
    let model = EncoderModel::from_bundle(&reference_bundle(), &device()).unwrap();
    let wrong_width = model.forward_values(vec![0.0; 2 * 32], [1, 2, 32], None, &device());
    assert!(matches!(wrong_width, Err(EncoderError::Input(ref m)) if m.contains("d_model is 64")));
    let short = model.forward_values(vec![0.0; 10], [1, 2, 64], None, &device());
    assert!(matches!(short, Err(EncoderError::Input(_))));
    let bad_mask = model.forward_values(vec![0.0; 128], [1, 2, 64], Some(vec![1.0]), &device());
    assert!(matches!(bad_mask, Err(EncoderError::Input(ref m)) if m.contains("`attention_mask`")));
    // Shapes whose product wraps around in usize (2^62·4·64 and 2^63·2·64 wrap to 0) are refused,
    // not passed on to burn.
    for shape in [[1usize << 62, 4, 64], [1 << 63, 2, 64], [usize::MAX, 1, 64]] {
        let huge = model.forward_values(vec![0.0; 128], shape, None, &device());
        assert!(
            matches!(huge, Err(EncoderError::Input(ref m)) if m.contains("do not fill `shape`")),
            "{shape:?}"
        );
    }
}
