//! `c = scale·(a·b) + bias` on row-major f32 slices for the browser's CPU modules: register tiles
//! of 4 rows × 8 columns, each block of the right-hand matrix (a layer's weight) copied once into
//! panels of 8 columns read in sequence (51–53 GFLOP/s in V8 on the shipped model's shapes, against
//! 42–51 reading it in place), no threads.
//!
//! Why our own and not gemm's: gemm's wasm `simd128` micro-kernels reach 22–31 GFLOP/s in V8 on
//! the development machine, a tile of eight 4-lane accumulators 30–37, and 41–51 with relaxed
//! SIMD's fused multiply-add, which gemm never emits (Node 20, `[4092 × 128]·[128 × 384]`). With
//! the `relaxed-simd` feature (the browser module for engines that have it,
//! `scripts/build-wasm.sh`) the tiles use the fused form; otherwise a multiply then an add.
//! Native builds keep gemm: its AVX-512 / AVX2 kernels pack both operands and share the work
//! among threads. Elsewhere than wasm32 the same tiling runs on portable 4-lane arrays
//! ([`crate::lanes`]), so the tests exercise every edge on the development machine.

use crate::lanes::{Lanes, Native};

/// A read-only row-major matrix: element `(r, c)` is `data[r·row_stride + c]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a> MatRef<'a> {
    /// The `rows × cols` matrix whose rows start `row_stride` apart in `data`.
    ///
    /// # Panics
    /// When `data` is too short for the last row.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * row_stride + cols <= data.len(),
            "a {rows} × {cols} matrix with row stride {row_stride} needs more than {} values",
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
        }
    }
}

/// A writable row-major matrix: element `(r, c)` is `data[r·row_stride + c]`.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a> MatMut<'a> {
    /// The `rows × cols` matrix whose rows start `row_stride` apart in `data`; elements between
    /// the rows are left alone.
    ///
    /// # Panics
    /// When `data` is too short for the last row, or rows would overlap (`row_stride < cols`).
    pub fn new(data: &'a mut [f32], rows: usize, cols: usize, row_stride: usize) -> Self {
        assert!(
            rows == 0 || cols == 0 || (rows - 1) * row_stride + cols <= data.len(),
            "a {rows} × {cols} matrix with row stride {row_stride} needs more than {} values",
            data.len()
        );
        assert!(
            rows <= 1 || row_stride >= cols,
            "rows of the output overlap"
        );
        Self {
            data,
            rows,
            cols,
            row_stride,
        }
    }
}

/// `c ← scale·(a·b) + bias`, with `bias` (one value per column of `c`) added to every row.
///
/// ```
/// use tessera_kernels::matmul::{matmul, MatMut, MatRef};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [1.0f32, 0.0, 0.0, 1.0]; // identity
/// let mut c = [0.0f32; 4];
/// matmul(MatRef::new(&a, 2, 2, 2), MatRef::new(&b, 2, 2, 2), MatMut::new(&mut c, 2, 2, 2),
///     Some(&[10.0, 20.0]), 1.0);
/// assert_eq!(c, [11.0, 22.0, 13.0, 24.0]);
/// ```
///
/// # Panics
/// When the shapes disagree: `a: [m, k]`, `b: [k, n]`, `c: [m, n]`, `bias: [n]`.
pub fn matmul(a: MatRef<'_>, b: MatRef<'_>, c: MatMut<'_>, bias: Option<&[f32]>, scale: f32) {
    let c = MatOut {
        data: c.data.as_mut_ptr(),
        rows: c.rows,
        cols: c.cols,
        row_stride: c.row_stride,
    };
    // SAFETY: `MatMut`'s constructor checked that its rows lie inside its slice, which is
    // borrowed mutably for the call.
    unsafe { product(a, b, c, bias, scale) }
}

/// `scale·(a·b) + bias` in a new row-major `[m, n]` vector: [`matmul`] without first zeroing
/// the output (every element is written before any is read).
///
/// ```
/// use tessera_kernels::matmul::{matmul_to_vec, MatRef};
/// let c = matmul_to_vec(MatRef::new(&[1.0, 2.0], 1, 2, 2), MatRef::new(&[3.0, 4.0], 2, 1, 1), None, 2.0);
/// assert_eq!(c, [22.0]);
/// ```
///
/// # Panics
/// When the shapes disagree: `a: [m, k]`, `b: [k, n]`, `bias: [n]`.
pub fn matmul_to_vec(a: MatRef<'_>, b: MatRef<'_>, bias: Option<&[f32]>, scale: f32) -> Vec<f32> {
    let (m, n) = (a.rows, b.cols);
    let mut out = Vec::with_capacity(m * n);
    let c = MatOut {
        data: out.spare_capacity_mut().as_mut_ptr().cast(),
        rows: m,
        cols: n,
        row_stride: n,
    };
    // SAFETY: `c` is the vector's m·n spare capacity, exclusively ours; `product` writes every
    // element of it in the first depth block (which exists even when k = 0) before a later
    // block reads any, so all m·n are initialised.
    unsafe {
        product(a, b, c, bias, scale);
        out.set_len(m * n);
    }
    out
}

