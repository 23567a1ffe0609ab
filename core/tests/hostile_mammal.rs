//! Hostile and oversized prompts through MAMMAL's modular tokenizer (the published tokenizer
//! folder, `../shared/data/mammal-tokenizer`): never a panic, always ids or an error; linear
//! time (200 kB of `<` or of unknown characters); bounded padding and warnings; non-finite
//! scalars refused. The linear reader of the word-level sub-tokenizers is compared with the
//! `tokenizers` crate on random prompts.
//!
//! `PROPTEST_CASES=N` sets the number of random cases (default 256 per property).

mod common;

use std::time::Instant;

use proptest::prelude::*;
use tessera_core::tokenize::mammal::{
    EncodeOptions, MAX_PADDED_LEN, MAX_WARNINGS, MammalTokenizeError, ModularTokenizer,
};

fn tokenizer() -> &'static ModularTokenizer {
    static TOKENIZER: std::sync::OnceLock<ModularTokenizer> = std::sync::OnceLock::new();
    TOKENIZER.get_or_init(common::mammal_tokenizer)
}

/// The same folder read by the `tokenizers` crate only.
fn reference() -> &'static ModularTokenizer {
    static TOKENIZER: std::sync::OnceLock<ModularTokenizer> = std::sync::OnceLock::new();
    TOKENIZER.get_or_init(|| common::mammal_tokenizer().without_fast_split())
}

fn lenient() -> EncodeOptions {
    EncodeOptions {
        max_len: None,
        validate_ends_with_eos: false,
    }
}

/// Encodes and times a prompt; prints the time (the tests do not assert it).
fn timed(
    label: &str,
    prompt: &str,
    options: EncodeOptions,
) -> tessera_core::tokenize::mammal::Encoding {
    let start = Instant::now();
    let got = tokenizer().encode(prompt, options).unwrap();
    eprintln!(
        "{label}: {} bytes → {} tokens, {} warnings in {:.3} s",
        prompt.len(),
        got.len(),
        got.warnings.len(),
        start.elapsed().as_secs_f64()
    );
    got
}

#[test]
fn the_published_word_level_tokenizers_take_the_linear_reader() {
    // AA, CELL_ATTRIBUTES and GENE; SMILES is BPE without a pre-tokenizer (no quadratic regex).
    assert_eq!(tokenizer().fast_split_count(), 3);
}

#[test]
fn a_200_kb_prompt_of_angle_brackets_tokenizes_quickly() {
    for name in ["AA", "GENE", "CELL_ATTRIBUTES", "SMILES"] {
        let prompt = format!("<@TOKENIZER-TYPE={name}>{}<EOS>", "<".repeat(200_000));
        let got = timed(
            &format!("200 kB of '<' ({name})"),
            &prompt,
            EncodeOptions::default(),
        );
        assert_eq!(got.len(), 200_001, "{name}");
        assert_eq!(got.tokens.last().map(String::as_str), Some("<EOS>"));
        assert_eq!(got.warnings.len(), MAX_WARNINGS + 1, "{name}");
        assert!(
            got.warnings[MAX_WARNINGS].contains("199900 more warnings"),
            "{}",
            got.warnings[MAX_WARNINGS]
        );
    }
    let prompt = format!("<@TOKENIZER-TYPE=GENE>{}<EOS>", "[".repeat(200_000));
    let got = timed("200 kB of '['", &prompt, EncodeOptions::default());
    assert_eq!(got.len(), 200_001);
}

#[test]
fn a_200_kb_prompt_of_unknown_characters_tokenizes_quickly() {
    let prompt = format!("<@TOKENIZER-TYPE=AA>{}<EOS>", "é".repeat(100_000));
    let got = timed("200 kB of 'é'", &prompt, EncodeOptions::default());
    assert_eq!(got.len(), 100_001);
    assert!(got.tokens[..100_000].iter().all(|t| t == "<UNK>"));
    // Positions count characters from the prompt's start: the first `é` is the 21st.
    assert!(
        got.warnings[0].contains("character 21,"),
        "{}",
        got.warnings[0]
    );
    assert!(
        got.warnings[1].contains("character 22,"),
        "{}",
        got.warnings[1]
    );
    // Unknown text after many meta tokens: positions are counted on, not from the start.
    let prompt = format!("{}<EOS>", "<@TOKENIZER-TYPE=AA>é".repeat(10_000));
    let got = timed("10,000 meta tokens", &prompt, EncodeOptions::default());
    assert_eq!(got.len(), 10_001);
    assert!(
        got.warnings[99].contains("character 2100,"),
        "{}",
        got.warnings[99]
    );
}

