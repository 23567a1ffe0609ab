//! The shared blocks against values computed by hand.

mod common;

use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::{Device, Tensor, TensorData};
use common::values;
use tessera_core::nn::{
    Activation, FeedForwardConfig, FfnKind, MultiHeadAttentionConfig, Norm, NormKind, causal_mask,
    padding_mask, relative_position_bucket,
};

fn device() -> Device {
    Device::flex()
}

fn tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), &device())
}

fn identity(n: usize) -> Linear {
    let eye: Vec<f32> = (0..n * n)
        .map(|i| if i / n == i % n { 1.0 } else { 0.0 })
        .collect();
    Linear {
        weight: Param::from_tensor(tensor(eye, [n, n])),
        bias: None,
    }
}

fn close(actual: &[f32], expected: &[f32]) {
    assert_eq!(actual.len(), expected.len());
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() < 1e-5, "{actual:?} vs {expected:?}");
    }
}

#[test]
fn layer_norm_centres_and_scales() {
    let norm = Norm::new(NormKind::Layer, 3, 1e-12, &device());
    let out = norm.forward(tensor(vec![1.0, 2.0, 3.0], [1, 3]));
    // mean 2, variance 2/3 → ±1/√(2/3)
    close(&values(out), &[-1.2247449, 0.0, 1.2247449]);
}

#[test]
fn rms_norm_divides_by_root_mean_square_without_centring() {
    let norm = Norm::new(NormKind::Rms, 2, 1e-6, &device());
    let out = norm.forward(tensor(vec![3.0, 4.0], [1, 2]));
    // rms = √12.5
    close(&values(out), &[0.8485281, 1.1313709]);
}

#[test]
fn activations_match_their_definitions() {
    let x = || tensor(vec![-1.0, 1.0], [2]);
    close(
        &values(Activation::Gelu.forward(x())),
        &[-0.15865525, 0.8413447],
    );
    close(
        &values(Activation::GeluTanh.forward(x())),
        &[-0.15880801, 0.841192],
    );
    close(
        &values(Activation::Silu.forward(x())),
        &[-0.26894143, 0.7310586],
    );
}

#[test]
fn gated_ffn_multiplies_activated_and_linear_branches() {
    let mut ffn = FeedForwardConfig::new(2, 2, FfnKind::SwiGlu).init(&device());
    assert!(
        ffn.inner.bias.is_none() && ffn.gate.is_some(),
        "gated kinds carry no biases"
    );
    ffn.inner = identity(2);
    ffn.gate = Some(identity(2));
    ffn.out = identity(2);
    let out = ffn.forward(tensor(vec![1.0, 2.0], [1, 2]));
    // silu(x)·x
    close(&values(out), &[0.7310586, 2.0 * 1.7615942]);

    let mut ffn = FeedForwardConfig::new(2, 2, FfnKind::Gelu).init(&device());
    assert!(
        ffn.gate.is_none() && ffn.inner.bias.is_some(),
        "BERT FFN has biases, no gate"
    );
    ffn.inner = identity(2);
    ffn.out = identity(2);
    close(
        &values(ffn.forward(tensor(vec![1.0, -1.0], [1, 2]))),
        &[0.8413447, -0.15865525],
    );
}

fn identity_attention(scaled: bool) -> tessera_core::nn::MultiHeadAttention {
    let mut attention = MultiHeadAttentionConfig::new(2, 1)
        .with_bias(false)
        .with_scaled(scaled)
        .init(&device());
    attention.query = Some(identity(2));
    attention.key = Some(identity(2));
    attention.value = Some(identity(2));
    attention.output = identity(2);
    attention
}

#[test]
fn attention_softmaxes_dot_products() {
    let x = || tensor(vec![1.0, 0.0, 0.0, 1.0], [1, 2, 2]);
    // T5 style, unscaled: scores [[1,0],[0,1]] → weights e/(e+1), 1/(e+1)
    let out = identity_attention(false).forward(x(), None);
    close(
        &values(out),
        &[0.7310586, 0.26894143, 0.26894143, 0.7310586],
    );
    // BERT style, scaled by 1/√2
    let out = identity_attention(true).forward(x(), None);
    close(&values(out), &[0.66976, 0.33024, 0.33024, 0.66976]);
}

