//! The modular tokenizer itself: the sub-tokenizers of a folder (Hugging Face `tokenizers`
//! JSON, already in one shared id space), prompt encoding with per-segment and global
//! truncation, padding and scalar inputs, and decoding ids back to text.

use std::collections::HashMap;

use super::split::{FastSplit, Piece};
use super::sub::SubTokenizer;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::config::ModularConfig;
use super::prompt::{CharCursor, PromptError, SegmentKind, Truncation, excerpt, parse_prompt};
use crate::bundle::BundleFiles;

/// `sources` entry of tokens that stand for scalar inputs.
pub const SCALAR_SOURCE: &str = "SCALARS_LITERALS";
/// The reference's filler for positions without a scalar input.
pub const NO_SCALAR: f32 = -1000.0;
/// The most tokens a prompt may be padded to (`EncodeOptions::max_len`): padding allocates
/// every position, so a mistyped or hostile length (`1000000000`) would take all memory. MAMMAL
/// models are trained on a few hundred to two thousand tokens; 65,536 is 32 times that.
pub const MAX_PADDED_LEN: usize = 65_536;
/// The most warnings one encoding keeps; a last one counts those left out, so a prompt of
/// 200,000 unknown characters cannot produce megabytes of warnings.
pub const MAX_WARNINGS: usize = 100;
/// Seed of `TRUNC-MODE=RAND` windows (the reference's seed; its Python RNG is not reproduced).
const RAND_SEED: u64 = 1234;

