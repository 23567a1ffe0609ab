//! The agent's Q-network evaluated on the host one board at a time, incrementally: an attack
//! changes a few sites, so only their receptive fields are recomputed, not the whole board.
//!
//! [`HostNet`] is the net's weights read once from the burn module (which stays the source of
//! truth and the path for training, batches and GPUs). [`Incremental`] keeps every residual
//! block's activations of the last board it scored; given the next board it finds the sites
//! whose state changed (any set: an attack may kill a whole cluster), recomputes the embedding
//! there, grows that set by one ring per 3×3 block and recomputes each block only inside it,
//! then the per-site head inside the last ring (all of it once most of the board changed). The
//! pooled statistics are a full reduction over the final features (n²·F, cheap next to the
//! convolutions); the global term they feed is one F-vector added to every site's cached head,
//! so every Q is refreshed in F operations a site.
//!
//! Every site is computed by the same code in the same order whether it is recomputed or
//! computed from scratch, so incremental values equal a from-scratch host evaluation bit for
//! bit (and on every platform: no fused or reordered arithmetic). They equal burn's forward
//! pass to float rounding (its kernels sum in another order): a few ulps of Q.

use std::fmt;

use burn::module::Param;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Device, Tensor};

use super::board::Site;
use super::qnet::{CHANNELS, QNet, SLOPE};

/// The most host memory an evaluator may keep for its activations; larger boards (or nets) are
/// left to the forward pass, which holds one layer at a time.
pub const HOST_BYTES_LIMIT: usize = 1 << 30;

/// Above this fraction of the board changed in a layer, the layer is recomputed everywhere
/// (walking every site is cheaper than keeping a list of most of them).
const FULL_FRACTION: f64 = 0.5;

/// Why a net or a board cannot be evaluated on the host.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostNetError {
    #[error("Q-network layer {layer}: weights are {dtype}; the host evaluator computes in f32")]
    NotF32 { layer: String, dtype: String },
    #[error("Q-network layer {layer}: {found}, expected {expected}")]
    Shape {
        layer: String,
        found: String,
        expected: String,
    },
    #[error("{sites} site states do not make an {n}×{n} board")]
    Board { sites: usize, n: usize },
    #[error(
        "a {n}×{n} board needs {bytes} bytes of host activations (limit {HOST_BYTES_LIMIT}); \
         the forward pass scores it instead"
    )]
    TooLarge { n: usize, bytes: usize },
}

/// A 1×1 layer on the host: `out = bias + Σ_in weight[in][out]·x[in]`.
#[derive(Clone)]
struct Dense {
    /// `[inputs][outputs]`, so one input's contribution is a contiguous row.
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Dense {
    /// `out ← bias + weightᵀ·x`.
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        let f = out.len();
        for (&v, row) in x.iter().zip(self.weight.chunks_exact(f)) {
            axpy(out, v, row);
        }
    }
}

/// The Q-network's weights as plain f32 arrays, laid out for one site at a time.
#[derive(Clone)]
pub struct HostNet {
    features: usize,
    /// The 1×1 embedding of a one-hot site: `embed[state]` is its F-vector, bias included.
    embed: Vec<f32>,
    /// Per residual block: `[tap (ky·3 + kx)][in][out]` weights and the bias.
    blocks: Vec<(Vec<f32>, Vec<f32>)>,
    /// theta1 on the pooled statistics (4F → F).
    global: Dense,
    /// theta2 on a site's features (F → F).
    site: Dense,
    /// theta3 split by its input halves: the global half (no bias) and the site half (bias).
    mix_global: Dense,
    mix_site: Dense,
    /// theta4 (F → 1).
    out_weight: Vec<f32>,
    out_bias: f32,
}

impl fmt::Debug for HostNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostNet")
            .field("features", &self.features)
            .field("depth", &self.blocks.len())
            .finish_non_exhaustive()
    }
}

