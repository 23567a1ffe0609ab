//! Weights in f16 / bf16 / q8 and streamed loading, on the MAMMAL fixture (`mammal-tiny`):
//! converted bundles answer like the f32 one within stated tolerances; a bundle pushed through
//! the stream reader in small chunks loads exactly as one read whole; broken q8 files, short
//! archives and misordered archives are refused by name.

mod common;

use burn::tensor::Device;
use common::{fixture, read};
use tessera_core::bundle::convert::convert_weights;
use tessera_core::bundle::safetensors::{SafetensorsWriter, TensorSpec, parse_header};
use tessera_core::bundle::{Bundle, BundleFiles, SharedBytes, WeightDtype};
use tessera_core::models::mammal::MammalModel;
use tessera_core::models::mammal::cases::{CaseTensor, read_cases};

fn fixture_files(weights: Vec<u8>) -> BundleFiles {
    let mut files = BundleFiles::default();
    files.insert("config.json", read(&fixture("mammal-tiny/config.json")));
    files.insert("model.safetensors", weights);
    files
}

fn f32_weights() -> Vec<u8> {
    read(&fixture("mammal-tiny/model.safetensors"))
}

fn converted(dtype: WeightDtype) -> Vec<u8> {
    convert_weights(
        "model.safetensors",
        &SharedBytes::from(f32_weights()),
        dtype,
        Vec::new(),
    )
    .unwrap()
}

/// Every output tensor of every fixture case, by name.
fn answers(model: &MammalModel) -> Vec<(String, CaseTensor)> {
    let device = Device::flex();
    let cases = read_cases("cases.json", &read(&fixture("mammal-tiny/cases.json"))).unwrap();
    let mut out = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for (name, tensor) in pollster::block_on(case.run(model, &device)).unwrap() {
            out.push((format!("case{i}.{name}"), tensor));
        }
    }
    out
}

fn load(files: BundleFiles) -> MammalModel {
    MammalModel::from_bundle(&Bundle::from_files(files).unwrap(), &Device::flex()).unwrap()
}

/// Largest |a − b| over the tensor's largest |b|, and whether every id tensor is equal.
fn compare(got: &[(String, CaseTensor)], want: &[(String, CaseTensor)]) -> (f32, bool) {
    let mut worst = 0f32;
    let mut ids_equal = true;
    for ((name, a), (_, b)) in got.iter().zip(want) {
        match (a, b) {
            (CaseTensor::F32 { values: a, .. }, CaseTensor::F32 { values: b, .. }) => {
                let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
                let diff = a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                worst = worst.max(diff / scale);
            }
            (CaseTensor::I64 { values: a, .. }, CaseTensor::I64 { values: b, .. }) => {
                ids_equal &= a == b;
            }
            _ => panic!("{name}: kinds differ"),
        }
    }
    (worst, ids_equal)
}

#[test]
fn half_precision_and_q8_bundles_answer_like_f32() {
    let reference = answers(&load(fixture_files(f32_weights())));
    // Relative to each tensor's largest value; measured 2026-12 (README "Half-precision and
    // 8-bit weights"), bounds with headroom.
    for (dtype, bound, same_ids) in [
        (WeightDtype::F32, 0.0, true),
        (WeightDtype::F16, 2e-3, true),
        (WeightDtype::Bf16, 2e-2, false),
        (WeightDtype::Q8, 6e-2, false),
    ] {
        let weights = converted(dtype);
        let model = load(fixture_files(weights.clone()));
        let (worst, ids_equal) = compare(&answers(&model), &reference);
        println!(
            "{dtype}: {} bytes, worst relative error {worst:.2e}, ids equal {ids_equal}",
            weights.len()
        );
        assert!(
            worst <= bound,
            "{dtype}: relative error {worst} over {bound}"
        );
        if same_ids {
            assert!(ids_equal, "{dtype}: generated ids differ from f32");
        }
        // Converting back to f32 and loading gives the same answers as the converted bundle.
        let back = convert_weights(
            "model.safetensors",
            &SharedBytes::from(weights),
            WeightDtype::F32,
            Vec::new(),
        )
        .unwrap();
        let (again, _) = compare(&answers(&load(fixture_files(back))), &answers(&model));
        assert_eq!(again, 0.0, "{dtype} → f32 changed the values");
    }
}

fn streamed(tar: &[u8], chunk: usize) -> Result<MammalModel, String> {
    let mut loading = MammalModel::stream(&Device::flex());
    for piece in tar.chunks(chunk) {
        loading.push(piece).map_err(|e| e.to_string())?;
    }
    loading
        .finish()
        .map(|(model, _)| model)
        .map_err(|e| e.to_string())
}

#[test]
fn a_streamed_bundle_loads_exactly_as_a_whole_one() {
    for dtype in [WeightDtype::F32, WeightDtype::F16, WeightDtype::Q8] {
        let files = fixture_files(converted(dtype));
        let tar = files.to_tar().unwrap();
        let whole = answers(&load(BundleFiles::from_tar(tar.clone()).unwrap()));
        // 1,000-byte chunks split headers, tensors and the safetensors header alike.
        for chunk in [1000, 4096, tar.len()] {
            let model = streamed(&tar, chunk).unwrap();
            assert_eq!(
                compare(&answers(&model), &whole),
                (0.0, true),
                "{dtype}, chunks of {chunk}"
            );
        }
    }
}

