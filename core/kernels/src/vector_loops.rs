//! The activations and the softmax rows on explicit 4-lane vectors ([`crate::lanes`]): what the
//! browser modules run, where link-time optimisation at opt-level "z" leaves the auto-vectorised
//! loops of [`crate::Unary::apply`] and [`crate::softmax_rows`] scalar. Same formulas as the
//! scalar functions in the crate root; with relaxed-simd, the polynomials use fused multiply-adds.

use crate::lanes::{Lanes, ROUND, pow2_bias};
use crate::{RowBias, Unary};

/// The constants of [`exp`], splatted once per call of a loop and held in locals: V8 rebuilds a
/// `v128.const` inside a loop at every use, and LLVM folds a splat of a constant into one, so each
/// value passes through [`std::hint::black_box`] first. In Node 20, rows of 256 took 1.3 ns a
/// value through the softmax instead of 1.85, and GELU 3.9 instead of 4.9. (GELU's own constants
/// stay inline: hoisted too, the registers ran out and it was slower.)
#[derive(Clone, Copy)]
struct ExpConstants<L> {
    low: L,
    high: L,
    log2_e: L,
    round: L,
    minus_ln2_hi: L,
    minus_ln2_lo: L,
    poly: [L; 6],
    one: L,
    pow2_bias: L,
}

impl<L: Lanes> ExpConstants<L> {
    #[inline(always)]
    fn new() -> Self {
        let splat = |x: f32| L::splat(std::hint::black_box(x));
        Self {
            low: splat(-87.0),
            high: splat(88.0),
            log2_e: splat(std::f32::consts::LOG2_E),
            round: splat(ROUND),
            minus_ln2_hi: splat(-0.693_359_4),
            minus_ln2_lo: splat(2.121_944_4e-4),
            poly: [
                1.987_569_1e-4,
                1.398_199_9e-3,
                8.333_452e-3,
                4.166_579_6e-2,
                1.666_666_5e-1,
                0.5,
            ]
            .map(splat),
            one: splat(1.0),
            pow2_bias: splat(pow2_bias()),
        }
    }
}

/// [`crate::exp`] on every lane: `2^n · e^r`, Cephes' polynomial; 0 below −87, e⁸⁸ above 88.
///
/// # Safety
/// As [`Lanes::mul_add`].
#[inline(always)]
unsafe fn exp<L: Lanes>(x: L, k: &ExpConstants<L>) -> L {
    let underflows = x.lt(k.low);
    // pmax / pmin keep a NaN x, which then stays NaN through the arithmetic.
    let x = x.larger(k.low).smaller(k.high);
    unsafe {
        let shifted = x.mul_add(k.log2_e, k.round);
        let n = shifted.sub(k.round);
        let r = n.mul_add(k.minus_ln2_hi, x);
        let r = n.mul_add(k.minus_ln2_lo, r);
        let mut p = k.poly[0];
        for c in &k.poly[1..] {
            p = p.mul_add(r, *c);
        }
        let e_r = p.mul(r).mul_add(r, r).add(k.one);
        L::select(
            underflows,
            L::splat(0.0),
            e_r.mul(shifted.pow2_of_rounded(k.pow2_bias)),
        )
    }
}

/// [`crate::gelu`] on every lane.
///
/// # Safety
/// As [`Lanes::mul_add`].
#[inline(always)]
unsafe fn gelu<L: Lanes>(x: L, k: &ExpConstants<L>) -> L {
    let z = x.abs().mul(L::splat(std::f32::consts::FRAC_1_SQRT_2));
    unsafe {
        let t = k.one.div(z.mul_add(L::splat(0.327_591_1), k.one));
        let mut poly = L::splat(1.061_405_4);
        for c in [-1.453_152_1, 1.421_413_7, -0.284_496_74, 0.254_829_6] {
            poly = t.mul_add(poly, L::splat(c));
        }
        let erfc = t.mul(poly).mul(exp(L::splat(0.0).sub(z.mul(z)), k));
        let half = erfc.mul(L::splat(0.5));
        x.mul(L::select(x.lt(L::splat(0.0)), half, k.one.sub(half)))
    }
}

