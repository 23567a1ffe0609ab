//! The prompt grammar: meta tokens `<@TOKENIZER-TYPE=NAME[@MAX-LEN=n][@TRUNC-MODE=RIGHT|RAND]>`
//! split a prompt into segments, each tokenized by one sub-tokenizer (or, for
//! `SCALARS_LITERALS`, read as comma-separated numbers).

use std::fmt;

use regex::Regex;

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
}

/// A prompt the grammar refuses; every variant names the fragment and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromptError {
    /// No `<@TOKENIZER-TYPE=…>` at all.
    NoMetaToken {
        start: String,
    },
    UnknownTokenizer {
        name: String,
        at: usize,
        known: Vec<String>,
    },
    BadMaxLen {
        value: String,
        at: usize,
    },
    BadTruncMode {
        value: String,
        at: usize,
    },
    BadMetaPart {
        part: String,
        at: usize,
    },
    BadScalar {
        literal: String,
        at: usize,
    },
    /// `validate_ends_with_eos` and the prompt does not end with `<EOS>`.
    NoEos {
        end: String,
    },
}

impl fmt::Display for PromptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoMetaToken { start } => write!(
                f,
                "the prompt must start with a meta token such as <@TOKENIZER-TYPE=AA>; it starts with {start:?}"
            ),
            Self::UnknownTokenizer { name, at, known } => write!(
                f,
                "unknown tokenizer {name:?} in the meta token at character {at} (known: {}, SCALARS_LITERALS)",
                known.join(", ")
            ),
            Self::BadMaxLen { value, at } => write!(
                f,
                "MAX-LEN={value:?} in the meta token at character {at} is not a whole number"
            ),
            Self::BadTruncMode { value, at } => write!(
                f,
                "TRUNC-MODE={value:?} in the meta token at character {at}: use RIGHT or RAND"
            ),
            Self::BadMetaPart { part, at } => write!(
                f,
                "{part:?} in the meta token at character {at}: expected MAX-LEN=n or TRUNC-MODE=RIGHT|RAND"
            ),
            Self::BadScalar { literal, at } => write!(
                f,
                "scalar literal {literal:?} at character {at} is not a number"
            ),
            Self::NoEos { end } => {
                write!(f, "the prompt must end with <EOS>; it ends with {end:?}")
            }
        }
    }
}

impl std::error::Error for PromptError {}

/// The pseudo-tokenizer whose text is comma-separated numbers.
pub const SCALARS_LITERALS: &str = "SCALARS_LITERALS";

/// Splits `prompt` into segments; `names` are the sub-tokenizers in config order. Text before
/// the first meta token is dropped (as the reference does), and returned for a warning.
pub fn parse_prompt<'a>(
    prompt: &'a str,
    names: &[String],
) -> Result<(Vec<Segment<'a>>, Option<&'a str>), PromptError> {
    let meta = Regex::new(r"<@TOKENIZER-TYPE=([^>]*)>").expect("valid regex");
    let matches: Vec<_> = meta.captures_iter(prompt).collect();
    let Some(first) = matches.first() else {
        return Err(PromptError::NoMetaToken {
            start: excerpt(prompt, true),
        });
    };
    let head = first.get(0).expect("whole match").start();
    let dropped = (!prompt[..head].trim().is_empty()).then(|| &prompt[..head]);
    let mut segments = Vec::with_capacity(matches.len());
    for (i, captures) in matches.iter().enumerate() {
        let whole = captures.get(0).expect("whole match");
        let at = prompt[..whole.start()].chars().count() + 1;
        let end = matches.get(i + 1).map_or(prompt.len(), |next| {
            next.get(0).expect("whole match").start()
        });
        let text = &prompt[whole.end()..end];
        let mut parts = captures[1].split('@');
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
            SegmentKind::Scalars(scalars(text, at + whole.as_str().chars().count())?)
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
        });
    }
    Ok((segments, dropped))
}

/// `1.5,-2,0.25` → values (Python `float` accepts surrounding spaces; so do we).
fn scalars(text: &str, at: usize) -> Result<Vec<f32>, PromptError> {
    let mut offset = at;
    text.split(',')
        .map(|literal| {
            let here = offset;
            offset += literal.chars().count() + 1;
            literal
                .trim()
                .parse::<f32>()
                .map_err(|_| PromptError::BadScalar {
                    literal: literal.into(),
                    at: here,
                })
        })
        .collect()
}

/// The first or last 24 characters of `text`, for messages.
pub(crate) fn excerpt(text: &str, start: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 24 {
        return text.into();
    }
    if start {
        format!("{}…", chars[..24].iter().collect::<String>())
    } else {
        format!("…{}", chars[chars.len() - 24..].iter().collect::<String>())
    }
}
