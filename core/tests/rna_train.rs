//! Training: the loss primitives against hand-computed values, the optimizer's decay groups,
//! the collator's sequences and targets, and whole runs on real pbmc3k cells — that they learn,
//! are reproducible for a seed, and resume to the very same weights.
#![cfg(feature = "train")]

mod common;

use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use common::{read, shared_dir, values};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use tessera_core::bundle::{Bundle, WEIGHTS_FILE};
use tessera_core::data::h5ad::{MatrixSource, read_h5ad};
use tessera_core::models::bmfm_rna::panel::GenePanel;
use tessera_core::nn::{Norm, NormKind, gradient_reversal};
use tessera_core::tokenize::rna::{CellEncoder, CellEncoderConfig, ExposeZeros, Padding};
use tessera_core::train::collate::{Collator, MlmConfig, SequenceConfig};
use tessera_core::train::objectives::{
    ClassLoss, IGNORE, class_loss, is_zero_bce, mse_ignore_zero,
};
use tessera_core::train::optimizer::{AdamW, AdamWConfig};
use tessera_core::train::recipe::{self, ModelSpec};
use tessera_core::train::rna::{LabelObjective, WcedObjective};
use tessera_core::train::{Fit, TrainConfig, Trainer};

fn device() -> Device {
    Device::flex()
}

fn t2(values: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), &device())
}

#[test]
fn losses_match_hand_computed_values() {
    let d = device();
    // mse ignores −100 and zero targets: ((1−2)² + (3−1)²) / 2.
    let mse = mse_ignore_zero(
        t2(vec![1.0, 5.0, 3.0, 7.0], [2, 2]),
        &[2.0, 0.0, 1.0, IGNORE],
        &d,
    );
    assert!((values(mse)[0] - 2.5).abs() < 1e-5);
    // BCE against 1[y == 0] over y ≠ −100.
    let bce = is_zero_bce(
        t2(vec![0.0, 2.0, -1.0, 9.0], [2, 2]),
        &[0.0, 1.0, 0.0, IGNORE],
        &d,
    );
    let expected = ((2f64).ln() + (1.0 + 2f64.exp()).ln() + (1.0 + 1f64.exp()).ln()) / 3.0;
    assert!((values(bce.unwrap())[0] as f64 - expected).abs() < 1e-5);
    assert!(is_zero_bce(t2(vec![0.0], [1, 1]), &[IGNORE], &d).is_none());
    // Focal γ=2 on p_t = softmax([0, ln 3])[1] = 0.75: −(0.25)²·ln 0.75; second row ignored.
    let logits = t2(vec![0.0, 3f32.ln(), 5.0, 1.0], [2, 2]);
    let focal = class_loss(
        logits.clone(),
        &[1, -100],
        ClassLoss::Focal { gamma: 2.0 },
        &d,
    );
    let expected = -(0.25f64.powi(2)) * 0.75f64.ln();
    assert!((values(focal.unwrap())[0] as f64 - expected).abs() < 1e-5);
    let ce = class_loss(logits, &[1, -100], ClassLoss::CrossEntropy, &d);
    assert!((values(ce.unwrap())[0] as f64 + 0.75f64.ln()).abs() < 1e-5);
}

#[test]
fn gradient_reversal_is_identity_forward_and_negated_backward() {
    let d = device().autodiff();
    let x = Tensor::<1>::from_data(TensorData::new(vec![1.5f32, -2.0], [2]), &d).require_grad();
    let y = gradient_reversal(x.clone(), 3.0);
    assert_eq!(values(y.clone()), vec![1.5, -2.0]);
    let grads = (y * 2.0).sum().backward();
    assert_eq!(values(x.grad(&grads).unwrap()), vec![-6.0, -6.0]);
}

#[derive(Module, Debug)]
struct Parts {
    linear: Linear,
    embedding: Embedding,
    norm: Norm,
}

#[test]
fn adamw_decays_linear_weights_only_and_clips_the_global_norm() {
    let _rng = common::device_rng();
    let d = device().autodiff();
    let parts = Parts {
        linear: LinearConfig::new(3, 2).init(&d),
        embedding: EmbeddingConfig::new(4, 3).init(&d),
        norm: Norm::new(NormKind::Layer, 3, 1e-5, &d),
    };
    let before_w = values(parts.linear.weight.val());
    let before_b = values(parts.linear.bias.as_ref().unwrap().val());
    let before_e = values(parts.embedding.weight.val());
    // A loss whose gradient is zero everywhere: only weight decay moves anything.
    let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32; 3], [1, 3]), &d);
    let zero = (parts.linear.forward(x.clone()).sum()
        + parts.embedding.weight.val().sum()
        + parts.norm.forward(x).sum())
        * 0.0;
    let grads = GradientsParams::from_grads(zero.backward(), &parts);
    let config = AdamWConfig {
        lr: 0.1,
        weight_decay: 0.5,
        warmup_steps: 0,
        ..AdamWConfig::default()
    };
    let mut optimizer = AdamW::new(config);
    let (parts, report) = optimizer.step(parts, grads);
    assert_eq!(report.grad_norm, 0.0);
    for (after, before) in values(parts.linear.weight.val()).iter().zip(&before_w) {
        assert!(
            (after - before * 0.95).abs() < 1e-6,
            "{after} vs {before}·0.95"
        );
    }
    assert_eq!(values(parts.linear.bias.unwrap().val()), before_b);
    assert_eq!(values(parts.embedding.weight.val()), before_e);
    assert!(
        optimizer.moments.contains_key("linear.weight"),
        "{:?}",
        optimizer.moments.keys()
    );

    // Warm-up is linear in the step, then constant.
    let config = AdamWConfig {
        lr: 1.0,
        warmup_steps: 4,
        ..AdamWConfig::default()
    };
    assert_eq!(
        (config.lr_at(0), config.lr_at(3), config.lr_at(10)),
        (0.25, 1.0, 1.0)
    );
}

