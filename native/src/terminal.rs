//! Text from files on its way to the terminal: control characters (escape sequences that could
//! recolour, retitle or rewrite the screen) and bidirectional overrides are shown escaped.

use std::borrow::Cow;

/// Whether `c` would act on the terminal instead of being shown: C0 controls other than line
/// breaks and tabs, DEL, C1 controls, and the Unicode bidirectional embeddings and isolates
/// (which can make text read in a different order from the bytes).
fn acts_on_terminal(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every character that would act on the terminal written as a `\u{…}` escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_terminal) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if acts_on_terminal(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn escapes_what_would_drive_the_terminal() {
        assert_eq!(printable("gene \u{1b}[2Jx\n"), "gene \\u{1b}[2Jx\n");
        assert_eq!(printable("a\u{0}b\u{202e}c"), "a\\u{0}b\\u{202e}c");
        assert_eq!(printable("CD3E\tß ✓"), "CD3E\tß ✓");
    }
}
