//! One line for an error and its causes: the form every front-end shows a user. Errors here keep
//! their cause in `#[source]` and do not repeat it in their own message, so the chain is the text.

use std::error::Error;

/// `error`'s message and each cause's after it, joined by `": "` — the form `anyhow` gives with
/// `{:#}` in the CLI, for front-ends without it (the browser API).
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("config.json")]
/// struct Outer(#[source] std::fmt::Error);
/// assert_eq!(tessera_core::error::chain(&Outer(std::fmt::Error)), "config.json: an error occurred when formatting an argument");
/// ```
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(": ");
        text.push_str(&error.to_string());
        cause = error.source();
    }
    text
}