fn pbmc() -> tessera_core::data::CountMatrix {
    let bytes = read(&shared_dir().join("data/pbmc3k/pbmc3k_counts_labeled.h5ad"));
    read_h5ad("pbmc3k.h5ad", bytes, &MatrixSource::X).unwrap()
}

#[test]
fn collated_batches_follow_the_reference_layout() {
    let _rng = common::device_rng();
    let matrix = pbmc();
    let rows: Vec<usize> = (0..4).collect();
    let genes = recipe::select_genes(&matrix, &(0..200).collect::<Vec<_>>(), 300);
    let vocab = recipe::vocab(&genes);
    let panel = GenePanel::new("pbmc3k.h5ad", &matrix.genes, &vocab).unwrap();
    let mut config = CellEncoderConfig::new(64);
    config.expose_zeros = ExposeZeros::All;
    config.padding = Padding::MaxLength;
    let encoder = CellEncoder::new(config, vocab.clone());
    let sequence = SequenceConfig {
        expressed_sample_ratio: 0.0,
        interleave_zero_ratio: Some(0.9),
        sorted_expressed: false,
    };
    let mlm = MlmConfig::default();
    let collator = Collator {
        encoder: &encoder,
        panel: &panel,
        vocab_size: vocab.len(),
        sequence: &sequence,
        mlm: Some(&mlm),
        wced: true,
    };
    let cells: Vec<(&str, Vec<f32>)> = rows
        .iter()
        .map(|&r| (matrix.cell_ids[r].as_str(), panel.dense(&matrix, r)))
        .collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let batch = collator.collate(&cells, None, vec![], &mut rng).unwrap();
    let (b, l, v) = (4, 64, vocab.len());
    assert_eq!((batch.input.batch, batch.input.len), (b, l));
    let wced = batch.wced.as_ref().unwrap();
    let mlm_targets = batch.mlm.as_ref().unwrap();
    for cell in 0..b {
        let ids = &batch.input.gene_ids[cell * l..(cell + 1) * l];
        assert_eq!(ids[0], 3, "[CLS] first");
        assert_eq!(
            ids[l - 1],
            1,
            "[SEP] last: the cell has more genes than fit"
        );
        // Nine expressed genes, then a gene that is zero here but expressed in the batch.
        let (_, counts) = &cells[cell];
        let expressed: Vec<bool> = ids[1..11]
            .iter()
            .map(|&id| {
                let g = panel.ids.iter().position(|&p| p == id).expect("panel gene");
                counts[g] > 0.0
            })
            .collect();
        let masked = |i: usize| mlm_targets.expressions[cell * l + i] != IGNORE;
        if !(1..11).any(masked) {
            assert_eq!(&expressed[..9], &[true; 9]);
            assert!(!expressed[9], "position 10 is a batch zero");
        }
        // WCED: the input and non-input sets partition the panel; values are log-normalised.
        let row = |set: &Vec<f32>| set[cell * v..(cell + 1) * v].to_vec();
        let (input, non_input, all) = (row(&wced.input), row(&wced.non_input), row(&wced.all));
        let supervised = all.iter().filter(|&&x| x != IGNORE).count();
        assert_eq!(supervised, panel.len());
        for g in 0..v {
            let sets = [input[g], non_input[g]]
                .iter()
                .filter(|&&x| x != IGNORE)
                .count();
            assert_eq!(sets, usize::from(all[g] != IGNORE), "gene {g}");
        }
        assert_eq!(input.iter().filter(|&&x| x != IGNORE).count(), l - 2);
    }
    // MLM: only gene positions, masked with −5, about 15 %.
    let selected: Vec<usize> = (0..b * l)
        .filter(|&i| mlm_targets.expressions[i] != IGNORE)
        .collect();
    assert!(selected.iter().all(|&i| i % l != 0 && i % l != l - 1));
    let share = selected.len() as f64 / (b * (l - 2)) as f64;
    assert!((0.07..0.25).contains(&share), "{share}");
    let masked = selected
        .iter()
        .filter(|&&i| batch.input.expressions[i] == -5.0)
        .count();
    assert!(masked as f64 >= 0.8 * selected.len() as f64);
}