/// An output matrix by pointer (see [`MatMut`]).
struct MatOut {
    data: *mut f32,
    rows: usize,
    cols: usize,
    row_stride: usize,
}

/// [`matmul`] into `c`.
///
/// # Safety
/// `c` addresses `rows` rows of `cols` writable values, `row_stride` apart, that nothing else
/// reads or writes during the call.
unsafe fn product(a: MatRef<'_>, b: MatRef<'_>, c: MatOut, bias: Option<&[f32]>, scale: f32) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        b.rows == k && c.rows == m && c.cols == n,
        "matmul of [{m}, {k}]·[{}, {n}] into [{}, {}]",
        b.rows,
        c.rows,
        c.cols
    );
    if let Some(bias) = bias {
        assert!(
            bias.len() >= n,
            "{} bias values for {n} columns",
            bias.len()
        );
    }
    if m == 0 || n == 0 {
        return;
    }
    let problem = Problem {
        a: a.data.as_ptr(),
        lda: a.row_stride,
        b: b.data.as_ptr(),
        ldb: b.row_stride,
        c: c.data,
        ldc: c.row_stride,
        bias: bias.map(<[f32]>::as_ptr),
        scale,
        m,
        n,
        k,
    };
    // SAFETY: `MatRef`'s constructor checked that every row of `a` and `b` lies inside its
    // slice, and the shapes agree (above), so every element the loops address exists; `c` is
    // the caller's to write. (With relaxed-simd, the module that holds this call only loads
    // where the engine has it.)
    unsafe { run(&problem) }
}

/// [`Problem::run`] on the target's lanes, compiled with relaxed SIMD when asked for: only here,
/// so the rest of the module (and dependencies such as macerator, which does not build with the
/// target feature on) keeps plain `simd128`.
///
/// # Safety
/// As [`Problem::run`].
#[cfg_attr(
    all(target_arch = "wasm32", feature = "relaxed-simd"),
    target_feature(enable = "relaxed-simd")
)]
unsafe fn run(problem: &Problem) {
    unsafe { problem.run::<Native>() }
}

/// `dst ← srcᵀ`: the right-hand operand of `a·bᵀ` laid out in rows for [`matmul`] (attention's
/// keys), a copy at opt-level 3 like the product.
///
/// ```
/// use tessera_kernels::matmul::{transpose, MatMut, MatRef};
/// let mut t = [0.0f32; 6];
/// transpose(MatRef::new(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3, 3), MatMut::new(&mut t, 3, 2, 2));
/// assert_eq!(t, [1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// ```
///
/// # Panics
/// When `dst` is not `src`'s shape transposed.
pub fn transpose(src: MatRef<'_>, dst: MatMut<'_>) {
    assert!(
        dst.rows == src.cols && dst.cols == src.rows,
        "transpose of [{}, {}] into [{}, {}]",
        src.rows,
        src.cols,
        dst.rows,
        dst.cols
    );
    for (i, row) in (0..src.rows).map(|i| (i, &src.data[i * src.row_stride..][..src.cols])) {
        for (j, value) in row.iter().enumerate() {
            dst.data[j * dst.row_stride + i] = *value;
        }
    }
}

/// Rows of a register tile.
const MR: usize = 4;
/// Depth of a block: the tile's `MR × KC` rows of `a` (4 kB) stay in L1 across a block's tiles.
const KC: usize = 256;
/// Columns of a block: its `KC × NC` part of `b` (256 kB) stays in L2 while every row of `a`
/// passes over it.
const NC: usize = 256;

/// Rows from which a product packs `b`'s panels first (fewer rows read each panel too few times
/// to pay for the copy).
const MIN_ROWS_TO_PACK: usize = 16;

