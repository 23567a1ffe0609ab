//! `softmax(q·kᵀ·scale + bias)·v` for CPU tensors, a tile of query rows at a time: each tile's
//! scores stay in a cache-sized buffer instead of a `[B, H, Lq, Lk]` tensor written to memory and
//! read back three times (bias, softmax, ·v), and the tiles of every head keep all threads busy.
//!
//! The two products go straight to gemm (the kernel burn-flex itself calls) on the tensors' own
//! buffers through their strides, so split heads and slices of a fused QKV projection are read
//! in place, and the context is written directly in `[B, Lq, H·d]` order for the output
//! projection. The softmax is exact (every key of a row is in the same tile), so the result is
//! burn's up to float rounding. Elsewhere (GPU devices, autodiff, half precision)
//! [`attend`] declines and the caller runs burn's ops.

use burn::tensor::Tensor;

/// Query rows per tile: enough for gemm's micro-kernels to run at full width, and few enough
/// that a tile of scores over 2,000 keys (0.5 MB) stays in a core's L2 cache.
#[cfg_attr(not(feature = "flex"), allow(dead_code))]
const TILE: usize = 64;

/// Attention of split heads `q: [B, H, Lq, d]`, `k`, `v: [B, H, Lk, d]` with `bias` broadcast
/// to `[B, H, Lq, Lk]` (each of its first three dimensions is the full size or 1), scores
/// scaled by `scale`; the context `[B, Lq, H·d]`, or `None` (nothing computed) when the tensors
/// are not f32 tensors of the CPU backend outside autodiff.
///
/// # Shapes
/// - `q`: `[B, H, Lq, d]`; `k`, `v`: `[B, H, Lk, d]`; `bias`: `[B|1, H|1, Lq|1, Lk]`
/// - output: `[B, Lq, H·d]`
pub(crate) fn attend(
    q: &Tensor<4>,
    k: &Tensor<4>,
    v: &Tensor<4>,
    bias: Option<&Tensor<4>>,
    scale: Option<f64>,
) -> Option<Tensor<3>> {
    #[cfg(feature = "flex")]
    return host::attend(q, k, v, bias, scale, host::Products::HERE);
    #[cfg(not(feature = "flex"))]
    {
        let _ = (q, k, v, bias, scale);
        None
    }
}

#[cfg(feature = "flex")]
mod host {
    use burn::tensor::{Tensor, TensorData};
    use tessera_kernels::matmul::{MatMut, MatRef, matmul, transpose};
    use tessera_kernels::{RowBias, softmax_rows};

    use crate::nn::host_view::HostView;

    type View = HostView<4>;

    impl View {
        /// Offset of `[b, h, row, 0]`, with broadcast dimensions (stride 0) ignoring the index.
        fn offset(&self, b: usize, h: usize, row: usize) -> usize {
            b * self.strides[0] + h * self.strides[1] + row * self.strides[2]
        }
    }

    use super::TILE;

    /// Multiply-adds of `q·kᵀ` below which waking the other threads costs more than they save
    /// (a decoding step's attention: one query row per head).
    #[cfg(feature = "threads")]
    const PARALLEL_WORK: usize = 1 << 21;

    /// The output buffer shared by the tasks, each writing its own rows of its own head.
    #[derive(Clone, Copy)]
    struct Out(*mut f32);
    // SAFETY: tasks write disjoint elements (see `attend`), and the buffer outlives them.
    unsafe impl Send for Out {}
    unsafe impl Sync for Out {}

    impl Out {
        /// The element at `offset` (a method, so closures capture the `Send` wrapper, not
        /// its raw pointer field).
        ///
        /// # Safety
        /// `offset` is inside the buffer.
        unsafe fn at(self, offset: usize) -> *mut f32 {
            unsafe { self.0.add(offset) }
        }
    }

