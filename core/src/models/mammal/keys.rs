//! The published checkpoint's tensor names (`t5_model.*`, `encoder_head.classifier.k.*`, …) →
//! our module paths.

use super::config::MammalConfig;
use super::heads::ClassifierMlp;
use crate::bundle::KeyMap;

pub fn reference(config: &MammalConfig) -> KeyMap {
    // The shared input table is stored once, under whichever alias the writer kept.
    let mut map = KeyMap::new()
        .rule(
            r"^t5_model\.(shared|encoder\.embed_tokens|decoder\.embed_tokens)\.weight$",
            "shared.weight",
        )
        .rule(r"^t5_model\.lm_head\.", "lm_head.")
        .rule(
            r"^t5_model\.(encoder|decoder)\.block\.0\.layer\.0\.SelfAttention\.relative_attention_bias\.",
            "$1.relative_bias.embedding.",
        )
        .rule(r"^t5_model\.(encoder|decoder)\.final_layer_norm\.", "$1.final_norm.");
    let projections = [
        ("q", "query"),
        ("k", "key"),
        ("v", "value"),
        ("o", "output"),
    ];
    for (short, long) in projections {
        map = map
            .rule(
                format!(r"^t5_model\.encoder\.block\.(\d+)\.layer\.0\.SelfAttention\.{short}\."),
                format!("encoder.layers.$1.attention.{long}."),
            )
            .rule(
                format!(r"^t5_model\.decoder\.block\.(\d+)\.layer\.0\.SelfAttention\.{short}\."),
                format!("decoder.layers.$1.self_attention.{long}."),
            )
            .rule(
                format!(r"^t5_model\.decoder\.block\.(\d+)\.layer\.1\.EncDecAttention\.{short}\."),
                format!("decoder.layers.$1.cross_attention.{long}."),
            );
    }
    let ffn = [("wi_0", "inner"), ("wi_1", "gate"), ("wo", "out")];
    for (theirs, ours) in ffn {
        map = map
            .rule(
                format!(r"^t5_model\.encoder\.block\.(\d+)\.layer\.1\.DenseReluDense\.{theirs}\."),
                format!("encoder.layers.$1.ffn.{ours}."),
            )
            .rule(
                format!(r"^t5_model\.decoder\.block\.(\d+)\.layer\.2\.DenseReluDense\.{theirs}\."),
                format!("decoder.layers.$1.ffn.{ours}."),
            );
    }
    map = map
        .rule(
            r"^t5_model\.encoder\.block\.(\d+)\.layer\.0\.layer_norm\.",
            "encoder.layers.$1.attn_norm.",
        )
        .rule(
            r"^t5_model\.encoder\.block\.(\d+)\.layer\.1\.layer_norm\.",
            "encoder.layers.$1.ffn_norm.",
        )
        .rule(
            r"^t5_model\.decoder\.block\.(\d+)\.layer\.0\.layer_norm\.",
            "decoder.layers.$1.self_norm.",
        )
        .rule(
            r"^t5_model\.decoder\.block\.(\d+)\.layer\.1\.layer_norm\.",
            "decoder.layers.$1.cross_norm.",
        )
        .rule(
            r"^t5_model\.decoder\.block\.(\d+)\.layer\.2\.layer_norm\.",
            "decoder.layers.$1.ffn_norm.",
        );
    for i in 0..=config.encoder_head_layers.len() {
        let k = ClassifierMlp::reference_index(i, config.encoder_head_dropout);
        map = map.rule(
            format!(r"^encoder_head\.classifier\.{k}\."),
            format!("encoder_head.layers.{i}."),
        );
    }
    if let Some(head) = &config.scalars_prediction_head {
        for i in 0..=head.layers.len() {
            let k = ClassifierMlp::reference_index(i, head.dropout);
            map = map.rule(
                format!(r"^scalars_prediction_head\.classifier\.{k}\."),
                format!("scalars_head.layers.{i}."),
            );
        }
    }
    map
}
