//! A linear layer applied to a few rows on the CPU with its columns shared among the threads:
//! for one decoding step a vocabulary-sized projection is a matrix × vector product, which gemm
//! runs on one thread although it only streams memory (MAMMAL's `lm_head` is 307 MB).

use burn::nn::Linear;
use burn::tensor::Tensor;

/// `linear(x)` for `x: [.., rows, d_in]`; when `x` is a CPU tensor of at most
/// [`MAX_ROWS`] rows and the layer has at least [`MIN_COLUMNS`] outputs, the product is
/// computed as column blocks of the weight (views, not copies), one per thread.
pub fn forward<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
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
