//! Multinomial logistic regression (softmax, L2), fitted by full-batch gradient descent on
//! standardised features — the simple baseline every learned cell embedding is compared with.

use nalgebra::{DMatrix, DVector};

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
