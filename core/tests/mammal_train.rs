//! MAMMAL fine-tuning on real molecules (B3DB classification, ESOL regression) with a tiny
//! model: targets are laid out as the reference's task code does, both losses fall, a seed
//! gives the same run, a checkpoint resumes to it (to float rounding), and held-out rows score.
#![cfg(feature = "train")]

mod common;

use burn::tensor::Device;
use common::{device_rng, read, shared_dir};
use tessera_core::bundle::{Bundle, BundleFiles, WEIGHTS_FILE};
use tessera_core::data::Table;
use tessera_core::models::mammal::finetune::{Examples, Prediction, TaskSpec};
use tessera_core::models::mammal::{MammalConfig, T5Config};
use tessera_core::tokenize::mammal::ModularTokenizer;
use tessera_core::train::Fit;
use tessera_core::train::mammal::{
    MammalTrainConfig, MammalTrainer, Prepared, ScalarLoss, Supervision, new_bundle, prepare,
};
use tessera_core::train::optimizer::{AdamWConfig, Schedule};

fn device() -> Device {
    Device::flex()
}

fn task(name: &str) -> (TaskSpec, Examples) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../native/tasks")
        .join(name);
    let spec = TaskSpec::from_json(name, &read(&path)).unwrap();
    let table = Table::read(&spec.data, &read(&path.parent().unwrap().join(&spec.data))).unwrap();
    let examples = spec.examples(&table).unwrap();
    (spec, examples)
}

fn tokenizer_files() -> BundleFiles {
    let mut files = BundleFiles::default();
    for entry in std::fs::read_dir(shared_dir().join("data/mammal-tokenizer")).unwrap() {
        let path = entry.unwrap().path();
        files.insert(
            path.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(&path).unwrap(),
        );
    }
    files
}

/// 48 B3DB and 24 ESOL training rows, and a tiny model that knows their tokens.
fn setup() -> (Bundle, Vec<Prepared>, MammalTrainConfig) {
    let files = tokenizer_files();
    let tokenizer = ModularTokenizer::from_files(&files, "").unwrap();
    let (b3db, b3db_examples) = task("b3db-bbb.json");
    let (esol, esol_examples) = task("esol.json");
    let mut data = prepare(
        &b3db,
        &b3db_examples,
        &b3db_examples.train[..48],
        &tokenizer,
    )
    .unwrap();
    data.extend(
        prepare(
            &esol,
            &esol_examples,
            &esol_examples.train[..24],
            &tokenizer,
        )
        .unwrap(),
    );
    let mut t5 = T5Config::v1_1(32, 8, 64, 1, 4, 3584);
    t5.dropout_rate = 0.1;
    let bundle = new_bundle(&MammalConfig::new(t5), &files, 5, &device()).unwrap();
    let config = MammalTrainConfig {
        seed: 3,
        batch_size: 12,
        steps: 30,
        optimizer: AdamWConfig {
            lr: 3e-3,
            warmup_steps: 5,
            grad_clip: Some(1.0),
            schedule: Schedule::Cosine {
                total_steps: 30,
                floor: 0.0,
            },
            ..AdamWConfig::default()
        },
        scalar_loss: ScalarLoss::Mse,
        micro_batch: None,
    };
    (bundle, data, config)
}

#[test]
fn targets_are_laid_out_as_the_reference_task_code_does() {
    let _rng = device_rng();
    let (_, data, _) = setup();
    // B3DB row 1 is BBB− → `<0>` (id 44); labels are the decoder input shifted, pad ignored.
    assert_eq!(
        data[0].supervision,
        Supervision::Tokens {
            decoder_ids: vec![16, 57, 44, 5],
            decoder_mask: vec![1.0; 4],
            labels: vec![57, 44, 5, -100],
        }
    );
    let (_, esol) = task("esol.json");
    let Supervision::Scalar(v) = data[48].supervision else {
        panic!("an ESOL row is a scalar target");
    };
    let tessera_core::models::mammal::finetune::Target::Value(raw) = esol.train[0].target else {
        unreachable!()
    };
    assert!((f64::from(v) - (raw - esol.mean) / esol.std).abs() < 1e-6);
}

