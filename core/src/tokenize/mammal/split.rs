//! A linear-time reading of the word-level sub-tokenizers MAMMAL publishes (AA, GENE,
//! CELL_ATTRIBUTES): added tokens, then a `Split` pre-tokenizer whose pattern is an alternation
//! of `O.*?C` branches and `\S` (`<.*?>|\S`, `<.*?>|\[.*?\]|\S`), then a vocabulary lookup.
//!
//! The `tokenizers` crate finds the pattern's matches one search at a time, and a search at an
//! `O` with no `C` later on its line reads to the end of the line before it falls back to `\S`:
//! a 200 kB prompt of `<` took about a minute (every position rereads the rest). This reader
//! computes the same pieces with cursors that only move forward. It is used only when a
//! tokenizer file has exactly this shape ([`FastSplit::new`] checks); any other file goes
//! through the `tokenizers` crate. `core/tests/hostile_mammal.rs` compares the two on random
//! prompts.

use std::collections::HashMap;

use serde_json::Value;
use tokenizers::Model;
use tokenizers::models::ModelWrapper;

use super::sub::SubTokenizer;

/// One alternative of the split pattern, in pattern order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Branch {
    /// `O.*?C`: from an `O` to the first `C` after it on the same line.
    Delimited { open: char, close: char },
    /// `\S`: one character that is not Unicode white space.
    NonSpace,
}

/// What [`FastSplit::pieces`] yields: id, token string, byte range in the text.
pub(crate) type Piece<'t> = (u32, &'t str, usize, usize);

/// The fast reader of one sub-tokenizer (see the module documentation).
pub(crate) struct FastSplit {
    branches: Vec<Branch>,
    /// Added tokens (all `<…>` with no `<` or `>` inside) → id.
    added: HashMap<String, u32>,
    unk_token: String,
    unk: u32,
}

impl FastSplit {
    /// The reader for `tokenizer` (loaded from `json`), or `None` when the file is not of the
    /// shape this reader reproduces exactly.
    pub(crate) fn new(json: &[u8], tokenizer: &SubTokenizer) -> Option<Self> {
        /// The one part of the file the `tokenizers` crate does not expose (the rest is skipped
        /// unread, not built into a JSON tree: the GENE vocabulary is 95,000 entries).
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            pre_tokenizer: Value,
        }
        let file: File = serde_json::from_slice(json).ok()?;
        let ModelWrapper::WordLevel(model) = tokenizer.get_model() else {
            return None;
        };
        if tokenizer.get_truncation().is_some() || tokenizer.get_padding().is_some() {
            return None;
        }
        let mut split = &file.pre_tokenizer;
        if split["type"] == "Sequence" {
            match split["pretokenizers"].as_array().map(Vec::as_slice) {
                Some([only]) => split = only,
                _ => return None,
            }
        }
        if split["type"] != "Split" || split["behavior"] != "Removed" || split["invert"] != true {
            return None;
        }
        let branches = parse_pattern(split["pattern"]["Regex"].as_str()?)?;
        let mut added = HashMap::new();
        for (id, token) in tokenizer.get_added_tokens_decoder() {
            let content = &token.content;
            let inner = content.strip_prefix('<')?.strip_suffix('>')?;
            if token.normalized
                || token.single_word
                || token.lstrip
                || token.rstrip
                || inner.contains(['<', '>'])
                || added.insert(content.clone(), id).is_some()
            {
                return None;
            }
        }
        let unk = model.token_to_id(&model.unk_token)?;
        Some(Self {
            branches,
            added,
            unk_token: model.unk_token.clone(),
            unk,
        })
    }

    /// The tokens of `text` as the `tokenizers` crate makes them, in order, through `emit`.
    pub(crate) fn pieces<'t>(
        &'t self,
        model: &'t SubTokenizer,
        text: &'t str,
        mut emit: impl FnMut(Piece<'t>),
    ) {
        let mut next_gt = NextChar::new('>');
        let mut next_lt = NextChar::new('<');
        let mut fragment = 0;
        // Added tokens first (leftmost-longest; every one is `<…>` without `<`/`>` inside, so
        // the only candidate at a `<` runs to the first `>` after it).
        let mut at = 0;
        while let Some(open) = next_lt.from(text, at) {
            let Some(close) = next_gt.from(text, open + 1) else {
                break;
            };
            if next_lt.from(text, open + 1).is_some_and(|lt| lt < close) {
                at = open + 1;
                continue;
            }
            let end = close + 1;
            match self.added.get(&text[open..end]) {
                Some(&id) => {
                    if fragment < open {
                        self.split(model, text, fragment, open, &mut emit);
                    }
                    emit((id, &text[open..end], open, end));
                    fragment = end;
                    at = end;
                }
                None => at = open + 1,
            }
        }
        if fragment < text.len() {
            self.split(model, text, fragment, text.len(), &mut emit);
        }
    }

    /// The pattern's matches in `text[start..end]` (a fragment between added tokens), looked up.
    fn split<'t>(
        &'t self,
        model: &'t SubTokenizer,
        text: &'t str,
        start: usize,
        end: usize,
        emit: &mut dyn FnMut(Piece<'t>),
    ) {
        let ModelWrapper::WordLevel(vocab) = model.get_model() else {
            return;
        };
        // The regex sees the fragment only: `.*?` cannot run past it.
        let fragment = &text[..end];
        let mut closes: Vec<Option<NextChar>> = self
            .branches
            .iter()
            .map(|b| match *b {
                Branch::Delimited { close, .. } => Some(NextChar::new(close)),
                Branch::NonSpace => None,
            })
            .collect();
        // `.` is any character but `\n`.
        let mut newline = NextChar::new('\n');
        let mut at = start;
        while let Some(c) = fragment[at..].chars().next() {
            let after = at + c.len_utf8();
            let mut matched = None;
            for (branch, close) in self.branches.iter().zip(&mut closes) {
                match (*branch, close) {
                    (Branch::Delimited { open, .. }, Some(close)) if c == open => {
                        if let Some(stop) = close.from(fragment, after)
                            && newline.from(fragment, after).is_none_or(|n| n > stop)
                        {
                            matched = Some(stop + close.c.len_utf8());
                            break;
                        }
                    }
                    (Branch::NonSpace, _) if !c.is_whitespace() => {
                        matched = Some(after);
                        break;
                    }
                    _ => {}
                }
            }
            match matched {
                Some(stop) => {
                    let piece = &text[at..stop];
                    match vocab.token_to_id(piece) {
                        Some(id) => emit((id, piece, at, stop)),
                        None => emit((self.unk, &self.unk_token, at, stop)),
                    }
                    at = stop;
                }
                None => at = after,
            }
        }
    }
}

