//! Tessera's host kernels: f32 loops for the activations (exact and tanh GELU, SiLU), a gated
//! activation × gate and the attention softmax, vectorised for the CPU they run on; and the
//! browser's matrix product ([`matmul`]).
//!
//! `pulp` compiles each loop for AVX-512 / AVX2 and picks one at run time; the loops are written
//! branch-free so the compiler vectorises them. In wasm32 the same functions run on explicit
//! `simd128` vectors instead (`vector_loops`, `matmul`): the browser modules' link-time
//! optimisation runs at opt-level "z", which leaves auto-vectorised loops scalar. The crate stands
//! alone so those size-optimised modules can still compile it at opt-level 3
//! (`scripts/build-wasm.sh`), which inlines and unrolls the vector code. `tessera-core` applies the
//! loops to CPU tensors (`nn::pointwise`, `nn::linear`, `nn::tiled_attention`).

// Natively the vector loops (and the lane operations only they use) serve the tests alone.
#[cfg_attr(
    not(all(target_arch = "wasm32", target_feature = "simd128")),
    allow(dead_code)
)]
mod lanes;
pub mod matmul;
#[cfg_attr(
    not(all(target_arch = "wasm32", target_feature = "simd128")),
    allow(dead_code)
)]
mod vector_loops;

/// Inputs for tests, of this crate and of the code that calls it.
pub mod testing {
    /// Deterministic values in [-1, 1) from `seed`: no RNG, so a failure reproduces.
    ///
    /// ```
    /// let v = tessera_kernels::testing::values(7, 3);
    /// assert!(v.iter().all(|x| (-1.0..1.0).contains(x)));
    /// assert_eq!(v, tessera_kernels::testing::values(7, 3));
    /// ```
    pub fn values(seed: u64, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                let x = ((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed) >> 40;
                x as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }
}

/// The element-wise functions computed here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unary {
    /// `x · Φ(x)` with the exact erf ([`gelu`]).
    Gelu,
    /// The tanh approximation of GELU ([`gelu_tanh`]).
    GeluTanh,
    /// `x · σ(x)` ([`silu`]).
    Silu,
}

impl Unary {
    /// Applies the function to `values` in place, times `gate` element-wise when given
    /// (`gate` at least as long as `values`), compiled for the CPU's widest SIMD.
    ///
    /// ```
    /// use tessera_kernels::{Unary, silu};
    /// let mut values = [-1.0f32, 0.0, 2.0];
    /// Unary::Silu.apply(&mut values, Some(&[1.0, 1.0, 0.5]));
    /// assert_eq!(values, [silu(-1.0), 0.0, 0.5 * silu(2.0)]);
    /// ```
    pub fn apply(self, values: &mut [f32], gate: Option<&[f32]>) {
        // SAFETY: a module built with relaxed-simd only loads where the engine has it.
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        return unsafe { vector_loops::native::apply(self, values, gate) };
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        pulp::Arch::new().dispatch(Job::Map {
            kernel: self,
            values,
            gate,
        });
    }

    /// [`Self::apply`]'s loops, one per function so each body is branch-free and vectorises.
    #[inline(always)]
    #[cfg_attr(
        all(target_arch = "wasm32", target_feature = "simd128"),
        allow(dead_code)
    )]
    fn apply_inline(self, values: &mut [f32], gate: Option<&[f32]>) {
        macro_rules! run {
            ($f:expr) => {
                match gate {
                    Some(gate) => {
                        for (v, g) in values.iter_mut().zip(gate) {
                            *v = $f(*v) * g;
                        }
                    }
                    None => {
                        for v in values.iter_mut() {
                            *v = $f(*v);
                        }
                    }
                }
            };
        }
        match self {
            Self::Gelu => run!(gelu),
            Self::GeluTanh => run!(gelu_tanh),
            Self::Silu => run!(silu),
        }
    }
}

/// An additive term for each row of a softmax: row `r` adds
/// `values[r·row_stride .. r·row_stride + row_len]` (a stride of 0 repeats one row, as a
/// broadcast padding mask does).
#[derive(Clone, Copy, Debug)]
pub struct RowBias<'a> {
    pub values: &'a [f32],
    pub row_stride: usize,
}

