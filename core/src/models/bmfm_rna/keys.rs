//! Reference (bmfm-targets) tensor names → our module paths.

use super::config::RnaConfig;
use crate::bundle::KeyMap;
use crate::nn::encoder::bert_key_map;

/// SCBert: `scbert.*` backbone, `cls.predictions.*` LM head, `cls.label_predictions.*` labels.
pub fn scbert(config: &RnaConfig, decoders: &[String]) -> KeyMap {
    let mut map = bert_key_map("scbert.encoder.", "encoder.")
        .rule(r"^scbert\.embeddings\.genes_embeddings\.", "genes.")
        .rule(
            r"^scbert\.embeddings\.expressions_embeddings\.",
            "expressions.",
        )
        .rule(r"^scbert\.embeddings\.LayerNorm\.", "embed_norm.")
        .rule(r"^scbert\.pooler\.dense\.", "pooler.")
        .rule(
            r"^cls\.predictions\.predictions\.transform\.dense\.",
            "lm_transform.dense.",
        )
        .rule(
            r"^cls\.predictions\.predictions\.transform\.LayerNorm\.",
            "lm_transform.norm.",
        );
    for (i, name) in decoders.iter().enumerate() {
        map = map.rule(
            format!(
                r"^cls\.predictions\.predictions\.decoder\.field_decoders\.{}\.",
                regex::escape(name)
            ),
            format!("decoders.{i}."),
        );
    }
    for (i, label) in config.labels().iter().enumerate() {
        // With gradient reversal the Linear sits at index 1 of a Sequential.
        map = map.rule(
            format!(
                r"^cls\.label_predictions\.predictions\.label_decoders\.{}\.decoder\.(1\.)?",
                regex::escape(&label.label_column_name)
            ),
            format!("labels.{i}."),
        );
    }
    map
}