#[test]
fn padding_mask_hides_padded_keys() {
    let mask = padding_mask(tensor(vec![1.0, 0.0], [1, 2]));
    assert_eq!(mask.dims(), [1, 1, 1, 2]);
    let mask_values = values(mask.clone());
    assert_eq!(mask_values[0], 0.0);
    assert_eq!(mask_values[1], f32::MIN);
    let x = tensor(vec![1.0, 0.0, 0.0, 1.0], [1, 2, 2]);
    let out = identity_attention(false).forward(x, Some(mask));
    // both queries see only key 0
    close(&values(out), &[1.0, 0.0, 1.0, 0.0]);
}

#[test]
fn causal_mask_hides_future_keys() {
    let mask = values(causal_mask(3, &device()));
    let m = f32::MIN;
    assert_eq!(mask, vec![0.0, m, m, 0.0, 0.0, m, 0.0, 0.0, 0.0]);
}

#[test]
fn fused_qkv_splits_query_key_value_in_order() {
    let mut attention = MultiHeadAttentionConfig::new(1, 1)
        .with_bias(false)
        .with_scaled(false)
        .with_qkv(tessera_core::nn::QkvLayout::Fused)
        .init(&device());
    assert!(attention.query.is_none() && attention.qkv.is_some());
    // q = 1·x, k = 2·x, v = 3·x; one token → softmax weight 1 → output v
    attention.qkv = Some(Linear {
        weight: Param::from_tensor(tensor(vec![1.0, 2.0, 3.0], [1, 3])),
        bias: None,
    });
    attention.output = identity(1);
    close(
        &values(attention.forward(tensor(vec![0.5], [1, 1, 1]), None)),
        &[1.5],
    );
}

#[test]
fn t5_buckets_bidirectional() {
    let b = |rel| relative_position_bucket(rel, true, 32, 128);
    assert_eq!(b(0), 0);
    assert_eq!(b(-1), 1);
    assert_eq!(b(1), 17);
    assert_eq!(b(-7), 7);
    assert_eq!(b(-8), 8);
    // 8 + ⌊ln(12/8)/ln(16)·8⌋ = 8 + ⌊1.17⌋
    assert_eq!(b(-12), 9);
    assert_eq!(b(12), 25);
    // 8 + ⌊ln(2)/ln(16)·8⌋ = 8 + 2
    assert_eq!(b(-16), 10);
    assert_eq!(b(-127), 15);
    assert_eq!(b(-1000), 15);
    assert_eq!(b(1000), 31);
}

#[test]
fn t5_buckets_causal_ignore_future_keys() {
    let b = |rel| relative_position_bucket(rel, false, 32, 128);
    assert_eq!(b(5), 0);
    assert_eq!(b(-5), 5);
    assert_eq!(b(-15), 15);
    // 16 + ⌊ln(20/16)/ln(8)·16⌋ = 16 + 1
    assert_eq!(b(-20), 17);
    assert_eq!(b(-500), 31);
}

#[test]
fn relative_bias_is_laid_out_heads_queries_keys() {
    use tessera_core::nn::RelativePositionBiasConfig;
    let mut bias = RelativePositionBiasConfig::new(2).init(&device());
    // bucket b, head h → 10·b + h
    let table: Vec<f32> = (0..32)
        .flat_map(|b| [10.0 * b as f32, 10.0 * b as f32 + 1.0])
        .collect();
    bias.embedding.weight = Param::from_tensor(tensor(table, [32, 2]));
    let out = bias.forward(0, 2, 2);
    assert_eq!(out.dims(), [1, 2, 2, 2]);
    // head 0: (q0,k0)=b0, (q0,k1)=b17, (q1,k0)=b1, (q1,k1)=b0
    close(
        &values(out),
        &[0.0, 170.0, 10.0, 0.0, 1.0, 171.0, 11.0, 1.0],
    );
}
