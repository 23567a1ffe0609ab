//! Fine-tuning examples: a task file says how the rows of a table become encoder prompts and
//! targets (a class token read at generated position 1, or a value on the scalar head), and
//! which rows are held out — the data layer `tessera mammal train` reads. A trained bundle keeps
//! its tasks (`tessera.json`) so prompts can be filled and answers read without the task file.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::model::MammalError;
use super::task::Task;
use crate::data::Table;

/// The bundle file listing a fine-tuned model's tasks.
pub const INFO_FILE: &str = "tessera.json";

/// A task file (JSON).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// A short name for the task (`bbbp`); the file stem when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// What the task answers, for people (`Blood–brain barrier penetration`).
    #[serde(default)]
    pub title: Option<String>,
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
        let template = Template::parse(&self.prompt);
        let mut columns: HashMap<String, usize> = HashMap::new();
        for name in template.holes() {
            let column = table.column(&name).map_err(data)?;
            columns.insert(name, column);
        }
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
                prompt: template.fill(|name| row[columns[name]].as_str()),
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

    /// The task as a trained bundle keeps it (`fallback_name` when the file names none).
    pub fn bundle_task(&self, examples: &Examples, fallback_name: &str) -> BundleTask {
        let name = self
            .name
            .clone()
            .unwrap_or_else(|| fallback_name.to_owned());
        BundleTask {
            title: self.title.clone().unwrap_or_else(|| name.clone()),
            name,
            prompt: self.prompt.clone(),
            inputs: Template::parse(&self.prompt).holes(),
            readout: match self.task {
                TaskKind::Classification { .. } => Readout::Classify {
                    classes: examples.classes.clone(),
                },
                TaskKind::Regression => Readout::Regress {
                    mean: examples.mean,
                    std: examples.std,
                },
            },
        }
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
}

/// A prompt with `{NAME}` holes: literal text, then the name of the hole after it.
#[derive(Clone, Debug, PartialEq)]
struct Template {
    pieces: Vec<(String, Option<String>)>,
}

impl Template {
    fn parse(prompt: &str) -> Self {
        let mut pieces = Vec::new();
        let mut rest = prompt;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + close];
            pieces.push((rest[..open].to_owned(), Some(name.to_owned())));
            rest = &rest[open + close + 1..];
        }
        pieces.push((rest.to_owned(), None));
        Self { pieces }
    }

    fn holes(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self.pieces.iter().filter_map(|(_, n)| n.as_ref()) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// The prompt with each hole replaced by `value(name)` (trimmed).
    fn fill<'a>(&self, value: impl Fn(&str) -> &'a str) -> String {
        self.pieces
            .iter()
            .map(|(text, name)| {
                let value = name.as_deref().map_or("", |n| value(n).trim());
                format!("{text}{value}")
            })
            .collect()
    }
}

/// How a bundle's task is answered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Readout {
    /// (label, class token) pairs; the answer is the most probable token's label.
    Classify { classes: Vec<(String, String)> },
    /// The scalar head's output times `std` plus `mean`.
    Regress { mean: f64, std: f64 },
}

/// A task a fine-tuned bundle was trained for: its prompt with `{INPUT}` holes and its readout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BundleTask {
    pub name: String,
    pub title: String,
    pub prompt: String,
    /// The prompt's holes, in order of first appearance.
    pub inputs: Vec<String>,
    pub readout: Readout,
}

/// `tessera.json` of a MAMMAL bundle.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MammalInfo {
    #[serde(default)]
    pub tasks: Vec<BundleTask>,
    /// How the bundle was made (free-form: command, data, steps, figures).
    #[serde(default)]
    pub provenance: serde_json::Value,
}

impl MammalInfo {
    /// The bundle's `tessera.json`, or no tasks when it has none (a published checkpoint).
    pub fn from_bundle(bundle: &crate::bundle::Bundle) -> Result<Self, MammalError> {
        Self::from_files(bundle.files())
    }

    /// The tasks from a bundle's files (`tessera.json`; none when it is absent).
    pub fn from_files(files: &crate::bundle::BundleFiles) -> Result<Self, MammalError> {
        match files.get(INFO_FILE) {
            Ok(bytes) => Ok(crate::bundle::parse_json(INFO_FILE, bytes)?),
            Err(_) => Ok(Self::default()),
        }
    }

