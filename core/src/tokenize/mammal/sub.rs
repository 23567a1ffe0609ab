//! The sub-tokenizer type: a Hugging Face tokenizer file with a model and a pre-tokenizer, and
//! no normalizer, post-processor or decoder — what MAMMAL publishes (all four files).
//!
//! Typing those three stages as [`Absent`] instead of the `tokenizers` crate's wrappers of every
//! kind keeps the Unicode normalization tables and the unused stages out of the browser module
//! (about 90 KB gzipped); a file that does have one is refused with the stage named.

use serde::{Deserialize, Deserializer};
use tokenizers::models::ModelWrapper;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::tokenizer::{Decoder, NormalizedString, Normalizer, PostProcessor, TokenizerImpl};

pub type SubTokenizer = TokenizerImpl<ModelWrapper, Absent, PreTokenizerWrapper, Absent, Absent>;

/// A tokenizer stage that must be `null` in the file: it has no values.
#[derive(Clone, Debug)]
pub enum Absent {}

impl<'de> Deserialize<'de> for Absent {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "a normalizer, post-processor or decoder is set; MAMMAL's sub-tokenizers have none \
             and this reader does not apply them",
        ))
    }
}

impl Normalizer for Absent {
    fn normalize(&self, _: &mut NormalizedString) -> tokenizers::Result<()> {
        match *self {}
    }
}

impl PostProcessor for Absent {
    fn added_tokens(&self, _: bool) -> usize {
        match *self {}
    }

    fn process_encodings(
        &self,
        _: Vec<tokenizers::Encoding>,
        _: bool,
    ) -> tokenizers::Result<Vec<tokenizers::Encoding>> {
        match *self {}
    }
}

impl Decoder for Absent {
    fn decode_chain(&self, _: Vec<String>) -> tokenizers::Result<Vec<String>> {
        match *self {}
    }
}
