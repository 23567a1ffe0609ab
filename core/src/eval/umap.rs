//! UMAP (McInnes, Healy & Melville 2018) of cell embeddings to 2-D, for the page's map and the
//! CLI's `obsm['X_umap']`: PCA to at most 50 dimensions, exact k nearest neighbours, the fuzzy
//! simplicial set, and umap-learn's SGD layout (min_dist 0.1, PCA start), single-threaded from a
//! seed so the same cells give the same map. Written here: the Rust UMAP crates are parallel
//! (Hogwild: not reproducible), need their own neighbour search and start, or panic on bad input.

use nalgebra::DMatrix;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::pca::Pca;

/// umap-learn's curve `1 / (1 + a·d^(2b))` fitted to min_dist 0.1, spread 1 (its defaults).
const A: f32 = 1.576_943_5;
const B: f32 = 0.895_060_6;
/// Negative samples per positive one (umap-learn's `negative_sample_rate`).
const NEGATIVE_RATE: usize = 5;
/// Neighbours are found among the data's leading principal components (scanpy's default).
const PCA_DIMS: usize = 50;

/// How a UMAP is computed.
#[derive(Clone, Debug, PartialEq)]
pub struct UmapConfig {
    /// Nearest neighbours per point (umap-learn's `n_neighbors`).
    pub neighbors: usize,
    /// SGD epochs; `None`: 500 up to 10,000 points, 200 above (as umap-learn).
    pub epochs: Option<usize>,
    pub seed: u64,
}

impl Default for UmapConfig {
    fn default() -> Self {
        Self {
            neighbors: 15,
            epochs: None,
            seed: 0,
        }
    }
}

/// The 2-D UMAP of the rows of `data` (row-major `[n, d]`), row-major `[n, 2]`. Fewer than
/// three points, or points that are all equal, lie at the origin; non-finite values count as 0.
pub fn umap(data: &[f32], d: usize, config: &UmapConfig) -> Vec<f32> {
    let n = data.len().checked_div(d).unwrap_or(0);
    if n < 3 {
        return vec![0.0; 2 * n];
    }
    let clean = |v: f32| if v.is_finite() { v } else { 0.0 };
    let x = DMatrix::from_fn(n, d, |i, j| clean(data[i * d + j]));
    let x = if d > PCA_DIMS {
        Pca::fit(&x, PCA_DIMS, config.seed).transform(&x)
    } else {
        x
    };
    let k = config.neighbors.clamp(1, n - 1);
    let (neighbours, distances) = nearest(&x, k);
    let edges = fuzzy_graph(&neighbours, &distances, n, k);
    let mut layout = start(&x, config.seed);
    let epochs = config.epochs.unwrap_or(if n <= 10_000 { 500 } else { 200 });
    optimise(&mut layout, &edges, n, epochs, config.seed);
    layout
}

/// Each row's `k` nearest other rows (Euclidean) and their distances, nearest first.
fn nearest(x: &DMatrix<f32>, k: usize) -> (Vec<u32>, Vec<f32>) {
    let n = x.nrows();
    let norms: Vec<f32> = (0..n).map(|i| x.row(i).norm_squared()).collect();
    let xt = x.transpose();
    let (mut neighbours, mut distances) = (Vec::with_capacity(n * k), Vec::with_capacity(n * k));
    // |a − b|² = |a|² + |b|² − 2 a·b, a block of rows at a time (one matrix product each).
    const BLOCK: usize = 256;
    let mut candidates: Vec<(f32, u32)> = Vec::with_capacity(n);
    for start in (0..n).step_by(BLOCK) {
        let rows = BLOCK.min(n - start);
        let dots = x.rows(start, rows) * &xt;
        for r in 0..rows {
            let i = start + r;
            candidates.clear();
            candidates.extend((0..n).filter(|&j| j != i).map(|j| {
                let squared = (norms[i] + norms[j] - 2.0 * dots[(r, j)]).max(0.0);
                (squared, j as u32)
            }));
            candidates
                .select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let nearest = &mut candidates[..k];
            nearest.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for &(squared, j) in nearest.iter() {
                neighbours.push(j);
                distances.push(squared.sqrt());
            }
        }
    }
    (neighbours, distances)
}