std::thread_local! {
    /// The packed panels of the current block, kept between calls (wasm has one thread).
    static PANELS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// What a tile adds its product to.
#[derive(Clone, Copy)]
enum Base {
    /// Nothing (the first block of `k`, no bias).
    Zero,
    /// The bias from this column.
    Bias(*const f32),
    /// The output's current value (every later block of `k`).
    Out,
}

/// One product with raw pointers (see [`matmul`]; `lda`, `ldb`, `ldc` are row strides).
struct Problem {
    a: *const f32,
    lda: usize,
    b: *const f32,
    ldb: usize,
    c: *mut f32,
    ldc: usize,
    bias: Option<*const f32>,
    scale: f32,
    m: usize,
    n: usize,
    k: usize,
}

impl Problem {
    /// # Safety
    /// The pointers, strides and sizes describe matrices inside live allocations (see
    /// [`matmul`]), `c` aliasing neither `a` nor `b`.
    #[inline(always)]
    unsafe fn run<L: Lanes>(&self) {
        let blocks = self.k.div_ceil(KC).max(1);
        let pack = self.m >= MIN_ROWS_TO_PACK;
        // Taken out of the thread-local, not used in a closure: a closure would not inherit
        // `run`'s target features, and its multiply-adds would not inline.
        let mut panels = if pack { PANELS.take() } else { Vec::new() };
        for block in 0..blocks {
            let k0 = block * KC;
            let kc = KC.min(self.k - k0);
            for j0 in (0..self.n).step_by(NC) {
                let cols = j0..NC.min(self.n - j0) + j0;
                let packed = if pack {
                    // SAFETY: the block is inside `b` (the caller's contract).
                    unsafe { self.pack_block::<L>(&mut panels, k0, kc, cols.clone()) }
                } else {
                    cols.start
                };
                let mut i = 0;
                while i < self.m {
                    let rows = MR.min(self.m - i);
                    let block = (cols.clone(), packed, &panels[..], k0, kc);
                    // SAFETY: rows i..i + rows, columns `cols` and depth k0..k0 + kc are inside
                    // the matrices (the caller's contract); `panels` holds the packed columns
                    // cols.start..packed.
                    unsafe {
                        match rows {
                            4 => self.row_block::<L, 4>(i, block),
                            3 => self.row_block::<L, 3>(i, block),
                            2 => self.row_block::<L, 2>(i, block),
                            _ => self.row_block::<L, 1>(i, block),
                        }
                    }
                    i += rows;
                }
            }
        }
        if pack {
            PANELS.set(panels);
        }
    }

    /// Copies the block's whole panels of `2·WIDTH` columns of `b` (depth `k0..k0 + kc`) into
    /// `panels`, each `kc` rows of `2·WIDTH` contiguous values; returns the column after the
    /// last one packed.
    ///
    /// # Safety
    /// As [`Self::run`], with the block inside `b`.
    #[inline(always)]
    unsafe fn pack_block<L: Lanes>(
        &self,
        panels: &mut Vec<f32>,
        k0: usize,
        kc: usize,
        cols: std::ops::Range<usize>,
    ) -> usize {
        let width = 2 * L::WIDTH;
        let count = cols.len() / width;
        panels.clear();
        panels.reserve(count * kc * width);
        let out = panels.spare_capacity_mut().as_mut_ptr().cast::<f32>();
        for t in 0..count {
            for p in 0..kc {
                // SAFETY: row k0 + p, columns cols.start + t·width.. + width are in `b`; the
                // destination is inside the reserved capacity.
                unsafe {
                    let from = self.b.add((k0 + p) * self.ldb + cols.start + t * width);
                    let to = out.add((t * kc + p) * width);
                    L::load(from).store(to);
                    L::load(from.add(L::WIDTH)).store(to.add(L::WIDTH));
                }
            }
        }
        // SAFETY: every value below count·kc·width was written above.
        unsafe { panels.set_len(count * kc * width) };
        cols.start + count * width
    }

    /// Rows `i..i + R` over `cols` and depth `k0..k0 + kc`: tiles of 8 columns (from the packed
    /// `panels` up to column `packed`, then from `b` in place), one of 4, then single columns.
    ///
    /// # Safety
    /// As [`Self::run`], with the block inside the matrices.
    #[inline(always)]
    unsafe fn row_block<L: Lanes, const R: usize>(
        &self,
        i: usize,
        (cols, packed, panels, k0, kc): (std::ops::Range<usize>, usize, &[f32], usize, usize),
    ) {
        let mut j = cols.start;
        let width = 2 * L::WIDTH;
        // SAFETY: each tile's columns j..j + width are inside `cols`; packed panels inside
        // `panels`.
        unsafe {
            while j < packed {
                let panel = panels.as_ptr().add((j - cols.start) / width * kc * width);
                self.tile::<L, R, 2>(i, j, panel, width, k0, kc);
                j += width;
            }
            while j + width <= cols.end {
                let b = self.b.add(k0 * self.ldb + j);
                self.tile::<L, R, 2>(i, j, b, self.ldb, k0, kc);
                j += width;
            }
            if j + L::WIDTH <= cols.end {
                let b = self.b.add(k0 * self.ldb + j);
                self.tile::<L, R, 1>(i, j, b, self.ldb, k0, kc);
                j += L::WIDTH;
            }
            for j in j..cols.end {
                self.column::<R>(i, j, k0, kc);
            }
        }
    }

    /// What block `k0` of column `j` adds its product to.
    fn base(&self, j: usize, k0: usize) -> Base {
        match (k0, self.bias) {
            (0, None) => Base::Zero,
            // SAFETY (of the pointer arithmetic): the bias has at least n values.
            (0, Some(bias)) => Base::Bias(bias.wrapping_add(j)),
            _ => Base::Out,
        }
    }

    /// The `R × (V·WIDTH)` tile at row `i`, column `j`, over depth `k0..k0 + kc`, kept in
    /// registers: per step of depth, V loads of `b`, R broadcasts of `a`, R·V multiply-adds.
    ///
    /// # Safety
    /// As [`Self::run`], with the tile inside the matrices.
    #[inline(always)]
    unsafe fn tile<L: Lanes, const R: usize, const V: usize>(
        &self,
        i: usize,
        j: usize,
        b: *const f32,
        ldb: usize,
        k0: usize,
        kc: usize,
    ) {
        unsafe {
            let a = self.a.add(i * self.lda + k0);
            let c = self.c.add(i * self.ldc + j);
            let mut acc = [[L::splat(0.0); V]; R];
            for p in 0..kc {
                let mut bv = [L::splat(0.0); V];
                for (v, lanes) in bv.iter_mut().enumerate() {
                    *lanes = L::load(b.add(p * ldb + v * L::WIDTH));
                }
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = L::splat(*a.add(r * self.lda + p));
                    for (sum, bv) in row.iter_mut().zip(&bv) {
                        *sum = av.mul_add(*bv, *sum);
                    }
                }
            }
            let scale = L::splat(self.scale);
            let base = self.base(j, k0);
            for (r, row) in acc.iter().enumerate() {
                for (v, sum) in row.iter().enumerate() {
                    let at = c.add(r * self.ldc + v * L::WIDTH);
                    let start = match base {
                        Base::Zero => L::splat(0.0),
                        Base::Bias(bias) => L::load(bias.add(v * L::WIDTH)),
                        Base::Out => L::load(at),
                    };
                    scale.mul_add(*sum, start).store(at);
                }
            }
        }
    }

    /// Column `j` of rows `i..i + R` (the last `n mod 4` columns), one product at a time.
    ///
    /// # Safety
    /// As [`Self::run`], with the column inside the matrices.
    #[inline(always)]
    unsafe fn column<const R: usize>(&self, i: usize, j: usize, k0: usize, kc: usize) {
        unsafe {
            for r in 0..R {
                let a = self.a.add((i + r) * self.lda + k0);
                let b = self.b.add(k0 * self.ldb + j);
                let sum: f32 = (0..kc).map(|p| *a.add(p) * *b.add(p * self.ldb)).sum();
                let at = self.c.add((i + r) * self.ldc + j);
                let start = match self.base(j, k0) {
                    Base::Zero => 0.0,
                    Base::Bias(bias) => *bias,
                    Base::Out => *at,
                };
                *at = start + self.scale * sum;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::values;
    use proptest::prelude::*;

    /// The definition in f64, element by element.
    #[allow(clippy::too_many_arguments)]
    fn naive(
        a: &[f32],
        lda: usize,
        b: &[f32],
        ldb: usize,
        [m, k, n]: [usize; 3],
        bias: Option<&[f32]>,
        scale: f32,
    ) -> Vec<f64> {
        let mut c = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|p| a[i * lda + p] as f64 * b[p * ldb + j] as f64)
                    .sum();
                c[i * n + j] = bias.map_or(0.0, |b| b[j] as f64) + scale as f64 * dot;
            }
        }
        c
    }

    /// Runs one product with padded strides and checks it, and that padding is untouched.
    fn check(seed: u64, [m, k, n]: [usize; 3], pad: usize, with_bias: bool, scale: f32) {
        let (lda, ldb, ldc) = (k + pad, n + 2 * pad, n + pad);
        let a = values(seed, m * lda);
        let b = values(seed ^ 1, k * ldb);
        let bias = with_bias.then(|| values(seed ^ 2, n));
        let mut c = vec![f32::NAN; m * ldc];
        matmul(
            MatRef::new(&a, m, k, lda),
            MatRef::new(&b, k, n, ldb),
            MatMut::new(&mut c, m, n, ldc),
            bias.as_deref(),
            scale,
        );
        let want = naive(&a, lda, &b, ldb, [m, k, n], bias.as_deref(), scale);
        for i in 0..m {
            for j in 0..ldc {
                let got = c[i * ldc + j];
                if j >= n {
                    assert!(got.is_nan(), "padding ({i}, {j}) written");
                    continue;
                }
                let want = want[i * n + j];
                // f32 sums of k products of magnitude ≤ 1.
                let tolerance = 1e-6 * (k as f64 + 1.0) * scale.abs().max(1.0) as f64;
                assert!(
                    (got as f64 - want).abs() <= tolerance,
                    "[{m}, {k}]·[{k}, {n}] at ({i}, {j}): {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn tile_edges_and_blocks() {
        // Rows around the tile height and where `b` starts being packed, columns around 4 and
        // 8 and the column block, depth around the depth block (a second block adds to the
        // first's output).
        for m in [1, 3, 4, 5, 9, MIN_ROWS_TO_PACK, MIN_ROWS_TO_PACK + 3] {
            for n in [1, 3, 4, 7, 8, 13, 257] {
                for k in [1, 5, 255, 256, 257, 600] {
                    check(
                        (m * 1000 + n * 10 + k) as u64,
                        [m, k, n],
                        3,
                        n % 2 == 1,
                        0.5,
                    );
                }
            }
        }
    }

    #[test]
    fn transpose_swaps_strided_rows_and_columns() {
        let src = values(5, 3 * 7);
        let mut dst = vec![f32::NAN; 5 * 4];
        transpose(MatRef::new(&src, 3, 5, 7), MatMut::new(&mut dst, 5, 3, 4));
        for j in 0..5 {
            for i in 0..3 {
                assert_eq!(dst[j * 4 + i], src[i * 7 + j]);
            }
            assert!(dst[j * 4 + 3].is_nan(), "padding written");
        }
    }

    #[test]
    fn a_new_vector_equals_the_product_into_a_slice() {
        let (a, b, bias) = (values(1, 9 * 300), values(2, 300 * 13), values(3, 13));
        for bias in [None, Some(&bias[..])] {
            let mut want = vec![0.0; 9 * 13];
            let (a, b) = (MatRef::new(&a, 9, 300, 300), MatRef::new(&b, 300, 13, 13));
            matmul(a, b, MatMut::new(&mut want, 9, 13, 13), bias, 0.5);
            assert_eq!(matmul_to_vec(a, b, bias, 0.5), want);
        }
        assert_eq!(
            matmul_to_vec(
                MatRef::new(&[], 2, 0, 0),
                MatRef::new(&[], 0, 3, 3),
                Some(&[1.0, 2.0, 3.0]),
                1.0
            ),
            [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
        );
    }

    #[test]
    fn empty_products() {
        // k = 0: the bias alone; m = 0 or n = 0: nothing written.
        let mut c = [f32::NAN; 2];
        matmul(
            MatRef::new(&[], 1, 0, 0),
            MatRef::new(&[], 0, 2, 2),
            MatMut::new(&mut c, 1, 2, 2),
            Some(&[1.0, 2.0]),
            1.0,
        );
        assert_eq!(c, [1.0, 2.0]);
        matmul(
            MatRef::new(&[], 0, 3, 3),
            MatRef::new(&[0.0; 6], 3, 2, 2),
            MatMut::new(&mut [], 0, 2, 2),
            None,
            1.0,
        );
    }

    #[test]
    #[should_panic(expected = "matmul of [2, 3]·[2, 2]")]
    fn refuses_mismatched_shapes() {
        let mut c = [0.0; 4];
        matmul(
            MatRef::new(&[0.0; 6], 2, 3, 3),
            MatRef::new(&[0.0; 4], 2, 2, 2),
            MatMut::new(&mut c, 2, 2, 2),
            None,
            1.0,
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn matches_the_definition(
            m in 1usize..24,
            k in 1usize..300,
            n in 1usize..40,
            pad in 0usize..5,
            with_bias: bool,
            scale in prop_oneof![Just(1.0f32), -2.0f32..2.0],
            seed: u64,
        ) {
            check(seed, [m, k, n], pad, with_bias, scale);
        }
    }
}
