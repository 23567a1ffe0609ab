//! Task files turn real molecule tables (`../shared/data/molecules`) into MAMMAL prompts and
//! targets with the README's split, and every prompt and answer string tokenizes as MAMMAL's
//! task code expects.

mod common;

use common::{read, shared_dir};
use tessera_core::bundle::BundleFiles;
use tessera_core::data::Table;
use tessera_core::models::mammal::finetune::{Target, TaskKind, TaskSpec};
use tessera_core::tokenize::mammal::{EncodeOptions, ModularTokenizer};

fn task(name: &str) -> (TaskSpec, Table) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../native/tasks")
        .join(name);
    let spec = TaskSpec::from_json(name, &read(&path)).unwrap();
    let data = path.parent().unwrap().join(&spec.data);
    let table = Table::read(&spec.data, &read(&data)).unwrap();
    (spec, table)
}

fn tokenizer() -> ModularTokenizer {
    let dir = shared_dir().join("data/mammal-tokenizer");
    let mut files = BundleFiles::default();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        files.insert(
            path.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(&path).unwrap(),
        );
    }
    ModularTokenizer::from_files(&files, "").unwrap()
}

#[test]
fn b3db_rows_become_classification_prompts_with_the_readme_split() {
    let (spec, table) = task("b3db-bbb.json");
    assert_eq!(table.rows.len(), 7807);
    let examples = spec.examples(&table).unwrap();
    assert!(
        examples.skipped.is_empty(),
        "{:?}",
        &examples.skipped[..3.min(examples.skipped.len())]
    );
    assert_eq!(examples.test.len(), 7807 / 5);
    assert!(examples.test.iter().all(|e| e.row % 5 == 4));
    assert!(examples.train.iter().all(|e| e.row % 5 != 4));
    assert_eq!(
        examples.classes,
        [
            ("BBB+".to_string(), "<1>".to_string()),
            ("BBB-".to_string(), "<0>".to_string())
        ]
    );
    let positives = examples
        .train
        .iter()
        .chain(&examples.test)
        .filter(|e| e.target == Target::Class(0))
        .count();
    assert_eq!(positives, 4956, "BBB+ rows");
    let first = &examples.train[0];
    assert!(first.prompt.contains("<SEQUENCE_NATURAL_START>O=C(O)c1cc(N=Nc2ccc(S(=O)(=O)Nc3ccccn3)cc2)ccc1O<SEQUENCE_NATURAL_END><EOS>"), "{}", first.prompt);

    let tokenizer = tokenizer();
    let mut unknown = 0;
    for example in examples.train.iter().chain(&examples.test) {
        let encoding = tokenizer
            .encode(&example.prompt, EncodeOptions::default())
            .unwrap();
        unknown += encoding.warnings.len();
        assert!(
            encoding.len() <= 256,
            "row {}: {} tokens",
            example.row,
            encoding.len()
        );
    }
    assert!(
        unknown < 20,
        "{unknown} pieces outside the SMILES vocabulary"
    );
    let (decoder, labels) = spec.answer_strings("<1>").unwrap();
    let four = EncodeOptions {
        max_len: Some(4),
        validate_ends_with_eos: true,
    };
    assert_eq!(
        tokenizer.encode(&decoder, four).unwrap().ids,
        [16, 57, 45, 5]
    );
    assert_eq!(tokenizer.encode(&labels, four).unwrap().ids, [57, 45, 5, 1]);
}

#[test]
fn esol_rows_become_standardised_regression_targets() {
    let (spec, table) = task("esol.json");
    assert_eq!(spec.task, TaskKind::Regression);
    let examples = spec.examples(&table).unwrap();
    assert_eq!(examples.train.len() + examples.test.len(), 1128);
    let values: Vec<f64> = examples
        .train
        .iter()
        .map(|e| match e.target {
            Target::Value(v) => v,
            _ => unreachable!(),
        })
        .collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!(
        (examples.mean - mean).abs() < 1e-12,
        "mean from the training rows only"
    );
    assert!(examples.std > 1.5 && examples.std < 2.5, "{}", examples.std);
    assert!(
        examples.train[0]
            .prompt
            .starts_with("<@TOKENIZER-TYPE=SMILES><MASK>")
    );
}

#[test]
fn task_file_mistakes_are_named() {
    let (_, table) = task("esol.json");
    let bad_column = TaskSpec {
        prompt: "<@TOKENIZER-TYPE=SMILES>{SMILE}<EOS>".into(),
        ..task("esol.json").0
    };
    let e = bad_column.examples(&table).unwrap_err().to_string();
    assert!(e.contains("SMILE") && e.contains("no such column"), "{e}");
    let e = TaskSpec::from_json(
        "t.json",
        br#"{"data": "x.csv", "prompt": "p", "label": "y", "task": {"kind": "ranking"}}"#,
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("t.json") && e.contains("ranking"), "{e}");
}
