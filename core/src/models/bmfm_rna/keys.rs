//! Reference (bmfm-targets) tensor names → our module paths.

use super::config::{Backbone, RnaConfig, RnaConfigError};
use crate::bundle::KeyMap;
use crate::nn::encoder::bert_key_map;

/// The checkpoint's names for `config`: the backbone under `scbert.*` (BERT layer names) or
/// `core.*` (scLlama block names), the LM head under `cls.predictions.*`, the label heads
/// under `cls.label_predictions.*`.
pub fn reference(config: &RnaConfig, decoders: &[String]) -> Result<KeyMap, RnaConfigError> {
    let map = match config.backbone()? {
        Backbone::SCBert => embeddings(
            bert_key_map("scbert.encoder.", "encoder."),
            "scbert.embeddings.",
            "scbert.pooler.",
        ),
        Backbone::SCLlama => {
            let block = r"^core\.encoder\.blocks\.(\d+)\.";
            let map = [
                ("attn.c_attn.", "attention.qkv."),
                ("attn.proj.", "attention.output."),
                ("rms_1.scale", "attn_norm.weight"),
                ("rms_2.scale", "ffn_norm.weight"),
                ("mlp.c_fc1.", "ffn.inner."),
                ("mlp.c_fc2.", "ffn.gate."),
                ("mlp.c_proj.", "ffn.out."),
            ]
            .into_iter()
            .fold(KeyMap::new(), |map, (source, target)| {
                map.rule(
                    format!("{block}{}", regex::escape(source)),
                    format!("encoder.layers.$1.{target}"),
                )
            });
            embeddings(map, "core.encoder.embeddings.", "core.pooler.")
        }
    };
    Ok(heads(map, config, decoders))
}

fn embeddings(map: KeyMap, prefix: &str, pooler: &str) -> KeyMap {
    let p = regex::escape(prefix);
    map.rule(format!(r"^{p}genes_embeddings\."), "genes.")
        .rule(format!(r"^{p}expressions_embeddings\."), "expressions.")
        .rule(format!(r"^{p}LayerNorm\."), "embed_norm.")
        .rule(format!(r"^{}dense\.", regex::escape(pooler)), "pooler.")
}

fn heads(map: KeyMap, config: &RnaConfig, decoders: &[String]) -> KeyMap {
    let mut map = map
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
