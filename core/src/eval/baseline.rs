//! The cell-type baseline: log-normalised counts → most variable genes → PCA → logistic
//! regression, fitted on the training cells and scored on the held-out ones.

use nalgebra::DMatrix;
use serde::Serialize;

use super::logistic::LogisticRegression;
use super::metrics::{accuracy, macro_f1};
use super::pca::Pca;
use crate::data::{CountMatrix, DataError};

#[derive(Clone, Debug, Serialize)]
pub struct BaselineConfig {
    pub label: String,
    /// Annotation holding `train`/`test` per cell.
    pub split: String,
    pub genes: usize,
    pub components: usize,
    pub seed: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct BaselineReport {
    pub config: BaselineConfig,
    pub train_cells: usize,
    pub test_cells: usize,
    pub classes: Vec<String>,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Always predicting the most frequent training class.
    pub majority_accuracy: f64,
}

/// `log1p(1e4·x/Σx)` of cell `i`'s nonzero genes, as (gene column, value).
fn log_normalised(counts: &CountMatrix, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
    let total: f32 = counts.row(i).map(|(_, v)| v).sum();
    counts
        .row(i)
        .map(move |(j, v)| (j, (1e4 * v / total.max(1.0)).ln_1p()))
}

pub fn run(
    file: &str,
    counts: &CountMatrix,
    config: BaselineConfig,
) -> Result<BaselineReport, DataError> {
    let labels = counts.annotation(file, &config.label)?;
    let split = counts.annotation(file, &config.split)?;
    let train: Vec<usize> = (0..counts.n_cells())
        .filter(|&i| split[i] == "train")
        .collect();
    let test: Vec<usize> = (0..counts.n_cells())
        .filter(|&i| split[i] == "test")
        .collect();
    if train.is_empty() || test.is_empty() {
        return Err(DataError::Field {
            file: file.into(),
            field: config.split.clone(),
            message: format!(
                "needs both `train` and `test` cells ({} and {} found)",
                train.len(),
                test.len()
            ),
        });
    }
    let mut classes: Vec<String> = train.iter().map(|&i| labels[i].clone()).collect();
    classes.sort();
    classes.dedup();
    let class_of = |label: &str| classes.iter().position(|c| c == label);

    // Most variable genes on the training cells (zeros contribute nothing to the sums).
    let (mut sum, mut sum_sq) = (vec![0f64; counts.n_genes()], vec![0f64; counts.n_genes()]);
    for &i in &train {
        for (j, v) in log_normalised(counts, i) {
            sum[j] += v as f64;
            sum_sq[j] += (v as f64).powi(2);
        }
    }
    let n = train.len() as f64;
    let mut variance: Vec<(f64, usize)> = (0..counts.n_genes())
        .map(|j| (sum_sq[j] / n - (sum[j] / n).powi(2), j))
        .collect();
    variance.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut column_of = vec![usize::MAX; counts.n_genes()];
    let kept = config.genes.min(counts.n_genes());
    for (c, &(_, j)) in variance.iter().take(kept).enumerate() {
        column_of[j] = c;
    }
    let matrix = |cells: &[usize]| {
        let mut m = DMatrix::<f32>::zeros(cells.len(), kept);
        for (r, &i) in cells.iter().enumerate() {
            for (j, v) in log_normalised(counts, i).filter(|&(j, _)| column_of[j] != usize::MAX) {
                m[(r, column_of[j])] = v;
            }
        }
        m
    };

    let pca = Pca::fit_exact(&matrix(&train), config.components);
    let train_x = pca.transform(&matrix(&train));
    let test_x = pca.transform(&matrix(&test));
    let train_y: Vec<usize> = train
        .iter()
        .map(|&i| class_of(&labels[i]).expect("train class"))
        .collect();
    // scikit-learn's default strength (C = 1): l2 = 1 / rows on the mean loss.
    let model = LogisticRegression::fit_converged(
        &train_x,
        &train_y,
        classes.len(),
        1.0 / train.len() as f32,
    );
    let predicted = model.predict(&test_x);
    // A test label never seen in training can only be wrong.
    let truth: Vec<usize> = test
        .iter()
        .map(|&i| class_of(&labels[i]).unwrap_or(usize::MAX))
        .collect();
    let mut frequency = vec![0usize; classes.len()];
    for &y in &train_y {
        frequency[y] += 1;
    }
    let majority = (0..classes.len())
        .max_by_key(|&c| frequency[c])
        .unwrap_or(0);
    Ok(BaselineReport {
        train_cells: train.len(),
        test_cells: test.len(),
        accuracy: accuracy(&truth, &predicted),
        macro_f1: macro_f1(&truth, &predicted),
        majority_accuracy: accuracy(&truth, &vec![majority; truth.len()]),
        classes,
        config,
    })
}
