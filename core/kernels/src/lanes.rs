//! Four f32 lanes as one value: WebAssembly's `v128` in the browser, an array elsewhere. The
//! browser's kernels (`matmul`, `vector_loops`) are written on it with explicit operations,
//! because the modules' link-time optimisation runs at opt-level "z", which neither vectorises
//! loops nor keeps the vectorisation done before it (an auto-vectorised softmax ran 3.2× slower
//! there than at opt-level 3); explicit `v128` operations survive it.

/// A vector of [`Lanes::WIDTH`] f32 lanes. Comparisons give masks (all bits set where true) in
/// the same type, for [`Lanes::select`].
pub(crate) trait Lanes: Copy {
    const WIDTH: usize;
    fn splat(x: f32) -> Self;
    /// # Safety
    /// `WIDTH` values readable at `p` (no alignment needed).
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `WIDTH` values writable at `p` (no alignment needed).
    unsafe fn store(self, p: *mut f32);
    /// `acc + self · b`, fused into one rounding where the target has it.
    ///
    /// # Safety
    /// With the relaxed-simd feature in wasm32, only inside a function compiled for it
    /// (`#[target_feature(enable = "relaxed-simd")]`), as the instruction needs the engine's
    /// support.
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self;
    fn add(self, b: Self) -> Self;
    fn sub(self, b: Self) -> Self;
    fn mul(self, b: Self) -> Self;
    fn div(self, b: Self) -> Self;
    fn abs(self) -> Self;
    /// Lanes where `self < b`.
    fn lt(self, b: Self) -> Self;
    /// `b` where `b > self`, else `self` (a NaN `b` is skipped): wasm's `pmax`.
    fn larger(self, b: Self) -> Self;
    /// `b` where `b < self`, else `self`: wasm's `pmin`.
    fn smaller(self, b: Self) -> Self;
    /// `yes` where `mask` is set, else `no`.
    fn select(mask: Self, yes: Self, no: Self) -> Self;
    /// `2ⁿ` from `n + 1.5·2²³` (n an integer in [-126, 127] held in the low mantissa bits).
    /// (`bias` is [`pow2_bias`] in each lane, passed in so a loop can hold it in a local.)
    fn pow2_of_rounded(self, bias: Self) -> Self;
    /// The largest lane (by [`Lanes::larger`]).
    fn max_lane(self) -> f32;
    /// The lanes' sum.
    fn sum_lanes(self) -> f32;
}

/// What [`Lanes::pow2_of_rounded`] adds to a lane's bits, as an f32 with those bits: the
/// exponent's bias less [`ROUND`]'s bits.
pub(crate) fn pow2_bias() -> f32 {
    f32::from_bits(127u32.wrapping_sub(ROUND.to_bits()))
}

/// The lanes the kernels run on for the target compiled for.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) type Native = Simd128;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub(crate) type Native = Portable;

/// `1.5 · 2²³`: adding it to a float of magnitude below 2²² rounds it to an integer held in the
/// low mantissa bits.
pub(crate) const ROUND: f32 = 12_582_912.0;

