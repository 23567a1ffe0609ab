//! Quality metrics over class indices: accuracy and macro-F1 for predictions, ARI and NMI for
//! clusterings, silhouette for embeddings. Written here because they are a few lines each and
//! must build for wasm; conventions follow scikit-learn's defaults.

use std::collections::HashMap;

/// Fraction of positions where `predicted == truth` (0 for empty input).
pub fn accuracy(truth: &[usize], predicted: &[usize]) -> f64 {
    assert_eq!(truth.len(), predicted.len(), "one prediction per label");
    if truth.is_empty() {
        return 0.0;
    }
    truth.iter().zip(predicted).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
}

/// Unweighted mean of per-class F1 over the classes present in `truth` or `predicted`.
pub fn macro_f1(truth: &[usize], predicted: &[usize]) -> f64 {
    assert_eq!(truth.len(), predicted.len(), "one prediction per label");
    let mut classes: Vec<usize> = truth.iter().chain(predicted).copied().collect();
    classes.sort_unstable();
    classes.dedup();
    if classes.is_empty() {
        return 0.0;
    }
    let f1 = |class: usize| {
        let tp = truth
            .iter()
            .zip(predicted)
            .filter(|&(&t, &p)| t == class && p == class)
            .count() as f64;
        let fp = truth
            .iter()
            .zip(predicted)
            .filter(|&(&t, &p)| t != class && p == class)
            .count() as f64;
        let fn_ = truth
            .iter()
            .zip(predicted)
            .filter(|&(&t, &p)| t == class && p != class)
            .count() as f64;
        if tp == 0.0 {
            0.0
        } else {
            2.0 * tp / (2.0 * tp + fp + fn_)
        }
    };
    classes.iter().map(|&c| f1(c)).sum::<f64>() / classes.len() as f64
}

/// Contingency counts n_ij and the row/column sums.
struct Contingency {
    cells: HashMap<(usize, usize), f64>,
    rows: HashMap<usize, f64>,
    cols: HashMap<usize, f64>,
    n: f64,
}

fn contingency(a: &[usize], b: &[usize]) -> Contingency {
    assert_eq!(a.len(), b.len(), "two labelings of the same items");
    let mut table = Contingency {
        cells: HashMap::new(),
        rows: HashMap::new(),
        cols: HashMap::new(),
        n: a.len() as f64,
    };
    for (&x, &y) in a.iter().zip(b) {
        *table.cells.entry((x, y)).or_default() += 1.0;
        *table.rows.entry(x).or_default() += 1.0;
        *table.cols.entry(y).or_default() += 1.0;
    }
    table
}

/// Adjusted Rand index (1 = identical partitions, ≈0 = chance).
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    let t = contingency(a, b);
    let pairs = |x: f64| x * (x - 1.0) / 2.0;
    let index: f64 = t.cells.values().map(|&v| pairs(v)).sum();
    let rows: f64 = t.rows.values().map(|&v| pairs(v)).sum();
    let cols: f64 = t.cols.values().map(|&v| pairs(v)).sum();
    let expected = rows * cols / pairs(t.n);
    let max = (rows + cols) / 2.0;
    if max == expected {
        1.0
    } else {
        (index - expected) / (max - expected)
    }
}

/// Normalised mutual information, normalised by the arithmetic mean of the entropies.
pub fn normalized_mutual_info(a: &[usize], b: &[usize]) -> f64 {
    let t = contingency(a, b);
    let entropy = |counts: &HashMap<usize, f64>| -> f64 {
        counts.values().map(|&c| c / t.n).map(|p| -p * p.ln()).sum()
    };
    let (ha, hb) = (entropy(&t.rows), entropy(&t.cols));
    if ha == 0.0 && hb == 0.0 {
        return 1.0;
    }
    let mi: f64 = t
        .cells
        .iter()
        .map(|(&(i, j), &nij)| {
            let p = nij / t.n;
            p * (nij * t.n / (t.rows[&i] * t.cols[&j])).ln()
        })
        .sum();
    mi / ((ha + hb) / 2.0)
}

/// Mean silhouette (Euclidean) of `points` (row-major, `dim` columns) under `labels`; points in
/// singleton clusters score 0, as in scikit-learn.
pub fn silhouette(points: &[f32], dim: usize, labels: &[usize]) -> f64 {
    let n = labels.len();
    assert_eq!(points.len(), n * dim, "one row per label");
    let distance = |i: usize, j: usize| -> f64 {
        let (x, y) = (
            &points[i * dim..(i + 1) * dim],
            &points[j * dim..(j + 1) * dim],
        );
        x.iter()
            .zip(y)
            .map(|(a, b)| ((a - b) as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut sizes: HashMap<usize, usize> = HashMap::new();
    for &l in labels {
        *sizes.entry(l).or_default() += 1;
    }
    if sizes.len() < 2 {
        return 0.0;
    }
    let mut total = 0.0;
    for i in 0..n {
        let mut sums: HashMap<usize, f64> = HashMap::new();
        for j in (0..n).filter(|&j| j != i) {
            *sums.entry(labels[j]).or_default() += distance(i, j);
        }
        let own = sizes[&labels[i]];
        if own == 1 {
            continue;
        }
        let a = sums.get(&labels[i]).copied().unwrap_or(0.0) / (own - 1) as f64;
        let b = sums
            .iter()
            .filter(|(l, _)| **l != labels[i])
            .map(|(l, s)| s / sizes[l] as f64)
            .fold(f64::INFINITY, f64::min);
        total += (b - a) / a.max(b);
    }
    total / n as f64
}

/// Area under the ROC curve of `scores` for the `positive` labels (the Mann–Whitney statistic:
/// the chance a random positive outscores a random negative, ties counting half). `None` when
/// one class is absent.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks (1-based) over runs of equal scores.
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = rank;
        }
        i = j + 1;
    }
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    let rank_sum: f64 = ranks
        .iter()
        .zip(positive)
        .filter(|(_, p)| **p)
        .map(|(r, _)| r)
        .sum();
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Root mean squared error.
pub fn rmse(predicted: &[f64], truth: &[f64]) -> f64 {
    let n = predicted.len().max(1) as f64;
    (predicted
        .iter()
        .zip(truth)
        .map(|(p, t)| (p - t).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
}
