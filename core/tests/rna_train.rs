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
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use tessera_core::bundle::{Bundle, WEIGHTS_FILE};
use tessera_core::data::h5ad::{MatrixSource, read_h5ad};
use tessera_core::models::bmfm_rna::panel::GenePanel;
use tessera_core::nn::{Norm, NormKind, gradient_reversal};
use tessera_core::tokenize::rna::{CellEncoder, CellEncoderConfig, ExposeZeros, Padding};
use tessera_core::train::collate::{Collator, MlmConfig, SequenceConfig};
use tessera_core::train::corpus::{CellStream, ShardReader, StreamConfig};
use tessera_core::train::objectives::{
    ClassLoss, IGNORE, class_loss, is_zero_bce, mse_ignore_zero,
};
use tessera_core::train::optimizer::{AdamW, AdamWConfig};
use tessera_core::train::parallel::Threads;
use tessera_core::train::recipe::{self, ModelSpec};
use tessera_core::train::rna::{Cells, Corpus, LabelObjective, WcedObjective};
use tessera_core::train::{Fit, TrainConfig, TrainData, TrainError, Trainer};

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
    assert!((mse.value().unwrap() - 2.5).abs() < 1e-5);
    // BCE against 1[y == 0] over y ≠ −100.
    let bce = is_zero_bce(
        t2(vec![0.0, 2.0, -1.0, 9.0], [2, 2]),
        &[0.0, 1.0, 0.0, IGNORE],
        &d,
    );
    let expected = ((2f64).ln() + (1.0 + 2f64.exp()).ln() + (1.0 + 1f64.exp()).ln()) / 3.0;
    assert!((bce.value().unwrap() - expected).abs() < 1e-5);
    assert!(
        is_zero_bce(t2(vec![0.0], [1, 1]), &[IGNORE], &d)
            .value()
            .is_none()
    );
    // Focal γ=2 on p_t = softmax([0, ln 3])[1] = 0.75: −(0.25)²·ln 0.75; second row ignored.
    let logits = t2(vec![0.0, 3f32.ln(), 5.0, 1.0], [2, 2]);
    let focal = class_loss(
        logits.clone(),
        &[1, -100],
        ClassLoss::Focal { gamma: 2.0 },
        &d,
    );
    let expected = -(0.25f64.powi(2)) * 0.75f64.ln();
    assert!((focal.value().unwrap() - expected).abs() < 1e-5);
    let ce = class_loss(logits, &[1, -100], ClassLoss::CrossEntropy, &d);
    assert!((ce.value().unwrap() + 0.75f64.ln()).abs() < 1e-5);
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
        micro_batch: None,
        stream: None,
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

/// A run on two thread ranks, each with its own `cells`: each rank's weights and losses.
#[allow(clippy::type_complexity)]
fn on_two_threads(
    bundle: &Bundle,
    config: &TrainConfig,
    cells: impl Fn() -> Cells,
) -> Vec<(Vec<(String, Vec<f32>)>, Vec<f64>)> {
    let ranks: Vec<_> = Threads::group(2, true)
        .into_iter()
        .map(|collective| {
            let (bundle, config, cells) = (bundle.clone(), config.clone(), cells());
            std::thread::spawn(move || {
                let mut trainer = Trainer::new(bundle, cells, config, &device())
                    .unwrap()
                    .with_collective(Box::new(collective))
                    .unwrap();
                run_to_end(&mut trainer)
            })
        })
        .collect();
    ranks.into_iter().map(|r| r.join().unwrap()).collect()
}

/// Steps `trainer` to its end: its weights and every step's loss.
fn run_to_end(trainer: &mut Trainer) -> (Vec<(String, Vec<f32>)>, Vec<f64>) {
    let mut losses = Vec::new();
    while !trainer.done() {
        losses.push(trainer.step().unwrap().loss);
    }
    (weight_values(&trainer.bundle().unwrap()), losses)
}

/// Every weight of a bundle, by tensor name.
fn weight_values(bundle: &Bundle) -> Vec<(String, Vec<f32>)> {
    let bytes = bundle.file(WEIGHTS_FILE).unwrap();
    let mut names: Vec<String> = safetensors::SafeTensors::deserialize(bytes)
        .unwrap()
        .names()
        .into_iter()
        .map(str::to_string)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let (values, _) = common::tensor_f32(bytes, &name);
            (name, values)
        })
        .collect()
}

