//! The genes a model can read from a data set: the matrix columns whose symbols are in the
//! model's vocabulary (case-sensitive), in column order — the reference's `limit_genes`.

use crate::data::{CountMatrix, DataError};
use crate::tokenize::rna::GeneVocab;

/// Matrix columns → vocabulary genes.
#[derive(Clone, Debug, PartialEq)]
pub struct GenePanel {
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

fn is_special(gene: &str) -> bool {
    gene.starts_with('[') && gene.ends_with(']')
}
