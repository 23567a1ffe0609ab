//! A linear layer's forward pass on the CPU. In the browser, the product runs on our register-tiled
//! kernel ([`tessera_kernels::matmul`], 1.1–1.7× gemm's in V8); natively, a few rows through a wide
//! layer (one decoding step through a vocabulary projection) are split among threads by columns.
//! Everywhere else, and for any tensor those paths do not take, it is burn's `Linear::forward`.

use burn::nn::Linear;
use burn::tensor::Tensor;

/// `linear(x)` for `x: [.., rows, d_in]`.
///
/// # Shapes
/// - `x`: `[.., d_in]`
/// - output: `[.., d_out]`
pub fn forward<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    #[cfg(all(feature = "flex", target_arch = "wasm32"))]
    if let Some(y) = browser::forward(linear, &x) {
        return y;
    }
    #[cfg(all(feature = "flex", feature = "threads"))]
    if let Some(y) = threaded::forward(linear, &x) {
        return y;
    }
    linear.forward(x)
}

/// Rows up to which a product is memory-bound (each weight element used this many times).
#[cfg_attr(not(all(feature = "flex", feature = "threads")), allow(dead_code))]
const MAX_ROWS: usize = 4;
/// Outputs below which one thread is as fast (the weight fits in the caches).
#[cfg_attr(not(all(feature = "flex", feature = "threads")), allow(dead_code))]
const MIN_COLUMNS: usize = 8192;

/// The product on [`tessera_kernels::matmul`] for f32 tensors of the CPU backend outside
/// autodiff (the weight read in place when its rows are contiguous, as loaded weights are).
/// Built natively for its tests.
#[cfg(all(feature = "flex", any(target_arch = "wasm32", test)))]
mod browser {
    use burn::nn::Linear;
    use burn::tensor::{Tensor, TensorData};

    use crate::nn::host_view::HostView;
    use tessera_kernels::matmul::matmul_to_vec;

    /// `None` (nothing computed) off f32 CPU tensors, and where the shapes disagree: burn's
    /// forward then runs and reports it, as it always did.
    pub(super) fn forward<const D: usize>(linear: &Linear, x: &Tensor<D>) -> Option<Tensor<D>> {
        let weight = linear.weight.val();
        let dims = x.dims();
        let d_in = dims[D - 1];
        let rows: usize = dims[..D - 1].iter().product();
        let [weight_in, d_out] = weight.dims();
        let bias = linear.bias.as_ref().map(|b| b.val());
        if weight_in != d_in || bias.as_ref().is_some_and(|b| b.dims() != [d_out]) {
            return None;
        }
        let device = x.device();
        let x = HostView::of(&x.clone().reshape([rows, d_in]))?;
        let w = HostView::of(&weight)?;
        let bias = match &bias {
            Some(bias) => Some(HostView::of(bias)?),
            None => None,
        };
        let out = matmul_to_vec(
            x.matrix(),
            w.matrix(),
            bias.as_ref().map(|b| &b.values()[..d_out]),
            1.0,
        );
        let mut out_dims = dims;
        out_dims[D - 1] = d_out;
        Some(Tensor::from_data(TensorData::new(out, out_dims), &device))
    }
}

#[cfg(all(feature = "flex", feature = "threads"))]
mod threaded {
    use burn::nn::Linear;
    use burn::tensor::Tensor;
    use rayon::prelude::*;

    use super::{MAX_ROWS, MIN_COLUMNS};

    pub(super) fn forward<const D: usize>(linear: &Linear, x: &Tensor<D>) -> Option<Tensor<D>> {
        let dims = x.dims();
        let d_in = dims[D - 1];
        let rows: usize = dims[..D - 1].iter().product();
        let weight = linear.weight.val();
        let [_, d_out] = weight.dims();
        let threads = rayon::current_num_threads();
        if rows > MAX_ROWS
            || d_out < MIN_COLUMNS
            || threads < 2
            || x.dtype() != burn::tensor::DType::F32
            || !crate::nn::cpu_f32(&x.device())
        {
            return None;
        }
        let x2 = x.clone().reshape([rows, d_in]);
        let block = d_out.div_ceil(threads);
        let parts: Vec<Tensor<2>> = (0..threads)
            .into_par_iter()
            .map(|t| {
                let columns = t * block..((t + 1) * block).min(d_out);
                x2.clone().matmul(weight.clone().slice([0..d_in, columns]))
            })
            .collect();
        let mut y = Tensor::cat(parts, 1);
        if let Some(bias) = &linear.bias {
            y = y + bias.val().unsqueeze();
        }
        let mut out_dims = dims;
        out_dims[D - 1] = d_out;
        Some(y.reshape(out_dims))
    }
}

#[cfg(all(test, feature = "flex"))]
mod browser_tests {
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution, Tensor, Tolerance};

    /// The browser's kernel gives burn's values for 2-D and 3-D inputs, with and without a
    /// bias, for an input that is a strided view (a slice of a wider tensor).
    #[test]
    fn the_browser_kernel_equals_burns_linear() {
        let device = Device::flex();
        for bias in [false, true] {
            let linear = LinearConfig::new(37, 21).with_bias(bias).init(&device);
            let wide = Tensor::<3>::random([2, 5, 45], Distribution::Default, &device);
            let x = wide.slice([0..2, 0..5, 3..40]);
            let got = super::browser::forward(&linear, &x).expect("an f32 CPU tensor");
            got.into_data().assert_approx_eq::<f32>(
                &linear.forward(x.clone()).into_data(),
                Tolerance::default(),
            );
            let x2 = x.reshape([10, 37]);
            let got = super::browser::forward(&linear, &x2).expect("an f32 CPU tensor");
            got.into_data()
                .assert_approx_eq::<f32>(&linear.forward(x2).into_data(), Tolerance::default());
        }
    }

    /// An input of the wrong width is left to burn (which reports it) instead of reaching the
    /// kernel's shape assertion, a trap in the browser.
    #[test]
    fn a_mismatched_input_is_declined() {
        let device = Device::flex();
        let linear = LinearConfig::new(37, 21).init(&device);
        let x = Tensor::<2>::random([3, 36], Distribution::Default, &device);
        assert!(super::browser::forward(&linear, &x).is_none());
    }
}

#[cfg(all(test, feature = "flex", feature = "threads"))]
mod tests {
    use burn::nn::LinearConfig;
    use burn::tensor::{Device, Distribution, Tensor};

    /// The column blocks give the single product's values, with and without a bias, for a
    /// width that does not divide evenly among the threads.
    #[test]
    fn column_blocks_equal_the_whole_product() {
        let device = Device::flex();
        for bias in [false, true] {
            let linear = LinearConfig::new(96, super::MIN_COLUMNS + 7)
                .with_bias(bias)
                .init(&device);
            for rows in 1..=super::MAX_ROWS {
                let x = Tensor::<3>::random([1, rows, 96], Distribution::Normal(0.0, 1.0), &device);
                let want = linear.forward(x.clone()).into_data();
                let got = super::forward(&linear, x).into_data();
                assert_eq!(got.shape(), want.shape());
                got.assert_approx_eq::<f32>(&want, burn::tensor::Tolerance::absolute(1e-5));
            }
        }
    }
}