#[test]
fn padding_is_bounded_and_names_max_len() {
    let prompt = "<@TOKENIZER-TYPE=AA>ACDEF<EOS>";
    for max_len in [MAX_PADDED_LEN + 1, 1_000_000_000, usize::MAX] {
        let e = tokenizer()
            .encode(
                prompt,
                EncodeOptions {
                    max_len: Some(max_len),
                    ..EncodeOptions::default()
                },
            )
            .unwrap_err();
        assert!(
            matches!(e, MammalTokenizeError::MaxLenTooLarge { .. }),
            "{e}"
        );
        let e = e.to_string();
        assert!(
            e.contains("max_len") && e.contains(&max_len.to_string()) && e.contains("65536"),
            "{e}"
        );
    }
    let got = tokenizer()
        .encode(
            prompt,
            EncodeOptions {
                max_len: Some(MAX_PADDED_LEN),
                ..EncodeOptions::default()
            },
        )
        .unwrap();
    assert_eq!(got.len(), MAX_PADDED_LEN);
    assert_eq!(got.attention_mask.iter().sum::<u32>(), 6);
    assert_eq!(got.sources.last().map(String::as_str), Some("PAD"));
    // Truncation and a segment MAX-LEN far beyond the prompt.
    let got = tokenizer()
        .encode(
            "<@TOKENIZER-TYPE=AA@MAX-LEN=18446744073709551615>ACDEF<EOS>",
            EncodeOptions {
                max_len: Some(3),
                ..EncodeOptions::default()
            },
        )
        .unwrap();
    assert_eq!(got.tokens, ["A", "C", "D"]);
    let e = tokenizer()
        .encode(
            "<@TOKENIZER-TYPE=AA@MAX-LEN=18446744073709551616>ACDEF<EOS>",
            EncodeOptions::default(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("MAX-LEN"), "{e}");
}

#[test]
fn non_finite_scalars_are_refused_naming_the_literal() {
    for literal in ["NaN", "nan", "inf", "-inf", "+Infinity", "1e39", "-3.5e38"] {
        let prompt = format!(
            "<@TOKENIZER-TYPE=AA><MASK><@TOKENIZER-TYPE=SCALARS_LITERALS>1.5,{literal}<@TOKENIZER-TYPE=AA><EOS>"
        );
        let e = tokenizer()
            .encode(&prompt, EncodeOptions::default())
            .unwrap_err()
            .to_string();
        // The literal starts at the 65th character.
        assert!(
            e.contains(&format!("{literal:?}"))
                && e.contains("character 65")
                && e.contains("finite"),
            "{e}"
        );
    }
    let got = tokenizer()
        .encode(
            "<@TOKENIZER-TYPE=SCALARS_LITERALS>3.4e38,-1e-45<@TOKENIZER-TYPE=AA><EOS>",
            EncodeOptions::default(),
        )
        .unwrap();
    assert_eq!(got.scalars_values[..2], [3.4e38, -1e-45]);
}

/// Pieces hostile prompts are made of: meta tokens (good, broken, unknown), tags, brackets,
/// scalars (NaN, huge), unknown and multi-byte characters, white space and newlines.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<@TOKENIZER-TYPE=AA>".to_owned()),
        Just("<@TOKENIZER-TYPE=GENE>".to_owned()),
        Just("<@TOKENIZER-TYPE=CELL_ATTRIBUTES>".to_owned()),
        Just("<@TOKENIZER-TYPE=SMILES@MAX-LEN=3>".to_owned()),
        Just("<@TOKENIZER-TYPE=AA@MAX-LEN=2@TRUNC-MODE=RAND>".to_owned()),
        Just("<@TOKENIZER-TYPE=SCALARS_LITERALS>".to_owned()),
        Just("<@TOKENIZER-TYPE=".to_owned()),
        Just("<@TOKENIZER-TYPE=DNA>".to_owned()),
        Just("<@TOKENIZER-TYPE=AA@MAX-LEN=x>".to_owned()),
        Just("<SEQUENCE_NATURAL_START>".to_owned()),
        Just("<SEQUENCE_NATURAL_END>".to_owned()),
        Just("<EOS>".to_owned()),
        Just("<MASK>".to_owned()),
        Just("<UNK>".to_owned()),
        Just("<SENTINEL_ID_0>".to_owned()),
        Just("[GNLY]".to_owned()),
        Just("[NOT_A_GENE]".to_owned()),
        Just("[CD3E".to_owned()),
        Just("NaN".to_owned()),
        Just("1e39".to_owned()),
        Just("-0.5,2".to_owned()),
        Just(",".to_owned()),
        "[<>\\[\\]@=,\n \t]{1,4}",
        "[ACDEFGHIKLMNPQRSTVWY]{1,8}",
        "[CNO()=#123]{1,6}",
        "[éß漢\u{0085}\u{00a0}\u{2028}\u{3000}\u{200b}\u{feff}]{1,3}",
        any::<char>().prop_map(String::from),
    ]
}

