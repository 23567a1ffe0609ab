//! Cell → sequence encoding against the reference collator's output.

mod common;

use common::{fixture, read};
use tessera_core::tokenize::rna::{
    CellEncoder, CellEncoderConfig, ExposeZeros, GeneVocab, SequenceOrder,
};

fn cases() -> serde_json::Value {
    serde_json::from_slice(&read(&fixture("rna-preprocess-cases.json"))).unwrap()
}

fn encoder(cases: &serde_json::Value, expose_zeros: ExposeZeros) -> CellEncoder {
    let vocab =
        GeneVocab::from_json("vocab.json", &read(&fixture("rna-scbert-tiny/vocab.json"))).unwrap();
    let mut config = CellEncoderConfig::new(cases["max_length"].as_u64().unwrap() as usize);
    config.expose_zeros = expose_zeros;
    CellEncoder::new(config, vocab)
}

fn floats(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn ints<T: TryFrom<u64>>(v: &serde_json::Value) -> Vec<T>
where
    T::Error: std::fmt::Debug,
{
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| T::try_from(x.as_u64().unwrap()).unwrap())
        .collect()
}

#[test]
fn every_reference_cell_encodes_exactly() {
    let cases = cases();
    let genes: Vec<String> = serde_json::from_value(cases["genes"].clone()).unwrap();
    let genes: Vec<&str> = genes.iter().map(String::as_str).collect();
    for (expose, key) in [
        (ExposeZeros::None, "expose_zeros_none"),
        (ExposeZeros::All, "expose_zeros_all"),
    ] {
        let encoder = encoder(&cases, expose);
        for cell in cases["cells"].as_array().unwrap() {
            let counts = floats(&cell["raw_counts"]);
            let index = cell["cell"].as_u64().unwrap();
            let encoded = encoder
                .encode(&index.to_string(), index, &genes, &counts)
                .unwrap();
            let expected = &cell[key];
            assert_eq!(
                encoded.gene_ids,
                ints::<u32>(&expected["gene_ids"]),
                "cell {index} {key}"
            );
            assert_eq!(
                encoded.expressions,
                floats(&expected["expressions"]),
                "cell {index} {key}"
            );
            assert_eq!(
                encoded.attention_mask,
                ints::<u8>(&expected["attention_mask"]),
                "cell {index} {key}"
            );
        }
    }
}

#[test]
fn random_order_is_seeded_and_keeps_the_same_genes() {
    let cases = cases();
    let genes: Vec<String> = serde_json::from_value(cases["genes"].clone()).unwrap();
    let genes: Vec<&str> = genes.iter().map(String::as_str).collect();
    let mut encoder = encoder(&cases, ExposeZeros::None);
    encoder.config.max_length = 64;
    let counts: Vec<f32> = (0..genes.len()).map(|i| (i % 5) as f32).collect();
    let sorted = encoder.encode("c", 0, &genes, &counts).unwrap();
    encoder.config.order = SequenceOrder::Random { seed: 7 };
    let a = encoder.encode("c", 0, &genes, &counts).unwrap();
    let b = encoder.encode("c", 0, &genes, &counts).unwrap();
    let other_cell = encoder.encode("c", 1, &genes, &counts).unwrap();
    assert_eq!(a, b, "same seed, same cell → same order");
    assert_ne!(a.gene_ids, sorted.gene_ids);
    assert_ne!(a.gene_ids, other_cell.gene_ids);
    let mut x = a.gene_ids.clone();
    let mut y = sorted.gene_ids.clone();
    x.sort();
    y.sort();
    assert_eq!(x, y);
}

#[test]
fn unknown_genes_become_unk_and_bad_counts_are_named() {
    let cases = cases();
    let encoder = encoder(&cases, ExposeZeros::None);
    let encoded = encoder
        .encode("c", 0, &["NOT_A_GENE", "GP9"], &[2.0, 1.0])
        .unwrap();
    assert_eq!(&encoded.gene_ids[..3], &[3, 0, 106]);
    let error = encoder
        .encode("cell-7", 0, &["GP9", "HP"], &[1.0, -2.0])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cell-7") && error.contains("`HP`") && error.contains("-2"),
        "{error}"
    );
    let error = encoder
        .encode("cell-8", 0, &["GP9"], &[1.0, 2.0])
        .unwrap_err()
        .to_string();
    assert!(error.contains("1 genes but 2 counts"), "{error}");
}