    /// Which kernel computes a tile's two products.
    #[derive(Clone, Copy, Debug)]
    pub(super) enum Products {
        /// gemm, straight on the inputs' strided buffers (natively: AVX-512 / AVX2 kernels).
        Gemm,
        /// [`tessera_kernels::matmul`] (in the browser, 1.3–1.5× gemm's simd128 kernels at
        /// these shapes): the tile's keys are transposed first and its context gathered in a
        /// buffer of its own, as the kernel reads and writes rows.
        Tiles,
    }

    impl Products {
        /// The faster kernel on the target compiled for.
        pub(super) const HERE: Self = if cfg!(target_arch = "wasm32") {
            Self::Tiles
        } else {
            Self::Gemm
        };
    }

    /// A task's buffers, reused from task to task on a thread.
    #[derive(Default)]
    struct Scratch {
        /// The tile's scores, then its probabilities: `rows × k_len`.
        scores: Vec<f32>,
        /// Keys transposed, `d × k_len` ([`Products::Tiles`]), and the (batch item, head) they
        /// are of: consecutive tasks are tiles of one head, which transpose its keys once.
        keys: Vec<f32>,
        keys_of: Option<usize>,
        /// The tile's context, `rows × d` ([`Products::Tiles`]).
        context: Vec<f32>,
    }

