//! Principal components by seeded subspace iteration (nalgebra for the dense algebra): the top
//! `k` directions of a centred `n × d` matrix without forming or decomposing the `d × d` covariance.

use nalgebra::{DMatrix, SymmetricEigen};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// A fitted projection: `(x − mean) · components`.
#[derive(Clone, Debug)]
pub struct Pca {
    pub mean: Vec<f32>,
    /// `d × k`, columns ordered by decreasing explained variance.
    pub components: DMatrix<f32>,
    /// Variance along each component.
    pub variances: Vec<f32>,
}

impl Pca {
    /// Fits `k` components to the rows of `data` (`n × d`); `seed` fixes the start subspace.
    pub fn fit(data: &DMatrix<f32>, k: usize, seed: u64) -> Self {
        let (n, d) = data.shape();
        let k = k.min(n).min(d).max(1);
        let mean: Vec<f32> = (0..d).map(|j| data.column(j).mean()).collect();
        let mut centred = data.clone();
        for (j, m) in mean.iter().enumerate() {
            centred.column_mut(j).add_scalar_mut(-m);
        }
        // Oversample and iterate: 8 power steps separate the leading spectrum well.
        let width = (k + 10).min(d).min(n);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let start = DMatrix::from_fn(d, width, |_, _| {
            let u: f32 = rand::RngExt::random(&mut rng);
            u - 0.5
        });
        let mut q = start.qr().q();
        for _ in 0..8 {
            let z = centred.transpose() * (&centred * &q);
            q = z.qr().q();
        }
        let projected = &centred * &q;
        let gram = projected.transpose() * &projected / (n.max(2) - 1) as f32;
        let eigen = SymmetricEigen::new(gram);
        let mut order: Vec<usize> = (0..width).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let rotation = DMatrix::from_fn(width, k, |i, c| eigen.eigenvectors[(i, order[c])]);
        Self {
            mean,
            components: q * rotation,
            variances: order[..k].iter().map(|&i| eigen.eigenvalues[i]).collect(),
        }
    }

    /// Fits the exact top `k` components: an eigendecomposition of the `d × d` covariance (or,
    /// with fewer rows than columns, of the `n × n` Gram matrix), in f64 — scikit-learn's
    /// `svd_solver="full"`. Costs O(min(n, d)³): use it where that is affordable (a baseline's
    /// 2,000 genes), [`fit`](Self::fit) elsewhere. Each component's sign makes its largest
    /// loading positive, so the result does not depend on the solver's.
    pub fn fit_exact(data: &DMatrix<f32>, k: usize) -> Self {
        let (n, d) = data.shape();
        let k = k.min(n).min(d).max(1);
        let mean: Vec<f32> = (0..d).map(|j| data.column(j).mean()).collect();
        let centred = DMatrix::from_fn(n, d, |i, j| data[(i, j)] - mean[j]);
        let dof = (n.max(2) - 1) as f64;
        // The products in f32 (matrixmultiply's SIMD kernels: seconds faster at 2,000 genes),
        // the eigendecomposition in f64.
        let (values, vectors) = if d <= n {
            let covariance = (centred.transpose() * &centred).map(|v| f64::from(v) / dof);
            let eigen = SymmetricEigen::new(covariance);
            (eigen.eigenvalues, eigen.eigenvectors)
        } else {
            // X Xᵀ u = λ u  ⇒  Xᵀ u / |Xᵀ u| is a covariance eigenvector with the same λ.
            let gram = (&centred * centred.transpose()).map(|v| f64::from(v) / dof);
            let eigen = SymmetricEigen::new(gram);
            let mut vectors = centred.map(f64::from).transpose() * eigen.eigenvectors;
            for mut column in vectors.column_iter_mut() {
                let norm = column.norm();
                if norm > 0.0 {
                    column /= norm;
                }
            }
            (eigen.eigenvalues, vectors)
        };
        let mut order: Vec<usize> = (0..values.len()).collect();
        order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
        let components = DMatrix::from_fn(d, k, |i, c| {
            let column = vectors.column(order[c]);
            let largest = column
                .iter()
                .fold(0.0f64, |m, &v| if v.abs() > m.abs() { v } else { m });
            (column[i] * largest.signum()) as f32
        });
        Self {
            mean,
            components,
            variances: order[..k].iter().map(|&i| values[i] as f32).collect(),
        }
    }

    /// Projects the rows of `data` (`m × d`) to `m × k`.
    pub fn transform(&self, data: &DMatrix<f32>) -> DMatrix<f32> {
        let mut centred = data.clone();
        for (j, m) in self.mean.iter().enumerate() {
            centred.column_mut(j).add_scalar_mut(-m);
        }
        centred * &self.components
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// `n × d` with decreasing variance along the axes, rotated by nothing: component `c` is axis `c`.
    fn data(n: usize, d: usize) -> DMatrix<f32> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        DMatrix::from_fn(n, d, |_, j| (rng.random::<f32>() - 0.5) * (d - j) as f32)
    }

    #[test]
    fn exact_components_agree_with_subspace_iteration_and_with_the_gram_route() {
        let tall = data(200, 12);
        let exact = Pca::fit_exact(&tall, 3);
        let iterated = Pca::fit(&tall, 3, 0);
        for c in 0..3 {
            let (a, b) = (exact.components.column(c), iterated.components.column(c));
            assert!(a.dot(&b).abs() > 0.999, "component {c}");
            assert!((exact.variances[c] / iterated.variances[c] - 1.0).abs() < 1e-3);
            // The sign convention: the largest loading is positive.
            let largest = a
                .iter()
                .fold(0.0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
            assert!(largest > 0.0);
        }
        // Fewer rows than columns: the n × n Gram route gives the same leading components.
        let wide = data(12, 40);
        let via_gram = Pca::fit_exact(&wide, 2);
        let centred = wide.clone() - DMatrix::from_fn(12, 40, |_, j| via_gram.mean[j]);
        let covariance = centred.transpose() * &centred / 11.0;
        for c in 0..2 {
            let v = via_gram.components.column(c);
            let image = &covariance * v;
            assert!(
                (image - v * via_gram.variances[c]).norm() < 1e-2 * via_gram.variances[c],
                "component {c}"
            );
        }
    }
}
