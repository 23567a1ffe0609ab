//! Turning label-head probabilities into annotations: per-cell QC, the call for each cell (its
//! most probable type, or `Unassigned` where the model cannot judge it) and the CSV that the
//! CLI writes and the browser page offers.

use std::fmt::Write as _;

use super::panel::GenePanel;
use crate::data::{AnnDataAdditions, CountMatrix, ObsColumn, Rows};

/// The CSV's header line.
pub const CSV_HEADER: &str = "cell_id,predicted_type,confidence,best_type,unassigned_reason,total_counts,n_genes,n_model_genes";

/// The call for a cell the model cannot judge (CellTypist's word for it).
pub const UNASSIGNED: &str = "Unassigned";

/// Index and value of the largest probability (the first on ties).
pub fn argmax(values: &[f32]) -> (u32, f32) {
    let mut best = (0u32, f32::NAN);
    for (i, &v) in values.iter().enumerate() {
        if best.1.is_nan() || v > best.1 {
            best = (i as u32, v);
        }
    }
    best
}

/// One cell's quality figures: scanpy's `total_counts` and `n_genes_by_counts`, and how many
/// of the model's genes it expresses (what the model actually reads).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CellQc {
    pub total_counts: f32,
    pub n_genes: u32,
    pub n_model_genes: u32,
}

impl CellQc {
    /// Cell `row` of `matrix`, whose columns `panel` maps to the model's genes.
    pub fn of(matrix: &CountMatrix, panel: &GenePanel, row: usize) -> Self {
        let mut qc = Self::default();
        for (column, value) in matrix.row(row).filter(|&(_, v)| v > 0.0) {
            qc.total_counts += value;
            qc.n_genes += 1;
            qc.n_model_genes += u32::from(panel.column[column].is_some());
        }
        qc
    }

    /// Every cell of `matrix`.
    pub fn all(matrix: &CountMatrix, panel: &GenePanel) -> Vec<Self> {
        (0..matrix.n_cells())
            .map(|row| Self::of(matrix, panel, row))
            .collect()
    }
}

/// When a cell is called `Unassigned` rather than its most probable type, like CellTypist's
/// `p_thres`. The defaults come from the shipped pbmc3k model's held-out cells thinned to
/// 100 %–1 % of their counts (`scripts/cell-qc.py`; README, "Unassigned cells").
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CallRule {
    /// The fewest of the model's genes a cell must express.
    pub min_model_genes: u32,
    /// The lowest probability of the most probable type.
    pub min_confidence: f32,
}

impl CallRule {
    pub const DEFAULT_MIN_MODEL_GENES: u32 = 50;
    pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.5;

    /// A rule; `min_confidence` must be a probability (NaN is not).
    pub fn new(min_model_genes: u32, min_confidence: f32) -> Result<Self, NotAProbability> {
        if !(0.0..=1.0).contains(&min_confidence) {
            return Err(NotAProbability(min_confidence));
        }
        Ok(Self {
            min_model_genes,
            min_confidence,
        })
    }
}

/// A minimum confidence outside [0, 1]; front ends name the field it came from.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("{0} is not a probability, between 0 and 1")]
pub struct NotAProbability(pub f32);

impl Default for CallRule {
    fn default() -> Self {
        Self {
            min_model_genes: Self::DEFAULT_MIN_MODEL_GENES,
            min_confidence: Self::DEFAULT_MIN_CONFIDENCE,
        }
    }
}

/// Why a cell is `Unassigned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unassigned {
    /// It expresses fewer of the model's genes than the rule asks.
    TooFewGenes,
    /// Its most probable type is below the rule's confidence.
    LowConfidence,
}

impl Unassigned {
    /// As the CSV and `obs['tessera_unassigned']` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TooFewGenes => "too_few_genes",
            Self::LowConfidence => "low_confidence",
        }
    }

    /// The page's and JS API's code: 1 and 2 (0 is "assigned").
    pub fn code(self) -> u8 {
        match self {
            Self::TooFewGenes => 1,
            Self::LowConfidence => 2,
        }
    }

    /// The reason a [`code`](Self::code) stands for (`None`: assigned, or no known code).
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::TooFewGenes),
            2 => Some(Self::LowConfidence),
            _ => None,
        }
    }
}

/// A cell's annotation: its most probable type (`best`, with `confidence`), and the reason it is
/// `Unassigned` instead, if it is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Call {
    pub best: u32,
    pub confidence: f32,
    pub unassigned: Option<Unassigned>,
}

