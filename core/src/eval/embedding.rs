//! How good cell embeddings are: zero-shot (k-means clusters vs labels: ARI, NMI; silhouette of
//! the labels) and a linear probe (logistic regression on train cells, scored on test cells).

use nalgebra::DMatrix;
use serde::Serialize;

use super::kmeans::kmeans;
use super::logistic::LogisticRegression;
use super::metrics::{accuracy, adjusted_rand_index, macro_f1, normalized_mutual_info, silhouette};

/// Scores of one embedding against labels on held-out cells.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EmbeddingReport {
    pub test_cells: usize,
    /// k-means (k = number of classes) on the test cells vs their labels.
    pub ari: f64,
    pub nmi: f64,
    /// Mean silhouette of the true labels (−1..1).
    pub silhouette: f64,
    /// Logistic regression on standardised train embeddings, scored on the test cells.
    pub probe_accuracy: f64,
    pub probe_macro_f1: f64,
}

/// `embeddings`: row-major `[cells, dim]`; `labels`: class per cell (`usize::MAX` = unknown);
/// `train`/`test`: row indices.
pub fn evaluate(
    embeddings: &[f32],
    dim: usize,
    labels: &[usize],
    classes: usize,
    train: &[usize],
    test: &[usize],
    seed: u64,
) -> EmbeddingReport {
    // Standardise with the training cells' statistics so the probe's step size fits any scale.
    let mut mean = vec![0f64; dim];
    let mut sq = vec![0f64; dim];
    for &i in train {
        for j in 0..dim {
            let v = embeddings[i * dim + j] as f64;
            mean[j] += v;
            sq[j] += v * v;
        }
    }
    let n = train.len().max(1) as f64;
    let scale: Vec<f64> = (0..dim)
        .map(|j| {
            mean[j] /= n;
            (sq[j] / n - mean[j] * mean[j]).max(1e-12).sqrt()
        })
        .collect();
    let rows = |cells: &[usize]| {
        DMatrix::from_fn(cells.len(), dim, |r, j| {
            ((embeddings[cells[r] * dim + j] as f64 - mean[j]) / scale[j]) as f32
        })
    };
    let known_train: Vec<usize> = train
        .iter()
        .copied()
        .filter(|&i| labels[i] < classes)
        .collect();
    let y: Vec<usize> = known_train.iter().map(|&i| labels[i]).collect();
    let probe = LogisticRegression::fit(&rows(&known_train), &y, classes, 1e-3, 300);
    let predicted = probe.predict(&rows(test));
    let truth: Vec<usize> = test.iter().map(|&i| labels[i]).collect();

    let test_points: Vec<f32> = test
        .iter()
        .flat_map(|&i| embeddings[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let clusters = kmeans(&test_points, dim, classes, 10, seed);
    EmbeddingReport {
        test_cells: test.len(),
        ari: adjusted_rand_index(&truth, &clusters),
        nmi: normalized_mutual_info(&truth, &clusters),
        silhouette: silhouette(&test_points, dim, &truth),
        probe_accuracy: accuracy(&truth, &predicted),
        probe_macro_f1: macro_f1(&truth, &predicted),
    }
}