/// `row ← softmax(row + bias row)` for each `row_len`-long row of `rows`, compiled for the CPU's
/// widest SIMD. A score of `f32::MIN` (an additive mask) gets weight 0.
///
/// ```
/// let mut rows = [0.0f32, 0.0, 1.0, 1.0];
/// tessera_kernels::softmax_rows(&mut rows, 2, None);
/// assert_eq!(rows, [0.5; 4]);
/// ```
pub fn softmax_rows(rows: &mut [f32], row_len: usize, bias: Option<RowBias<'_>>) {
    if row_len == 0 {
        return;
    }
    // SAFETY: as in `Unary::apply`.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return unsafe { vector_loops::native::softmax_rows(rows, row_len, bias) };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    pulp::Arch::new().dispatch(Job::Softmax {
        rows,
        row_len,
        bias,
    });
}

/// Lanes of the partial maxima and sums: wide enough for AVX-512's 16 f32, and a fixed
/// association order, so the compiler may vectorise the reductions.
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
const LANES: usize = 16;

/// The larger of `a` and `b` by comparison (a NaN `b` is skipped): `f32::max` becomes a call to
/// libm's fmaxf in wasm, which has no min/max with IEEE's NaN rule.
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
#[inline(always)]
fn larger(a: f32, b: f32) -> f32 {
    if b > a { b } else { a }
}

/// `row ← softmax(row)` in place.
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
#[inline(always)]
fn softmax_row(row: &mut [f32]) {
    let mut maxima = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (m, v) in maxima.iter_mut().zip(chunk) {
            *m = larger(*m, *v);
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&maxima)
        .fold(f32::NEG_INFINITY, |m, v| larger(m, *v));
    let mut sums = [0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for (s, v) in sums.iter_mut().zip(chunk) {
            *v = exp(*v - max);
            *s += *v;
        }
    }
    for v in chunks.into_remainder() {
        *v = exp(*v - max);
        sums[0] += *v;
    }
    let scale = 1.0 / sums.iter().sum::<f32>();
    for v in row {
        *v *= scale;
    }
}

/// Work for pulp's dispatch. `with_simd` is `#[inline(always)]`, and so is everything it calls,
/// so the loops are compiled inside pulp's AVX-512 / AVX2 functions (a closure body is not
/// reliably inlined there, and then runs as baseline SSE2).
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
enum Job<'a> {
    Map {
        kernel: Unary,
        values: &'a mut [f32],
        gate: Option<&'a [f32]>,
    },
    Softmax {
        rows: &'a mut [f32],
        row_len: usize,
        bias: Option<RowBias<'a>>,
    },
}

impl pulp::WithSimd for Job<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        match self {
            Job::Map {
                kernel,
                values,
                gate,
            } => kernel.apply_inline(values, gate),
            Job::Softmax {
                rows,
                row_len,
                bias,
            } => {
                // (`softmax_rows` returned already for rows of length 0.)
                for (r, row) in rows.chunks_exact_mut(row_len).enumerate() {
                    if let Some(bias) = bias {
                        let start = r * bias.row_stride;
                        for (v, b) in row.iter_mut().zip(&bias.values[start..start + row_len]) {
                            *v += b;
                        }
                    }
                    softmax_row(row);
                }
            }
        }
    }
}

/// `e^x` for f32: `2^n · e^r` with `n = round(x / ln 2)`, `|r| ≤ ln 2 / 2`, and Cephes' degree-6
/// polynomial for `e^r` (≤ 2 ulp). Below −87 the result is 0 (e⁻⁸⁷ ≈ 1.6·10⁻³⁸, so a masked
/// attention score weighs exactly nothing); above 88 it stays at e⁸⁸ (callers only divide by it).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    // 1.5 · 2²³: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // NaN compares false, so it is not flushed and stays NaN through the arithmetic below.
    let underflows = x <= -87.0;
    // Comparisons, not `clamp`: wasm has no min/max with IEEE's NaN rule, so `clamp` becomes two
    // calls to libm's fminf/fmaxf there (8 % of a browser pass).
    #[allow(clippy::manual_clamp)]
    let x = if x < -87.0 {
        -87.0
    } else if x > 88.0 {
        88.0
    } else {
        x
    };
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // n's integer value sits in the low bits of `shifted`; build 2ⁿ from it.
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f32::from_bits(n_int.wrapping_add(127) << 23);
    if underflows { 0.0 } else { e_r * scale }
}

