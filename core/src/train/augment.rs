//! Degrading training cells the way other studies differ from the training data — a smaller
//! gene panel, shallower sequencing — so a model learns to answer from what a user's file holds.
//! Only the inputs are degraded; what the model must predict (WCED targets, labels) stays the
//! full cell's.

use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::data::CountMatrix;

/// How often and how hard cells are degraded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Probability that a cell loses part of its gene panel…
    pub panel_probability: f64,
    /// …keeping each gene with a probability drawn uniformly from `[panel_keep_min, 1]`.
    pub panel_keep_min: f64,
    /// Probability that a cell is thinned (each count kept with probability `p`)…
    pub depth_probability: f64,
    /// …with `p` drawn uniformly from `[depth_min, 1]`.
    pub depth_min: f64,
}

impl Default for Augment {
    /// Half the cells lose up to 80 % of their panel, half are thinned to as little as 10 %.
    fn default() -> Self {
        Self {
            panel_probability: 0.5,
            panel_keep_min: 0.2,
            depth_probability: 0.5,
            depth_min: 0.1,
        }
    }
}

/// A binomial draw: how many of `count` counts survive at `p` (a fractional count keeps its
/// fraction with probability `p`). One Bernoulli draw per count, not `rand_distr::Binomial`:
/// a gene's count in a cell is small, and that crate would unify rand features with burn's (a
/// full rebuild) for no gain.
fn thin(count: f32, p: f64, rng: &mut impl Rng) -> f32 {
    let whole = count.max(0.0).floor();
    let kept = (0..whole as u64)
        .filter(|_| rng.random::<f64>() < p)
        .count() as f32;
    let fraction = count.max(0.0) - whole;
    kept + if fraction > 0.0 && rng.random::<f64>() < p {
        fraction
    } else {
        0.0
    }
}

impl Augment {
    /// Degrades one cell's counts (dense over a panel) in place.
    pub fn apply(&self, counts: &mut [f32], rng: &mut impl Rng) {
        if rng.random::<f64>() < self.panel_probability {
            let keep = self.panel_keep_min + (1.0 - self.panel_keep_min) * rng.random::<f64>();
            for c in counts.iter_mut() {
                if rng.random::<f64>() >= keep {
                    *c = 0.0;
                }
            }
        }
        if rng.random::<f64>() < self.depth_probability {
            let p = self.depth_min + (1.0 - self.depth_min) * rng.random::<f64>();
            for c in counts.iter_mut().filter(|c| **c > 0.0) {
                *c = thin(*c, p, rng);
            }
        }
    }

    /// A degraded copy of `rows` of `matrix` (ids and annotations kept), every cell through
    /// [`apply`](Self::apply).
    pub fn apply_to_rows(
        &self,
        matrix: &CountMatrix,
        rows: &[usize],
        rng: &mut impl Rng,
    ) -> CountMatrix {
        let mut out = matrix.subset(rows);
        let mut indptr = vec![0usize];
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        for r in 0..out.n_cells() {
            let range = out.indptr[r]..out.indptr[r + 1];
            let mut row: Vec<f32> = out.values[range.clone()].to_vec();
            self.apply(&mut row, rng);
            for (&j, v) in out.indices[range].iter().zip(row) {
                if v > 0.0 {
                    indices.push(j);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        (out.indptr, out.indices, out.values) = (indptr, indices, values);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn thinning_keeps_about_the_share_asked_for_and_never_adds() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let augment = Augment {
            panel_probability: 0.0,
            panel_keep_min: 1.0,
            depth_probability: 1.0,
            depth_min: 0.25,
        };
        let (mut before, mut after) = (0.0, 0.0);
        for _ in 0..200 {
            let original: Vec<f32> = (0..100).map(|g| (g % 7) as f32).collect();
            let mut cell = original.clone();
            augment.apply(&mut cell, &mut rng);
            assert!(
                cell.iter()
                    .zip(&original)
                    .all(|(a, b)| a <= b && a.fract() == 0.0)
            );
            before += original.iter().sum::<f32>();
            after += cell.iter().sum::<f32>();
        }
        // p uniform in [0.25, 1]: 62.5 % of the counts on average.
        let share = after / before;
        assert!((0.57..0.68).contains(&share), "{share}");
    }

    #[test]
    fn panel_dropout_only_zeroes_genes() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let augment = Augment {
            panel_probability: 1.0,
            panel_keep_min: 0.2,
            depth_probability: 0.0,
            depth_min: 1.0,
        };
        let original: Vec<f32> = (1..=500).map(|g| g as f32).collect();
        let mut cell = original.clone();
        augment.apply(&mut cell, &mut rng);
        let kept = cell.iter().filter(|&&c| c > 0.0).count();
        assert!((50..500).contains(&kept), "{kept}");
        assert!(cell.iter().zip(&original).all(|(a, b)| *a == 0.0 || a == b));
    }
}