impl Call {
    /// Applies `rule` to one cell's class probabilities and QC.
    pub fn new(probabilities: &[f32], qc: &CellQc, rule: &CallRule) -> Self {
        let (best, confidence) = argmax(probabilities);
        let unassigned = if qc.n_model_genes < rule.min_model_genes {
            Some(Unassigned::TooFewGenes)
        } else if confidence.is_nan() || confidence < rule.min_confidence {
            Some(Unassigned::LowConfidence)
        } else {
            None
        };
        Self {
            best,
            confidence,
            unassigned,
        }
    }

    /// Every cell: `probabilities` row-major `[cells, classes]`.
    pub fn all(probabilities: &[f32], classes: usize, qc: &[CellQc], rule: &CallRule) -> Vec<Self> {
        probabilities
            .chunks(classes.max(1))
            .zip(qc)
            .map(|(p, qc)| Self::new(p, qc, rule))
            .collect()
    }

    /// The type name, or [`UNASSIGNED`].
    pub fn label<'a>(&self, classes: &'a [String]) -> &'a str {
        match self.unassigned {
            Some(_) => UNASSIGNED,
            None => self.best_label(classes),
        }
    }

    /// The most probable type's name, assigned or not.
    pub fn best_label<'a>(&self, classes: &'a [String]) -> &'a str {
        classes
            .get(self.best as usize)
            .map_or(UNASSIGNED, String::as_str)
    }
}

/// The annotation CSV ([`CSV_HEADER`]; RFC 4180 quoting where a field needs it; `\n` line ends).
pub fn annotations_csv(
    cell_ids: &[String],
    calls: &[Call],
    qc: &[CellQc],
    classes: &[String],
) -> String {
    let mut out = String::with_capacity(64 * (cell_ids.len() + 1));
    out.push_str(CSV_HEADER);
    out.push('\n');
    for ((id, call), qc) in cell_ids.iter().zip(calls).zip(qc) {
        let _ = writeln!(
            out,
            "{},{},{:.4},{},{},{},{},{}",
            csv_field(id),
            csv_field(call.label(classes)),
            call.confidence,
            csv_field(call.best_label(classes)),
            call.unassigned.map_or("", Unassigned::as_str),
            qc.total_counts,
            qc.n_genes,
            qc.n_model_genes
        );
    }
    out
}

/// What annotating cells adds to their AnnData file: `obs['tessera_cell_type']` (a type or
/// `Unassigned`), `tessera_best_type`, `tessera_confidence`, `tessera_unassigned_reason`
/// (missing where assigned) and the QC (`tessera_total_counts`, `tessera_n_genes`,
/// `tessera_n_model_genes`); `obsm['X_tessera']` (the embeddings, `[cells, dim]`) and
/// `obsm['tessera_probabilities']` (`[cells, classes]`, columns in `uns['tessera_classes']`).
pub struct AnnotationTables<'a> {
    pub calls: &'a [Call],
    pub qc: &'a [CellQc],
    pub classes: &'a [String],
    /// Row-major `[cells, classes]`.
    pub probabilities: &'a [f32],
    /// Row-major `[cells, dim]`.
    pub embedding: &'a [f32],
    pub dim: usize,
}

impl AnnotationTables<'_> {
    pub fn additions(&self) -> AnnDataAdditions {
        let calls = self.calls;
        let labels = |f: &dyn Fn(&Call) -> Option<String>| {
            ObsColumn::Categorical(calls.iter().map(f).collect())
        };
        let classes = self.classes;
        AnnDataAdditions {
            obs: vec![
                (
                    "tessera_cell_type".into(),
                    labels(&|c| Some(c.label(classes).to_string())),
                ),
                (
                    "tessera_best_type".into(),
                    labels(&|c| Some(c.best_label(classes).to_string())),
                ),
                (
                    "tessera_confidence".into(),
                    ObsColumn::F32(calls.iter().map(|c| c.confidence).collect()),
                ),
                (
                    "tessera_unassigned_reason".into(),
                    labels(&|c| c.unassigned.map(|u| u.as_str().to_string())),
                ),
                (
                    "tessera_total_counts".into(),
                    ObsColumn::F32(self.qc.iter().map(|q| q.total_counts).collect()),
                ),
                (
                    "tessera_n_genes".into(),
                    ObsColumn::U32(self.qc.iter().map(|q| q.n_genes).collect()),
                ),
                (
                    "tessera_n_model_genes".into(),
                    ObsColumn::U32(self.qc.iter().map(|q| q.n_model_genes).collect()),
                ),
            ],
            obsm: vec![
                (
                    "X_tessera".into(),
                    Rows {
                        columns: self.dim,
                        values: self.embedding.to_vec(),
                    },
                ),
                (
                    "tessera_probabilities".into(),
                    Rows {
                        columns: classes.len(),
                        values: self.probabilities.to_vec(),
                    },
                ),
            ],
            uns: vec![("tessera_classes".into(), classes.to_vec())],
        }
    }
}

