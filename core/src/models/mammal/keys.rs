//! The published checkpoint's tensor names (`t5_model.*`, `encoder_head.classifier.k.*`, …) →
//! our module paths.

use super::config::MammalConfig;
use super::heads::ClassifierMlp;
use crate::bundle::KeyMap;
use crate::bundle::convert::{Init, PublishedTensor};

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

/// Every tensor of a checkpoint of `config`'s shape under the published names, in the
/// reference's order, with an initialisation that keeps activations finite (embeddings N(0, 1),
/// projections N(0, 0.05²), RMSNorm scales 1; heads N(0, 0.02²), biases 0). The
/// shared table is stored once, as `t5_model.decoder.embed_tokens.weight`, as the published
/// file does.
pub fn published_tensors(config: &MammalConfig) -> Vec<PublishedTensor> {
    let t5 = &config.t5_config;
    let (d, inner, ff) = (t5.d_model, t5.num_heads * t5.d_kv, t5.d_ff);
    // Hugging Face T5's `_init_weights` (factor 1): each weight's std is its fan-in's −½ power
    // (q also over d_kv), embeddings and the LM head 1.
    let fan_in = |n: usize| Init::Normal((n as f32).powf(-0.5));
    let mut out = vec![PublishedTensor::new(
        "t5_model.decoder.embed_tokens.weight",
        vec![t5.vocab_size, d],
        Init::Normal(1.0),
    )];
    let attention = |out: &mut Vec<PublishedTensor>, prefix: &str, bias: bool| {
        for (p, init) in [
            ("q", fan_in(d * t5.d_kv)),
            ("k", fan_in(d)),
            ("v", fan_in(d)),
        ] {
            out.push(PublishedTensor::new(
                format!("{prefix}.{p}.weight"),
                vec![inner, d],
                init,
            ));
        }
        out.push(PublishedTensor::new(
            format!("{prefix}.o.weight"),
            vec![d, inner],
            fan_in(inner),
        ));
        if bias {
            out.push(PublishedTensor::new(
                format!("{prefix}.relative_attention_bias.weight"),
                vec![t5.relative_attention_num_buckets, t5.num_heads],
                fan_in(d),
            ));
        }
    };
    let ffn = |out: &mut Vec<PublishedTensor>, prefix: &str| {
        for w in ["wi_0", "wi_1"] {
            out.push(PublishedTensor::new(
                format!("{prefix}.{w}.weight"),
                vec![ff, d],
                fan_in(d),
            ));
        }
        out.push(PublishedTensor::new(
            format!("{prefix}.wo.weight"),
            vec![d, ff],
            fan_in(ff),
        ));
    };
    let norm = |out: &mut Vec<PublishedTensor>, name: String| {
        out.push(PublishedTensor::new(name, vec![d], Init::Ones));
    };
    for i in 0..t5.num_layers {
        let block = format!("t5_model.encoder.block.{i}");
        attention(&mut out, &format!("{block}.layer.0.SelfAttention"), i == 0);
        norm(&mut out, format!("{block}.layer.0.layer_norm.weight"));
        ffn(&mut out, &format!("{block}.layer.1.DenseReluDense"));
        norm(&mut out, format!("{block}.layer.1.layer_norm.weight"));
    }
    norm(&mut out, "t5_model.encoder.final_layer_norm.weight".into());
    for i in 0..t5.num_decoder_layers.unwrap_or(t5.num_layers) {
        let block = format!("t5_model.decoder.block.{i}");
        attention(&mut out, &format!("{block}.layer.0.SelfAttention"), i == 0);
        norm(&mut out, format!("{block}.layer.0.layer_norm.weight"));
        attention(&mut out, &format!("{block}.layer.1.EncDecAttention"), false);
        norm(&mut out, format!("{block}.layer.1.layer_norm.weight"));
        ffn(&mut out, &format!("{block}.layer.2.DenseReluDense"));
        norm(&mut out, format!("{block}.layer.2.layer_norm.weight"));
    }
    norm(&mut out, "t5_model.decoder.final_layer_norm.weight".into());
    out.push(PublishedTensor::new(
        "t5_model.lm_head.weight",
        vec![t5.vocab_size, d],
        Init::Normal(1.0),
    ));
    let mlp = |out: &mut Vec<PublishedTensor>,
               prefix: &str,
               hidden: &[usize],
               outputs: usize,
               dropout: f64| {
        let sizes: Vec<usize> = std::iter::once(d)
            .chain(hidden.iter().copied())
            .chain([outputs])
            .collect();
        for (i, pair) in sizes.windows(2).enumerate() {
            let k = ClassifierMlp::reference_index(i, dropout);
            out.push(PublishedTensor::new(
                format!("{prefix}.classifier.{k}.weight"),
                vec![pair[1], pair[0]],
                fan_in(pair[0]),
            ));
            out.push(PublishedTensor::new(
                format!("{prefix}.classifier.{k}.bias"),
                vec![pair[1]],
                Init::Zeros,
            ));
        }
    };
    if !config.encoder_head_layers.is_empty() {
        mlp(
            &mut out,
            "encoder_head",
            &config.encoder_head_layers,
            t5.vocab_size,
            config.encoder_head_dropout,
        );
    }
    if let Some(head) = &config.scalars_prediction_head {
        mlp(
            &mut out,
            "scalars_prediction_head",
            &head.layers,
            head.num_classes,
            head.dropout,
        );
    }
    if config.support_input_scalars {
        out.push(PublishedTensor::new(
            "project_input_scalars.weight",
            vec![d, 1],
            Init::Normal(0.02),
        ));
        out.push(PublishedTensor::new(
            "project_input_scalars.bias",
            vec![d],
            Init::Zeros,
        ));
    }
    out
}