/// One f32 parameter's values (refusing another dtype: the host would not compute as the
/// device does).
fn values<const D: usize>(
    param: &Param<Tensor<D>>,
    layer: &str,
) -> Result<(Vec<f32>, [usize; D]), HostNetError> {
    let tensor = param.val();
    let dims = tensor.dims();
    let data = tensor.into_data();
    let values = data.as_slice::<f32>().map_err(|_| HostNetError::NotF32 {
        layer: layer.into(),
        dtype: format!("{:?}", data.dtype()),
    })?;
    Ok((values.to_vec(), dims))
}

/// A conv's weights as `[ky][kx][in][out]` and its bias (zeros when it has none), after checking
/// it is the stride-1, same-padded k×k conv the forward pass runs.
fn conv(
    layer: &Conv2d,
    name: &str,
    inputs: usize,
    outputs: usize,
    k: usize,
) -> Result<(Vec<f32>, Vec<f32>), HostNetError> {
    let shape_error = |found: String, expected: String| HostNetError::Shape {
        layer: name.into(),
        found,
        expected,
    };
    let pad = k / 2;
    if layer.stride != [1, 1]
        || layer.dilation != [1, 1]
        || layer.groups != 1
        || layer.padding != PaddingConfig2d::Explicit(pad, pad, pad, pad)
    {
        return Err(shape_error(
            format!(
                "stride {:?}, dilation {:?}, groups {}, padding {:?}",
                layer.stride, layer.dilation, layer.groups, layer.padding
            ),
            format!("stride 1, dilation 1, one group, padding {pad} on every side"),
        ));
    }
    let (weight, dims) = values(&layer.weight, name)?;
    if dims != [outputs, inputs, k, k] {
        return Err(shape_error(
            format!("weights {dims:?}"),
            format!("{:?}", [outputs, inputs, k, k]),
        ));
    }
    let bias = match &layer.bias {
        Some(bias) => {
            let (bias, dims) = values(bias, name)?;
            if dims != [outputs] {
                return Err(shape_error(
                    format!("bias {dims:?}"),
                    format!("{:?}", [outputs]),
                ));
            }
            bias
        }
        None => vec![0.0; outputs],
    };
    let mut laid = vec![0f32; weight.len()];
    for o in 0..outputs {
        for i in 0..inputs {
            for tap in 0..k * k {
                laid[(tap * inputs + i) * outputs + o] = weight[(o * inputs + i) * k * k + tap];
            }
        }
    }
    Ok((laid, bias))
}

impl HostNet {
    /// Reads `net`'s weights (f32 only) into host arrays.
    pub fn from_net(net: &QNet) -> Result<Self, HostNetError> {
        let f = net.theta2.weight.dims()[0];
        if f == 0 {
            return Err(HostNetError::Shape {
                layer: "theta2".into(),
                found: "no channels".into(),
                expected: "at least one".into(),
            });
        }
        let (embed_weight, embed_bias) = conv(&net.embed, "embed", CHANNELS, f, 1)?;
        let mut embed = vec![0f32; CHANNELS * f];
        for (state, row) in embed.chunks_exact_mut(f).enumerate() {
            for (o, value) in row.iter_mut().enumerate() {
                // Zero padding aside, a 1×1 conv of a one-hot input is one weight column + bias.
                *value = embed_bias[o] + embed_weight[state * f + o];
            }
        }
        let blocks = net
            .blocks
            .iter()
            .enumerate()
            .map(|(i, block)| conv(&block.conv, &format!("blocks.{i}"), f, f, 3))
            .collect::<Result<Vec<_>, _>>()?;
        let dense = |layer: &Conv2d, name: &str, inputs: usize, outputs: usize| {
            conv(layer, name, inputs, outputs, 1).map(|(weight, bias)| Dense { weight, bias })
        };
        let global = dense(&net.theta1, "theta1", 4 * f, f)?;
        let site = dense(&net.theta2, "theta2", f, f)?;
        let mix = dense(&net.theta3, "theta3", 2 * f, f)?;
        let (out_weight, out_bias) = conv(&net.theta4, "theta4", f, 1, 1)?;
        // theta3 reads [global; site]: its first F input rows act on the global term.
        let (global_rows, site_rows) = mix.weight.split_at(f * f);
        Ok(Self {
            features: f,
            embed,
            blocks,
            global,
            site,
            mix_global: Dense {
                weight: global_rows.to_vec(),
                bias: vec![0.0; f],
            },
            mix_site: Dense {
                weight: site_rows.to_vec(),
                bias: mix.bias,
            },
            out_weight,
            out_bias: out_bias[0],
        })
    }

