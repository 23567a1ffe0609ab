//! Multinomial logistic regression (softmax, L2) on standardised features: fitted by a fixed
//! number of gradient-descent steps (the linear probe on embeddings) or, for the simple baseline
//! every learned model is compared with, by L-BFGS to convergence.

use nalgebra::{DMatrix, DVector};

use super::lbfgs::{Stop, minimise};

#[derive(Clone, Debug)]
pub struct LogisticRegression {
    mean: DVector<f32>,
    scale: DVector<f32>,
    /// `features × classes`.
    weights: DMatrix<f32>,
    bias: DVector<f32>,
}

/// Row-wise softmax of `logits` in place.
fn softmax_rows(logits: &mut DMatrix<f32>) {
    for mut row in logits.row_iter_mut() {
        let max = row.max();
        row.apply(|v| *v = (*v - max).exp());
        let sum = row.sum();
        row /= sum;
    }
}

impl LogisticRegression {
    /// Fits `classes` classes to rows of `x` with labels `y` (< classes).
    pub fn fit(x: &DMatrix<f32>, y: &[usize], classes: usize, l2: f32, steps: usize) -> Self {
        let (n, f) = x.shape();
        let mean = DVector::from_fn(f, |j, _| x.column(j).mean());
        let scale = DVector::from_fn(f, |j, _| {
            let sd = x.column(j).variance().sqrt();
            if sd > 0.0 { sd } else { 1.0 }
        });
        let z = Self::standardise(x, &mean, &scale);
        let mut onehot = DMatrix::<f32>::zeros(n, classes);
        for (i, &label) in y.iter().enumerate() {
            onehot[(i, label)] = 1.0;
        }
        let mut weights = DMatrix::<f32>::zeros(f, classes);
        let mut bias = DVector::<f32>::zeros(classes);
        let rate = 0.5;
        for _ in 0..steps {
            let mut p = &z * &weights;
            for mut row in p.row_iter_mut() {
                row += bias.transpose();
            }
            softmax_rows(&mut p);
            let error = (p - &onehot) / n as f32;
            let gradient = z.transpose() * &error + &weights * l2;
            weights -= gradient * rate;
            bias -= error.row_sum().transpose() * rate;
        }
        Self {
            mean,
            scale,
            weights,
            bias,
        }
    }

    fn standardise(x: &DMatrix<f32>, mean: &DVector<f32>, scale: &DVector<f32>) -> DMatrix<f32> {
        DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| {
            (x[(i, j)] - mean[j]) / scale[j]
        })
    }

    /// Class probabilities, `rows × classes`.
    pub fn predict_proba(&self, x: &DMatrix<f32>) -> DMatrix<f32> {
        let mut p = Self::standardise(x, &self.mean, &self.scale) * &self.weights;
        for mut row in p.row_iter_mut() {
            row += self.bias.transpose();
        }
        softmax_rows(&mut p);
        p
    }

    /// The model as one linear layer on raw features, standardisation folded in:
    /// `weight[j·classes + c] = w_jc / s_j`, `bias[c] = b_c − Σ_j w_jc·μ_j / s_j`
    /// (`features × classes`, row-major, as burn's `Linear` stores it).
    pub fn as_linear(&self) -> (Vec<f32>, Vec<f32>) {
        let (features, classes) = self.weights.shape();
        let mut weight = Vec::with_capacity(features * classes);
        let mut bias: Vec<f32> = self.bias.iter().copied().collect();
        for j in 0..features {
            for (c, b) in bias.iter_mut().enumerate() {
                let w = self.weights[(j, c)] / self.scale[j];
                weight.push(w);
                *b -= w * self.mean[j];
            }
        }
        (weight, bias)
    }

    pub fn predict(&self, x: &DMatrix<f32>) -> Vec<usize> {
        self.predict_proba(x)
            .row_iter()
            .map(|row| row.transpose().argmax().0)
            .collect()
    }
}

/// The regularised mean cross-entropy of a softmax model and its gradient, over standardised
/// rows `z` (`n × features`) with one-hot labels: what L-BFGS minimises. Parameters are the
/// `features × classes` weights (row-major) then the `classes` biases; the biases are not
/// penalised (as scikit-learn's).
fn cross_entropy(z: &DMatrix<f64>, onehot: &DMatrix<f64>, l2: f64, p: &[f64]) -> (f64, Vec<f64>) {
    let (n, f, c) = (z.nrows(), z.ncols(), onehot.ncols());
    let w = DMatrix::from_row_slice(f, c, &p[..f * c]);
    let b = DVector::from_column_slice(&p[f * c..]);
    let mut probabilities = z * &w;
    let mut loss = 0.0;
    for (i, mut row) in probabilities.row_iter_mut().enumerate() {
        row += b.transpose();
        let max = row.max();
        row.apply(|v| *v = (*v - max).exp());
        let sum = row.sum();
        row /= sum;
        for k in 0..c {
            if onehot[(i, k)] > 0.0 {
                loss -= row[k].max(1e-300).ln();
            }
        }
    }
    let cost = loss / n as f64 + 0.5 * l2 * w.norm_squared();
    let error = (probabilities - onehot) / n as f64;
    let dw = z.transpose() * &error + w * l2;
    let mut gradient: Vec<f64> = Vec::with_capacity(p.len());
    for row in dw.row_iter() {
        gradient.extend(row.iter());
    }
    gradient.extend(error.row_sum().iter());
    (cost, gradient)
}

impl LogisticRegression {
    /// Fits as scikit-learn's `LogisticRegression` does (L-BFGS to convergence on the mean
    /// cross-entropy plus `l2/2·|W|²`; scikit-learn's `C` is `1 / (l2 · rows)`), on standardised
    /// features. Unlike [`fit`](Self::fit)'s fixed steps of gradient descent, the answer does not
    /// depend on a step count: the simple baseline at its best.
    pub fn fit_converged(x: &DMatrix<f32>, y: &[usize], classes: usize, l2: f32) -> Self {
        let (n, f) = x.shape();
        let mean = DVector::from_fn(f, |j, _| x.column(j).mean());
        let scale = DVector::from_fn(f, |j, _| {
            let sd = x.column(j).variance().sqrt();
            if sd > 0.0 { sd } else { 1.0 }
        });
        let z = Self::standardise(x, &mean, &scale).map(f64::from);
        let mut onehot = DMatrix::<f64>::zeros(n, classes);
        for (i, &label) in y.iter().enumerate() {
            onehot[(i, label)] = 1.0;
        }
        let found = minimise(
            |p| cross_entropy(&z, &onehot, f64::from(l2), p),
            vec![0.0; f * classes + classes],
            Stop::default(),
        );
        let best = found.x;
        Self {
            mean,
            scale,
            weights: DMatrix::from_row_slice(f, classes, &best[..f * classes]).map(|v| v as f32),
            bias: DVector::from_iterator(classes, best[f * classes..].iter().map(|&v| v as f32)),
        }
    }
}