    pub(super) fn attend(
        q: &Tensor<4>,
        k: &Tensor<4>,
        v: &Tensor<4>,
        bias: Option<&Tensor<4>>,
        scale: Option<f64>,
        products: Products,
    ) -> Option<Tensor<3>> {
        let (qv, kv, vv) = (View::of(q)?, View::of(k)?, View::of(v)?);
        let bv = match bias {
            Some(bias) => Some(View::of(bias)?),
            None => None,
        };
        let [batch, heads, q_len, d] = qv.dims;
        let k_len = kv.dims[2];
        if kv.dims != [batch, heads, k_len, d] || vv.dims != kv.dims || k_len == 0 {
            return None;
        }
        if let Some(bv) = &bv {
            let fits = |i: usize, full: usize| bv.dims[i] == full || bv.dims[i] == 1;
            if !(fits(0, batch) && fits(1, heads) && fits(2, q_len) && bv.dims[3] == k_len) {
                return None;
            }
        }
        let width = heads * d;
        let mut out = vec![0f32; batch * q_len * width];
        let dst = Out(out.as_mut_ptr());
        let tiles = q_len.div_ceil(TILE);
        let scale = scale.unwrap_or(1.0) as f32;
        let (qs, ks, vs) = (qv.values(), kv.values(), vv.values());
        let bs = bv.as_ref().map(View::values);

        // Task `t` is query rows `tile·TILE..` of head `h` in batch item `b`: it writes only
        // `out[b, rows, h·d..(h+1)·d]`, so no two tasks touch the same element.
        let task = |t: usize, scratch: &mut Scratch| {
            let (bh, tile) = (t / tiles, t % tiles);
            let (b, h) = (bh / heads, bh % heads);
            let row0 = tile * TILE;
            let rows = TILE.min(q_len - row0);
            let scores = &mut scratch.scores;
            scores.resize(rows * k_len, 0.0);
            let q_at = qv.offset(b, h, row0);
            let k_at = kv.offset(b, h, 0);
            let v_at = vv.offset(b, h, 0);
            let out_at = (b * q_len + row0) * width + h * d;
            // scores[i, j] = scale · Σ_c q[row0 + i, c] · k[j, c]
            match products {
                // SAFETY: every pointer/stride pair addresses elements of its view inside the
                // tensor's buffer (dims and strides come from its layout); `scores` holds
                // rows × k_len.
                Products::Gemm => unsafe {
                    gemm::gemm(
                        rows,
                        k_len,
                        d,
                        scores.as_mut_ptr(),
                        1,
                        k_len as isize,
                        false,
                        qs.as_ptr().add(q_at),
                        qv.strides[3] as isize,
                        qv.strides[2] as isize,
                        ks.as_ptr().add(k_at),
                        kv.strides[2] as isize,
                        kv.strides[3] as isize,
                        0.0,
                        scale,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                },
                Products::Tiles => {
                    let keys = &mut scratch.keys;
                    if scratch.keys_of != Some(bh) {
                        keys.resize(d * k_len, 0.0);
                        transpose(
                            MatRef::new(&ks[k_at..], k_len, d, kv.strides[2]),
                            MatMut::new(keys, d, k_len, k_len),
                        );
                        scratch.keys_of = Some(bh);
                    }
                    matmul(
                        MatRef::new(&qs[q_at..], rows, d, qv.strides[2]),
                        MatRef::new(keys, d, k_len, k_len),
                        MatMut::new(scores, rows, k_len, k_len),
                        None,
                        scale,
                    );
                }
            }
            let row_bias = bv.as_ref().zip(bs).map(|(bv, bs)| {
                let start = bv.offset(b, h, row0);
                let end = start + (rows - 1) * bv.strides[2] + k_len;
                RowBias {
                    values: &bs[start..end],
                    row_stride: bv.strides[2],
                }
            });
            softmax_rows(scores, k_len, row_bias);
            // out[b, row0 + i, h·d + c] = Σ_j p[i, j] · v[j, c]
            match products {
                // SAFETY: as above; the destination block is in `out` and written by this
                // task alone.
                Products::Gemm => unsafe {
                    gemm::gemm(
                        rows,
                        d,
                        k_len,
                        dst.at(out_at),
                        1,
                        width as isize,
                        false,
                        scores.as_ptr(),
                        1,
                        k_len as isize,
                        vs.as_ptr().add(v_at),
                        vv.strides[3] as isize,
                        vv.strides[2] as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    )
                },
                Products::Tiles => {
                    let context = &mut scratch.context;
                    context.resize(rows * d, 0.0);
                    matmul(
                        MatRef::new(scores, rows, k_len, k_len),
                        MatRef::new(&vs[v_at..], k_len, d, vv.strides[2]),
                        MatMut::new(context, rows, d, d),
                        None,
                        1.0,
                    );
                    for (i, row) in context.chunks_exact(d).enumerate() {
                        // SAFETY: row `row0 + i` of head `h` is in `out` and this task's alone.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                row.as_ptr(),
                                dst.at(out_at + i * width),
                                d,
                            )
                        };
                    }
                }
            }
        };
        let device = q.device();
        let context = |out| Tensor::from_data(TensorData::new(out, [batch, q_len, width]), &device);
        let tasks = batch * heads * tiles;
        #[cfg(feature = "threads")]
        if batch * heads * q_len * k_len * d >= PARALLEL_WORK {
            use rayon::prelude::*;
            (0..tasks)
                .into_par_iter()
                .for_each_init(Scratch::default, |scratch, t| task(t, scratch));
            return Some(context(out));
        }
        let mut scratch = Scratch::default();
        (0..tasks).for_each(|t| task(t, &mut scratch));
        Some(context(out))
    }
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData, Tolerance, activation::softmax};
    use proptest::prelude::*;

    use tessera_kernels::testing::values;

    use super::host::{Products, attend};

    /// `[B, L, 3·H·d]` fused projections sliced and split into heads, as a fused-QKV layer
    /// gives them (strided views into one buffer); queries have `q_len` rows, keys `k_len`.
    fn heads(
        seed: u64,
        [batch, heads, q_len, k_len, d]: [usize; 5],
    ) -> (Tensor<4>, Tensor<4>, Tensor<4>) {
        let device = Device::flex();
        let inner = heads * d;
        let len = q_len.max(k_len);
        let fused = Tensor::<3>::from_data(
            TensorData::new(
                values(seed, batch * len * 3 * inner),
                [batch, len, 3 * inner],
            ),
            &device,
        );
        let split = |rows: usize, part: usize| {
            fused
                .clone()
                .slice([0..batch, 0..rows, part * inner..(part + 1) * inner])
                .reshape([batch, rows, heads, d])
                .swap_dims(1, 2)
        };
        (split(q_len, 0), split(k_len, 1), split(k_len, 2))
    }

    /// The naive definition with burn's ops: scores materialised, softmax, product.
    fn reference(
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        bias: Option<Tensor<4>>,
        scale: f64,
    ) -> Tensor<3> {
        let [batch, heads, q_len, d] = q.dims();
        let mut scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
        if let Some(bias) = bias {
            scores = scores + bias;
        }
        softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([batch, q_len, heads * d])
    }

    /// The biases the models pass: none, a full `[B, H, Lq, Lk]` term, T5's position bias
    /// `[1, H, Lq, Lk]`, and a padding mask `[B, 1, 1, Lk]` hiding each item's last keys.
    fn biases(seed: u64, [batch, heads, q_len, k_len, _]: [usize; 5]) -> Vec<Option<Tensor<4>>> {
        let device = Device::flex();
        let term = |dims: [usize; 4]| {
            let n = dims.iter().product();
            let scaled = values(seed ^ 0xB1A5, n).iter().map(|v| 4.0 * v).collect();
            Tensor::<4>::from_data(TensorData::new(scaled, dims), &device)
        };
        let padding: Vec<f32> = (0..batch)
            .flat_map(|b| {
                let real = k_len - (b % k_len.max(2)).min(k_len - 1);
                (0..k_len).map(move |j| if j < real { 0.0 } else { f32::MIN })
            })
            .collect();
        vec![
            None,
            Some(term([batch, heads, q_len, k_len])),
            Some(term([1, heads, q_len, k_len])),
            Some(Tensor::from_data(
                TensorData::new(padding, [batch, 1, 1, k_len]),
                &device,
            )),
        ]
    }

    fn check(seed: u64, shape: [usize; 5]) {
        let (q, k, v) = heads(seed, shape);
        let scale = 1.0 / (shape[4] as f64).sqrt();
        for bias in biases(seed, shape) {
            let want = reference(q.clone(), k.clone(), v.clone(), bias.clone(), scale);
            for products in [Products::Gemm, Products::Tiles] {
                let got = attend(&q, &k, &v, bias.as_ref(), Some(scale), products)
                    .expect("flex f32 tensors take the host path");
                assert_eq!(got.dims(), want.dims(), "{shape:?}");
                got.into_data()
                    .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(2e-5));
            }
        }
    }

    /// Tile edges (one row, a tile less one, a tile, a tile and one, several tiles), queries
    /// shorter than keys (cross-attention, a decoding step), and one-element heads.
    #[test]
    fn equals_the_materialised_scores() {
        for shape in [
            [1, 1, 1, 1, 1],
            [2, 3, 1, 7, 4],
            [1, 2, 63, 63, 8],
            [1, 2, 64, 64, 8],
            [2, 2, 65, 65, 16],
            [1, 4, 130, 70, 32],
            [2, 2, 3, 150, 8],
        ] {
            check(7, shape);
        }
    }

    /// A contiguous input and the inputs' values are left as they were.
    #[test]
    fn reads_contiguous_heads_and_leaves_inputs_alone() {
        let (q, k, v) = heads(3, [2, 2, 9, 9, 4]);
        let (q, k, v) = (Tensor::<4>::from_data(q.into_data(), &Device::flex()), k, v);
        let kept = [q.to_data(), k.to_data(), v.to_data()];
        let want = reference(q.clone(), k.clone(), v.clone(), None, 1.0);
        for products in [Products::Gemm, Products::Tiles] {
            let got = attend(&q, &k, &v, None, None, products).expect("host path");
            got.into_data()
                .assert_approx_eq::<f32>(&want.clone().into_data(), Tolerance::absolute(2e-5));
        }
        for (t, kept) in [q, k, v].into_iter().zip(kept) {
            t.into_data().assert_eq(&kept, true);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any small shape: batch, heads, query rows, key rows, head width.
        #[test]
        fn any_shape_equals_the_materialised_scores(
            seed in any::<u64>(),
            batch in 1usize..3,
            heads in 1usize..4,
            q_len in 1usize..140,
            k_len in 1usize..90,
            d in 1usize..20,
        ) {
            check(seed, [batch, heads, q_len, k_len, d]);
        }
    }
}
