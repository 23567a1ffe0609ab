//! Fine-tuning examples: a task file says how the rows of a table become encoder prompts and
//! targets (a class token read at generated position 1, or a value on the scalar head), and
//! which rows are held out — the data layer `tessera mammal train` reads.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::model::MammalError;
use crate::data::Table;

/// A task file (JSON).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// The table of examples (CSV or TSV), relative to the task file.
    pub data: String,
    /// The encoder prompt; `{COLUMN}` is replaced by that column of the row.
    pub prompt: String,
    /// The column holding the answer.
    pub label: String,
    /// The column holding the molecule (what baselines read).
    #[serde(default = "smiles")]
    pub input: String,
    pub task: TaskKind,
    /// Row i (0-based, file order) is held out when `i % test_every == test_every − 1`
    /// (`../shared/data/README.md`'s split for the molecule sets: 5).
    #[serde(default = "five")]
    pub test_every: usize,
    /// Encoder length: prompts are cut and padded to it (and regression labels laid out on it).
    #[serde(default)]
    pub max_len: Option<usize>,
}

fn five() -> usize {
    5
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskKind {
    /// The answer is a class token (`<0>`, `<1>`, …) after `<SENTINEL_ID_0>`.
    Classification {
        /// Label value in the table → class token.
        classes: BTreeMap<String, String>,
        /// The sub-tokenizer of the answer strings (`SMILES` for molecule tasks).
        #[serde(default = "smiles")]
        answer_tokenizer: String,
    },
    /// The answer is a number, standardised with the training rows' mean and deviation.
    Regression,
}

fn smiles() -> String {
    "SMILES".into()
}

/// What a row should produce.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// Index into [`Examples::classes`].
    Class(usize),
    Value(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// 0-based data row.
    pub row: usize,
    pub prompt: String,
    pub target: Target,
}

/// A task's rows, split, with what the model needs to read answers back.
#[derive(Clone, Debug, PartialEq)]
pub struct Examples {
    pub train: Vec<Example>,
    pub test: Vec<Example>,
    /// (label value, class token) in a fixed order (classification).
    pub classes: Vec<(String, String)>,
    /// Training rows' mean and standard deviation of the label (regression; (0, 1) otherwise).
    pub mean: f64,
    pub std: f64,
    /// Rows left out and why (empty label, unknown class, not a number).
    pub skipped: Vec<(usize, String)>,
}

impl TaskSpec {
    /// Reads a task file; `file` names it in errors.
    pub fn from_json(file: &str, bytes: &[u8]) -> Result<Self, MammalError> {
        let spec: Self = crate::bundle::parse_json(file, bytes)?;
        if spec.test_every < 2 {
            return Err(MammalError::Input(format!(
                "{file}: test_every must be at least 2"
            )));
        }
        Ok(spec)
    }

    /// The examples of `table`, split into training and held-out rows.
    pub fn examples(&self, table: &Table) -> Result<Examples, MammalError> {
        let data = |e: crate::data::DataError| MammalError::Input(e.to_string());
        let label = table.column(&self.label).map_err(data)?;
        let template = Template::parse(&self.prompt, table).map_err(data)?;
        let classes: Vec<(String, String)> = match &self.task {
            TaskKind::Classification { classes, .. } => classes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            TaskKind::Regression => Vec::new(),
        };
        let mut examples = Examples {
            train: Vec::new(),
            test: Vec::new(),
            classes,
            mean: 0.0,
            std: 1.0,
            skipped: Vec::new(),
        };
        for (i, row) in table.rows.iter().enumerate() {
            let value = row[label].trim();
            let target = match &self.task {
                TaskKind::Classification { .. } => examples
                    .classes
                    .iter()
                    .position(|(k, _)| k == value)
                    .map(Target::Class)
                    .ok_or_else(|| format!("label {value:?} is not one of the task's classes")),
                TaskKind::Regression => value
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(Target::Value)
                    .ok_or_else(|| format!("label {value:?} is not a number")),
            };
            let target = match target {
                Ok(target) => target,
                Err(reason) => {
                    examples.skipped.push((i, reason));
                    continue;
                }
            };
            let example = Example {
                row: i,
                prompt: template.fill(row),
                target,
            };
            if i % self.test_every == self.test_every - 1 {
                examples.test.push(example);
            } else {
                examples.train.push(example);
            }
        }
        if examples.train.is_empty() {
            return Err(MammalError::Input(format!(
                "{}: no usable training rows (column {:?})",
                table.file, self.label
            )));
        }
        if self.task == TaskKind::Regression {
            let values: Vec<f64> = examples
                .train
                .iter()
                .filter_map(|e| match e.target {
                    Target::Value(v) => Some(v),
                    Target::Class(_) => None,
                })
                .collect();
            let n = values.len() as f64;
            examples.mean = values.iter().sum::<f64>() / n;
            let var = values
                .iter()
                .map(|v| (v - examples.mean).powi(2))
                .sum::<f64>()
                / n;
            examples.std = var.sqrt().max(1e-12);
        }
        Ok(examples)
    }

    /// Classification: the decoder input and the label string of a class token, as MAMMAL's
    /// task code writes them (`<DECODER_START>` written out, both encoded to length 4).
    pub fn answer_strings(&self, class_token: &str) -> Option<(String, String)> {
        let TaskKind::Classification {
            answer_tokenizer, ..
        } = &self.task
        else {
            return None;
        };
        let meta = format!("<@TOKENIZER-TYPE={answer_tokenizer}>");
        Some((
            format!("{meta}<DECODER_START><SENTINEL_ID_0>{class_token}<EOS>"),
            format!("{meta}<SENTINEL_ID_0>{class_token}<EOS>"),
        ))
    }

    /// Regression: the label string of a standardised value, laid out on `len` positions
    /// (`<SCALAR>` at position 0, `<PAD>` after; encoded without the `<EOS>` check).
    pub fn scalar_label(value: f64, len: usize) -> String {
        format!(
            "<@TOKENIZER-TYPE=SCALARS_LITERALS>{value}<@TOKENIZER-TYPE=AA>{}",
            "<PAD>".repeat(len.saturating_sub(1))
        )
    }
}

/// A prompt with `{COLUMN}` holes, resolved against a table's header once.
struct Template {
    /// Literal text, then the column filling the hole after it (none after the last piece).
    pieces: Vec<(String, Option<usize>)>,
}

impl Template {
    fn parse(prompt: &str, table: &Table) -> Result<Self, crate::data::DataError> {
        let index: HashMap<&str, usize> = table.index();
        let mut pieces = Vec::new();
        let mut rest = prompt;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + close];
            let column = match index.get(name) {
                Some(&c) => c,
                None => table.column(name)?,
            };
            pieces.push((rest[..open].to_owned(), Some(column)));
            rest = &rest[open + close + 1..];
        }
        pieces.push((rest.to_owned(), None));
        Ok(Self { pieces })
    }

    fn fill(&self, row: &[String]) -> String {
        self.pieces
            .iter()
            .map(|(text, column)| {
                let value = column.map_or("", |c| row[c].trim());
                format!("{text}{value}")
            })
            .collect()
    }
}