#[test]
fn fine_tuning_learns_is_reproducible_and_resumes_exactly() {
    let _rng = device_rng();
    let (bundle, data, config) = setup();
    let mut trainer =
        MammalTrainer::new(bundle.clone(), data.clone(), config.clone(), &device()).unwrap();
    let mut logs = Vec::new();
    while !trainer.done() {
        logs.push(trainer.step().unwrap());
    }
    let term = |name: &str, range: std::ops::Range<usize>| -> f64 {
        let values: Vec<f64> = logs[range]
            .iter()
            .filter_map(|l| l.terms.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
            .collect();
        values.iter().sum::<f64>() / values.len() as f64
    };
    for name in ["decoder_ce", "scalar_loss"] {
        let (first, last) = (term(name, 0..6), term(name, 24..30));
        assert!(last < 0.8 * first, "{name}: {first:.4} → {last:.4}");
    }

    // The same seed: the same run, bit for bit.
    let mut again =
        MammalTrainer::new(bundle.clone(), data.clone(), config.clone(), &device()).unwrap();
    while !again.done() {
        again.step().unwrap();
    }
    let weights = |t: &MammalTrainer| -> Vec<f32> {
        let bytes = Fit::bundle(t).unwrap().file(WEIGHTS_FILE).unwrap().to_vec();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut names = file.names();
        names.sort();
        names
            .into_iter()
            .flat_map(|name| common::tensor_f32(&bytes, name).0)
            .collect()
    };
    let same_run = |a: &MammalTrainer, b: &MammalTrainer, what: &str| {
        for (x, y) in a.state.history.iter().zip(&b.state.history) {
            assert!(
                (x.loss - y.loss).abs() < 1e-4 * y.loss,
                "{what}, step {}: {} vs {}",
                x.step,
                x.loss,
                y.loss
            );
        }
        let (wa, wb) = (weights(a), weights(b));
        let worst = wa
            .iter()
            .zip(&wb)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            wa.len() == wb.len() && worst < 1e-4,
            "{what}: weights differ by up to {worst}"
        );
    };
    assert!(
        weights(&again) == weights(&trainer),
        "two runs of one seed differ"
    );

    // Stop at step 13, go through a checkpoint's bytes, and finish: the same run to float
    // rounding (the loaded weights are laid out afresh, and the matrix kernels may then sum in
    // another order: the first difference seen was one ulp, six steps after resuming).
    let mut short = MammalTrainer::new(bundle, data.clone(), config, &device()).unwrap();
    for _ in 0..13 {
        short.step().unwrap();
    }
    let checkpoint = Bundle::from_tar(short.checkpoint().unwrap().to_tar().unwrap()).unwrap();
    let mut resumed = MammalTrainer::resume(checkpoint, data, &device()).unwrap();
    assert_eq!(resumed.state.step, 13);
    while !resumed.done() {
        resumed.step().unwrap();
    }
    assert_eq!(resumed.state.history.len(), 30);
    same_run(&resumed, &trainer, "the resumed run");
}

#[test]
fn held_out_predictions_score_as_accuracy_auc_and_rmse() {
    let (_, b3db) = task("b3db-bbb.json");
    let perfect: Vec<Prediction> = b3db
        .test
        .iter()
        .map(|e| match e.target {
            tessera_core::models::mammal::finetune::Target::Class(c) => {
                Prediction::Classes((0..2).map(|k| f64::from(u8::from(k == c))).collect())
            }
            _ => unreachable!(),
        })
        .collect();
    let score = b3db.score(&perfect).unwrap();
    assert_eq!((score.accuracy, score.roc_auc), (Some(1.0), Some(1.0)));
    let (_, esol) = task("esol.json");
    let mean = vec![Prediction::Value(esol.mean); esol.test.len()];
    let score = esol.score(&mean).unwrap();
    let (rmse, sd) = (score.rmse.unwrap(), score.label_sd.unwrap());
    assert!(rmse >= sd && rmse < sd * 1.05, "{rmse} vs {sd}");
    assert!(esol.score(&mean[1..]).is_err(), "one prediction short");
}
