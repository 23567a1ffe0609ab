//! Renaming rules from a checkpoint's tensor names to our module paths.

use super::BundleError;

/// Ordered regex rewrite rules, applied one after another to every tensor name (as
/// `Regex::replace_all`, with `$1`-style captures). Unmatched names pass through unchanged, so a
/// map for reference names leaves names we saved ourselves alone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyMap {
    rules: Vec<(String, String)>,
}

impl KeyMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn rule(mut self, pattern: impl Into<String>, replacement: impl Into<String>) -> Self {
        self.rules.push((pattern.into(), replacement.into()));
        self
    }

    /// Applies the rules to one name (what the loader does to every tensor).
    pub fn apply(&self, name: &str) -> Result<String, BundleError> {
        Ok(self.compile()?.apply(name))
    }

    /// The rules compiled once, for renaming every tensor of a file.
    pub(crate) fn compile(&self) -> Result<Renamer, BundleError> {
        let rules = self
            .rules
            .iter()
            .map(|(pattern, replacement)| Ok((compile(pattern)?, replacement.clone())))
            .collect::<Result<_, BundleError>>()?;
        Ok(Renamer { rules })
    }
}

/// A [`KeyMap`] with its patterns compiled.
#[derive(Clone, Debug)]
pub(crate) struct Renamer {
    rules: Vec<(regex_lite::Regex, String)>,
}

impl Renamer {
    pub(crate) fn apply(&self, name: &str) -> String {
        let mut name = name.to_string();
        for (pattern, replacement) in &self.rules {
            name = pattern
                .replace_all(&name, replacement.as_str())
                .into_owned();
        }
        name
    }
}

fn compile(pattern: &str) -> Result<regex_lite::Regex, BundleError> {
    regex_lite::Regex::new(pattern).map_err(|e| invalid(e.to_string()))
}

fn invalid(message: String) -> BundleError {
    BundleError::Config {
        file: "key map".into(),
        field: None,
        message,
    }
}