    pub fn features(&self) -> usize {
        self.features
    }

    pub fn depth(&self) -> usize {
        self.blocks.len()
    }

    /// Host bytes of an evaluator's activations for an n×n board.
    pub fn bytes_for(&self, n: usize) -> usize {
        n.saturating_mul(n)
            .saturating_mul(self.features)
            .saturating_mul(self.blocks.len() + 2)
            .saturating_mul(4)
    }
}

/// What the evaluator has done since it was made (for benchmarks and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IncrementalStats {
    /// Boards scored.
    pub evaluations: usize,
    /// Of those, scored from scratch (first board, a new size, or most of the board changed).
    pub full: usize,
    /// Site × layer recomputations of the trunk and head (n²·(depth + 2) per full evaluation).
    pub site_layers: usize,
}

/// Whether `device` is the CPU backend (burn-flex) computing in f32 outside autodiff, where the
/// host evaluator stands in for the forward pass (the same test as `nn`'s host loops).
pub fn computes_on_host(device: &Device) -> bool {
    crate::nn::cpu_f32(device)
}

/// Scores boards of one net incrementally (see the module doc).
pub struct Incremental {
    net: HostNet,
    /// The side and site states the cached activations describe (empty: none yet).
    n: usize,
    sites: Vec<Site>,
    /// The trunk's activations, site-major (`[site][F]`): the embedding, then each block's output.
    layers: Vec<Vec<f32>>,
    /// Each site's half of theta3's pre-activation (its own features through theta2, theta3),
    /// channel-major (`[F][site]`), so refreshing every Q walks each channel's sites in a row.
    head: Vec<f32>,
    /// The global term of theta3's pre-activation (theta3's global half of lrelu(theta1(pooled))),
    /// the same for every site, and the last Q-values.
    term: Vec<f32>,
    q: Vec<f32>,
    /// Changed sites of the layer being computed, the next ring's, and a stamp per site
    /// (`stamp == epoch`: already listed) so a growing set lists each site once.
    dirty: Vec<u32>,
    grown: Vec<u32>,
    stamp: Vec<u32>,
    epoch: u32,
    /// Per-site scratch (F each), and the pooled statistics' sums.
    scratch: Vec<f32>,
    sums: Vec<f64>,
    stats: IncrementalStats,
}