/// GELU with the exact erf, `x · Φ(x)`: Φ from erfc by Abramowitz & Stegun 7.1.26 (absolute
/// error ≤ 1.5·10⁻⁷), using erfc directly on the negative side so that no cancellation occurs.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    // erfc(|x| / √2), so Φ(x) = erfc/2 for x < 0 and 1 − erfc/2 otherwise.
    let erfc = poly * exp(-z * z);
    let phi = if x < 0.0 {
        0.5 * erfc
    } else {
        1.0 - 0.5 * erfc
    };
    x * phi
}

/// Tanh-approximated GELU, `0.5·x·(1 + tanh(u))` with `u = √(2/π)·(x + 0.044715·x³)`, as the
/// identical `x · σ(2u)` (no tanh to evaluate).
#[inline(always)]
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    x / (1.0 + exp(-2.0 * u))
}

/// `x · σ(x)`.
#[inline(always)]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f32 in a range, stepped so the test stays fast, plus the edges.
    fn samples() -> impl Iterator<Item = f32> {
        (-40_000..=40_000)
            .map(|i| i as f32 * 1e-3)
            .chain([-1e30, -100.0, -88.0, 88.0, 100.0, 1e30, 0.0, -0.0])
    }

    #[test]
    fn exp_is_within_two_ulp_where_finite() {
        for x in (-86_990..87_990).map(|i| i as f32 * 1e-3) {
            let (got, want) = (exp(x), (x as f64).exp());
            let ulp = (want as f32).abs() * f32::EPSILON;
            assert!(
                ((got as f64) - want).abs() <= 2.0 * ulp as f64,
                "exp({x}) = {got}, want {want}"
            );
        }
        assert_eq!(exp(-1e30), 0.0);
        assert!(exp(f32::NAN).is_nan() && silu(f32::NAN).is_nan() && gelu(f32::NAN).is_nan());
        assert!(exp(1e30).is_finite());
    }

    #[test]
    fn activations_match_their_definitions() {
        let erf = |x: f64| libm::erf(x);
        for x in samples() {
            let d = x as f64;
            let exact_gelu = 0.5 * d * (1.0 + erf(d / std::f64::consts::SQRT_2));
            let u = (2.0 / std::f64::consts::PI).sqrt() * (d + 0.044715 * d * d * d);
            let exact_tanh = 0.5 * d * (1.0 + u.tanh());
            let exact_silu = d / (1.0 + (-d).exp());
            for (name, got, want) in [
                ("gelu", gelu(x), exact_gelu),
                ("gelu_tanh", gelu_tanh(x), exact_tanh),
                ("silu", silu(x), exact_silu),
            ] {
                // Absolute error near zero, relative elsewhere (f32 has 2^-24 of either).
                let tolerance = 4e-7 * want.abs().max(1.0);
                assert!(
                    (got as f64 - want).abs() <= tolerance,
                    "{name}({x}) = {got}, want {want}"
                );
            }
        }
    }

    #[test]
    fn softmax_rows_match_the_definition() {
        // Lengths around the lane count, scores with an additive padding mask (f32::MIN).
        for len in [1, 3, 15, 16, 17, 64, 100] {
            let mut row: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) * 1.7)
                .collect();
            if len > 2 {
                row[len - 1] += f32::MIN;
            }
            let max = row.iter().fold(f64::NEG_INFINITY, |m, v| m.max(*v as f64));
            let sum: f64 = row.iter().map(|v| (*v as f64 - max).exp()).sum();
            let want: Vec<f64> = row.iter().map(|v| (*v as f64 - max).exp() / sum).collect();
            softmax_row(&mut row);
            for (got, want) in row.iter().zip(&want) {
                assert!(
                    (*got as f64 - want).abs() <= 1e-6 * want.max(1e-30).max(1.0),
                    "{len}: {got} vs {want}"
                );
            }
            assert_eq!(row[len - 1] == 0.0, len > 2, "a masked key gets no weight");
        }
    }

    #[test]
    fn gated_kernels_multiply_by_the_gate() {
        let mut values = vec![-2.0f32, -0.5, 0.0, 0.5, 2.0];
        let gate = [1.0f32, 2.0, 3.0, -1.0, 0.5];
        let want: Vec<f32> = values.iter().zip(gate).map(|(v, g)| silu(*v) * g).collect();
        Unary::Silu.apply(&mut values, Some(&gate));
        assert_eq!(values, want);
    }
}
