//! Activations and the attention softmax of CPU tensors, computed in place on the host and
//! vectorised: burn-flex calls scalar libm `erff`/`tanhf`/`expf` per element (≈ 10 % of a pass).
//!
//! The branch-free forms below let the compiler use the widest SIMD the CPU has; `pulp`
//! (already in the build through `gemm`) compiles the loop for AVX-512 / AVX2 and picks one at
//! run time, and wasm32 gets `simd128`. Elsewhere (GPU devices, autodiff, half precision) the
//! burn ops run as before: [`Activation::forward`](super::Activation::forward) falls back.

use burn::tensor::Tensor;

use super::Activation;

/// `activation(x)`, computed here when `x` is an f32 tensor of the CPU backend outside autodiff,
/// and by `otherwise` (burn's ops) when it is not.
pub(crate) fn activate<const D: usize>(
    activation: Activation,
    x: Tensor<D>,
    otherwise: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if let Some(kernel) = Kernel::of(activation)
        && host::holds(&x)
    {
        return host::map(x, None, kernel);
    }
    #[cfg(not(feature = "flex"))]
    let _ = activation;
    otherwise(x)
}

/// `activation(x) ⊙ gate` in one pass (gated feed-forward blocks) under the same conditions as
/// [`activate`]; `otherwise(x, gate)` when they do not hold.
pub(crate) fn activate_gated<const D: usize>(
    activation: Activation,
    x: Tensor<D>,
    gate: Tensor<D>,
    otherwise: impl FnOnce(Tensor<D>, Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if let Some(kernel) = Kernel::of(activation)
        && host::holds(&x)
        && host::holds(&gate)
        && x.dims() == gate.dims()
    {
        return host::map(x, Some(gate), kernel);
    }
    #[cfg(not(feature = "flex"))]
    let _ = activation;
    otherwise(x, gate)
}

/// Softmax over the last dimension under the same conditions as [`activate`] (attention
/// scores: one pass for the maximum, one for `exp` and the sum, one to scale); `otherwise(x)`
/// when they do not hold.
pub(crate) fn softmax_last<const D: usize>(
    x: Tensor<D>,
    otherwise: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if host::holds(&x) && x.dims()[D - 1] > 0 {
        return host::softmax_rows(x);
    }
    otherwise(x)
}

/// Lanes of the partial maxima and sums: wide enough for AVX-512's 16 f32, and a fixed
/// association order, so the compiler may vectorise the reductions.
const LANES: usize = 16;

/// `row ← softmax(row)` in place.
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
#[inline(always)]
fn softmax_row(row: &mut [f32]) {
    let mut maxima = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (m, v) in maxima.iter_mut().zip(chunk) {
            *m = m.max(*v);
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&maxima)
        .fold(f32::NEG_INFINITY, |m, v| m.max(*v));
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

/// The activations computed here (ReLU and tanh stay burn ops: flex already does them well,
/// or they are rare).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
enum Kernel {
    Gelu,
    GeluTanh,
    Silu,
}

#[cfg_attr(not(feature = "flex"), allow(dead_code))]
impl Kernel {
    fn of(activation: Activation) -> Option<Self> {
        match activation {
            Activation::Gelu => Some(Self::Gelu),
            Activation::GeluTanh => Some(Self::GeluTanh),
            Activation::Silu => Some(Self::Silu),
            Activation::Relu | Activation::Tanh => None,
        }
    }

    /// Applies the activation to `values` in place, times `gate` element-wise when given,
    /// compiled for the CPU's widest SIMD.
    fn apply(self, values: &mut [f32], gate: Option<&[f32]>) {
        pulp::Arch::new().dispatch(Job::Map {
            kernel: self,
            values,
            gate,
        });
    }

    /// [`Self::apply`]'s loops, one per kernel so each body is branch-free and vectorises.
    #[inline(always)]
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

/// Work for pulp's dispatch. `with_simd` is `#[inline(always)]`, and so is everything it calls,
/// so the loops are compiled inside pulp's AVX-512 / AVX2 functions (a closure body is not
/// reliably inlined there, and then runs as baseline SSE2).
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
enum Job<'a> {
    Map {
        kernel: Kernel,
        values: &'a mut [f32],
        gate: Option<&'a [f32]>,
    },
    Softmax {
        rows: &'a mut [f32],
        row_len: usize,
        bias: Option<RowBias<'a>>,
    },
}

/// An additive term for each row of a softmax: row `r` adds
/// `values[r·row_stride .. r·row_stride + row_len]` (a stride of 0 repeats one row, as a
/// broadcast padding mask does).
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
pub(crate) struct RowBias<'a> {
    pub values: &'a [f32],
    pub row_stride: usize,
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

/// `row ← softmax(row + bias row)` for each `row_len`-long row of `rows`, compiled for the CPU's
/// widest SIMD (the attention of [`super::tiled_attention`], one tile of query rows at a time).
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
pub(crate) fn softmax_rows_biased(rows: &mut [f32], row_len: usize, bias: Option<RowBias<'_>>) {
    pulp::Arch::new().dispatch(Job::Softmax {
        rows,
        row_len,
        bias,
    });
}

/// Elements per task when work is shared among threads: enough to pay for the hand-off.
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
const TASK: usize = 65_536;

/// Whether `device` is the CPU backend computing in f32 outside autodiff: where host code may
/// stand in for burn's ops (always false without the `flex` feature).
pub fn cpu_f32(device: &burn::tensor::Device) -> bool {
    #[cfg(feature = "flex")]
    return host::is_cpu(device) && device.settings().float_dtype == burn::tensor::FloatDType::F32;
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

#[cfg(feature = "flex")]
mod host {
    use burn::tensor::{DType, Device, Tensor};

    use super::{Job, Kernel, TASK};

    /// Whether `t` is an f32 tensor of the CPU backend outside autodiff (whose graph a host
    /// computation would cut).
    pub(super) fn holds<const D: usize>(t: &Tensor<D>) -> bool {
        t.dtype() == DType::F32 && is_cpu(&t.device())
    }

    /// Whether `device` is the CPU backend outside autodiff.
    pub(crate) fn is_cpu(device: &Device) -> bool {
        !device.is_autodiff() && *device == Device::flex()
    }

    /// Runs `kernel` on `x` (times `gate`) through its host buffer: for a flex tensor that
    /// nothing else holds, `into_data` and `from_data` move the buffer without copying.
    pub(super) fn map<const D: usize>(
        x: Tensor<D>,
        gate: Option<Tensor<D>>,
        kernel: Kernel,
    ) -> Tensor<D> {
        let device = x.device();
        let mut data = x.into_data();
        let gate = gate.map(Tensor::into_data);
        let gate = gate
            .as_ref()
            .map(|g| g.as_slice::<f32>().expect("holds() checked f32"));
        let values = data.as_mut_slice::<f32>().expect("holds() checked f32");
        let run = |(values, gate): (&mut [f32], Option<&[f32]>)| kernel.apply(values, gate);
        #[cfg(feature = "threads")]
        {
            use rayon::prelude::*;
            match gate {
                Some(gate) => values
                    .par_chunks_mut(TASK)
                    .zip(gate.par_chunks(TASK))
                    .for_each(|(v, g)| run((v, Some(g)))),
                None => values.par_chunks_mut(TASK).for_each(|v| run((v, None))),
            }
        }
        #[cfg(not(feature = "threads"))]
        run((values, gate));
        Tensor::from_data(data, &device)
    }

    /// Softmax of every row (last dimension) of `x` in place, rows shared among the threads
    /// where there are threads.
    pub(super) fn softmax_rows<const D: usize>(x: Tensor<D>) -> Tensor<D> {
        let device = x.device();
        let row_len = x.dims()[D - 1];
        let mut data = x.into_data();
        let values = data.as_mut_slice::<f32>().expect("holds() checked f32");
        let run = |rows: &mut [f32]| {
            pulp::Arch::new().dispatch(Job::Softmax {
                rows,
                row_len,
                bias: None,
            })
        };
        let rows_per_task = (TASK / row_len).max(1);
        #[cfg(feature = "threads")]
        {
            use rayon::prelude::*;
            values.par_chunks_mut(rows_per_task * row_len).for_each(run);
        }
        #[cfg(not(feature = "threads"))]
        values.chunks_mut(rows_per_task * row_len).for_each(run);
        Tensor::from_data(data, &device)
    }
}

/// `e^x` for f32: `2^n · e^r` with `n = round(x / ln 2)`, `|r| ≤ ln 2 / 2`, and Cephes' degree-6
/// polynomial for `e^r` (≤ 2 ulp). Below −87 the result is 0 (e⁻⁸⁷ ≈ 1.6·10⁻³⁸, so a masked
/// attention score weighs exactly nothing); above 88 it stays at e⁸⁸ (callers only divide by it).
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // 1.5 · 2²³: adding it rounds to an integer held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // NaN compares false, so it is not flushed and stays NaN through the arithmetic below.
    let underflows = x <= -87.0;
    let x = x.clamp(-87.0, 88.0);
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
pub(crate) fn gelu(x: f32) -> f32 {
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
pub(crate) fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x);
    x / (1.0 + exp(-2.0 * u))
}

/// `x · σ(x)`.
#[inline(always)]
pub(crate) fn silu(x: f32) -> f32 {
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
        Kernel::Silu.apply(&mut values, Some(&gate));
        assert_eq!(values, want);
    }

    /// Through burn tensors: the host path gives burn's own ops' values (and a tensor that
    /// something else still holds is left intact).
    #[cfg(feature = "flex")]
    #[test]
    fn host_path_matches_burn_ops() {
        use burn::tensor::{Device, Distribution, Tensor, Tolerance, activation};
        let device = Device::flex();
        let x = Tensor::<3>::random([2, 5, 37], Distribution::Normal(0.0, 3.0), &device);
        let kept = x.clone().into_data();
        let close = |got: Tensor<3>, want: Tensor<3>| {
            got.into_data()
                .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(2e-6))
        };
        close(
            Activation::Gelu.forward(x.clone()),
            activation::gelu(x.clone()),
        );
        close(
            Activation::Silu.forward(x.clone()),
            activation::silu(x.clone()),
        );
        let u = (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715)).mul_scalar(0.797_884_6);
        close(
            Activation::GeluTanh.forward(x.clone()),
            (x.clone() * (u.tanh() + 1.0)).mul_scalar(0.5),
        );
        let gate = Tensor::<3>::random([2, 5, 37], Distribution::Normal(0.0, 1.0), &device);
        let host_only = |_, _| panic!("not on the host path");
        let gated = activate_gated(Activation::Silu, x.clone(), gate.clone(), host_only);
        close(gated, activation::silu(x.clone()) * gate);
        let softmax = softmax_last(x.clone(), |_| panic!("not on the host path"));
        close(softmax, activation::softmax(x.clone(), 2));
        x.into_data().assert_eq(&kept, true);
    }
}
