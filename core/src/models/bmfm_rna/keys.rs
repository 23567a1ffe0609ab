//! Reference (bmfm-targets) tensor names → our module paths, and the published checkpoints'
//! layout under those names.

use super::config::{Backbone, ExpressionKind, RnaConfig, RnaConfigError};
use super::expression::MLP_WIDTH;
use crate::bundle::KeyMap;
use crate::bundle::convert::{Init, PublishedTensor};
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
                    format!("{block}{}", regex_lite::escape(source)),
                    format!("encoder.layers.$1.{target}"),
                )
            });
            embeddings(map, "core.encoder.embeddings.", "core.pooler.")
        }
    };
    Ok(heads(map, config, decoders))
}

fn embeddings(map: KeyMap, prefix: &str, pooler: &str) -> KeyMap {
    let p = regex_lite::escape(prefix);
    map.rule(format!(r"^{p}genes_embeddings\."), "genes.")
        .rule(format!(r"^{p}expressions_embeddings\."), "expressions.")
        .rule(format!(r"^{p}LayerNorm\."), "embed_norm.")
        .rule(
            format!(r"^{}dense\.", regex_lite::escape(pooler)),
            "pooler.",
        )
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
                regex_lite::escape(name)
            ),
            format!("decoders.{i}."),
        );
    }
    for (i, label) in config.labels().iter().enumerate() {
        // With gradient reversal the Linear sits at index 1 of a Sequential.
        map = map.rule(
            format!(
                r"^cls\.label_predictions\.predictions\.label_decoders\.{}\.decoder\.(1\.)?",
                regex_lite::escape(&label.label_column_name)
            ),
            format!("labels.{i}."),
        );
    }
    map
}

/// The published checkpoint's tensors for `config`, under the reference names, with the
/// reference initialisation (Linear and embedding weights N(0, 0.02²), zero biases, LayerNorm
/// 1/0): what `bundle random` writes. The layout of the `biomed.rna.bert.*.v1` checkpoints —
/// SCBert with the MLP expression encoder; other backbones and encoders are refused.
pub fn published_tensors(config: &RnaConfig) -> Result<Vec<PublishedTensor>, RnaConfigError> {
    if config.backbone()? != Backbone::SCBert {
        return Err(RnaConfigError::Unsupported(
            "a published random layout exists for SCBert only".into(),
        ));
    }
    let (kind, n_special) = config.expression_field()?;
    if !matches!(kind, ExpressionKind::MlpWithSpecialTokens { .. }) {
        return Err(RnaConfigError::Unsupported(
            "a published random layout exists for the mlp_with_special_token_embedding \
             expression encoder only"
                .into(),
        ));
    }
    let (h, ff) = (config.hidden_size, config.d_ff()?);
    let mut out = Vec::new();
    let weight = Init::Normal(0.02);
    let linear = |out: &mut Vec<PublishedTensor>, name: &str, outputs: usize, inputs: usize| {
        out.push(PublishedTensor::new(
            format!("{name}.weight"),
            vec![outputs, inputs],
            weight,
        ));
        out.push(PublishedTensor::new(
            format!("{name}.bias"),
            vec![outputs],
            Init::Zeros,
        ));
    };
    let layer_norm = |out: &mut Vec<PublishedTensor>, name: &str| {
        out.push(PublishedTensor::new(
            format!("{name}.weight"),
            vec![h],
            Init::Ones,
        ));
        out.push(PublishedTensor::new(
            format!("{name}.bias"),
            vec![h],
            Init::Zeros,
        ));
    };
    let e = "scbert.embeddings";
    out.push(PublishedTensor::new(
        format!("{e}.genes_embeddings.weight"),
        vec![config.gene_vocab_size()?, h],
        weight,
    ));
    let x = format!("{e}.expressions_embeddings");
    linear(&mut out, &format!("{x}.dense_1"), MLP_WIDTH, 1);
    linear(&mut out, &format!("{x}.dense_2"), h, MLP_WIDTH);
    out.push(PublishedTensor::new(
        format!("{x}.special_token_embeddings.weight"),
        vec![n_special + 1, MLP_WIDTH],
        weight,
    ));
    layer_norm(&mut out, &format!("{e}.LayerNorm"));
    for i in 0..config.num_hidden_layers {
        let l = format!("scbert.encoder.layer.{i}");
        for p in ["query", "key", "value"] {
            linear(&mut out, &format!("{l}.attention.self.{p}"), h, h);
        }
        linear(&mut out, &format!("{l}.attention.output.dense"), h, h);
        layer_norm(&mut out, &format!("{l}.attention.output.LayerNorm"));
        linear(&mut out, &format!("{l}.intermediate.dense"), ff, h);
        linear(&mut out, &format!("{l}.output.dense"), h, ff);
        layer_norm(&mut out, &format!("{l}.output.LayerNorm"));
    }
    linear(&mut out, "scbert.pooler.dense", h, h);
    let p = "cls.predictions.predictions";
    linear(&mut out, &format!("{p}.transform.dense"), h, h);
    layer_norm(&mut out, &format!("{p}.transform.LayerNorm"));
    for decoder in config.decoders()? {
        let name = format!("{p}.decoder.field_decoders.{}", decoder.name);
        linear(&mut out, &name, decoder.outputs, h);
    }
    for label in config.labels() {
        // With gradient reversal the Linear sits at index 1 of a Sequential.
        let reversed = if label.gradient_reversal_coefficient.is_some() {
            ".1"
        } else {
            ""
        };
        let name = format!(
            "cls.label_predictions.predictions.label_decoders.{}.decoder{reversed}",
            label.label_column_name
        );
        linear(&mut out, &name, label.n_unique_values, h);
    }
    Ok(out)
}

/// The sizes of a published SCBert checkpoint (what `bundle random --like` imitates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BertGeometry {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    /// The gene vocabulary, specials included.
    pub genes: usize,
}

impl BertGeometry {
    /// `biomed.rna.bert.110m.*.v1`: 12 layers × 768 (12 heads, 3072 inner) over the
    /// `all_genes` vocabulary of 94,911 tokens.
    pub const BERT_110M: Self = Self {
        hidden: 768,
        layers: 12,
        heads: 12,
        intermediate: 3072,
        genes: 94_911,
    };

    /// Rewrites a reference `config.json` to these sizes (fields, heads and everything else
    /// kept).
    pub fn apply(&self, config: &mut serde_json::Value) -> Result<(), RnaConfigError> {
        let object = config
            .as_object_mut()
            .ok_or_else(|| RnaConfigError::Unsupported("not a JSON object".into()))?;
        for (key, value) in [
            ("hidden_size", self.hidden),
            ("num_hidden_layers", self.layers),
            ("num_attention_heads", self.heads),
            ("intermediate_size", self.intermediate),
        ] {
            object.insert(key.into(), value.into());
        }
        let genes = object
            .get_mut("fields")
            .and_then(|f| f.as_array_mut())
            .and_then(|fields| {
                fields
                    .iter_mut()
                    .find(|f| f.get("field_name").and_then(|n| n.as_str()) == Some("genes"))
            })
            .ok_or_else(|| RnaConfigError::Unsupported("fields: no `genes` field".into()))?;
        genes["vocab_size"] = self.genes.into();
        Ok(())
    }
}
