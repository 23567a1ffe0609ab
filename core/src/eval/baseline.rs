//! The cell-type baseline: log-normalised counts → most variable genes → PCA → logistic
//! regression, fitted on the training cells and scored on the held-out ones — or on another
//! data set's cells (another study, a smaller gene panel, shallower sequencing), matched by gene
//! name, to compare with a model on the same shifted cells.

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
    /// Where the scored cells came from: the data's `test` split, or another file.
    pub test_data: String,
    /// Whether the genes were chosen among those the scored cells have.
    pub refit_on_test_genes: bool,
    pub classes: Vec<String>,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Always predicting the most frequent training class.
    pub majority_accuracy: f64,
    /// Every scored cell's call, so that errors can be broken down (by type, by lineage).
    pub cells: Vec<BaselineCall>,
}

/// One scored cell: its id, its label and the baseline's call.
#[derive(Clone, Debug, Serialize)]
pub struct BaselineCall {
    pub cell_id: String,
    pub label: String,
    pub predicted: String,
}

/// Cells to score instead of the `test` split: every cell of another data set (labels in the
/// same annotation column), its genes matched to the training data's by name.
pub struct OtherCells<'a> {
    pub file: &'a str,
    pub cells: &'a CountMatrix,
    /// Choose the variable genes among those these cells have (the baseline refitted for their
    /// panel) instead of reading a missing gene as 0 (the baseline as trained, like a model).
    pub refit: bool,
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
    other: Option<OtherCells>,
) -> Result<BaselineReport, DataError> {
    let labels = counts.annotation(file, &config.label)?;
    let split = counts.annotation(file, &config.split)?;
    let train: Vec<usize> = (0..counts.n_cells())
        .filter(|&i| split[i] == "train")
        .collect();
    let test: Vec<usize> = (0..counts.n_cells())
        .filter(|&i| split[i] == "test")
        .collect();
    if train.is_empty() || (test.is_empty() && other.is_none()) {
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

    // The scored cells and, for each of their gene columns, the training gene it is.
    let (scored, scored_rows, scored_labels, column_in_train): (
        &CountMatrix,
        Vec<usize>,
        &[String],
        Vec<Option<usize>>,
    ) = match &other {
        None => (
            counts,
            test,
            labels,
            (0..counts.n_genes()).map(Some).collect(),
        ),
        Some(other) => {
            let index: std::collections::HashMap<&str, usize> = counts
                .genes
                .iter()
                .enumerate()
                .map(|(j, g)| (g.as_str(), j))
                .collect();
            let mapped: Vec<Option<usize>> = other
                .cells
                .genes
                .iter()
                .map(|g| index.get(g.as_str()).copied())
                .collect();
            if mapped.iter().all(Option::is_none) {
                return Err(DataError::Field {
                    file: other.file.into(),
                    field: "var_names".into(),
                    message: format!("none of its genes is among {file}'s"),
                });
            }
            let rows = (0..other.cells.n_cells()).collect();
            let labels = other.cells.annotation(other.file, &config.label)?;
            (other.cells, rows, labels, mapped)
        }
    };
    let refit = other.as_ref().is_some_and(|o| o.refit);
    let mut allowed = vec![!refit; counts.n_genes()];
    for j in column_in_train.iter().flatten() {
        allowed[*j] = true;
    }

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
        .filter(|&j| allowed[j])
        .map(|j| (sum_sq[j] / n - (sum[j] / n).powi(2), j))
        .collect();
    variance.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut column_of = vec![usize::MAX; counts.n_genes()];
    let kept = config.genes.min(variance.len());
    for (c, &(_, j)) in variance.iter().take(kept).enumerate() {
        column_of[j] = c;
    }
    let train_x = {
        let mut m = DMatrix::<f32>::zeros(train.len(), kept);
        for (r, &i) in train.iter().enumerate() {
            for (j, v) in log_normalised(counts, i).filter(|&(j, _)| column_of[j] != usize::MAX) {
                m[(r, column_of[j])] = v;
            }
        }
        m
    };
    // A scored cell is normalised over the genes it has; a training gene it lacks reads 0.
    let scored_x = {
        let mut m = DMatrix::<f32>::zeros(scored_rows.len(), kept);
        for (r, &i) in scored_rows.iter().enumerate() {
            for (j, v) in log_normalised(scored, i) {
                if let Some(c) = column_in_train[j]
                    .map(|t| column_of[t])
                    .filter(|&c| c != usize::MAX)
                {
                    m[(r, c)] = v;
                }
            }
        }
        m
    };

    let pca = Pca::fit_exact(&train_x, config.components);
    let train_z = pca.transform(&train_x);
    let scored_z = pca.transform(&scored_x);
    let train_y: Vec<usize> = train
        .iter()
        .map(|&i| class_of(&labels[i]).expect("train class"))
        .collect();
    // scikit-learn's default strength (C = 1): l2 = 1 / rows on the mean loss.
    let model = LogisticRegression::fit_converged(
        &train_z,
        &train_y,
        classes.len(),
        1.0 / train.len() as f32,
    );
    let predicted = model.predict(&scored_z);
    // A label never seen in training can only be wrong.
    let truth: Vec<usize> = scored_rows
        .iter()
        .map(|&i| class_of(&scored_labels[i]).unwrap_or(usize::MAX))
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
        test_cells: scored_rows.len(),
        test_data: other.as_ref().map_or_else(
            || format!("{file} ({} = test)", config.split),
            |o| o.file.to_string(),
        ),
        refit_on_test_genes: refit,
        accuracy: accuracy(&truth, &predicted),
        macro_f1: macro_f1(&truth, &predicted),
        majority_accuracy: accuracy(&truth, &vec![majority; truth.len()]),
        cells: scored_rows
            .iter()
            .zip(&predicted)
            .map(|(&i, &p)| BaselineCall {
                cell_id: scored.cell_ids[i].clone(),
                label: scored_labels[i].clone(),
                predicted: classes[p].clone(),
            })
            .collect(),
        classes,
        config,
    })
}