/// A loaded tokenizer folder.
pub struct ModularTokenizer {
    names: Vec<String>,
    tokenizers: Vec<SubTokenizer>,
    /// The linear-time reader of each sub-tokenizer whose file has the shape it reproduces.
    fast: Vec<Option<FastSplit>>,
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
    /// Right-truncate and `<PAD>`-pad to exactly this many tokens (at most [`MAX_PADDED_LEN`]).
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
    /// Pieces that became `<UNK>` and text that was ignored, for people to read: the first
    /// [`MAX_WARNINGS`], then one that counts the rest.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MammalTokenizeError {
    /// A file of the tokenizer folder is missing or unreadable.
    #[error("{file}: {message}")]
    File { file: String, message: String },
    /// A required special token is not in the vocabulary.
    #[error("the tokenizer has no {token} token")]
    MissingToken { token: String },
    #[error(transparent)]
    Prompt(#[from] PromptError),
    /// `token_to_id` for a string no sub-tokenizer knows, or that two map to different ids.
    #[error("{0}")]
    Lookup(String),
    /// `EncodeOptions::max_len` over [`MAX_PADDED_LEN`].
    #[error(
        "max_len {max_len} is over the limit of {limit} tokens a prompt may be padded to \
         (MAX_PADDED_LEN)"
    )]
    MaxLenTooLarge { max_len: usize, limit: usize },
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
        let mut fast = Vec::with_capacity(config.tokenizers_info.len());
        for info in &config.tokenizers_info {
            let (path, bytes) = read(info.file())?;
            let tokenizer =
                SubTokenizer::from_bytes(bytes).map_err(|e| MammalTokenizeError::File {
                    file: path,
                    message: e.to_string(),
                })?;
            fast.push(FastSplit::new(bytes, &tokenizer));
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
        Self::new(names, tokenizers, fast)
    }

    fn new(
        names: Vec<String>,
        tokenizers: Vec<SubTokenizer>,
        fast: Vec<Option<FastSplit>>,
    ) -> Result<Self, MammalTokenizeError> {
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
            fast,
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

    /// The same tokenizer with every segment read by the `tokenizers` crate (quadratic on
    /// some hostile prompts), for tests that compare it with the linear reader.
    #[doc(hidden)]
    pub fn without_fast_split(mut self) -> Self {
        self.fast.iter_mut().for_each(|f| *f = None);
        self
    }

    /// How many sub-tokenizers the linear reader handles (tests check the published ones are).
    #[doc(hidden)]
    pub fn fast_split_count(&self) -> usize {
        self.fast.iter().flatten().count()
    }

    /// Encodes a prompt as the reference does: segments tokenized by their sub-tokenizer and
    /// cut to their `MAX-LEN`, concatenated, then cut and padded to `options.max_len`.
    ///
    /// Time and memory are linear in the prompt's length (the published sub-tokenizers are read
    /// by [`FastSplit`]); `options.max_len` over [`MAX_PADDED_LEN`] is refused.
    pub fn encode(
        &self,
        prompt: &str,
        options: EncodeOptions,
    ) -> Result<Encoding, MammalTokenizeError> {
        if let Some(max_len) = options.max_len
            && max_len > MAX_PADDED_LEN
        {
            return Err(MammalTokenizeError::MaxLenTooLarge {
                max_len,
                limit: MAX_PADDED_LEN,
            });
        }
        let (segments, dropped) = parse_prompt(prompt, &self.names)?;
        if options.validate_ends_with_eos && !prompt.trim_end().ends_with("<EOS>") {
            return Err(PromptError::NoEos {
                end: excerpt(prompt.trim_end(), false),
            }
            .into());
        }
        let mut out = Encoding::default();
        let mut warnings = Warnings::default();
        if let Some(text) = dropped {
            warnings.push(|| {
                format!(
                    "text before the first meta token is ignored: {:?}",
                    excerpt(text, true)
                )
            });
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
                    let mut position = CharCursor::new(segment.text, segment.text_at);
                    let mut add = |(id, token, start, end): Piece<'_>| {
                        let piece = segment.text.get(start..end).unwrap_or(token);
                        if id == self.unk && piece != "<UNK>" {
                            let at = position.at(start);
                            warnings.push(|| {
                                format!(
                                    "{piece:?} (character {at}, {name} segment) is not in the vocabulary: <UNK>"
                                )
                            });
                        }
                        let token = self.tokens.get(&id).map_or(token, String::as_str);
                        part.push(id, token, None, name);
                    };
                    let tokenizer = &self.tokenizers[*index];
                    if let Some(fast) = &self.fast[*index] {
                        fast.pieces(tokenizer, segment.text, &mut add);
                    } else {
                        let encoded = tokenizer.encode(segment.text, false).map_err(|e| {
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
                            add((id, token, start, end));
                        }
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
            out.window(0, max);
            let padding = max - out.ids.len();
            out.ids.extend(std::iter::repeat_n(self.pad, padding));
            out.tokens
                .extend(std::iter::repeat_n("<PAD>".to_owned(), padding));
            out.attention_mask.extend(std::iter::repeat_n(0, padding));
            out.scalars_values
                .extend(std::iter::repeat_n(NO_SCALAR, padding));
            out.scalars_valid_mask
                .extend(std::iter::repeat_n(false, padding));
            out.sources
                .extend(std::iter::repeat_n("PAD".to_owned(), padding));
        }
        out.warnings = warnings.finish();
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

    /// Keeps tokens `start .. start + len` (fewer where the encoding is shorter).
    fn window(&mut self, start: usize, len: usize) {
        fn keep<T>(v: &mut Vec<T>, start: usize, len: usize) {
            v.truncate(start.saturating_add(len));
            v.drain(..start.min(v.len()));
        }
        keep(&mut self.ids, start, len);
        keep(&mut self.tokens, start, len);
        keep(&mut self.attention_mask, start, len);
        keep(&mut self.scalars_values, start, len);
        keep(&mut self.scalars_valid_mask, start, len);
        keep(&mut self.sources, start, len);
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The warnings of one encoding: the first [`MAX_WARNINGS`] (formatted only when kept), then a
/// count of the rest.
#[derive(Default)]
struct Warnings {
    kept: Vec<String>,
    left_out: usize,
}

impl Warnings {
    fn push(&mut self, message: impl FnOnce() -> String) {
        if self.kept.len() < MAX_WARNINGS {
            self.kept.push(message());
        } else {
            self.left_out += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.left_out > 0 {
            self.kept.push(format!(
                "{} more warnings like these are not shown (the first {MAX_WARNINGS} are)",
                self.left_out
            ));
        }
        self.kept
    }
}
