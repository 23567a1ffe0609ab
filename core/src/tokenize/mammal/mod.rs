//! MAMMAL's modular tokenizer: a prompt that switches sub-languages with meta tokens
//! (`<@TOKENIZER-TYPE=AA>`, `…=SMILES@MAX-LEN=256>`, `…=SCALARS_LITERALS>1.5,-2`) becomes token
//! ids, an attention mask and scalar inputs exactly as fuse-med-ml's `ModularTokenizerOp` makes them.
//!
//! `config` reads the folder's `config.yaml`, `prompt` is the grammar (prompt → segments),
//! `modular` encodes segments with the Hugging Face sub-tokenizers (`sub`: the stages MAMMAL
//! uses; `split`: a linear-time reader of the published word-level ones) and decodes ids back
//! to text. Encoding is linear in the prompt's length and padding is bounded
//! ([`MAX_PADDED_LEN`]), so hostile prompts cost time and memory in proportion to their size.

mod config;
mod modular;
mod prompt;
mod split;
mod sub;

pub use config::{ModularConfig, SubTokenizerInfo};
pub use modular::{
    EncodeOptions, Encoding, MAX_PADDED_LEN, MAX_WARNINGS, MammalTokenizeError, ModularTokenizer,
    SCALAR_SOURCE,
};
pub use prompt::{PromptError, Segment, SegmentKind, Truncation, parse_prompt};
