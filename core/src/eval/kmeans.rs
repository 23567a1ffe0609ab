//! Seeded k-means (k-means++ starts, Lloyd iterations, best of several restarts): the clustering
//! that zero-shot ARI/NMI compare with the true labels.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// Cluster ids for the rows of `points` (row-major, `dim` columns).
pub fn kmeans(points: &[f32], dim: usize, k: usize, restarts: usize, seed: u64) -> Vec<usize> {
    let n = points.len() / dim.max(1);
    if n == 0 || k == 0 {
        return vec![0; n];
    }
    let k = k.min(n);
    let row = |i: usize| &points[i * dim..(i + 1) * dim];
    let distance = |x: &[f32], c: &[f64]| -> f64 {
        x.iter().zip(c).map(|(&a, &b)| (a as f64 - b).powi(2)).sum()
    };
    let mut best: Option<(f64, Vec<usize>)> = None;
    for restart in 0..restarts.max(1) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(restart as u64));
        // k-means++: each next centre drawn with probability ∝ squared distance.
        let mut centres: Vec<Vec<f64>> = vec![
            row(rng.random_range(0..n))
                .iter()
                .map(|&v| v as f64)
                .collect(),
        ];
        let mut nearest: Vec<f64> = (0..n).map(|i| distance(row(i), &centres[0])).collect();
        while centres.len() < k {
            let total: f64 = nearest.iter().sum();
            let pick = if total > 0.0 {
                let mut target = rng.random::<f64>() * total;
                let mut chosen = n - 1;
                for (i, &d) in nearest.iter().enumerate() {
                    if target < d {
                        chosen = i;
                        break;
                    }
                    target -= d;
                }
                chosen
            } else {
                rng.random_range(0..n)
            };
            let centre: Vec<f64> = row(pick).iter().map(|&v| v as f64).collect();
            for (i, d) in nearest.iter_mut().enumerate() {
                *d = d.min(distance(row(i), &centre));
            }
            centres.push(centre);
        }
        let mut assignment = vec![usize::MAX; n];
        for _ in 0..100 {
            let mut changed = false;
            for (i, assigned) in assignment.iter_mut().enumerate() {
                let c = (0..k)
                    .min_by(|&a, &b| {
                        distance(row(i), &centres[a]).total_cmp(&distance(row(i), &centres[b]))
                    })
                    .unwrap_or(0);
                if *assigned != c {
                    *assigned = c;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
            let mut sums = vec![vec![0f64; dim]; k];
            let mut counts = vec![0usize; k];
            for i in 0..n {
                counts[assignment[i]] += 1;
                for (s, &v) in sums[assignment[i]].iter_mut().zip(row(i)) {
                    *s += v as f64;
                }
            }
            for c in 0..k {
                if counts[c] > 0 {
                    centres[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
                }
            }
        }
        let inertia: f64 = (0..n)
            .map(|i| distance(row(i), &centres[assignment[i]]))
            .sum();
        if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
            best = Some((inertia, assignment));
        }
    }
    best.map(|(_, a)| a).unwrap_or_default()
}
