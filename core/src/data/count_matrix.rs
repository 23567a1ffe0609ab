//! `CountMatrix`: cells × genes raw counts in CSR form, with cell ids, gene symbols and
//! categorical cell annotations — what every reader produces and the RNA tokenizer consumes.

use std::collections::BTreeMap;

/// Why a data file could not be read; always names the file and the field at fault.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DataError {
    #[error("{file}: {message}")]
    Format { file: String, message: String },
    #[error("{file}: `{field}`: {message}")]
    Field {
        file: String,
        field: String,
        message: String,
    },
}

/// Raw counts, one row per cell (CSR).
#[derive(Clone, Debug, PartialEq)]
pub struct CountMatrix {
    pub cell_ids: Vec<String>,
    pub genes: Vec<String>,
    /// Row `i` holds entries `indptr[i]..indptr[i+1]` of `indices`/`values`.
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
    /// Categorical cell annotations (`obs` columns): column → one label per cell.
    pub annotations: BTreeMap<String, Vec<String>>,
    /// Other names of the genes (text columns of an `.h5ad`'s `var`, such as CELLxGENE's
    /// `feature_name` symbols beside Ensembl ids in the index): column → one name per gene.
    pub gene_columns: BTreeMap<String, Vec<String>>,
}

/// Whether every value is a whole number: raw counts, not normalised values (the rule
/// [`CountMatrix::is_counts`] applies, for callers holding only the values).
pub fn are_counts(values: &[f32]) -> bool {
    values.iter().all(|v| v.fract() == 0.0)
}

/// 2²⁴: from here up, not every whole number is a 32-bit float.
const MAX_EXACT_COUNT: f32 = 16_777_216.0;

impl CountMatrix {
    /// Checks the CSR structure and that every value is a finite count ≥ 0; `file` names the
    /// source in errors.
    pub fn validate(&self, file: &str) -> Result<(), DataError> {
        let field = |field: &str, message: String| DataError::Field {
            file: file.into(),
            field: field.into(),
            message,
        };
        let n = self.cell_ids.len();
        if self.indptr.len() != n + 1 || self.indptr[0] != 0 || self.indptr[n] != self.values.len()
        {
            return Err(field(
                "X",
                format!(
                    "row pointers do not describe {n} cells and {} entries",
                    self.values.len()
                ),
            ));
        }
        if self.indptr.windows(2).any(|w| w[0] > w[1]) || self.indices.len() != self.values.len() {
            return Err(field(
                "X",
                "row pointers or column indices are inconsistent".into(),
            ));
        }
        if let Some(&bad) = self
            .indices
            .iter()
            .find(|&&j| j as usize >= self.genes.len())
        {
            return Err(field(
                "X",
                format!("column index {bad} ≥ {} genes", self.genes.len()),
            ));
        }
        // From 2²⁴ up a 32-bit float holds not every whole number (16,777,217 silently becomes
        // …216), and no count or normalised value of one gene in one cell comes near it.
        if let Some(i) = self
            .values
            .iter()
            .position(|v| !v.is_finite() || *v < 0.0 || *v >= MAX_EXACT_COUNT)
        {
            let row = self.indptr.partition_point(|&p| p <= i) - 1;
            return Err(field(
                "X",
                format!(
                    "cell `{}` has value {}; raw counts must be finite, ≥ 0 and below 2^24",
                    self.cell_ids[row], self.values[i]
                ),
            ));
        }
        for (column, labels) in &self.annotations {
            if labels.len() != n {
                return Err(field(
                    column,
                    format!("{} labels for {n} cells", labels.len()),
                ));
            }
        }
        for (column, names) in &self.gene_columns {
            if names.len() != self.genes.len() {
                return Err(field(
                    column,
                    format!("{} names for {} genes", names.len(), self.genes.len()),
                ));
            }
        }
        Ok(())
    }

    /// Whether every value is a whole number (raw counts, not normalised values).
    pub fn is_counts(&self) -> bool {
        are_counts(&self.values)
    }

    /// Fails unless every value is a whole number: models read raw counts, and a matrix of
    /// normalised values (often `X` after scanpy's preprocessing) would be silently misread.
    pub fn require_counts(&self, file: &str) -> Result<(), DataError> {
        let Some(at) = self.values.iter().position(|v| v.fract() != 0.0) else {
            return Ok(());
        };
        let row = self.indptr.partition_point(|&p| p <= at) - 1;
        Err(DataError::Field {
            file: file.into(),
            field: "X".into(),
            message: format!(
                "holds {} for cell `{}`, gene `{}`, but raw integer counts are required \
                 (normalised data? read a counts layer or raw/X instead)",
                self.values[at], self.cell_ids[row], self.genes[self.indices[at] as usize]
            ),
        })
    }

    /// The cells `rows` (in that order) as a matrix of their own, with the same genes.
    pub fn subset(&self, rows: &[usize]) -> CountMatrix {
        let mut out = CountMatrix {
            cell_ids: rows.iter().map(|&r| self.cell_ids[r].clone()).collect(),
            genes: self.genes.clone(),
            indptr: Vec::with_capacity(rows.len() + 1),
            indices: Vec::new(),
            values: Vec::new(),
            annotations: self
                .annotations
                .iter()
                .map(|(k, v)| (k.clone(), rows.iter().map(|&r| v[r].clone()).collect()))
                .collect(),
            gene_columns: self.gene_columns.clone(),
        };
        out.indptr.push(0);
        for &r in rows {
            let span = self.indptr[r]..self.indptr[r + 1];
            out.indices.extend_from_slice(&self.indices[span.clone()]);
            out.values.extend_from_slice(&self.values[span]);
            out.indptr.push(out.values.len());
        }
        out
    }

    pub fn n_cells(&self) -> usize {
        self.cell_ids.len()
    }

    pub fn n_genes(&self) -> usize {
        self.genes.len()
    }

    /// Nonzero entries of cell `i` as (gene column, count).
    pub fn row(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let range = self.indptr[i]..self.indptr[i + 1];
        self.indices[range.clone()]
            .iter()
            .map(|&j| j as usize)
            .zip(self.values[range].iter().copied())
    }

    /// Cell `i` as a dense row over all genes.
    pub fn dense_row(&self, i: usize) -> Vec<f32> {
        let mut row = vec![0.0; self.n_genes()];
        for (j, v) in self.row(i) {
            row[j] += v;
        }
        row
    }

    /// A column of other gene names, or an error naming it and the columns there are.
    pub fn gene_column(&self, file: &str, column: &str) -> Result<&[String], DataError> {
        named(
            &self.gene_columns,
            file,
            &format!("var['{column}']"),
            column,
            "gene column",
        )
    }

    /// An annotation column, or an error naming it and the columns there are.
    pub fn annotation(&self, file: &str, column: &str) -> Result<&[String], DataError> {
        named(&self.annotations, file, column, column, "cell annotation")
    }
}

/// `columns[column]`, or an error at `field` naming the `what` asked for and those there are.
fn named<'a>(
    columns: &'a BTreeMap<String, Vec<String>>,
    file: &str,
    field: &str,
    column: &str,
    what: &str,
) -> Result<&'a [String], DataError> {
    columns
        .get(column)
        .map(Vec::as_slice)
        .ok_or_else(|| DataError::Field {
            file: file.into(),
            field: field.into(),
            message: format!(
                "no such {what} (available: {})",
                match columns.len() {
                    0 => "none".to_string(),
                    _ => columns.keys().cloned().collect::<Vec<_>>().join(", "),
                }
            ),
        })
}
