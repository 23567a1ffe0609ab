//! Degrading training cells the way other studies differ from the training data — a smaller
//! gene panel (random, or only the highly variable genes, as many published files keep), shallower
//! sequencing — so a model learns to answer from what a user's file holds. Only the inputs are
//! degraded; what the model must predict (WCED targets, labels) stays the full cell's.

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
    /// Probability that a cell keeps only a highly-variable-gene panel (the files scanpy users
    /// share after `highly_variable_genes`: no ribosomal or housekeeping genes, so every kept
    /// gene weighs more in the cell's total)…
    #[serde(default)]
    pub variable_probability: f64,
    /// …the top share `s` of the genes by [`gene_variability`] (jittered per cell, so the
    /// panel varies as studies' do), `s` drawn uniformly from `[variable_keep_min, 0.6]`.
    #[serde(default = "default_variable_keep_min")]
    pub variable_keep_min: f64,
}

fn default_variable_keep_min() -> f64 {
    0.15
}

impl Default for Augment {
    /// Half the cells lose up to 80 % of their panel, half are thinned to as little as 10 %.
    fn default() -> Self {
        Self {
            panel_probability: 0.5,
            panel_keep_min: 0.2,
            depth_probability: 0.5,
            depth_min: 0.1,
            variable_probability: 0.0,
            variable_keep_min: default_variable_keep_min(),
        }
    }
}

/// The largest share of the genes a variable-gene panel keeps.
const VARIABLE_KEEP_MAX: f64 = 0.6;
/// How far a gene's variability score moves at random per cell (in within-bin z units).
const VARIABLE_JITTER: f32 = 1.0;