/// WebAssembly's 128-bit vectors; relaxed SIMD's multiply-add with the relaxed-simd feature.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[derive(Clone, Copy)]
pub(crate) struct Simd128(core::arch::wasm32::v128);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl Lanes for Simd128 {
    const WIDTH: usize = 4;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Self(core::arch::wasm32::f32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Self(unsafe { core::arch::wasm32::v128_load(p.cast()) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { core::arch::wasm32::v128_store(p.cast(), self.0) }
    }
    #[cfg(feature = "relaxed-simd")]
    #[inline]
    #[target_feature(enable = "relaxed-simd")]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        Self(core::arch::wasm32::f32x4_relaxed_madd(self.0, b.0, acc.0))
    }
    #[cfg(not(feature = "relaxed-simd"))]
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        acc.add(self.mul(b))
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        Self(core::arch::wasm32::f32x4_add(self.0, b.0))
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        Self(core::arch::wasm32::f32x4_sub(self.0, b.0))
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        Self(core::arch::wasm32::f32x4_mul(self.0, b.0))
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        Self(core::arch::wasm32::f32x4_div(self.0, b.0))
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Self(core::arch::wasm32::f32x4_abs(self.0))
    }
    #[inline(always)]
    fn lt(self, b: Self) -> Self {
        Self(core::arch::wasm32::f32x4_lt(self.0, b.0))
    }
    #[inline(always)]
    fn larger(self, b: Self) -> Self {
        // pmax(a, b) = a < b ? b : a
        Self(core::arch::wasm32::f32x4_pmax(self.0, b.0))
    }
    #[inline(always)]
    fn smaller(self, b: Self) -> Self {
        // pmin(a, b) = b < a ? b : a
        Self(core::arch::wasm32::f32x4_pmin(self.0, b.0))
    }
    #[inline(always)]
    fn select(mask: Self, yes: Self, no: Self) -> Self {
        Self(core::arch::wasm32::v128_bitselect(yes.0, no.0, mask.0))
    }
    #[inline(always)]
    fn pow2_of_rounded(self, bias: Self) -> Self {
        use core::arch::wasm32::*;
        Self(i32x4_shl(i32x4_add(self.0, bias.0), 23))
    }
    #[inline(always)]
    fn max_lane(self) -> f32 {
        use core::arch::wasm32::*;
        let a = self.larger(Self(i32x4_shuffle::<2, 3, 0, 1>(self.0, self.0)));
        f32x4_extract_lane::<0>(a.larger(Self(i32x4_shuffle::<1, 0, 3, 2>(a.0, a.0))).0)
    }
    #[inline(always)]
    fn sum_lanes(self) -> f32 {
        use core::arch::wasm32::*;
        let a = self.add(Self(i32x4_shuffle::<2, 3, 0, 1>(self.0, self.0)));
        f32x4_extract_lane::<0>(a.add(Self(i32x4_shuffle::<1, 0, 3, 2>(a.0, a.0))).0)
    }
}

/// Four f32 in an array: the same kernels off wasm (their tests, and any target without SIMD).
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
#[derive(Clone, Copy)]
pub(crate) struct Portable([f32; 4]);

impl Portable {
    #[inline(always)]
    fn map(self, f: impl Fn(f32) -> f32) -> Self {
        Self(self.0.map(f))
    }
    #[inline(always)]
    fn zip(self, b: Self, f: impl Fn(f32, f32) -> f32) -> Self {
        Self(std::array::from_fn(|l| f(self.0[l], b.0[l])))
    }
}

impl Lanes for Portable {
    const WIDTH: usize = 4;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        Self([x; 4])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Self(unsafe { p.cast::<[f32; 4]>().read_unaligned() })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        unsafe { p.cast::<[f32; 4]>().write_unaligned(self.0) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, acc: Self) -> Self {
        acc.add(self.mul(b))
    }
    #[inline(always)]
    fn add(self, b: Self) -> Self {
        self.zip(b, |a, b| a + b)
    }
    #[inline(always)]
    fn sub(self, b: Self) -> Self {
        self.zip(b, |a, b| a - b)
    }
    #[inline(always)]
    fn mul(self, b: Self) -> Self {
        self.zip(b, |a, b| a * b)
    }
    #[inline(always)]
    fn div(self, b: Self) -> Self {
        self.zip(b, |a, b| a / b)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        self.map(f32::abs)
    }
    #[inline(always)]
    fn lt(self, b: Self) -> Self {
        self.zip(b, |a, b| f32::from_bits(if a < b { u32::MAX } else { 0 }))
    }
    #[inline(always)]
    fn larger(self, b: Self) -> Self {
        self.zip(b, |a, b| if a < b { b } else { a })
    }
    #[inline(always)]
    fn smaller(self, b: Self) -> Self {
        self.zip(b, |a, b| if b < a { b } else { a })
    }
    #[inline(always)]
    fn select(mask: Self, yes: Self, no: Self) -> Self {
        Self(std::array::from_fn(|l| {
            let m = mask.0[l].to_bits();
            f32::from_bits((yes.0[l].to_bits() & m) | (no.0[l].to_bits() & !m))
        }))
    }
    #[inline(always)]
    fn pow2_of_rounded(self, bias: Self) -> Self {
        self.zip(bias, |s, bias| {
            f32::from_bits(s.to_bits().wrapping_add(bias.to_bits()) << 23)
        })
    }
    #[inline(always)]
    fn max_lane(self) -> f32 {
        self.0
            .iter()
            .fold(f32::NEG_INFINITY, |m, v| if m < *v { *v } else { m })
    }
    #[inline(always)]
    fn sum_lanes(self) -> f32 {
        (self.0[0] + self.0[2]) + (self.0[1] + self.0[3])
    }
}