/// Where a UMAP of the embeddings goes in `obsm` (scanpy's name, so `sc.pl.umap` draws it).
pub const UMAP_KEY: &str = "X_umap";

/// A UMAP of row-major `[cells, dim]` embeddings (seed 0), as the `obsm` entry annotated files
/// carry.
pub fn umap_rows(embedding: &[f32], dim: usize) -> Rows {
    Rows {
        columns: 2,
        values: crate::eval::umap::umap(embedding, dim, &crate::eval::umap::UmapConfig::default()),
    }
}

/// A text field as CSV: quoted when it holds a separator, quote or line break, and prefixed
/// with `'` when it starts with `=`, `+`, `-`, `@`, tab or carriage return, so a spreadsheet
/// opening the file shows a cell id such as `=HYPERLINK(…)` as text instead of running it
/// (OWASP's CSV-injection advice; the `.h5ad` output keeps ids exactly).
pub fn csv_field(field: &str) -> std::borrow::Cow<'_, str> {
    let formula = matches!(
        field.bytes().next(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    let field: std::borrow::Cow<'_, str> = if formula {
        format!("'{field}").into()
    } else {
        field.into()
    };
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
    } else {
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qc(n_model_genes: u32) -> CellQc {
        CellQc {
            total_counts: 10.0,
            n_genes: n_model_genes + 1,
            n_model_genes,
        }
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        let classes = vec!["B cell".to_string(), "say \"hi\"".to_string()];
        let calls = [
            Call::new(&[0.6, 0.4], &qc(60), &CallRule::default()),
            Call::new(&[0.0, 1.0], &qc(60), &CallRule::default()),
        ];
        let csv = annotations_csv(
            &["AAAC-1".into(), "a,b".into()],
            &calls,
            &[qc(60), qc(60)],
            &classes,
        );
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines[1], "AAAC-1,B cell,0.6000,B cell,,10,61,60");
        assert_eq!(
            lines[2],
            "\"a,b\",\"say \"\"hi\"\"\",1.0000,\"say \"\"hi\"\"\",,10,61,60"
        );
    }

    #[test]
    fn csv_fields_never_start_a_spreadsheet_formula() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("-cmd"), "'-cmd");
        assert_eq!(csv_field("AAAC-1"), "AAAC-1");
    }

    #[test]
    fn cells_the_model_cannot_judge_are_unassigned() {
        let rule = CallRule {
            min_model_genes: 25,
            min_confidence: 0.5,
        };
        let sure = [0.05, 0.9, 0.05];
        let unsure = [0.3, 0.4, 0.3];
        assert_eq!(Call::new(&sure, &qc(25), &rule).unassigned, None);
        // Too few genes wins over anything the probabilities say (an empty cell is confident).
        assert_eq!(
            Call::new(&sure, &qc(24), &rule).unassigned,
            Some(Unassigned::TooFewGenes)
        );
        let low = Call::new(&unsure, &qc(100), &rule);
        assert_eq!(low.unassigned, Some(Unassigned::LowConfidence));
        let classes = ["a", "b", "c"].map(String::from);
        assert_eq!(low.label(&classes), UNASSIGNED);
        assert_eq!(low.best_label(&classes), "b");
        // NaN probabilities (a broken model) are never a confident call.
        let nan = Call::new(&[f32::NAN, f32::NAN], &qc(100), &rule);
        assert_eq!(nan.unassigned, Some(Unassigned::LowConfidence));
    }

    #[test]
    fn qc_counts_expressed_genes_and_model_genes() {
        let matrix = CountMatrix {
            cell_ids: vec!["c0".into(), "c1".into()],
            genes: vec!["A".into(), "B".into(), "C".into()],
            indptr: vec![0, 3, 3],
            indices: vec![0, 1, 2],
            values: vec![2.0, 0.0, 5.0],
            annotations: Default::default(),
            gene_columns: Default::default(),
        };
        let panel = GenePanel {
            source: "var_names".into(),
            genes: vec!["C".into()],
            ids: vec![7],
            column: vec![None, None, Some(0)],
        };
        let qc = CellQc::all(&matrix, &panel);
        assert_eq!(
            qc[0],
            CellQc {
                total_counts: 7.0,
                n_genes: 2,
                n_model_genes: 1
            }
        );
        assert_eq!(qc[1], CellQc::default());
    }

    #[test]
    fn argmax_takes_the_first_of_ties() {
        assert_eq!(argmax(&[0.2, 0.4, 0.4]), (1, 0.4));
        assert!(argmax(&[]).1.is_nan());
    }
}
