//! Models computing in f16 (`tessera_core::precision`) on the CPU device, set to f16 once for
//! this test binary (its own process, so no other test sees it): weights load as f16 from a
//! whole bundle and from a stream alike (Linear weights decoded straight into burn's layout),
//! and MAMMAL's fixture answers stay the f32 reference's (ids exactly, values within 1 % of each
//! tensor's largest magnitude).

mod common;

use std::sync::OnceLock;

use burn::module::{ModuleVisitor, Param};
use burn::tensor::{DType, Device, Tensor};
use common::{fixture, read};
use safetensors::SafeTensors;
use tessera_core::bundle::{Bundle, BundleFiles};
use tessera_core::models::mammal::MammalModel;
use tessera_core::models::mammal::cases::{CaseTensor, read_cases};
use tessera_core::precision::Precision;

/// The CPU device, computing in f16 (configured before its first tensor).
fn device() -> Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE
        .get_or_init(|| {
            let mut device = Device::flex();
            Precision::F16.configure(&mut device).unwrap();
            device
        })
        .clone()
}

fn files() -> BundleFiles {
    let mut files = BundleFiles::default();
    for name in ["config.json", "model.safetensors"] {
        files.insert(name, read(&fixture(&format!("mammal-tiny/{name}"))));
    }
    files
}

/// The dtypes of the model's float parameters.
fn parameter_dtypes(model: &MammalModel) -> Vec<DType> {
    struct Dtypes(Vec<DType>);
    impl ModuleVisitor for Dtypes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().dtype());
        }
    }
    let mut dtypes = Dtypes(Vec::new());
    burn::module::Module::visit(&model.net, &mut dtypes);
    dtypes.0
}

fn answers(model: &MammalModel) -> Vec<(String, CaseTensor)> {
    let device = device();
    let cases = read_cases("cases.json", &read(&fixture("mammal-tiny/cases.json"))).unwrap();
    cases
        .iter()
        .enumerate()
        .flat_map(|(i, case)| {
            pollster::block_on(case.run(model, &device))
                .unwrap_or_else(|e| panic!("{}: {e}", case.name))
                .into_iter()
                .map(move |(name, tensor)| (format!("case{i}.{name}"), tensor))
        })
        .collect()
}

#[test]
fn the_device_says_it_computes_in_f16() {
    assert_eq!(Precision::of(&device()), Precision::F16);
    assert_eq!("f16".parse::<Precision>().unwrap(), Precision::F16);
    let error = "f8".parse::<Precision>().unwrap_err().to_string();
    assert!(
        error.contains("`f8`") && error.contains("f32 or f16"),
        "{error}"
    );
}

#[test]
fn f16_weights_load_alike_whole_and_streamed_and_answer_as_f32() {
    let device = device();
    let whole = MammalModel::from_bundle(&Bundle::from_files(files()).unwrap(), &device).unwrap();
    let dtypes = parameter_dtypes(&whole);
    assert!(
        !dtypes.is_empty() && dtypes.iter().all(|d| *d == DType::F16),
        "{dtypes:?}"
    );

    let tar = files().to_tar().unwrap();
    let mut loading = MammalModel::stream(&device);
    for piece in tar.chunks(1000) {
        loading.push(piece).unwrap();
    }
    let (streamed, _) = loading.finish().unwrap();
    assert!(parameter_dtypes(&streamed).iter().all(|d| *d == DType::F16));

    let want = read(&fixture("mammal-tiny/expected.safetensors"));
    let want = SafeTensors::deserialize(&want).unwrap();
    let (a, b) = (answers(&whole), answers(&streamed));
    assert_eq!(a.len(), b.len());
    for ((name, got), (_, again)) in a.iter().zip(&b) {
        assert_eq!(got, again, "{name}: streamed and whole loads differ");
        let view = want.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        match got {
            CaseTensor::I64 { values, .. } => {
                let ids: Vec<i64> = view
                    .data()
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                    .collect();
                assert_eq!(values, &ids, "{name}");
            }
            CaseTensor::F32 { values, .. } => {
                let reference: Vec<f32> = view
                    .data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect();
                let scale = reference.iter().fold(0f32, |m, v| m.max(v.abs()));
                let worst = values
                    .iter()
                    .zip(&reference)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0f32, f32::max);
                assert!(
                    values.iter().all(|v| v.is_finite()) && worst <= 1e-2 * scale + 1e-3,
                    "{name}: off by {worst} (largest magnitude {scale})"
                );
            }
        }
    }
}