impl fmt::Debug for Incremental {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incremental")
            .field("net", &self.net)
            .field("n", &self.n)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Incremental {
    pub fn new(net: HostNet) -> Self {
        let f = net.features;
        Self {
            net,
            n: 0,
            sites: Vec::new(),
            layers: Vec::new(),
            head: Vec::new(),
            term: vec![0.0; f],
            q: Vec::new(),
            dirty: Vec::new(),
            grown: Vec::new(),
            stamp: Vec::new(),
            epoch: 0,
            scratch: vec![0.0; 8 * f],
            sums: vec![0.0; f],
            stats: IncrementalStats::default(),
        }
    }

    /// An evaluator of `net` (f32 weights only).
    pub fn of(net: &QNet) -> Result<Self, HostNetError> {
        HostNet::from_net(net).map(Self::new)
    }

    pub fn stats(&self) -> IncrementalStats {
        self.stats
    }

    /// Forgets the cached board: the next evaluation starts from scratch.
    pub fn reset(&mut self) {
        self.sites.clear();
        self.n = 0;
    }

    /// Q-values of the n×n board `sites` (row-major, unmasked), recomputing only what changed
    /// since the last board this evaluator scored.
    pub fn evaluate(&mut self, sites: &[Site], n: usize) -> Result<&[f32], HostNetError> {
        if n.checked_mul(n) != Some(sites.len()) {
            return Err(HostNetError::Board {
                sites: sites.len(),
                n,
            });
        }
        if n == 0 {
            return Ok(&[]);
        }
        let bytes = self.net.bytes_for(n);
        if bytes > HOST_BYTES_LIMIT {
            return Err(HostNetError::TooLarge { n, bytes });
        }
        self.stats.evaluations += 1;
        let fresh = self.n != n || self.sites.len() != sites.len();
        self.dirty.clear();
        if fresh {
            self.allocate(n);
        } else {
            self.next_epoch();
            for (i, (&now, &before)) in sites.iter().zip(&self.sites).enumerate() {
                if now != before {
                    self.dirty.push(i as u32);
                    self.stamp[i] = self.epoch;
                }
            }
            if self.dirty.is_empty() {
                return Ok(&self.q);
            }
        }
        self.sites.copy_from_slice(sites);
        let count = n * n;
        let mut full = fresh || self.dirty.len() as f64 > FULL_FRACTION * count as f64;
        if full {
            self.stats.full += 1;
        }
        self.embed(full);
        for block in 0..self.net.blocks.len() {
            if !full {
                self.grow();
                full = self.dirty.len() as f64 > FULL_FRACTION * count as f64;
            }
            self.block(block, full);
        }
        self.site_head(full);
        self.global_and_q();
        Ok(&self.q)
    }

    /// The magnitude of the last Q-values' computation: |theta4's bias| plus the largest
    /// Σ |theta4 weight · pre-activation part| (global and site parts) over the sites. Rounding
    /// errors scale with it, not with Q itself, which may be a small difference of large terms.
    pub fn magnitude(&self) -> f32 {
        let weight = &self.net.out_weight;
        let global: f32 = weight
            .iter()
            .zip(&self.term)
            .map(|(w, t)| (w * t).abs())
            .sum();
        let count = self.q.len();
        let site = (0..count)
            .map(|s| {
                (weight.iter().enumerate())
                    .map(|(o, w)| (w * self.head[o * count + s]).abs())
                    .sum()
            })
            .fold(0f32, f32::max);
        self.net.out_bias.abs() + global + site
    }

    fn allocate(&mut self, n: usize) {
        let count = n * n;
        let f = self.net.features;
        self.n = n;
        // (A fresh board is evaluated everywhere; the walls are only placeholders.)
        self.sites.clear();
        self.sites.resize(count, Site::Wall);
        self.layers.resize_with(self.net.blocks.len() + 1, Vec::new);
        for layer in &mut self.layers {
            layer.clear();
            layer.resize(count * f, 0.0);
        }
        self.head.clear();
        self.head.resize(count * f, 0.0);
        self.q.clear();
        self.q.resize(count, 0.0);
        self.stamp.clear();
        self.stamp.resize(count, 0);
        self.epoch = 0;
    }

    fn next_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Stamps from 2³² evaluations ago could read as current: clear them once.
            self.stamp.fill(0);
            self.epoch = 1;
        }
    }

    /// Adds the ring around the listed sites (their 3×3 neighbourhoods) to the list.
    fn grow(&mut self) {
        let n = self.n;
        self.grown.clear();
        for &site in &self.dirty {
            let (r, c) = (site as usize / n, site as usize % n);
            for rr in r.saturating_sub(1)..(r + 2).min(n) {
                for cc in c.saturating_sub(1)..(c + 2).min(n) {
                    let s = rr * n + cc;
                    if self.stamp[s] != self.epoch {
                        self.stamp[s] = self.epoch;
                        self.grown.push(s as u32);
                    }
                }
            }
        }
        self.dirty.extend_from_slice(&self.grown);
    }

    /// Runs `each(site)` over the changed sites, or every site.
    fn for_sites(dirty: &[u32], count: usize, full: bool, mut each: impl FnMut(usize)) {
        if full {
            (0..count).for_each(&mut each);
        } else {
            dirty.iter().for_each(|&s| each(s as usize));
        }
    }

    fn embed(&mut self, full: bool) {
        let f = self.net.features;
        let (embed, sites, layer) = (&self.net.embed, &self.sites, &mut self.layers[0]);
        Self::for_sites(&self.dirty, sites.len(), full, |s| {
            let state = sites[s] as usize;
            layer[s * f..][..f].copy_from_slice(&embed[state * f..][..f]);
        });
    }

    /// `x_{b+1} = x_b + conv3×3(lrelu(x_b))` at the changed sites.
    fn block(&mut self, block: usize, full: bool) {
        let (n, f) = (self.n, self.net.features);
        let (weight, bias) = &self.net.blocks[block];
        let (before, after) = self.layers.split_at_mut(block + 1);
        let (x, out) = (&before[block], &mut after[0]);
        let acc = &mut self.scratch[..f];
        let mut updates = 0;
        Self::for_sites(&self.dirty, n * n, full, |s| {
            // The common widths with the accumulator in registers (the same operations in the
            // same order as the general case, so the same bits).
            match f {
                16 => acc.copy_from_slice(&conv_site::<16>(x, weight, bias, n, s)),
                32 => acc.copy_from_slice(&conv_site::<32>(x, weight, bias, n, s)),
                _ => conv_site_any(acc, x, weight, bias, n, s),
            }
            let here = &x[s * f..][..f];
            for ((o, &a), &h) in out[s * f..][..f].iter_mut().zip(acc.iter()).zip(here) {
                *o = h + a;
            }
            updates += 1;
        });
        self.stats.site_layers += updates;
    }

    /// Each changed site's half of theta3: `mix_site · lrelu(theta2 · x) + bias`.
    fn site_head(&mut self, full: bool) {
        let f = self.net.features;
        let count = self.sites.len();
        let x = &self.layers[self.layers.len() - 1];
        let (t, rest) = self.scratch.split_at_mut(f);
        let (u, part) = rest.split_at_mut(f);
        let part = &mut part[..f];
        let (site, mix, head) = (&self.net.site, &self.net.mix_site, &mut self.head);
        let mut updates = 0;
        Self::for_sites(&self.dirty, count, full, |s| {
            site.apply(&x[s * f..][..f], t);
            for (v, &w) in u.iter_mut().zip(t.iter()) {
                *v = lrelu(w);
            }
            mix.apply(u, part);
            for (o, &p) in part.iter().enumerate() {
                head[o * count + s] = p;
            }
            updates += 1;
        });
        self.stats.site_layers += updates;
    }

    /// The pooled statistics over the final features, the global term, and every site's Q.
    fn global_and_q(&mut self) {
        let (n, f) = (self.n, self.net.features);
        let count = n * n;
        let x = &self.layers[self.layers.len() - 1];
        // [mean, max, min, n·mean], as the forward pass concatenates them; the sums in f64 so
        // their rounding does not grow with the board.
        let (pooled, rest) = self.scratch.split_at_mut(4 * f);
        let global = &mut rest[..f];
        self.sums.fill(0.0);
        pooled[f..2 * f].fill(f32::NEG_INFINITY);
        pooled[2 * f..3 * f].fill(f32::INFINITY);
        {
            let (_, extremes) = pooled.split_at_mut(f);
            let (max, min) = extremes.split_at_mut(f);
            for site in x.chunks_exact(f) {
                for (((sum, max), min), &v) in
                    self.sums.iter_mut().zip(&mut *max).zip(&mut *min).zip(site)
                {
                    *sum += f64::from(v);
                    *max = max.max(v);
                    *min = min.min(v);
                }
            }
        }
        for (o, &sum) in self.sums.iter().enumerate() {
            let mean = (sum / count as f64) as f32;
            pooled[o] = mean;
            pooled[3 * f + o] = mean * n as f32;
        }
        self.net.global.apply(pooled, global);
        for g in global.iter_mut() {
            *g = lrelu(*g);
        }
        self.net.mix_global.apply(global, &mut self.term);
        // Q = bias + Σ_o w_o·lrelu(term_o + head_o), the channels added in order at every site.
        self.q.fill(self.net.out_bias);
        for ((&w, &t), part) in (self.net.out_weight.iter())
            .zip(&self.term)
            .zip(self.head.chunks_exact(count))
        {
            for (q, &p) in self.q.iter_mut().zip(part) {
                *q += w * lrelu(t + p);
            }
        }
    }
}

