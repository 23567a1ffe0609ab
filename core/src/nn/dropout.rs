//! Dropout as a function of the tensor's device: active only on an autodiff (training) device,
//! so the same module runs unchanged, and exactly, for inference.
//!
//! A function rather than burn's `Dropout` module because that module carries a training flag
//! as a parameter, which would change the tensor layout of every bundle.

use burn::tensor::{Distribution, Tensor};

/// Zeroes each element with probability `p` and rescales the rest by `1/(1−p)` when `x` lives
/// on an autodiff device; identity otherwise. Randomness comes from the device's seeded RNG.
pub fn dropout<const D: usize>(x: Tensor<D>, p: f64) -> Tensor<D> {
    if p <= 0.0 || !x.device().is_autodiff() {
        return x;
    }
    let keep = 1.0 - p;
    let mask = x.random_like(Distribution::Bernoulli(keep));
    x * mask * (1.0 / keep)
}

/// Identity forward, gradient multiplied by `−alpha` backward (Ganin & Lempitsky 2015): the
/// detached copy carries the value and the zero-valued difference carries the reversed gradient.
pub fn gradient_reversal<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    let frozen = x.clone().detach();
    frozen.clone() + (x - frozen).mul_scalar(-alpha)
}
