//! The MAMMAL network against the reference (`../shared/fixtures/mammal-tiny`: biomed-multi-
//! alignment 0.2.4's `Mammal` in the published layout): teacher-forced logits and loss,
//! encoder-only heads with scalar inputs, greedy ids and step logits, beam search — every
//! expected tensor within 1e-4 + 1e-4·|e|, ids exactly.

mod common;

use burn::tensor::Device;
use common::{assert_close, fixture, read};
use safetensors::SafeTensors;
use tessera_core::bundle::{Bundle, BundleFiles};
use tessera_core::models::mammal::MammalModel;
use tessera_core::models::mammal::cases::{CaseTensor, read_cases};

fn bundle() -> Bundle {
    let mut files = BundleFiles::default();
    for name in ["config.json", "model.safetensors"] {
        files.insert(name, read(&fixture(&format!("mammal-tiny/{name}"))));
    }
    Bundle::from_files(files).unwrap()
}

#[test]
fn every_fixture_case_matches_the_reference() {
    let device = Device::flex();
    let model = MammalModel::from_bundle(&bundle(), &device).unwrap();
    assert!(
        model.report.unused.is_empty(),
        "unused tensors: {:?}",
        model.report.unused
    );
    let cases_path = fixture("mammal-tiny/cases.json");
    let cases = read_cases("cases.json", &read(&cases_path)).unwrap();
    let expected_bytes = read(&fixture("mammal-tiny/expected.safetensors"));
    let expected = SafeTensors::deserialize(&expected_bytes).unwrap();
    let mut compared = 0;
    for (i, case) in cases.iter().enumerate() {
        let outputs = pollster::block_on(case.run(&model, &device))
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        for name in &case.expected {
            let key = format!("case{i}.{name}");
            let view = expected
                .tensor(&key)
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            let (_, got) = outputs
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("{key}: not produced"));
            match got {
                CaseTensor::F32 { shape, values } => {
                    assert_eq!(shape, view.shape(), "{key}: shape");
                    let want: Vec<f32> = view
                        .data()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect();
                    assert_close(&key, values, &want);
                }
                CaseTensor::I64 { shape, values } => {
                    assert_eq!(shape, view.shape(), "{key}: shape");
                    let want: Vec<i64> = view
                        .data()
                        .chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                        .collect();
                    assert_eq!(values, &want, "{key}");
                }
            }
            compared += 1;
        }
    }
    assert!(compared >= 12, "only {compared} tensors compared");
}

#[test]
fn cached_and_uncached_greedy_decoding_agree() {
    use tessera_core::models::mammal::GenerateConfig;
    use tessera_core::models::mammal::cases::CaseMode;
    let device = Device::flex();
    let model = MammalModel::from_bundle(&bundle(), &device).unwrap();
    let cases = read_cases("cases.json", &read(&fixture("mammal-tiny/cases.json"))).unwrap();
    let case = cases
        .iter()
        .find(|c| matches!(c.mode, CaseMode::Generate(g) if g.num_beams == 1))
        .unwrap();
    let run = |use_cache| {
        let config = GenerateConfig {
            max_new_tokens: 8,
            keep_logits: true,
            use_cache,
            stop_at_eos: false,
            ..GenerateConfig::default()
        };
        pollster::block_on(model.generate(&case.inputs, config, &device)).unwrap()
    };
    let (cached, uncached) = (run(true), run(false));
    assert_eq!(cached.ids, uncached.ids);
    assert_eq!(cached.steps(), 8, "stop_at_eos off runs every step");
    assert_close(
        "step logits",
        cached.step_logits.as_ref().unwrap(),
        uncached.step_logits.as_ref().unwrap(),
    );
}
