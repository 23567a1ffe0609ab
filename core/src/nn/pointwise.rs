//! Activations of CPU tensors, computed in place on the host by `tessera-kernels`' vectorised
//! loops: burn-flex calls scalar libm `erff`/`tanhf`/`expf` per element (≈ 10 % of a pass). (The
//! attention softmax runs inside [`super::tiled_attention`].)
//!
//! Elsewhere (GPU devices, autodiff, half precision) the burn ops run as before:
//! [`Activation::forward`](super::Activation::forward) falls back.

use burn::tensor::Tensor;
#[cfg(feature = "flex")]
use tessera_kernels::Unary;

use super::Activation;

/// `activation(x)`, computed here when `x` is an f32 tensor of the CPU backend outside autodiff,
/// and by `otherwise` (burn's ops) when it is not.
pub(crate) fn activate<const D: usize>(
    activation: Activation,
    x: Tensor<D>,
    otherwise: impl FnOnce(Tensor<D>) -> Tensor<D>,
) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if let Some(kernel) = kernel_of(activation)
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
    if let Some(kernel) = kernel_of(activation)
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

/// The host kernel of an activation (ReLU and tanh stay burn ops: flex already does them well,
/// or they are rare).
#[cfg(feature = "flex")]
fn kernel_of(activation: Activation) -> Option<Unary> {
    match activation {
        Activation::Gelu => Some(Unary::Gelu),
        Activation::GeluTanh => Some(Unary::GeluTanh),
        Activation::Silu => Some(Unary::Silu),
        Activation::Relu | Activation::Tanh => None,
    }
}

/// Elements per task when work is shared among threads: enough to pay for the hand-off.
#[cfg(all(feature = "flex", feature = "threads"))]
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
    use tessera_kernels::Unary;

    #[cfg(feature = "threads")]
    use super::TASK;

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
        kernel: Unary,
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
}

#[cfg(all(test, feature = "flex"))]
mod tests {
    use super::*;

    /// Through burn tensors: the host path gives burn's own ops' values (and a tensor that
    /// something else still holds is left intact).
    #[test]
    fn host_path_matches_burn_ops() {
        use burn::tensor::{Device, Distribution, Tensor, Tolerance, activation};
        let device = Device::flex();
        let x = Tensor::<3>::random([2, 5, 37], Distribution::Normal(0.0, 3.0), &device);
        let kept = x.clone().into_data();
        // 2e-6 absolute near zero, 4e-7 relative (≈ 3 ulp) on large values: the inputs are
        // random, and an output reached −22 (an absolute bound alone failed there by 1 ulp).
        let close = |got: Tensor<3>, want: Tensor<3>| {
            got.into_data()
                .assert_approx_eq::<f32>(&want.into_data(), Tolerance::rel_abs(4e-7, 2e-6))
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
        x.into_data().assert_eq(&kept, true);
    }
}