/// The symmetric fuzzy neighbour graph: per point, `ρ` (its nearest distance) and `σ` chosen so
/// that its `k` memberships `exp(−(d − ρ)/σ)` sum to `log2 k`; then `a + b − a·b` per pair.
/// Returns `(i, j, weight)` with `i < j`, sorted.
fn fuzzy_graph(neighbours: &[u32], distances: &[f32], n: usize, k: usize) -> Vec<(u32, u32, f32)> {
    let target = (k as f32).log2();
    let mean_distance = distances.iter().sum::<f32>() / distances.len().max(1) as f32;
    let mut directed: Vec<(u32, u32, f32)> = Vec::with_capacity(2 * n * k);
    for i in 0..n {
        let row = &distances[i * k..(i + 1) * k];
        let rho = row.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
        let sum = |sigma: f32| -> f32 {
            row.iter()
                .map(|&d| (-((d - rho).max(0.0)) / sigma).exp())
                .sum()
        };
        // Binary search on σ (umap-learn's smooth_knn_dist: 64 steps).
        let (mut lo, mut hi, mut sigma) = (0.0f32, f32::INFINITY, 1.0f32);
        for _ in 0..64 {
            let s = sum(sigma);
            if (s - target).abs() < 1e-5 {
                break;
            }
            if s > target {
                hi = sigma;
                sigma = (lo + hi) / 2.0;
            } else {
                lo = sigma;
                sigma = if hi.is_finite() {
                    (lo + hi) / 2.0
                } else {
                    sigma * 2.0
                };
            }
        }
        let row_mean = row.iter().sum::<f32>() / k as f32;
        let floor = 1e-3 * if rho > 0.0 { row_mean } else { mean_distance };
        let sigma = sigma.max(floor).max(f32::MIN_POSITIVE);
        for (c, &d) in row.iter().enumerate() {
            let j = neighbours[i * k + c];
            let w = (-((d - rho).max(0.0)) / sigma).exp();
            let (a, b) = if (i as u32) < j {
                (i as u32, j)
            } else {
                (j, i as u32)
            };
            directed.push((a, b, w));
        }
    }
    // Pairs found from both ends combine as a fuzzy union.
    directed.sort_unstable_by_key(|e| (e.0, e.1));
    let mut edges: Vec<(u32, u32, f32)> = Vec::with_capacity(directed.len());
    for (a, b, w) in directed {
        match edges.last_mut() {
            Some(last) if (last.0, last.1) == (a, b) => last.2 = last.2 + w - last.2 * w,
            _ => edges.push((a, b, w)),
        }
    }
    edges
}

/// The start: the first two principal components, scaled to ±10 (umap-learn's `init="pca"`).
fn start(x: &DMatrix<f32>, seed: u64) -> Vec<f32> {
    let n = x.nrows();
    let points = Pca::fit(x, 2, seed).transform(x);
    let largest = points.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if largest > 0.0 && largest.is_finite() {
        10.0 / largest
    } else {
        0.0
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x5eed);
    let mut layout = Vec::with_capacity(2 * n);
    for i in 0..n {
        for c in 0..2 {
            let v = if c < points.ncols() {
                points[(i, c)] * scale
            } else {
                0.0
            };
            // A little noise keeps identical points apart.
            let noise: f32 = rng.random::<f32>() - 0.5;
            layout.push(v + 1e-4 * noise);
        }
    }
    layout
}

