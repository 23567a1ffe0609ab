//! Tokenizers: turning user data (cells, prompts) into model inputs.

pub mod rna;
