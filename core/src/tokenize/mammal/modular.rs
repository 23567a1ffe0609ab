//! The modular tokenizer itself: the sub-tokenizers of a folder (Hugging Face `tokenizers`
//! JSON, already in one shared id space), prompt encoding with per-segment and global
//! truncation, padding and scalar inputs, and decoding ids back to text.

use std::collections::HashMap;
use std::fmt;

use super::sub::SubTokenizer;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::config::ModularConfig;
use super::prompt::{PromptError, SegmentKind, Truncation, excerpt, parse_prompt};
use crate::bundle::BundleFiles;

/// `sources` entry of tokens that stand for scalar inputs.
pub const SCALAR_SOURCE: &str = "SCALARS_LITERALS";
/// The reference's filler for positions without a scalar input.
pub const NO_SCALAR: f32 = -1000.0;
/// Seed of `TRUNC-MODE=RAND` windows (the reference's seed; its Python RNG is not reproduced).
const RAND_SEED: u64 = 1234;

/// A loaded tokenizer folder.
pub struct ModularTokenizer {
    names: Vec<String>,
    tokenizers: Vec<SubTokenizer>,
    /// Every id's token string: the shared specials, then each sub-tokenizer's vocabulary.
    tokens: HashMap<u32, String>,
    /// Special tokens (`<…>`, shared by every sub-tokenizer) → id.
    specials: HashMap<String, u32>,
    pad: u32,
    unk: u32,
    scalar: u32,
}

/// Global options of one encoding (the tokenizer op's arguments, not part of the prompt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Right-truncate and `<PAD>`-pad to exactly this many tokens.
    pub max_len: Option<usize>,
    /// Refuse a prompt that does not end with `<EOS>` (off for regression label strings).
    pub validate_ends_with_eos: bool,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            max_len: None,
            validate_ends_with_eos: true,
        }
    }
}

/// What a prompt becomes; every vector has one entry per token.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Encoding {
    pub ids: Vec<u32>,
    pub tokens: Vec<String>,
    /// 1 for the prompt's tokens, 0 for padding.
    pub attention_mask: Vec<u32>,
    /// The scalar input at `<SCALAR>` positions, −1000 elsewhere.
    pub scalars_values: Vec<f32>,
    pub scalars_valid_mask: Vec<bool>,
    /// Which sub-tokenizer made each token (`SCALARS_LITERALS` for scalars, `PAD` for padding).
    pub sources: Vec<String>,
    /// Pieces that became `<UNK>` and text that was ignored, for people to read.
    pub warnings: Vec<String>,
}

#[derive(Debug)]
pub enum MammalTokenizeError {
    /// A file of the tokenizer folder is missing or unreadable.
    File {
        file: String,
        message: String,
    },
    /// A required special token is not in the vocabulary.
    MissingToken {
        token: String,
    },
    Prompt(PromptError),
    /// `token_to_id` for a string no sub-tokenizer knows, or that two map to different ids.
    Lookup(String),
}