    pub fn task(&self, name: &str) -> Result<&BundleTask, MammalError> {
        self.tasks.iter().find(|t| t.name == name).ok_or_else(|| {
            let known: Vec<&str> = self.tasks.iter().map(|t| t.name.as_str()).collect();
            MammalError::Input(format!(
                "{INFO_FILE}: no task {name:?} (the bundle has: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ))
        })
    }
}

impl BundleTask {
    /// The prompt with its holes filled from `values` (name, value); a missing one is an error
    /// naming it.
    pub fn fill(&self, values: &[(String, String)]) -> Result<String, MammalError> {
        for name in &self.inputs {
            if !values.iter().any(|(n, _)| n == name) {
                return Err(MammalError::Input(format!(
                    "task {}: no value for {{{name}}}",
                    self.name
                )));
            }
        }
        Ok(Template::parse(&self.prompt).fill(|hole| {
            values
                .iter()
                .find(|(n, _)| n == hole)
                .map_or("", |(_, v)| v.as_str())
        }))
    }

    /// What to ask of the model for this task.
    pub fn task(&self) -> Task {
        match &self.readout {
            Readout::Classify { classes } => Task::Classify {
                classes: classes.iter().map(|(_, token)| token.clone()).collect(),
            },
            Readout::Regress { mean, std } => Task::Regress {
                mean: *mean,
                std: *std,
            },
        }
    }
}

/// A model's (or baseline's) answer for one held-out example.
#[derive(Clone, Debug, PartialEq)]
pub enum Prediction {
    /// Probability of each of [`Examples::classes`], in that order.
    Classes(Vec<f64>),
    Value(f64),
}

/// Held-out figures: accuracy and (two classes) ROC-AUC, or RMSE beside the labels' deviation.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TaskScore {
    pub test: usize,
    pub accuracy: Option<f64>,
    pub roc_auc: Option<f64>,
    pub rmse: Option<f64>,
    pub label_sd: Option<f64>,
}

impl std::fmt::Display for TaskScore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if let Some(a) = self.accuracy {
            parts.push(format!("accuracy {a:.3}"));
        }
        if let Some(a) = self.roc_auc {
            parts.push(format!("ROC-AUC {a:.3}"));
        }
        if let Some(e) = self.rmse {
            parts.push(format!("RMSE {e:.3}"));
        }
        let sd = self
            .label_sd
            .map_or(String::new(), |sd| format!(" (test label sd {sd:.3})"));
        write!(f, "{}{sd} on {} held-out rows", parts.join(", "), self.test)
    }
}

impl Examples {
    /// Scores `predictions` (one per held-out example, in order). The positive class of
    /// ROC-AUC is the one answered `<1>` (else the last).
    pub fn score(&self, predictions: &[Prediction]) -> Result<TaskScore, MammalError> {
        use crate::eval::metrics::{accuracy, rmse, roc_auc};
        if predictions.len() != self.test.len() {
            return Err(MammalError::Input(format!(
                "{} predictions for {} held-out rows",
                predictions.len(),
                self.test.len()
            )));
        }
        let mut score = TaskScore {
            test: self.test.len(),
            ..TaskScore::default()
        };
        let k = self.classes.len();
        let (mut truth, mut predicted, mut scores) = (vec![], vec![], vec![]);
        let (mut values, mut targets) = (vec![], vec![]);
        let positive = self
            .classes
            .iter()
            .position(|(_, t)| t == "<1>")
            .unwrap_or(k.saturating_sub(1));
        for (example, prediction) in self.test.iter().zip(predictions) {
            match (&example.target, prediction) {
                (Target::Class(c), Prediction::Classes(p)) if p.len() == k => {
                    truth.push(*c);
                    predicted.push((0..k).fold(0, |b, i| if p[i] > p[b] { i } else { b }));
                    scores.push(p[positive]);
                }
                (Target::Value(v), Prediction::Value(y)) => {
                    targets.push(*v);
                    values.push(*y);
                }
                _ => {
                    return Err(MammalError::Input(format!(
                        "row {}: the prediction does not fit the task",
                        example.row + 1
                    )));
                }
            }
        }
        if !truth.is_empty() {
            score.accuracy = Some(accuracy(&truth, &predicted));
            if k == 2 {
                let is_positive: Vec<bool> = truth.iter().map(|&t| t == positive).collect();
                score.roc_auc = roc_auc(&scores, &is_positive);
            }
        }
        if !targets.is_empty() {
            let n = targets.len() as f64;
            let mean = targets.iter().sum::<f64>() / n;
            score.rmse = Some(rmse(&values, &targets));
            score.label_sd =
                Some((targets.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n).sqrt());
        }
        Ok(score)
    }
}