/// [`crate::gelu_tanh`] on every lane: `x · σ(2u)`.
///
/// # Safety
/// As [`Lanes::mul_add`].
#[inline(always)]
unsafe fn gelu_tanh<L: Lanes>(x: L, k: &ExpConstants<L>) -> L {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let cube = x.mul(x).mul(x);
    unsafe {
        let u = cube
            .mul_add(L::splat(0.044_715), x)
            .mul(L::splat(SQRT_2_OVER_PI));
        x.div(k.one.add(exp(u.mul(L::splat(-2.0)), k)))
    }
}

/// [`crate::silu`] on every lane.
///
/// # Safety
/// As [`Lanes::mul_add`].
#[inline(always)]
unsafe fn silu<L: Lanes>(x: L, k: &ExpConstants<L>) -> L {
    unsafe { x.div(k.one.add(exp(L::splat(0.0).sub(x), k))) }
}

/// `values ← f(values) (× gate)`, a vector at a time, the last `len mod 4` by the scalar form.
///
/// # Safety
/// As [`Lanes::mul_add`]; `gate`, when given, is at least as long as `values`.
#[inline(always)]
unsafe fn map_with<L: Lanes>(
    values: &mut [f32],
    gate: Option<&[f32]>,
    lanes: impl Fn(L) -> L,
    scalar: impl Fn(f32) -> f32,
) {
    let full = values.len() - values.len() % L::WIDTH;
    let p = values.as_mut_ptr();
    for i in (0..full).step_by(L::WIDTH) {
        // SAFETY: i + WIDTH ≤ full ≤ values.len() ≤ gate.len().
        unsafe {
            let mut y = lanes(L::load(p.add(i)));
            if let Some(gate) = gate {
                y = y.mul(L::load(gate.as_ptr().add(i)));
            }
            y.store(p.add(i));
        }
    }
    for i in full..values.len() {
        values[i] = scalar(values[i]) * gate.map_or(1.0, |g| g[i]);
    }
}

/// [`Unary::apply`] on explicit vectors.
///
/// # Safety
/// As [`Lanes::mul_add`]; `gate`, when given, is at least as long as `values`.
#[inline(always)]
pub(crate) unsafe fn apply<L: Lanes>(kernel: Unary, values: &mut [f32], gate: Option<&[f32]>) {
    unsafe {
        match kernel {
            Unary::Gelu => {
                let k = ExpConstants::new();
                map_with(values, gate, |x| gelu::<L>(x, &k), crate::gelu)
            }
            Unary::GeluTanh => {
                let k = ExpConstants::new();
                map_with(values, gate, |x| gelu_tanh::<L>(x, &k), crate::gelu_tanh)
            }
            Unary::Silu => {
                let k = ExpConstants::new();
                map_with(values, gate, |x| silu::<L>(x, &k), crate::silu)
            }
        }
    }
}

/// [`crate::softmax_rows`] on explicit vectors: per row, the bias added and the maximum taken
/// in one pass, `e^(x − max)` and its sum in a second, the division in a third.
///
/// # Safety
/// As [`Lanes::mul_add`]; the bias rows lie inside `bias.values` (checked by the caller).
#[inline(always)]
pub(crate) unsafe fn softmax_rows<L: Lanes>(
    rows: &mut [f32],
    row_len: usize,
    bias: Option<RowBias<'_>>,
) {
    let full = row_len - row_len % L::WIDTH;
    let k = ExpConstants::new();
    for (r, row) in rows.chunks_exact_mut(row_len).enumerate() {
        let bias = bias.map(|b| &b.values[r * b.row_stride..][..row_len]);
        let p = row.as_mut_ptr();
        let mut maxima = L::splat(f32::NEG_INFINITY);
        // SAFETY (each block): indices below `full` ≤ row_len, the length of `row` and `bias`.
        for i in (0..full).step_by(L::WIDTH) {
            unsafe {
                let mut v = L::load(p.add(i));
                if let Some(bias) = bias {
                    v = v.add(L::load(bias.as_ptr().add(i)));
                    v.store(p.add(i));
                }
                maxima = maxima.larger(v);
            }
        }
        let mut max = maxima.max_lane();
        for i in full..row_len {
            row[i] += bias.map_or(0.0, |b| b[i]);
            max = if max < row[i] { row[i] } else { max };
        }
        let mut sums = L::splat(0.0);
        for i in (0..full).step_by(L::WIDTH) {
            unsafe {
                let e = exp(L::load(p.add(i)).sub(L::splat(max)), &k);
                e.store(p.add(i));
                sums = sums.add(e);
            }
        }
        let mut sum = sums.sum_lanes();
        for v in &mut row[full..] {
            *v = crate::exp(*v - max);
            sum += *v;
        }
        let scale = 1.0 / sum;
        for i in (0..full).step_by(L::WIDTH) {
            unsafe { L::load(p.add(i)).mul(L::splat(scale)).store(p.add(i)) };
        }
        for v in &mut row[full..] {
            *v *= scale;
        }
    }
}