/// The in-board 3×3 neighbours of site `s` with their tap index (ky·3 + kx), in tap order; taps
/// off the board are zero padding, which adds nothing, so they are skipped.
fn taps(n: usize, s: usize) -> impl Iterator<Item = (usize, usize)> {
    let (r, c) = (s / n, s % n);
    (0..9).filter_map(move |tap| {
        let rr = (r + tap / 3).checked_sub(1).filter(|&rr| rr < n)?;
        let cc = (c + tap % 3).checked_sub(1).filter(|&cc| cc < n)?;
        Some((tap, rr * n + cc))
    })
}

/// `bias + Σ_taps Σ_in weight[tap][in]·lrelu(x[neighbour][in])` at site `s`, F = `acc.len()`.
fn conv_site_any(acc: &mut [f32], x: &[f32], weight: &[f32], bias: &[f32], n: usize, s: usize) {
    let f = acc.len();
    acc.copy_from_slice(bias);
    for (tap, neighbour) in taps(n, s) {
        let input = &x[neighbour * f..][..f];
        let rows = &weight[tap * f * f..][..f * f];
        for (&v, row) in input.iter().zip(rows.chunks_exact(f)) {
            axpy(acc, lrelu(v), row);
        }
    }
}

/// [`conv_site_any`] for F known at compile time.
fn conv_site<const F: usize>(
    x: &[f32],
    weight: &[f32],
    bias: &[f32],
    n: usize,
    s: usize,
) -> [f32; F] {
    let mut acc = [0f32; F];
    acc.copy_from_slice(bias);
    for (tap, neighbour) in taps(n, s) {
        let input = &x[neighbour * F..][..F];
        let rows = &weight[tap * F * F..][..F * F];
        for (&v, row) in input.iter().zip(rows.chunks_exact(F)) {
            let a = lrelu(v);
            for (o, &w) in acc.iter_mut().zip(row) {
                *o += a * w;
            }
        }
    }
    acc
}