impl fmt::Display for MammalTokenizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { file, message } => write!(f, "{file}: {message}"),
            Self::MissingToken { token } => {
                write!(f, "the tokenizer has no {token} token")
            }
            Self::Prompt(e) => e.fmt(f),
            Self::Lookup(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for MammalTokenizeError {}

impl From<PromptError> for MammalTokenizeError {
    fn from(e: PromptError) -> Self {
        Self::Prompt(e)
    }
}

impl ModularTokenizer {
    /// A tokenizer folder's files (`config.yaml` at the top), or a model bundle's (the
    /// published layout keeps them in `tokenizer/`).
    pub fn from_folder(files: &BundleFiles) -> Result<Self, MammalTokenizeError> {
        let dir = if files.get("config.yaml").is_ok() || files.get("tokenizer/config.yaml").is_err()
        {
            ""
        } else {
            "tokenizer/"
        };
        Self::from_files(files, dir)
    }

    /// Reads `DIR/config.yaml` and the sub-tokenizer JSON files it names from `files`
    /// (`dir` is `""` for a bare tokenizer folder, `"tokenizer/"` inside a model bundle).
    pub fn from_files(files: &BundleFiles, dir: &str) -> Result<Self, MammalTokenizeError> {
        let read = |name: &str| {
            let path = format!("{dir}{name}");
            files
                .get(&path)
                .map_err(|e| MammalTokenizeError::File {
                    file: path.clone(),
                    message: e.to_string(),
                })
                .map(|bytes| (path, bytes))
        };
        let (path, bytes) = read("config.yaml")?;
        let config: ModularConfig =
            serde_yaml_ng::from_slice(bytes).map_err(|e| MammalTokenizeError::File {
                file: path,
                message: e.to_string(),
            })?;
        let mut tokenizers = Vec::with_capacity(config.tokenizers_info.len());
        for info in &config.tokenizers_info {
            let (path, bytes) = read(info.file())?;
            let tokenizer =
                SubTokenizer::from_bytes(bytes).map_err(|e| MammalTokenizeError::File {
                    file: path,
                    message: e.to_string(),
                })?;
            tokenizers.push(tokenizer);
        }
        if tokenizers.is_empty() {
            return Err(MammalTokenizeError::File {
                file: format!("{dir}config.yaml"),
                message: "tokenizers_info lists no tokenizer".into(),
            });
        }
        let names = config
            .tokenizers_info
            .iter()
            .map(|i| i.name.clone())
            .collect();
        Self::new(names, tokenizers)
    }

    fn new(names: Vec<String>, tokenizers: Vec<SubTokenizer>) -> Result<Self, MammalTokenizeError> {
        let mut specials = HashMap::new();
        for tokenizer in &tokenizers {
            for (id, token) in tokenizer.get_added_tokens_decoder() {
                specials.entry(token.content.clone()).or_insert(id);
            }
        }
        let mut tokens: HashMap<u32, String> =
            specials.iter().map(|(t, &id)| (id, t.clone())).collect();
        for tokenizer in &tokenizers {
            for (token, id) in tokenizer.get_vocab(false) {
                tokens.entry(id).or_insert(token);
            }
        }
        let special = |token: &str| {
            specials
                .get(token)
                .copied()
                .ok_or_else(|| MammalTokenizeError::MissingToken {
                    token: token.into(),
                })
        };
        Ok(Self {
            pad: special("<PAD>")?,
            unk: special("<UNK>")?,
            scalar: special("<SCALAR>")?,
            names,
            tokenizers,
            tokens,
            specials,
        })
    }

    /// The sub-tokenizers' names in config order (what meta tokens may name).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// Encodes a prompt as the reference does: segments tokenized by their sub-tokenizer and
    /// cut to their `MAX-LEN`, concatenated, then cut and padded to `options.max_len`.
    pub fn encode(
        &self,
        prompt: &str,
        options: EncodeOptions,
    ) -> Result<Encoding, MammalTokenizeError> {
        let (segments, dropped) = parse_prompt(prompt, &self.names)?;
        if options.validate_ends_with_eos && !prompt.trim_end().ends_with("<EOS>") {
            return Err(PromptError::NoEos {
                end: excerpt(prompt.trim_end(), false),
            }
            .into());
        }
        let mut out = Encoding::default();
        if let Some(text) = dropped {
            out.warnings.push(format!(
                "text before the first meta token is ignored: {:?}",
                excerpt(text, true)
            ));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(RAND_SEED);
        for segment in &segments {
            let mut part = Encoding::default();
            match &segment.kind {
                SegmentKind::Scalars(values) => {
                    for &value in values {
                        part.push(self.scalar, "<SCALAR>", Some(value), SCALAR_SOURCE);
                    }
                }
                SegmentKind::Text(index) => {
                    let name = &self.names[*index];
                    let encoded = self.tokenizers[*index]
                        .encode(segment.text, false)
                        .map_err(|e| {
                            MammalTokenizeError::Lookup(format!(
                                "the {name} tokenizer failed on the segment at character {}: {e}",
                                segment.at
                            ))
                        })?;
                    for ((&id, token), &(start, end)) in encoded
                        .get_ids()
                        .iter()
                        .zip(encoded.get_tokens())
                        .zip(encoded.get_offsets())
                    {
                        let piece = segment.text.get(start..end).unwrap_or(token);
                        if id == self.unk && piece != "<UNK>" {
                            let at = segment.at
                                + segment.text[..start.min(segment.text.len())]
                                    .chars()
                                    .count();
                            out.warnings.push(format!(
                                "{piece:?} (character {at}, {name} segment) is not in the vocabulary: <UNK>"
                            ));
                        }
                        let token = self.tokens.get(&id).map_or(token.as_str(), String::as_str);
                        part.push(id, token, None, name);
                    }
                }
            }
            if let Some(max) = segment.max_len
                && part.ids.len() > max
            {
                let start = match segment.truncation {
                    Truncation::Right => 0,
                    Truncation::Random => rng.random_range(0..=part.ids.len() - max),
                };
                part.window(start, max);
            }
            out.append(part);
        }
        if let Some(max) = options.max_len {
            out.window(0, max.min(out.ids.len()));
            while out.ids.len() < max {
                out.push(self.pad, "<PAD>", None, "PAD");
                *out.attention_mask.last_mut().expect("just pushed") = 0;
            }
        }
        Ok(out)
    }

    /// Ids back to text: token strings joined without separators; an id no sub-tokenizer has
    /// becomes `<@TOKEN_MISSING-id>` (as the reference writes it).
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|id| {
                self.tokens
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| format!("<@TOKEN_MISSING-{id}>"))
            })
            .collect()
    }

    /// The token string of an id, if any sub-tokenizer has it.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.tokens.get(&id).map(String::as_str)
    }

    /// The id of a token: special tokens directly; otherwise the one id every sub-tokenizer
    /// that knows it agrees on (`C` is 503 for AA and 549 for SMILES: an error naming both).
    pub fn token_to_id(&self, token: &str) -> Result<u32, MammalTokenizeError> {
        if let Some(&id) = self.specials.get(token) {
            return Ok(id);
        }
        let found: Vec<(&str, u32)> = self
            .names
            .iter()
            .zip(&self.tokenizers)
            .filter_map(|(name, t)| t.token_to_id(token).map(|id| (name.as_str(), id)))
            .collect();
        match found.as_slice() {
            [] => Err(MammalTokenizeError::Lookup(format!(
                "no sub-tokenizer has the token {token:?}"
            ))),
            [(_, id), rest @ ..] if rest.iter().all(|(_, other)| other == id) => Ok(*id),
            _ => Err(MammalTokenizeError::Lookup(format!(
                "{token:?} has different ids in different sub-tokenizers: {}",
                found
                    .iter()
                    .map(|(name, id)| format!("{name} {id}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

impl Encoding {
    fn push(&mut self, id: u32, token: &str, scalar: Option<f32>, source: &str) {
        self.ids.push(id);
        self.tokens.push(token.into());
        self.attention_mask.push(1);
        self.scalars_values.push(scalar.unwrap_or(NO_SCALAR));
        self.scalars_valid_mask.push(scalar.is_some());
        self.sources.push(source.into());
    }

    fn append(&mut self, other: Encoding) {
        self.ids.extend(other.ids);
        self.tokens.extend(other.tokens);
        self.attention_mask.extend(other.attention_mask);
        self.scalars_values.extend(other.scalars_values);
        self.scalars_valid_mask.extend(other.scalars_valid_mask);
        self.sources.extend(other.sources);
        self.warnings.extend(other.warnings);
    }

    /// Keeps tokens `start .. start + len`.
    fn window(&mut self, start: usize, len: usize) {
        let range = start..start + len;
        self.ids = self.ids[range.clone()].to_vec();
        self.tokens = self.tokens[range.clone()].to_vec();
        self.attention_mask = self.attention_mask[range.clone()].to_vec();
        self.scalars_values = self.scalars_values[range.clone()].to_vec();
        self.scalars_valid_mask = self.scalars_valid_mask[range.clone()].to_vec();
        self.sources = self.sources[range].to_vec();
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}
