//! Tables of text records (a molecule table: SMILES and labels) from CSV or TSV, with quoted
//! fields, read with the `csv` crate; errors name the file, line and column.

use std::collections::HashMap;

use super::DataError;
use super::text::is_gzip;

/// A table: its header and its rows (every row as wide as the header).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub file: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads `bytes` (UTF-8, not gzip); tab-separated when the header line has a tab, else
    /// comma-separated.
    pub fn read(file: &str, bytes: &[u8]) -> Result<Self, DataError> {
        let error = |message: String| DataError::Format {
            file: file.into(),
            message,
        };
        if is_gzip(bytes) {
            return Err(error("a gzip file; decompress it first".into()));
        }
        let header_end = bytes
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(bytes.len());
        let delimiter = if bytes[..header_end].contains(&b'\t') {
            b'\t'
        } else {
            b','
        };
        let mut reader = ::csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(false)
            .from_reader(bytes);
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| error(format!("header: {e}")))?
            .iter()
            .map(|c| c.trim().to_owned())
            .collect();
        if columns.iter().all(String::is_empty) {
            return Err(error("no header line".into()));
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| match e.position() {
                Some(at) => error(format!("line {}: {e}", at.line())),
                None => error(e.to_string()),
            })?;
            rows.push(record.iter().map(str::to_owned).collect());
        }
        Ok(Self {
            file: file.into(),
            columns,
            rows,
        })
    }

    /// The index of a column, or an error naming it and the columns there are.
    pub fn column(&self, name: &str) -> Result<usize, DataError> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| DataError::Field {
                file: self.file.clone(),
                field: name.into(),
                message: format!("no such column (columns: {})", self.columns.join(", ")),
            })
    }

    /// Column name → index, for templates naming several columns.
    pub fn index(&self) -> HashMap<&str, usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect()
    }
}