/// Text dense in what the word-level pre-tokenizer's pattern (`<.*?>|\[.*?\]|\S`) and the
/// added tokens turn on: brackets, newlines, Unicode white space, known and unknown tokens.
fn segment_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[<>\\[\\]\n \tACx\u{a0}\u{2028}\u{85}é]{1,6}",
            1 => Just("<EOS>".to_owned()),
            1 => Just("<MASK>".to_owned()),
            1 => Just("<UNK>".to_owned()),
            1 => Just("[GNLY]".to_owned()),
            1 => Just("[MALAT1]".to_owned()),
            1 => Just("<SENTINEL_ID_0>".to_owned()),
        ],
        0..16,
    )
    .prop_map(|parts| parts.concat())
}

fn prompt() -> impl Strategy<Value = String> {
    prop::collection::vec(fragment(), 0..24).prop_map(|parts| parts.concat())
}

fn check(prompt: &str, options: EncodeOptions) {
    match tokenizer().encode(prompt, options) {
        Ok(got) => {
            let n = got.len();
            for len in [
                got.tokens.len(),
                got.attention_mask.len(),
                got.scalars_values.len(),
                got.scalars_valid_mask.len(),
                got.sources.len(),
            ] {
                assert_eq!(len, n);
            }
            if let Some(max) = options.max_len {
                assert_eq!(n, max);
            }
            assert!(got.warnings.len() <= MAX_WARNINGS + 1);
            assert!(got.scalars_values.iter().all(|v| v.is_finite()));
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    #[test]
    fn arbitrary_strings_never_panic(text in any::<String>(), max_len in prop::option::of(0usize..64)) {
        check(&text, EncodeOptions { max_len, validate_ends_with_eos: true });
        check(&format!("<@TOKENIZER-TYPE=AA>{text}<EOS>"), lenient());
        check(&format!("<@TOKENIZER-TYPE=SCALARS_LITERALS>{text}"), lenient());
    }

    #[test]
    fn grammar_shaped_prompts_never_panic(text in prompt(), max_len in prop::option::of(0usize..64)) {
        check(&text, EncodeOptions { max_len, validate_ends_with_eos: false });
        check(&text, EncodeOptions { max_len, validate_ends_with_eos: true });
    }

    #[test]
    fn the_linear_reader_matches_the_tokenizers_crate(text in prop_oneof![segment_text(), prompt()]) {
        for name in ["AA", "GENE", "CELL_ATTRIBUTES"] {
            let prompt = format!("<@TOKENIZER-TYPE={name}>{text}");
            let fast = tokenizer().encode(&prompt, lenient());
            let slow = reference().encode(&prompt, lenient());
            match (fast, slow) {
                (Ok(fast), Ok(slow)) => prop_assert_eq!(fast, slow, "{:?}", prompt),
                (Err(fast), Err(slow)) => prop_assert_eq!(fast.to_string(), slow.to_string()),
                (fast, slow) => prop_assert!(false, "{prompt:?}: {fast:?} vs {slow:?}"),
            }
        }
    }
}