/// The next occurrence of one character at or after a position in one text; the positions
/// asked only grow, so each byte is searched at most once.
struct NextChar {
    c: char,
    /// The last answer.
    found: Option<usize>,
    /// A search found nothing: nothing after any later position either.
    exhausted: bool,
}

impl NextChar {
    fn new(c: char) -> Self {
        Self {
            c,
            found: None,
            exhausted: false,
        }
    }

    fn from(&mut self, text: &str, at: usize) -> Option<usize> {
        match self.found {
            Some(p) if p >= at => return Some(p),
            None if self.exhausted => return None,
            _ => {}
        }
        self.found = text
            .get(at..)
            .and_then(|rest| rest.find(self.c))
            .map(|p| at + p);
        self.exhausted = self.found.is_none();
        self.found
    }
}

/// `<.*?>|\[.*?\]|\S` → branches; `None` for anything else.
fn parse_pattern(pattern: &str) -> Option<Vec<Branch>> {
    pattern
        .split('|')
        .map(|branch| {
            if branch == r"\S" {
                return Some(Branch::NonSpace);
            }
            let (open, rest) = literal(branch)?;
            let (close, rest) = literal(rest.strip_prefix(".*?")?)?;
            rest.is_empty().then_some(Branch::Delimited { open, close })
        })
        .collect()
}

/// One literal character of a pattern: `\` and ASCII punctuation, or a character that is not
/// a regex metacharacter, not white space and not a letter or digit that an escape could
/// change.
fn literal(text: &str) -> Option<(char, &str)> {
    let mut chars = text.chars();
    let c = match chars.next()? {
        '\\' => chars.next().filter(char::is_ascii_punctuation)?,
        c if !c.is_whitespace() && !"\\.+*?()|[]{}^$#".contains(c) => c,
        _ => return None,
    };
    Some((c, chars.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_patterns_parse_and_others_do_not() {
        use Branch::*;
        assert_eq!(
            parse_pattern(r"<.*?>|\[.*?\]|\S"),
            Some(vec![
                Delimited {
                    open: '<',
                    close: '>'
                },
                Delimited {
                    open: '[',
                    close: ']'
                },
                NonSpace
            ])
        );
        assert!(parse_pattern(r"<.*?>|\S").is_some());
        for other in [
            r"<.*>|\S",
            r"\w+",
            r"<.*?>|\s",
            r"(<.*?>)|\S",
            r"<.*?>x|\S",
            "",
        ] {
            assert_eq!(parse_pattern(other), None, "{other}");
        }
    }
}