/// Each gene's normalised dispersion over `cells` (sparse rows of `(gene, count)` over
/// `n_genes` genes), as scanpy's default `highly_variable_genes` (Seurat flavour) ranks genes:
/// counts scaled to 10⁴ per cell, `ln(variance / mean)` per gene, z-scored within 20 equal-width
/// bins of `ln(1 + mean)`. Genes never seen score `−∞` (never in a variable panel).
pub fn gene_variability<'a>(
    cells: impl Iterator<Item = &'a [(u32, f32)]>,
    n_genes: usize,
) -> Vec<f32> {
    let (mut sum, mut squares, mut n) = (vec![0f64; n_genes], vec![0f64; n_genes], 0usize);
    for cell in cells {
        n += 1;
        let total: f64 = cell.iter().map(|&(_, c)| c as f64).sum();
        if total <= 0.0 {
            continue;
        }
        for &(g, c) in cell {
            let x = 1e4 * c as f64 / total;
            sum[g as usize] += x;
            squares[g as usize] += x * x;
        }
    }
    let n = n.max(2) as f64;
    let stats: Vec<Option<(f64, f64)>> = (0..n_genes)
        .map(|g| {
            let mean = sum[g] / n;
            let variance = (squares[g] - n * mean * mean) / (n - 1.0);
            (mean > 0.0 && variance > 0.0).then(|| ((variance / mean).ln(), mean.ln_1p()))
        })
        .collect();
    let seen = stats.iter().flatten();
    let (lo, hi) = seen.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, m)| {
        (lo.min(m), hi.max(m))
    });
    const BINS: usize = 20;
    let bin =
        |m: f64| (((m - lo) / (hi - lo).max(1e-12)) * BINS as f64).min(BINS as f64 - 1.0) as usize;
    let mut moments = [(0f64, 0f64, 0usize); BINS];
    for &(d, m) in stats.iter().flatten() {
        let b = &mut moments[bin(m)];
        (b.0, b.1, b.2) = (b.0 + d, b.1 + d * d, b.2 + 1);
    }
    stats
        .iter()
        .map(|s| match *s {
            None => f32::NEG_INFINITY,
            Some((d, m)) => {
                let (sd, sd2, k) = moments[bin(m)];
                let k = k as f64;
                let mean = sd / k;
                let spread = ((sd2 - k * mean * mean) / (k - 1.0).max(1.0)).sqrt();
                // A bin of one gene (or of equal dispersions) says nothing: as scanpy, z = 0.
                if spread > 0.0 {
                    ((d - mean) / spread) as f32
                } else {
                    0.0
                }
            }
        })
        .collect()
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
    /// Degrades one cell's counts (dense over a panel) in place; `variability` scores the
    /// panel's genes ([`gene_variability`]; only read when variable-gene panels are asked for).
    pub fn apply(&self, counts: &mut [f32], variability: &[f32], rng: &mut impl Rng) {
        if rng.random::<f64>() < self.variable_probability {
            debug_assert_eq!(variability.len(), counts.len(), "one score per gene");
            let share = self.variable_keep_min
                + (VARIABLE_KEEP_MAX - self.variable_keep_min).max(0.0) * rng.random::<f64>();
            let keep = ((counts.len() as f64 * share).round() as usize).min(counts.len());
            let mut scores: Vec<(f32, usize)> = variability
                .iter()
                .enumerate()
                .map(|(g, &v)| (v + VARIABLE_JITTER * (2.0 * rng.random::<f32>() - 1.0), g))
                .collect();
            scores.sort_by(|a, b| b.0.total_cmp(&a.0));
            for &(_, g) in &scores[keep.min(scores.len())..] {
                counts[g] = 0.0;
            }
        }
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
        let row = |r: usize| {
            let range = out.indptr[r]..out.indptr[r + 1];
            out.indices[range.clone()]
                .iter()
                .copied()
                .zip(out.values[range].iter().copied())
        };
        let variability = if self.variable_probability > 0.0 {
            let cells: Vec<Vec<(u32, f32)>> =
                (0..out.n_cells()).map(|r| row(r).collect()).collect();
            gene_variability(cells.iter().map(Vec::as_slice), out.n_genes())
        } else {
            Vec::new()
        };
        let mut indptr = vec![0usize];
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        let mut dense = vec![0f32; out.n_genes()];
        for r in 0..out.n_cells() {
            dense.fill(0.0);
            for (j, v) in row(r) {
                dense[j as usize] = v;
            }
            self.apply(&mut dense, &variability, rng);
            for (j, &v) in dense.iter().enumerate().filter(|(_, v)| **v > 0.0) {
                indices.push(j as u32);
                values.push(v);
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
            ..Augment::default()
        };
        let (mut before, mut after) = (0.0, 0.0);
        for _ in 0..200 {
            let original: Vec<f32> = (0..100).map(|g| (g % 7) as f32).collect();
            let mut cell = original.clone();
            augment.apply(&mut cell, &[], &mut rng);
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
            ..Augment::default()
        };
        let original: Vec<f32> = (1..=500).map(|g| g as f32).collect();
        let mut cell = original.clone();
        augment.apply(&mut cell, &[], &mut rng);
        let kept = cell.iter().filter(|&&c| c > 0.0).count();
        assert!((50..500).contains(&kept), "{kept}");
        assert!(cell.iter().zip(&original).all(|(a, b)| *a == 0.0 || a == b));
    }

    /// Genes 0..50 switch on and off across cells, genes 50..100 are flat at the same mean, gene
    /// 100 is high everywhere: a variable-gene panel keeps the first group before the second.
    #[test]
    fn variable_panels_keep_the_variable_genes() {
        let cells: Vec<Vec<(u32, f32)>> = (0..200u32)
            .map(|i| {
                let varying = (0..50u32).filter(|g| (i + g) % 4 == 0).map(|g| (g, 8.0));
                let flat = (50..100u32).map(|g| (g, 2.0));
                varying.chain(flat).chain([(100, 400.0)]).collect()
            })
            .collect();
        let variability = gene_variability(cells.iter().map(Vec::as_slice), 102);
        assert_eq!(variability[101], f32::NEG_INFINITY, "a gene never seen");
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let augment = Augment {
            panel_probability: 0.0,
            depth_probability: 0.0,
            variable_probability: 1.0,
            variable_keep_min: 0.3,
            ..Augment::default()
        };
        for _ in 0..20 {
            let mut cell = vec![1.0f32; 102];
            augment.apply(&mut cell, &variability, &mut rng);
            let kept: Vec<usize> = (0..102).filter(|&g| cell[g] > 0.0).collect();
            // 30–60 % of the genes, the varying ones first.
            assert!((30..=62).contains(&kept.len()), "{}", kept.len());
            let varying = kept.iter().filter(|&&g| g < 50).count();
            assert!(varying + 2 >= kept.len().min(50), "{varying} of {kept:?}");
        }
    }
}
