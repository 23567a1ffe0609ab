//! The f32 buffer of a CPU tensor with the strides that index it, for the host kernels that read
//! tensors in place (tiled attention, the browser's linear layers) instead of through burn's ops.

use burn::backend::Flex;
use burn::tensor::{DType, Tensor};
use burn_flex::FlexTensor;
use tessera_kernels::matmul::MatRef;

/// A D-dimensional f32 tensor's buffer and the element strides that index it (0 along a
/// broadcast dimension of size 1); the last dimension is contiguous.
pub(crate) struct HostView<const D: usize> {
    tensor: FlexTensor,
    pub dims: [usize; D],
    pub strides: [usize; D],
}

impl<const D: usize> HostView<D> {
    /// The buffer of `t` without copying it when its layout allows (non-negative strides,
    /// contiguous rows), else of a contiguous copy; `None` for other element types, off the CPU
    /// backend or in autodiff.
    pub fn of(t: &Tensor<D>) -> Option<Self> {
        if t.dtype() != DType::F32 || !crate::nn::cpu_f32(&t.device()) {
            return None;
        }
        let dims = t.dims();
        let mut tensor = t.clone().try_into_primitive::<Flex>().ok()?;
        let strided = |tensor: &FlexTensor| {
            let strides = tensor.layout().strides();
            let usable = strides.len() == D
                && strides.iter().all(|s| *s >= 0)
                && (strides[D - 1] == 1 || dims[D - 1] == 1);
            usable.then(|| {
                std::array::from_fn(|i| if dims[i] == 1 { 0 } else { strides[i] as usize })
            })
        };
        let strides = match strided(&tensor) {
            Some(strides) => strides,
            None => {
                tensor = tensor.to_contiguous();
                strided(&tensor)?
            }
        };
        Some(Self {
            tensor,
            dims,
            strides,
        })
    }

    /// The buffer from the first element of the view.
    pub fn values(&self) -> &[f32] {
        &self.tensor.storage::<f32>()[self.tensor.layout().start_offset()..]
    }
}

impl HostView<2> {
    /// The matrix, for [`tessera_kernels::matmul`].
    #[cfg_attr(not(any(target_arch = "wasm32", test)), allow(dead_code))]
    pub fn matrix(&self) -> MatRef<'_> {
        let [rows, cols] = self.dims;
        MatRef::new(self.values(), rows, cols, self.strides[0])
    }
}
