//! Sizes a model's `config.json` claims, checked before anything is built: a layer count or width
//! from a hostile or mistyped config fails by name instead of wrapping or allocating until abort.

/// The most layers one stack may have (published models have at most a few hundred).
pub const MAX_LAYERS: usize = 1024;

/// The most elements one weight tensor may have: 2³⁶, 256 GiB in f32 — past any model here
/// (on wasm32 the count must also fit its 32-bit `usize`).
pub const MAX_TENSOR_ELEMENTS: u64 = 1 << 36;

/// A size no model has, named by the config field (or the tensor) it comes from.
#[derive(Debug, thiserror::Error)]
pub enum SizeError {
    #[error("{field} {n}: more than {MAX_LAYERS} layers is not a model this runtime takes")]
    Layers { field: &'static str, n: usize },
    #[error("{what} would be more than 2^36 elements in one tensor")]
    Tensor { what: &'static str },
}

/// Refuses a layer count above [`MAX_LAYERS`]; `field` names it.
pub fn check_layers(field: &'static str, n: usize) -> Result<(), SizeError> {
    if n > MAX_LAYERS {
        return Err(SizeError::Layers { field, n });
    }
    Ok(())
}

/// Refuses a transformer stack's sizes no model has: too many layers, or attention /
/// feed-forward weights past [`MAX_TENSOR_ELEMENTS`] (`d_head` defaults to `d_model / n_heads`).
/// The layer count is named as [`crate::nn::EncoderConfig`]'s field; a model whose config calls
/// it otherwise checks it by its own name first.
pub fn check_stack(
    n_layers: usize,
    d_model: usize,
    n_heads: usize,
    d_head: Option<usize>,
    d_ff: usize,
) -> Result<(), SizeError> {
    check_layers("n_layers", n_layers)?;
    let d_head = d_head.unwrap_or(d_model / n_heads.max(1));
    let inner = check_tensor("heads × head width", &[n_heads, d_head])?;
    check_tensor("the attention weights", &[d_model, inner])?;
    check_tensor("the feed-forward weights", &[d_model, d_ff, 2])?;
    Ok(())
}

/// The element count of a tensor of shape `dims` (`what` names it and the fields it comes
/// from), computed with checked arithmetic and refused past [`MAX_TENSOR_ELEMENTS`].
pub fn check_tensor(what: &'static str, dims: &[usize]) -> Result<usize, SizeError> {
    dims.iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .filter(|&n| n <= MAX_TENSOR_ELEMENTS)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or(SizeError::Tensor { what })
}