/// A tiny WCED + cell-type model on 96 pbmc3k cells.
fn tiny_run(seed: u64, steps: usize) -> (Bundle, TrainConfig, tessera_core::train::TrainData) {
    let matrix = pbmc();
    let rows: Vec<usize> = (0..96).collect();
    let genes = recipe::select_genes(&matrix, &rows, 200);
    let types = matrix.annotation("pbmc3k", "cell_type").unwrap();
    let mut classes: Vec<String> = types.to_vec();
    classes.sort();
    classes.dedup();
    let spec = ModelSpec {
        hidden: 32,
        layers: 2,
        heads: 4,
        intermediate: 64,
        dropout: 0.1,
        wced: true,
        mlm: false,
        mask_genes: false,
        labels: vec![("cell_type".into(), classes.clone(), None)],
    };
    let mut encoder = CellEncoderConfig::new(48);
    encoder.expose_zeros = ExposeZeros::All;
    let bundle = recipe::new_bundle(&spec, &genes, encoder, None, seed, &device()).unwrap();
    let vocab = tessera_core::models::bmfm_rna::pipeline::read_vocab(bundle.files()).unwrap();
    let panel = GenePanel::new("pbmc3k", &matrix.genes, &vocab).unwrap();
    let data = recipe::train_data(
        "pbmc3k",
        &matrix,
        panel,
        &rows,
        &[("cell_type".into(), classes)],
    )
    .unwrap();
    let config = TrainConfig {
        seed,
        batch_size: 16,
        steps,
        optimizer: AdamWConfig {
            lr: 3e-3,
            warmup_steps: 5,
            ..AdamWConfig::default()
        },
        sequence: SequenceConfig::default(),
        mlm: None,
        wced: Some(WcedObjective::default()),
        labels: vec![LabelObjective {
            column: "cell_type".into(),
            loss: ClassLoss::Focal { gamma: 2.0 },
            weight: 1.0,
        }],
        // Degraded inputs are drawn from the seed too: reproducible and resumable as the rest.
        augment: Some(tessera_core::train::augment::Augment {
            variable_probability: 0.3,
            ..Default::default()
        }),
    };
    (bundle, config, data)
}

#[test]
fn training_learns_is_reproducible_and_resumes_exactly() {
    let _rng = common::device_rng();
    let (bundle, config, data) = tiny_run(11, 40);
    let mut trainer =
        Trainer::new(bundle.clone(), data.clone(), config.clone(), &device()).unwrap();
    let mut losses = Vec::new();
    while !trainer.done() {
        losses.push(trainer.step().unwrap().loss);
    }
    let first: f64 = losses[..5].iter().sum::<f64>() / 5.0;
    let last: f64 = losses[losses.len() - 5..].iter().sum::<f64>() / 5.0;
    assert!(last < 0.8 * first, "loss {first:.4} → {last:.4}");
    let weights = |b: &Bundle| b.file(WEIGHTS_FILE).unwrap().to_vec();
    let full = trainer.bundle().unwrap();

    // Same seed, same steps: the same weights, bit for bit.
    let mut short = Trainer::new(
        bundle.clone(),
        data.clone(),
        TrainConfig {
            steps: 40,
            ..config.clone()
        },
        &device(),
    )
    .unwrap();
    for _ in 0..20 {
        short.step().unwrap();
    }
    // Stop half-way, go through a checkpoint's bytes, and finish.
    let checkpoint = Bundle::from_tar(short.checkpoint().unwrap().to_tar().unwrap()).unwrap();
    let mut resumed = Trainer::resume(checkpoint, data, &device()).unwrap();
    assert_eq!(resumed.state.step, 20);
    while !resumed.done() {
        resumed.step().unwrap();
    }
    // The history went through JSON: compare at f32 precision, the loss's own.
    let history: Vec<f32> = resumed
        .state
        .history
        .iter()
        .map(|s| s.loss as f32)
        .collect();
    assert_eq!(
        history,
        losses.iter().map(|&l| l as f32).collect::<Vec<_>>()
    );
    let (a, b) = (weights(&resumed.bundle().unwrap()), weights(&full));
    let (sa, sb) = (
        safetensors::SafeTensors::deserialize(&a).unwrap(),
        safetensors::SafeTensors::deserialize(&b).unwrap(),
    );
    let (mut na, mut nb) = (sa.names(), sb.names());
    na.sort();
    nb.sort();
    assert_eq!(na, nb);
    for name in na {
        let (x, y) = (sa.tensor(name).unwrap(), sb.tensor(name).unwrap());
        assert!(x.data() == y.data(), "tensor {name} differs after resuming");
    }
}