/// The q8 file laid out with every int8 weight before its scales (our writer puts the scales
/// first; other writers need not).
fn q8_scales_last() -> Vec<u8> {
    let file = converted(WeightDtype::Q8);
    let mut entries = parse_header("model.safetensors", &file, file.len()).unwrap();
    entries.sort_by_key(|e| {
        (
            e.name.trim_end_matches(".q8_scale").to_string(),
            e.name.len(),
        )
    });
    let specs = entries
        .iter()
        .map(|e| TensorSpec::new(&e.name, e.dtype, e.shape.clone()))
        .collect();
    let mut writer =
        SafetensorsWriter::new("model.safetensors", Vec::new(), specs, &Default::default())
            .unwrap();
    for entry in &entries {
        writer.tensor(&file[entry.range.clone()]).unwrap();
    }
    writer.finish().unwrap()
}

#[test]
fn q8_weights_stream_in_whichever_order_their_scales_come() {
    let reordered = q8_scales_last();
    let names: Vec<String> = parse_header("m", &reordered, reordered.len())
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    let at = |n: &str| names.iter().position(|m| m == n).unwrap();
    let head = "t5_model.lm_head.weight";
    assert!(at(head) < at(&format!("{head}.q8_scale")), "{names:?}");
    let whole = answers(&load(fixture_files(converted(WeightDtype::Q8))));
    let tar = fixture_files(reordered).to_tar().unwrap();
    for chunk in [1000, tar.len()] {
        let model = streamed(&tar, chunk).unwrap();
        assert_eq!(
            compare(&answers(&model), &whole),
            (0.0, true),
            "chunks of {chunk}"
        );
    }
}

#[test]
fn short_or_misordered_archives_are_refused_by_name() {
    let tar = fixture_files(f32_weights()).to_tar().unwrap();
    let error = streamed(&tar[..tar.len() / 2], 4096).unwrap_err();
    assert!(error.contains("ends"), "{error}");
    // Weights before config.json: a streamed load cannot build the model in time.
    let mut builder = tar::Builder::new(Vec::new());
    for name in ["model.safetensors", "config.json"] {
        let bytes = if name == "config.json" {
            read(&fixture("mammal-tiny/config.json"))
        } else {
            f32_weights()
        };
        let mut header = tessera_core::bundle::tar_header(bytes.len() as u64);
        builder
            .append_data(&mut header, name, bytes.as_slice())
            .unwrap();
    }
    let misordered = builder.into_inner().unwrap();
    let error = streamed(&misordered, 4096).unwrap_err();
    assert!(
        error.contains("config.json") && error.contains("bundle pack"),
        "{error}"
    );
    // The same archive read whole is fine: only streaming needs the order.
    load(BundleFiles::from_tar(misordered).unwrap());
    // A member that claims more bytes than the archive has.
    let mut lying = tar.clone();
    lying.truncate(tar.len() - 2048);
    let error = BundleFiles::from_tar(lying).unwrap_err().to_string();
    assert!(error.contains("more than the archive"), "{error}");
}

/// The q8 file with `edit` applied to its header JSON.
fn edited_q8(edit: impl Fn(&mut serde_json::Map<String, serde_json::Value>)) -> Vec<u8> {
    let file = converted(WeightDtype::Q8);
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&file[8..8 + n]).unwrap();
    edit(&mut header);
    let mut json = serde_json::to_vec(&header).unwrap();
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend(json);
    out.extend(&file[8 + n..]);
    out
}

#[test]
fn broken_q8_files_are_refused_by_name() {
    let name = "t5_model.lm_head.weight";
    // Scales renamed away: the int8 weight has none, and the scales belong to nothing.
    let renamed = edited_q8(|h| {
        let scales = h.remove(&format!("{name}.q8_scale")).unwrap();
        h.insert("nothing.q8_scale".into(), scales);
    });
    let error = MammalModel::from_bundle(
        &Bundle::from_files(fixture_files(renamed)).unwrap(),
        &Device::flex(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        error.contains(name) && error.contains("without their scales"),
        "{error}"
    );
    // Scales of the wrong shape (the header still tiles the file: the shape alone changes).
    let reshaped = edited_q8(|h| {
        let entry = h.get_mut(&format!("{name}.q8_scale")).unwrap();
        let rows = entry["shape"][0].as_u64().unwrap();
        entry["shape"] = serde_json::json!([rows / 2, 2]);
    });
    let error = MammalModel::from_bundle(
        &Bundle::from_files(fixture_files(reshaped)).unwrap(),
        &Device::flex(),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(error.contains(&format!("{name}.q8_scale")), "{error}");
    // A weight of the wrong shape is refused naming the parameter.
    let mut config: serde_json::Value =
        serde_json::from_slice(&read(&fixture("mammal-tiny/config.json"))).unwrap();
    config["t5_config"]["d_ff"] = serde_json::json!(96);
    let mut files = fixture_files(converted(WeightDtype::Q8));
    files.insert("config.json", serde_json::to_vec(&config).unwrap());
    let error = MammalModel::from_bundle(&Bundle::from_files(files).unwrap(), &Device::flex())
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("ffn") && error.contains("shape"), "{error}");
}