#[test]
fn two_ranks_train_the_weights_of_one_device_on_the_same_micro_batches() {
    let _rng = common::device_rng();
    let (bundle, config, data) = tiny_run(11, 8);
    // 16 cells a step in micro-batches of 4: one device runs all four, two ranks two each.
    let config = TrainConfig {
        micro_batch: Some(4),
        ..config
    };
    let mut alone = Trainer::new(bundle.clone(), data.clone(), config.clone(), &device()).unwrap();
    let (expected, alone_losses) = run_to_end(&mut alone);
    let ranks = on_two_threads(&bundle, &config, || data.clone().into());
    assert_eq!(
        ranks[0], ranks[1],
        "both ranks hold the same weights and log"
    );
    for (a, b) in alone_losses.iter().zip(&ranks[0].1) {
        assert!((a - b).abs() < 1e-5 * a.abs().max(1.0), "loss {a} vs {b}");
    }
    let mut worst = 0f32;
    for ((name, a), (other, b)) in expected.iter().zip(&ranks[0].0) {
        assert_eq!(name, other);
        for (x, y) in a.iter().zip(b) {
            worst = worst.max((x - y).abs() / x.abs().max(1e-2));
        }
    }
    assert!(
        worst < 1e-3,
        "weights differ by {worst} (relative) from one device's"
    );
    // Whole-batch collation (no micro-batches) is a different run: the split is what is shared.
    let mut whole = Trainer::new(
        bundle.clone(),
        data.clone(),
        TrainConfig {
            micro_batch: None,
            ..config.clone()
        },
        &device(),
    )
    .unwrap();
    whole.step().unwrap();
    assert_ne!(whole.state.history[0].loss, alone_losses[0]);

    // A rank that stops releases the others with an error instead of a hang.
    let mut group = Threads::group(2, true);
    drop(group.pop());
    let lonely = Trainer::new(bundle, data, config, &device())
        .unwrap()
        .with_collective(Box::new(group.pop().unwrap()))
        .unwrap()
        .step();
    let error = lonely.expect_err("a lone rank cannot step");
    let cause = std::error::Error::source(&error).map(|s| s.to_string());
    assert_eq!(cause.as_deref(), Some("rank 1 stopped"), "{error}");
    // A split that leaves a rank without a micro-batch is refused by field.
    let (bundle, config, data) = tiny_run(11, 8);
    let refused = Trainer::new(bundle, data, config, &device())
        .unwrap()
        .with_collective(Box::new(Threads::group(2, true).remove(0)));
    assert!(refused.is_err_and(|e| e.to_string().contains("every rank needs one")));
}

