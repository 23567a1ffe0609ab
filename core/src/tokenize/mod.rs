//! Tokenizers: turning user data (cells, prompts) into model inputs.

pub mod mammal;
pub mod rna;
