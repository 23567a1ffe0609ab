//! The genes a model can read from a data set: the matrix columns whose symbols are in the
//! model's vocabulary (case-sensitive), in column order — the reference's `limit_genes` — read
//! from the gene index or from a column of other names (CELLxGENE's `feature_name`).

use crate::data::{CountMatrix, DataError};
use crate::tokenize::rna::GeneVocab;

/// `var` columns that hold gene symbols in files other tools write, tried (in this order) when
/// the index matches fewer genes than one of them: CELLxGENE's `feature_name`, scanpy's
/// `gene_symbols` / `gene_ids` conventions and the common spellings.
pub const SYMBOL_COLUMNS: [&str; 8] = [
    "feature_name",
    "gene_symbols",
    "gene_symbol",
    "gene_name",
    "gene_names",
    "symbol",
    "symbols",
    "gene",
];

/// The fewest of a model's `model_genes` genes a data set must hold before the model answers on
/// it, unless told otherwise: half of them, at most 1,000. On the shipped pbmc3k model's
/// held-out cells (`scripts/panel-shift.py`), accuracy is 0.93 with 1,900 of its 2,048 genes,
/// 0.92 with 1,200, 0.87 with 800, 0.78 with 400 and 0.51 or less with 200 or fewer, while its
/// mean confidence stays 0.82–0.95 — a confidence cut cannot catch this; the gene count must.
pub fn default_min_genes(model_genes: usize) -> usize {
    model_genes.div_ceil(2).min(1000)
}

/// How a data set's genes are matched to a model's, and how many must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeneMatch {
    pub names: GeneNames,
    /// The fewest model genes the data must hold; `None`: [`default_min_genes`].
    pub min_genes: Option<usize>,
}

/// Which names of a data set's genes are matched against the vocabulary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum GeneNames {
    /// The index, or the [`SYMBOL_COLUMNS`] column that matches more genes than it.
    #[default]
    Auto,
    /// This column of the gene table (`var`).
    Column(String),
}

/// Matrix columns → vocabulary genes.
#[derive(Clone, Debug, PartialEq)]
pub struct GenePanel {
    /// Where the matched names came from: `var_names` (the index) or `var['COLUMN']`.
    pub source: String,
    /// Symbols of the kept columns, in column order.
    pub genes: Vec<String>,
    /// Vocabulary id of each kept gene.
    pub ids: Vec<u32>,
    /// For every matrix column, its position in `genes` (or `None` when not in the vocabulary).
    pub column: Vec<Option<u32>>,
}

impl GenePanel {
    /// Keeps the columns of `genes` that the vocabulary knows; an error names `file` when none do.
    pub fn new(file: &str, genes: &[String], vocab: &GeneVocab) -> Result<Self, DataError> {
        let mut panel = Self {
            source: "var_names".into(),
            genes: Vec::new(),
            ids: Vec::new(),
            column: Vec::with_capacity(genes.len()),
        };
        for gene in genes {
            if vocab.contains(gene) && !is_special(gene) {
                panel.column.push(Some(panel.genes.len() as u32));
                panel.genes.push(gene.clone());
                panel.ids.push(vocab.id(gene));
            } else {
                panel.column.push(None);
            }
        }
        if panel.genes.is_empty() {
            let sample: Vec<&str> = genes.iter().take(3).map(String::as_str).collect();
            return Err(DataError::Field {
                file: file.into(),
                field: "var_names".into(),
                message: format!(
                    "none of its {} genes (e.g. {}) is in the model's vocabulary of {} tokens; \
                     gene symbols are matched case-sensitively",
                    genes.len(),
                    sample.join(", "),
                    vocab.len()
                ),
            });
        }
        Ok(panel)
    }

    /// The panel of `matrix` under `names`: the index, a named column, or (`Auto`) whichever
    /// of the index and the known symbol columns matches the most genes.
    pub fn for_matrix(
        file: &str,
        matrix: &CountMatrix,
        vocab: &GeneVocab,
        names: &GeneNames,
    ) -> Result<Self, DataError> {
        let from_column = |column: &str| -> Result<Self, DataError> {
            let genes = matrix.gene_column(file, column)?;
            let mut panel = Self::new(file, genes, vocab)?;
            panel.source = format!("var['{column}']");
            Ok(panel)
        };
        if let GeneNames::Column(column) = names {
            return from_column(column);
        }
        let index = Self::new(file, &matrix.genes, vocab);
        let best = SYMBOL_COLUMNS
            .iter()
            .filter(|c| matrix.gene_columns.contains_key(**c))
            .filter_map(|c| from_column(c).ok())
            .max_by_key(|panel| panel.len());
        match (index, best) {
            (Ok(index), Some(best)) if best.len() <= index.len() => Ok(index),
            (_, Some(best)) => Ok(best),
            (Ok(index), None) => Ok(index),
            (Err(error), None) if matrix.gene_columns.is_empty() => Err(error),
            (Err(error), None) => Err(DataError::Field {
                file: file.into(),
                field: "var_names".into(),
                message: format!(
                    "{}; the gene table's other columns ({}) do not match either — name the one \
                     that holds gene symbols",
                    error_message(error),
                    matrix
                        .gene_columns
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    /// Refuses a panel holding fewer than `min` of the model's `model_genes` genes, naming both
    /// counts: a model answering on so few of its inputs looks confident and is wrong.
    pub fn require(&self, file: &str, model_genes: usize, min: usize) -> Result<(), DataError> {
        if self.len() >= min {
            return Ok(());
        }
        Err(DataError::Field {
            file: file.into(),
            field: self.source.clone(),
            message: format!(
                "only {} of the model's {model_genes} genes are in the data, fewer than the {min} \
                 it needs: on so few of its genes its answers would look confident and be wrong. \
                 Lower the minimum to run it anyway",
                self.len()
            ),
        })
    }

    pub fn len(&self) -> usize {
        self.genes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.genes.is_empty()
    }

    /// Cell `row` of `matrix` as counts over the panel (zeros included).
    pub fn dense(&self, matrix: &CountMatrix, row: usize) -> Vec<f32> {
        let mut counts = vec![0.0; self.genes.len()];
        for (column, value) in matrix.row(row) {
            if let Some(i) = self.column[column] {
                counts[i as usize] += value;
            }
        }
        counts
    }

    /// Gene names as the tokenizer takes them.
    pub fn names(&self) -> Vec<&str> {
        self.genes.iter().map(String::as_str).collect()
    }
}

fn error_message(error: DataError) -> String {
    match error {
        DataError::Field { message, .. } | DataError::Format { message, .. } => message,
    }
}

fn is_special(gene: &str) -> bool {
    gene.starts_with('[') && gene.ends_with(']')
}