/// A corpus held in memory: `data` cut into shards of the given sizes.
struct Slices {
    data: TrainData,
    starts: Vec<usize>,
    sizes: Vec<usize>,
    reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Slices {
    fn new(data: &TrainData, sizes: &[usize]) -> Self {
        let starts = sizes
            .iter()
            .scan(0, |at, &n| {
                let start = *at;
                *at += n;
                Some(start)
            })
            .collect();
        Self {
            data: data.clone(),
            starts,
            sizes: sizes.to_vec(),
            reads: Default::default(),
        }
    }
}

impl ShardReader for Slices {
    fn read(&self, shard: usize) -> Result<TrainData, TrainError> {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rows = self.starts[shard]..self.starts[shard] + self.sizes[shard];
        Ok(TrainData {
            panel: self.data.panel.clone(),
            cell_ids: self.data.cell_ids[rows.clone()].to_vec(),
            cells: self.data.cells[rows.clone()].to_vec(),
            labels: self
                .data
                .labels
                .iter()
                .map(|column| column[rows.clone()].to_vec())
                .collect(),
        })
    }
    fn name(&self, shard: usize) -> String {
        format!("shard-{shard}")
    }
}

/// 96 cells with distinct ids, for the stream properties (made once: making a model draws
/// from the device generator, which the training tests hold).
fn stream_cells() -> TrainData {
    static CELLS: std::sync::OnceLock<TrainData> = std::sync::OnceLock::new();
    CELLS
        .get_or_init(|| {
            let _rng = common::device_rng();
            tiny_run(1, 1).2
        })
        .clone()
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    /// A stream rebuilt at any draw hands out what the uninterrupted stream hands out next, and
    /// within an epoch no cell comes twice.
    #[test]
    fn a_stream_resumes_where_it_was_and_deals_each_cell_once_an_epoch(
        sizes in proptest::collection::vec(1usize..20, 1..6),
        streams in 1usize..3,
        buffer in 1usize..16,
        skip in 0u64..150,
        seed in 0u64..1000,
    ) {
        let data = stream_cells();
        let total: usize = sizes.iter().sum();
        prop_assume!(total <= data.cells.len());
        let reader = Slices::new(&data, &sizes);
        let config = StreamConfig { streams, shuffle_buffer: buffer };
        let open = |draws| CellStream::new(0, config, &sizes, seed, draws, &reader);
        let Ok(mut whole) = open(0) else {
            // A buffer larger than the stream's cells is refused by name.
            let owned: usize = sizes.iter().step_by(streams).sum();
            prop_assert!(buffer > owned);
            return Ok(());
        };
        let per_epoch: usize = sizes.iter().step_by(streams).sum();
        let first = whole.take(per_epoch - buffer, &reader).unwrap();
        let mut ids: Vec<&str> = first.iter().map(|c| c.id.as_str()).collect();
        ids.sort();
        let n = ids.len();
        ids.dedup();
        prop_assert_eq!(ids.len(), n, "a cell twice within an epoch");

        let mut whole = open(0).unwrap();
        whole.take(skip as usize, &reader).unwrap();
        let mut resumed = open(skip).unwrap();
        prop_assert_eq!(
            whole.take(40, &reader).unwrap(),
            resumed.take(40, &reader).unwrap()
        );
    }
}

#[test]
fn a_streamed_corpus_trains_on_any_ranks_and_resumes_mid_corpus() {
    let _rng = common::device_rng();
    let (bundle, config, data) = tiny_run(5, 8);
    let config = TrainConfig {
        micro_batch: Some(4),
        augment: None,
        stream: Some(StreamConfig {
            streams: 2,
            shuffle_buffer: 8,
        }),
        ..config
    };
    let sizes = [20, 12, 30, 18, 16];
    let corpus = || {
        let reader = Slices::new(&data, &sizes);
        let reads = reader.reads.clone();
        let corpus = Corpus {
            panel: data.panel.clone(),
            label_heads: data.labels.len(),
            sizes: sizes.to_vec(),
            reader: Box::new(reader),
        };
        (corpus, reads)
    };

    // 8 steps × 16 cells = 128 cells: more than one pass over the 96, two streams of 8 cells'
    // buffers each.
    let (cells, reads) = corpus();
    let mut alone = Trainer::new(bundle.clone(), cells, config.clone(), &device()).unwrap();
    let (weights, losses) = run_to_end(&mut alone);
    assert!(
        reads.load(std::sync::atomic::Ordering::Relaxed) > sizes.len(),
        "the streams went round their shards again"
    );

    // Stopped after 3 steps, resumed from the checkpoint's bytes: the same run.
    let (cells, _) = corpus();
    let mut short = Trainer::new(bundle.clone(), cells, config.clone(), &device()).unwrap();
    for _ in 0..3 {
        short.step().unwrap();
    }
    let checkpoint = Bundle::from_tar(short.checkpoint().unwrap().to_tar().unwrap()).unwrap();
    let (cells, _) = corpus();
    let mut resumed = Trainer::resume(checkpoint, cells, &device()).unwrap();
    let (resumed_weights, resumed_losses) = run_to_end(&mut resumed);
    assert_eq!(
        resumed_weights, weights,
        "a resumed run ends where the whole run does"
    );
    assert_eq!(resumed_losses[..], losses[3..]);

    // Two ranks, one stream each: the single process's weights, up to float rounding.
    let ranks = on_two_threads(&bundle, &config, || corpus().0.into());
    for (a, b) in losses.iter().zip(&ranks[0].1) {
        assert!((a - b).abs() < 1e-5 * a.abs().max(1.0), "loss {a} vs {b}");
    }
    for ((name, a), (_, b)) in weights.iter().zip(&ranks[0].0) {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-3 * x.abs().max(1e-2),
                "{name}: {x} vs {y}"
            );
        }
    }

    // Streams that do not split among the ranks, or a step's micro-batches, are refused.
    let (cells, _) = corpus();
    let odd = TrainConfig {
        stream: Some(StreamConfig {
            streams: 3,
            shuffle_buffer: 8,
        }),
        ..config.clone()
    };
    let error = Trainer::new(bundle.clone(), cells, odd, &device())
        .err()
        .expect("4 micro-batches do not split among 3 streams");
    assert!(error.to_string().contains("streams 3"), "{error}");
}
