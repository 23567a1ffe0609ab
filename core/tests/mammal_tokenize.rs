//! MAMMAL's modular tokenizer against the reference's own output
//! (`../shared/fixtures/mammal-tokenizer-cases.json`, made with fuse-med-ml's ModularTokenizerOp
//! over `../shared/data/mammal-tokenizer`): ids, tokens, masks and scalars exactly; refused
//! prompts refused with a message naming the fragment; decoding and token lookups.

mod common;

use common::shared_dir;
use serde_json::Value;
use tessera_core::tokenize::mammal::EncodeOptions;

fn cases() -> Value {
    let path = shared_dir().join("fixtures/mammal-tokenizer-cases.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn options(case: &Value) -> EncodeOptions {
    EncodeOptions {
        max_len: case["max_seq_len"].as_u64().map(|n| n as usize),
        validate_ends_with_eos: case["validate_ends_with_eos"].as_bool().unwrap_or(true),
    }
}

#[test]
fn every_fixture_prompt_encodes_as_the_reference() {
    let tokenizer = common::mammal_tokenizer();
    let cases = cases();
    let mut checked = 0;
    for case in cases["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let prompt = case["prompt"].as_str().unwrap();
        let result = tokenizer.encode(prompt, options(case));
        if case["expect_error"].as_bool() == Some(true) {
            assert!(
                result.is_err(),
                "{name}: accepted a prompt the reference refuses"
            );
            continue;
        }
        let got = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let expect = &case["expect"];
        let u32s = |key: &str| -> Vec<u32> {
            expect[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect()
        };
        assert_eq!(got.ids, u32s("ids"), "{name}: ids");
        let tokens: Vec<&str> = expect["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(got.tokens, tokens, "{name}: tokens");
        assert_eq!(
            got.attention_mask,
            u32s("attention_mask"),
            "{name}: attention mask"
        );
        let values: Vec<f32> = expect["scalars_values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.scalars_values, values, "{name}: scalar values");
        let valid: Vec<bool> = u32s("scalars_valid_mask").iter().map(|&v| v == 1).collect();
        assert_eq!(got.scalars_valid_mask, valid, "{name}: scalar mask");
        assert_eq!(got.sources.len(), got.ids.len());
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} accepted cases");
}

#[test]
fn refused_prompts_name_the_fragment_and_where_it_is() {
    let tokenizer = common::mammal_tokenizer();
    let error = |prompt: &str| {
        tokenizer
            .encode(prompt, EncodeOptions::default())
            .unwrap_err()
            .to_string()
    };
    let e = error("ACDEF<EOS>");
    assert!(
        e.contains("must start with a meta token") && e.contains("ACDEF<EOS>"),
        "{e}"
    );
    let e = error("<@TOKENIZER-TYPE=AA>ACDEF<EOS><@TOKENIZER-TYPE=PROTEIN>ACD<EOS>");
    assert!(
        e.contains("\"PROTEIN\"") && e.contains("character 31") && e.contains("AA, SMILES"),
        "{e}"
    );
    let e = error("<@TOKENIZER-TYPE=AA@MAX-LEN=abc>ACDEF<EOS>");
    assert!(
        e.contains("MAX-LEN=\"abc\"") && e.contains("character 1"),
        "{e}"
    );
    let e = error("<@TOKENIZER-TYPE=AA@FOO=1>ACDEF<EOS>");
    assert!(e.contains("\"FOO=1\""), "{e}");
    let e = error(
        "<@TOKENIZER-TYPE=AA><MASK><@TOKENIZER-TYPE=SCALARS_LITERALS>1.5,abc<@TOKENIZER-TYPE=AA><EOS>",
    );
    // `abc` starts at the 65th character.
    assert!(e.contains("\"abc\"") && e.contains("character 65"), "{e}");
    let e = error("<@TOKENIZER-TYPE=AA>ACDEF");
    assert!(
        e.contains("must end with <EOS>") && e.contains("ACDEF"),
        "{e}"
    );
}

#[test]
fn unknown_pieces_become_unk_with_a_warning() {
    let tokenizer = common::mammal_tokenizer();
    let got = tokenizer
        .encode(
            "<@TOKENIZER-TYPE=GENE>[GNLY][NOT_A_GENE]<EOS>",
            EncodeOptions::default(),
        )
        .unwrap();
    assert_eq!(got.tokens, ["[GNLY]", "<UNK>", "<EOS>"]);
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert!(
        got.warnings[0].contains("[NOT_A_GENE]") && got.warnings[0].contains("GENE"),
        "{:?}",
        got.warnings
    );
    assert_eq!(got.sources, ["GENE", "GENE", "GENE"]);
}

#[test]
fn ids_decode_and_tokens_look_up_as_the_reference() {
    let tokenizer = common::mammal_tokenizer();
    for case in cases()["decode"].as_array().unwrap() {
        let ids: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(tokenizer.decode(&ids), case["text"].as_str().unwrap());
    }
    assert_eq!(tokenizer.decode(&[99_999]), "<@TOKEN_MISSING-99999>");
    assert_eq!(tokenizer.token_to_id("<EOS>").unwrap(), 5);
    assert_eq!(tokenizer.token_to_id("[MALAT1]").unwrap(), 57725);
    let e = tokenizer.token_to_id("C").unwrap_err().to_string();
    assert!(e.contains("AA 503") && e.contains("SMILES 549"), "{e}");
    assert!(tokenizer.token_to_id("[NOT_A_GENE]").is_err());
}
