//! Neural building blocks written once and shared by every model family: attention (BERT post-LN,
//! pre-RMSNorm, T5 relative bias), norms, feed-forward variants, masks and encoder stacks.

pub mod activation;
pub mod attention;
pub mod decoder;
pub mod dropout;
pub mod encoder;
pub mod ffn;
#[cfg(feature = "flex")]
mod host_view;
pub mod linear;
pub mod mask;
pub mod norm;
mod pointwise;
pub mod position;
pub mod sizes;
mod tiled_attention;

pub use activation::Activation;
pub use attention::{KvCache, MultiHeadAttention, MultiHeadAttentionConfig, QkvLayout};
pub use decoder::{Decoder, DecoderCache, DecoderConfig, DecoderLayer};
pub use dropout::{dropout, gradient_reversal};
pub use encoder::{Encoder, EncoderConfig, EncoderLayer, NormPlacement};
pub use ffn::{FeedForward, FeedForwardConfig, FfnKind};
pub use mask::{causal_mask, padding_mask};
pub use norm::{Norm, NormKind};
pub use pointwise::cpu_f32;
pub use position::{RelativePositionBias, RelativePositionBiasConfig, relative_position_bucket};
