//! The simple baseline beside every MAMMAL figure on molecules: hashed SMILES character n-grams
//! (1–3, 2,048 buckets, log1p counts) with logistic regression for classes and ridge
//! regression for values. Written here because fingerprints need a cheminformatics toolkit no
//! crate provides for wasm and native alike; n-grams need nothing but the string.

use nalgebra::{DMatrix, DVector};

use super::logistic::LogisticRegression;

/// Feature buckets.
pub const BUCKETS: usize = 2048;

/// `smiles` → rows of log1p(n-gram counts) hashed into [`BUCKETS`] columns.
pub fn features(smiles: &[&str]) -> DMatrix<f32> {
    let mut x = DMatrix::<f32>::zeros(smiles.len(), BUCKETS);
    for (row, s) in smiles.iter().enumerate() {
        let chars: Vec<char> = s.chars().collect();
        for n in 1..=3 {
            for gram in chars.windows(n) {
                x[(row, bucket(gram))] += 1.0;
            }
        }
    }
    x.apply(|v| *v = v.ln_1p());
    x
}

/// FNV-1a of the n-gram's characters (fixed, so features are the same everywhere).
fn bucket(gram: &[char]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for c in gram {
        for byte in (*c as u32).to_le_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    (hash % BUCKETS as u64) as usize
}

/// Class probabilities of the test rows from a logistic regression on the training rows.
pub fn classify(train: &[&str], labels: &[usize], classes: usize, test: &[&str]) -> DMatrix<f32> {
    let model = LogisticRegression::fit(&features(train), labels, classes, 1e-3, 300);
    model.predict_proba(&features(test))
}

/// Test-row predictions of a ridge regression (λ = 1 on standardised features) fitted to the
/// training rows.
pub fn regress(train: &[&str], values: &[f64], test: &[&str]) -> Vec<f64> {
    let x = features(train).map(f64::from);
    let (n, f) = x.shape();
    let mean = DVector::from_fn(f, |j, _| x.column(j).mean());
    let scale = DVector::from_fn(f, |j, _| {
        let sd = x.column(j).variance().sqrt();
        if sd > 1e-12 { sd } else { 1.0 }
    });
    let standardise =
        |m: DMatrix<f64>| DMatrix::from_fn(m.nrows(), f, |i, j| (m[(i, j)] - mean[j]) / scale[j]);
    let xs = standardise(x);
    let y_mean = values.iter().sum::<f64>() / n.max(1) as f64;
    let y = DVector::from_iterator(n, values.iter().map(|v| v - y_mean));
    let gram = xs.transpose() * &xs + DMatrix::<f64>::identity(f, f);
    let rhs = xs.transpose() * y;
    let weights = gram
        .cholesky()
        .map(|c| c.solve(&rhs))
        .unwrap_or_else(|| DVector::zeros(f));
    let xt = standardise(features(test).map(f64::from));
    (xt * weights).iter().map(|v| v + y_mean).collect()
}