/// The entry points on the target's vectors, compiled with relaxed SIMD when asked for (as
/// `matmul`'s): what [`Unary::apply`] and [`crate::softmax_rows`] call in the browser.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod native {
    use crate::lanes::Native;
    use crate::{RowBias, Unary};

    /// # Safety
    /// With relaxed-simd, the engine has relaxed SIMD (the module only loads where it does).
    #[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
    pub(crate) unsafe fn apply(kernel: Unary, values: &mut [f32], gate: Option<&[f32]>) {
        if let Some(gate) = gate {
            assert!(gate.len() >= values.len(), "a gate shorter than the values");
        }
        unsafe { super::apply::<Native>(kernel, values, gate) }
    }

    /// # Safety
    /// As [`apply`].
    #[cfg_attr(feature = "relaxed-simd", target_feature(enable = "relaxed-simd"))]
    pub(crate) unsafe fn softmax_rows(rows: &mut [f32], row_len: usize, bias: Option<RowBias<'_>>) {
        unsafe { super::softmax_rows::<Native>(rows, row_len, bias) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanes::Portable;

    fn close(got: f32, want: f32, what: &str) {
        assert!(
            (got - want).abs() <= 1e-6 * want.abs().max(1.0) || (got.is_nan() && want.is_nan()),
            "{what}: {got} vs {want}"
        );
    }

    /// Every function on vectors gives the scalar form's value (itself tested against the
    /// definitions), at lengths that leave a scalar tail, with and without a gate.
    #[test]
    fn activations_equal_the_scalar_forms() {
        let inputs: Vec<f32> = (-20_000..=20_001)
            .map(|i| i as f32 * 2e-3)
            .chain([-1e30, -100.0, -87.5, 88.5, 100.0, 1e30, f32::NAN])
            .collect();
        let gate: Vec<f32> = (0..inputs.len()).map(|i| (i % 7) as f32 - 3.0).collect();
        for (kernel, scalar) in [
            (Unary::Gelu, crate::gelu as fn(f32) -> f32),
            (Unary::GeluTanh, crate::gelu_tanh),
            (Unary::Silu, crate::silu),
        ] {
            for gated in [false, true] {
                let mut values = inputs.clone();
                unsafe { apply::<Portable>(kernel, &mut values, gated.then_some(&gate[..])) };
                for (i, (got, x)) in values.iter().zip(&inputs).enumerate() {
                    let want = scalar(*x) * if gated { gate[i] } else { 1.0 };
                    close(*got, want, &format!("{kernel:?}({x}) gated {gated}"));
                }
            }
        }
    }

    /// Rows of lengths around the vector width, with a broadcast bias row holding a mask.
    #[test]
    fn softmax_rows_equal_the_scalar_form() {
        for len in [1, 3, 4, 5, 8, 17, 64, 100] {
            let rows: Vec<f32> = (0..3 * len)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) * 1.7)
                .collect();
            let mut bias = vec![0.0f32; len];
            bias[len - 1] = f32::MIN;
            for with_bias in [false, true] {
                let bias = with_bias.then_some(RowBias {
                    values: &bias,
                    row_stride: 0,
                });
                let (mut got, mut want) = (rows.clone(), rows.clone());
                unsafe { softmax_rows::<Portable>(&mut got, len, bias) };
                crate::softmax_rows(&mut want, len, bias);
                for (g, w) in got.iter().zip(&want) {
                    close(*g, *w, &format!("length {len}, bias {with_bias}"));
                }
            }
        }
    }
}
