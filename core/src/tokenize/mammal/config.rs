//! `config.yaml` of a modular tokenizer folder: which sub-tokenizers exist, in which order, and
//! where their Hugging Face JSON files are.

use serde::Deserialize;

/// The whole `config.yaml` (unknown keys are ignored, as OmegaConf readers do).
#[derive(Clone, Debug, Deserialize)]
pub struct ModularConfig {
    /// In config order; the first one also carries scalar placeholders.
    pub tokenizers_info: Vec<SubTokenizerInfo>,
    #[serde(default)]
    pub max_possible_token_id: Option<u32>,
    #[serde(default)]
    pub max_special_token_id: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SubTokenizerInfo {
    /// What prompts call it: `<@TOKENIZER-TYPE=NAME>`.
    pub name: String,
    #[serde(default)]
    pub tokenizer_id: Option<u32>,
    pub json_path: String,
    /// The id-remapped ("modular") JSON, the one encoding uses when present.
    #[serde(default)]
    pub modular_json_path: Option<String>,
}

impl SubTokenizerInfo {
    /// The JSON file to load, relative to the tokenizer folder.
    pub fn file(&self) -> &str {
        let path = self.modular_json_path.as_deref().unwrap_or(&self.json_path);
        path.strip_prefix("./").unwrap_or(path)
    }
}
