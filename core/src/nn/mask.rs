//! Additive attention masks: 0 where a query may look, the lowest finite value of the scores'
//! dtype where it may not, added to the attention scores before the softmax (the convention of
//! the reference BERT and T5 code: `finfo(dtype).min`).

use burn::tensor::{DType, Device, Tensor, TensorData};
use half::{bf16, f16};

/// The additive mask value in f32; `f32::MIN` like the references' `finfo(float32).min`.
pub const MASKED: f32 = f32::MIN;

/// The additive mask value for scores of `dtype`: its lowest finite value, so a masked score
/// stays finite (in f16, `f32::MIN` would be −∞ and `0 · −∞` a NaN for every real key).
pub fn masked_value(dtype: DType) -> f32 {
    match dtype {
        DType::F16 => f16::MIN.to_f32(),
        DType::BF16 => bf16::MIN.to_f32(),
        _ => MASKED,
    }
}

/// Whether a `[B, L]` attention mask (1 = real token) masks anything: without padding the
/// additive mask is zeros, a pass over every layer's scores for nothing, so callers leave it out.
pub fn masks_any(attention_mask: &[f32]) -> bool {
    attention_mask.iter().any(|&m| m != 1.0)
}

/// Padding mask `[B, 1, 1, L]` from a `[B, L]` attention mask of 1 (real token) and 0 (padding).
pub fn padding_mask(attention_mask: Tensor<2>) -> Tensor<4> {
    let [batch, len] = attention_mask.dims();
    let masked = masked_value(attention_mask.dtype());
    // (1 − m)·MIN keeps exact zeros for real keys.
    let additive = attention_mask.neg().add_scalar(1.0).mul_scalar(masked);
    additive.reshape([batch, 1, 1, len])
}

/// Causal mask `[1, 1, L, L]`: query i sees keys 0..=i.
pub fn causal_mask(len: usize, device: &Device) -> Tensor<4> {
    let masked = masked_value(device.settings().float_dtype.into());
    let values: Vec<f32> = (0..len)
        .flat_map(|query| (0..len).map(move |key| if key <= query { 0.0 } else { masked }))
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 1, len, len]), device)
}

#[cfg(test)]
mod tests {
    use burn::tensor::FloatDType;

    use super::*;

    /// In half precision a masked key is the dtype's lowest finite value, and a real key exactly
    /// 0 (with `f32::MIN`, which is −∞ in f16, real keys became `0 · −∞` = NaN).
    #[test]
    fn half_precision_masks_stay_finite() {
        let device = Device::flex();
        let mask = Tensor::<2>::from_data(TensorData::new(vec![1f32, 1.0, 0.0], [1, 3]), &device);
        for (dtype, lowest) in [(FloatDType::F16, -65504.0), (FloatDType::F32, f32::MIN)] {
            let additive = padding_mask(mask.clone().cast(dtype));
            let values = additive
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap();
            assert_eq!(values, vec![0.0, 0.0, lowest], "{dtype:?}");
        }
    }
}
