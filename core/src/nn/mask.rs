//! Additive attention masks: 0 where a query may look, `f32::MIN` where it may not, added to the
//! attention scores before the softmax (the convention of the reference BERT and T5 code).

use burn::tensor::{Device, Tensor, TensorData};

/// The additive mask value; `f32::MIN` like the references' `finfo(float32).min`.
pub const MASKED: f32 = f32::MIN;

/// Padding mask `[B, 1, 1, L]` from a `[B, L]` attention mask of 1 (real token) and 0 (padding).
pub fn padding_mask(attention_mask: Tensor<2>) -> Tensor<4> {
    let [batch, len] = attention_mask.dims();
    // (1 − m)·MIN keeps exact zeros for real keys.
    let additive = attention_mask.neg().add_scalar(1.0).mul_scalar(MASKED);
    additive.reshape([batch, 1, 1, len])
}

/// Causal mask `[1, 1, L, L]`: query i sees keys 0..=i.
pub fn causal_mask(len: usize, device: &Device) -> Tensor<4> {
    let values: Vec<f32> = (0..len)
        .flat_map(|query| (0..len).map(move |key| if key <= query { 0.0 } else { MASKED }))
        .collect();
    Tensor::from_data(TensorData::new(values, [1, 1, len, len]), device)
}