/// Leaky ReLU as max(v, slope·v) (equal for 0 < slope < 1), which vectorises without branches.
fn lrelu(v: f32) -> f32 {
    v.max(v * SLOPE as f32)
}

/// `acc += a·row`, element by element (vectorised by the compiler; no reassociation, so a
/// site's value does not depend on where it sits in memory).
fn axpy(acc: &mut [f32], a: f32, row: &[f32]) {
    for (o, &w) in acc.iter_mut().zip(row) {
        *o += a * w;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_convolutions_give_the_general_bits() {
        let (n, f) = (5, 16);
        // Deterministic values of both signs and many magnitudes.
        let value = |i: usize| ((i * 2_654_435_761) % 1000) as f32 / 97.0 - 5.0;
        let x: Vec<f32> = (0..n * n * f).map(value).collect();
        let weight: Vec<f32> = (0..9 * f * f).map(|i| value(i + 7) / 50.0).collect();
        let bias: Vec<f32> = (0..f).map(|i| value(i + 3)).collect();
        for s in 0..n * n {
            let mut general = vec![0f32; f];
            conv_site_any(&mut general, &x, &weight, &bias, n, s);
            let fixed = conv_site::<16>(&x, &weight, &bias, n, s);
            assert_eq!(
                fixed.map(f32::to_bits).to_vec(),
                general.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    }
}
