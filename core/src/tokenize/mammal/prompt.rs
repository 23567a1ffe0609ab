//! The prompt grammar: meta tokens `<@TOKENIZER-TYPE=NAME[@MAX-LEN=n][@TRUNC-MODE=RIGHT|RAND]>`
//! split a prompt into segments, each tokenized by one sub-tokenizer (or, for
//! `SCALARS_LITERALS`, read as comma-separated numbers).

use std::sync::LazyLock;

use regex_lite::Regex;

/// What a segment holds.
#[derive(Clone, Debug, PartialEq)]
pub enum SegmentKind {
    /// Text for the sub-tokenizer at this index of the config's list.
    Text(usize),
    /// `SCALARS_LITERALS`: one `<SCALAR>` token per value.
    Scalars(Vec<f32>),
}

/// How a segment longer than its `MAX-LEN` is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Truncation {
    /// Keep the first `MAX-LEN` tokens (the default).
    Right,
    /// Keep a random window of `MAX-LEN` tokens (seeded).
    Random,
}

/// One meta token and the text after it, up to the next meta token.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment<'a> {
    pub kind: SegmentKind,
    pub text: &'a str,
    pub max_len: Option<usize>,
    pub truncation: Truncation,
    /// Character position (from 1) of the segment's meta token in the prompt.
    pub at: usize,
    /// Character position (from 1) of the first character of `text` in the prompt.
    pub text_at: usize,
}

/// A prompt the grammar refuses; every variant names the fragment and where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PromptError {
    /// No `<@TOKENIZER-TYPE=…>` at all.
    #[error(
        "the prompt must start with a meta token such as <@TOKENIZER-TYPE=AA>; it starts with {start:?}"
    )]
    NoMetaToken { start: String },
    #[error(
        "unknown tokenizer {name:?} in the meta token at character {at} (known: {}, SCALARS_LITERALS)",
        known.join(", ")
    )]
    UnknownTokenizer {
        name: String,
        at: usize,
        known: Vec<String>,
    },
    #[error("MAX-LEN={value:?} in the meta token at character {at} is not a whole number")]
    BadMaxLen { value: String, at: usize },
    #[error("TRUNC-MODE={value:?} in the meta token at character {at}: use RIGHT or RAND")]
    BadTruncMode { value: String, at: usize },
    #[error(
        "{part:?} in the meta token at character {at}: expected MAX-LEN=n or TRUNC-MODE=RIGHT|RAND"
    )]
    BadMetaPart { part: String, at: usize },
    #[error("scalar literal {literal:?} at character {at} is not a number")]
    BadScalar { literal: String, at: usize },
    /// A scalar literal that reads as NaN or an infinity, or overflows f32 (`1e39`): the model
    /// multiplies it into its embeddings, where it would poison every output.
    #[error(
        "scalar literal {literal:?} at character {at} is not a finite number (NaN and infinities \
         are refused; an f32 holds magnitudes up to 3.4e38)"
    )]
    NonFiniteScalar { literal: String, at: usize },
    /// `validate_ends_with_eos` and the prompt does not end with `<EOS>`.
    #[error("the prompt must end with <EOS>; it ends with {end:?}")]
    NoEos { end: String },
}

/// The pseudo-tokenizer whose text is comma-separated numbers.
pub const SCALARS_LITERALS: &str = "SCALARS_LITERALS";

/// `<@TOKENIZER-TYPE=…>`: compiled once (the `regex` crate searches in linear time).
static META: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<@TOKENIZER-TYPE=([^>]*)>").expect("valid regex"));