/// umap-learn's `optimize_layout_euclidean`: each edge is sampled in proportion to its weight,
/// pulling its ends together, and each sample pushes its head away from `NEGATIVE_RATE` random
/// points; the step shrinks linearly to 0.
fn optimise(layout: &mut [f32], edges: &[(u32, u32, f32)], n: usize, epochs: usize, seed: u64) {
    let top = edges.iter().fold(0.0f32, |m, e| m.max(e.2));
    // Edges too weak to be sampled once in `epochs` are dropped, as umap-learn does.
    let kept: Vec<(usize, usize, f32)> = edges
        .iter()
        .filter(|e| e.2 >= top / epochs as f32)
        .map(|e| (e.0 as usize, e.1 as usize, top / e.2))
        .collect();
    let mut next = kept.iter().map(|e| e.2).collect::<Vec<f32>>();
    let per_negative: Vec<f32> = kept.iter().map(|e| e.2 / NEGATIVE_RATE as f32).collect();
    let mut next_negative = per_negative.clone();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let clip = |v: f32| v.clamp(-4.0, 4.0);
    for epoch in 0..epochs {
        let alpha = 1.0 - epoch as f32 / epochs as f32;
        let now = epoch as f32;
        for (e, &(i, j, every)) in kept.iter().enumerate() {
            if next[e] > now {
                continue;
            }
            let (dx, dy) = (
                layout[2 * i] - layout[2 * j],
                layout[2 * i + 1] - layout[2 * j + 1],
            );
            let squared = dx * dx + dy * dy;
            if squared > 0.0 {
                let coeff = -2.0 * A * B * squared.powf(B - 1.0) / (A * squared.powf(B) + 1.0);
                let (gx, gy) = (clip(coeff * dx) * alpha, clip(coeff * dy) * alpha);
                layout[2 * i] += gx;
                layout[2 * i + 1] += gy;
                layout[2 * j] -= gx;
                layout[2 * j + 1] -= gy;
            }
            next[e] += every;
            let negatives = ((now - next_negative[e]) / per_negative[e]).max(0.0) as usize;
            for _ in 0..negatives {
                let other = rng.random_range(0..n);
                if other == i {
                    continue;
                }
                let (dx, dy) = (
                    layout[2 * i] - layout[2 * other],
                    layout[2 * i + 1] - layout[2 * other + 1],
                );
                let squared = dx * dx + dy * dy;
                let (gx, gy) = if squared > 0.0 {
                    let coeff = 2.0 * B / ((0.001 + squared) * (A * squared.powf(B) + 1.0));
                    (clip(coeff * dx), clip(coeff * dy))
                } else {
                    (4.0, 4.0)
                };
                layout[2 * i] += gx * alpha;
                layout[2 * i + 1] += gy * alpha;
            }
            next_negative[e] += negatives as f32 * per_negative[e];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight, far-apart clusters in 8-D, 40 points each.
    fn clusters(seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (mut data, mut labels) = (Vec::new(), Vec::new());
        for point in 0..120 {
            let cluster = point % 3;
            for dim in 0..8 {
                let centre = if dim == cluster { 20.0 } else { 0.0 };
                data.push(centre + rng.random::<f32>() - 0.5);
            }
            labels.push(cluster);
        }
        (data, labels)
    }

    #[test]
    fn clusters_stay_apart_and_the_map_is_reproducible() {
        let (data, labels) = clusters(1);
        let config = UmapConfig::default();
        let map = umap(&data, 8, &config);
        assert_eq!(map.len(), 240);
        assert!(map.iter().all(|v| v.is_finite()));
        assert_eq!(map, umap(&data, 8, &config), "same seed, same map");
        // Every point is nearer its own cluster's centre than any other's.
        let mut centres = [[0.0f32; 2]; 3];
        for (i, &c) in labels.iter().enumerate() {
            centres[c][0] += map[2 * i] / 40.0;
            centres[c][1] += map[2 * i + 1] / 40.0;
        }
        for (i, &c) in labels.iter().enumerate() {
            let distance = |k: usize| {
                (map[2 * i] - centres[k][0]).powi(2) + (map[2 * i + 1] - centres[k][1]).powi(2)
            };
            assert!(
                (0..3).all(|k| k == c || distance(c) < distance(k)),
                "point {i}"
            );
        }
    }

    #[test]
    fn degenerate_inputs_give_a_finite_map() {
        assert!(umap(&[], 4, &UmapConfig::default()).is_empty());
        assert_eq!(umap(&[1.0, 2.0], 2, &UmapConfig::default()), vec![0.0, 0.0]);
        let same = vec![1.0f32; 10 * 3];
        assert!(
            umap(&same, 3, &UmapConfig::default())
                .iter()
                .all(|v| v.is_finite())
        );
        let mut broken = clusters(2).0;
        broken[5] = f32::NAN;
        broken[9] = f32::INFINITY;
        assert!(
            umap(&broken, 8, &UmapConfig::default())
                .iter()
                .all(|v| v.is_finite())
        );
    }
}