/// Splits `prompt` into segments; `names` are the sub-tokenizers in config order. Text before
/// the first meta token is dropped (as the reference does), and returned for a warning.
///
/// Linear in the prompt's length: character positions are counted on from the previous meta
/// token, never from the prompt's start.
pub fn parse_prompt<'a>(
    prompt: &'a str,
    names: &[String],
) -> Result<(Vec<Segment<'a>>, Option<&'a str>), PromptError> {
    let mut matches = META.captures_iter(prompt).peekable();
    let Some(first) = matches.peek() else {
        return Err(PromptError::NoMetaToken {
            start: excerpt(prompt, true),
        });
    };
    let head = first.get(0).map_or(0, |m| m.start());
    let dropped = (!prompt[..head].trim().is_empty()).then(|| &prompt[..head]);
    let mut segments = Vec::new();
    let mut position = CharCursor::new(prompt, 1);
    while let Some(captures) = matches.next() {
        let (Some(whole), Some(inner)) = (captures.get(0), captures.get(1)) else {
            continue;
        };
        let at = position.at(whole.start());
        let text_at = position.at(whole.end());
        let end = matches
            .peek()
            .and_then(|next| next.get(0))
            .map_or(prompt.len(), |next| next.start());
        let text = &prompt[whole.end()..end];
        let mut parts = inner.as_str().split('@');
        let name = parts.next().unwrap_or_default();
        let mut max_len = None;
        let mut truncation = Truncation::Right;
        for part in parts {
            if let Some(value) = part.strip_prefix("MAX-LEN=") {
                max_len = Some(value.trim().parse().map_err(|_| PromptError::BadMaxLen {
                    value: value.into(),
                    at,
                })?);
            } else if let Some(value) = part.strip_prefix("TRUNC-MODE=") {
                truncation = match value.trim() {
                    "RIGHT" => Truncation::Right,
                    "RAND" => Truncation::Random,
                    _ => {
                        return Err(PromptError::BadTruncMode {
                            value: value.into(),
                            at,
                        });
                    }
                };
            } else {
                return Err(PromptError::BadMetaPart {
                    part: part.into(),
                    at,
                });
            }
        }
        let kind = if name == SCALARS_LITERALS {
            SegmentKind::Scalars(scalars(text, text_at)?)
        } else if let Some(index) = names.iter().position(|n| n == name) {
            SegmentKind::Text(index)
        } else {
            return Err(PromptError::UnknownTokenizer {
                name: name.into(),
                at,
                known: names.to_vec(),
            });
        };
        segments.push(Segment {
            kind,
            text,
            max_len,
            truncation,
            at,
            text_at,
        });
    }
    Ok((segments, dropped))
}

/// `1.5,-2,0.25` → values (Python `float` accepts surrounding spaces; so do we). NaN, the
/// infinities and literals beyond f32's range are refused.
fn scalars(text: &str, at: usize) -> Result<Vec<f32>, PromptError> {
    let mut offset = at;
    text.split(',')
        .map(|literal| {
            let here = offset;
            offset += literal.chars().count() + 1;
            let value = literal
                .trim()
                .parse::<f32>()
                .map_err(|_| PromptError::BadScalar {
                    literal: literal.into(),
                    at: here,
                })?;
            if value.is_finite() {
                Ok(value)
            } else {
                Err(PromptError::NonFiniteScalar {
                    literal: literal.into(),
                    at: here,
                })
            }
        })
        .collect()
}

/// Character positions of byte offsets in one text, asked in increasing order: each question
/// counts only the characters since the previous one, so a pass over a text is linear.
pub(crate) struct CharCursor<'a> {
    text: &'a str,
    /// The numbering of the text's first character (1 for prompt positions).
    base: usize,
    byte: usize,
    chars: usize,
}

impl<'a> CharCursor<'a> {
    pub(crate) fn new(text: &'a str, base: usize) -> Self {
        Self {
            text,
            base,
            byte: 0,
            chars: 0,
        }
    }

    /// The character position of byte offset `byte` (clamped to the text; an offset before the
    /// previous one is counted again from the start, which never happens in a forward pass).
    pub(crate) fn at(&mut self, byte: usize) -> usize {
        let byte = byte.min(self.text.len());
        if byte < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        self.chars += self
            .text
            .get(self.byte..byte)
            .map_or(0, |s| s.chars().count());
        self.byte = byte;
        self.base + self.chars
    }
}

/// The first or last 24 characters of `text`, for messages.
pub(crate) fn excerpt(text: &str, start: bool) -> String {
    const KEEP: usize = 24;
    if start {
        match text.char_indices().nth(KEEP) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.into(),
        }
    } else {
        match text.char_indices().rev().nth(KEEP - 1) {
            Some((cut, _)) if cut > 0 => format!("…{}", &text[cut..]),
            _ => text.into(),
        }
    }
}
