//! Dense count tables as CSV or TSV (cells × genes, or genes × cells by option), read from bytes,
//! gzip detected, straight into CSR: only nonzero entries are ever held.

use std::borrow::Cow;

use super::text::{Lines, Triplets, line_error, make_unique, parse_count};
use super::{CountMatrix, DataError};

/// What the rows of the table are; the first row names the columns, the first column the rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Orientation {
    /// One row per cell, one column per gene (pandas' `to_csv` of an AnnData `X`, celltypist's
    /// sample).
    #[default]
    CellsByGenes,
    /// One row per gene, one column per cell (the usual layout of GEO count tables).
    GenesByCells,
}

/// The fields of one delimited line; a field may be wrapped in double quotes (`""` inside is a
/// quote), and spaces around fields are ignored.
struct Fields<'a> {
    rest: Option<&'a str>,
    delimiter: char,
}

impl<'a> Fields<'a> {
    fn new(line: &'a str, delimiter: char) -> Self {
        Fields {
            rest: Some(line),
            delimiter,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Cow<'a, str>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.rest?.trim_start_matches(' ');
        let Some(quoted) = rest.strip_prefix('"') else {
            let (field, rest) = match rest.split_once(self.delimiter) {
                Some((field, rest)) => (field, Some(rest)),
                None => (rest, None),
            };
            self.rest = rest;
            return Some(Ok(Cow::Borrowed(field.trim_end_matches(' '))));
        };
        let mut text = String::new();
        let mut chars = quoted.char_indices();
        loop {
            let Some((i, c)) = chars.next() else {
                self.rest = None;
                return Some(Err(
                    "unterminated quote (a quoted field cannot span lines)".into()
                ));
            };
            if c != '"' {
                text.push(c);
                continue;
            }
            let after = &quoted[i + 1..];
            if after.starts_with('"') {
                text.push('"');
                chars.next();
                continue;
            }
            let after = after.trim_start_matches(' ');
            self.rest = if after.is_empty() {
                None
            } else if let Some(rest) = after.strip_prefix(self.delimiter) {
                Some(rest)
            } else {
                self.rest = None;
                return Some(Err(format!("text after the closing quote of `{text}`")));
            };
            return Some(Ok(Cow::Owned(text)));
        }
    }
}

/// Tab if the header has more tabs than commas outside quotes, else comma.
fn delimiter_of(file: &str, header: &str) -> Result<char, DataError> {
    let (mut tabs, mut commas, mut quoted) = (0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            '\t' if !quoted => tabs += 1,
            ',' if !quoted => commas += 1,
            _ => {}
        }
    }
    match (tabs, commas) {
        (0, 0) => Err(line_error(
            file,
            1,
            "the header has no comma or tab; expected a delimited table with gene or cell names",
        )),
        (t, c) if t > c => Ok('\t'),
        _ => Ok(','),
    }
}

/// Reads a dense count table; `file` names it in errors, which give the line and column.
///
/// The first line holds the column names (a leading corner cell, possibly empty, or none at
/// all as R's `write.table` writes it); every further line a row name and one value per column.
/// The delimiter (comma or tab) is detected from the header. Values must be finite and ≥ 0,
/// integers or not; zeros are not stored. Gene names are made unique as scanpy does (`NAME`,
/// `NAME-1`, …); blank lines are skipped, as pandas does.
pub fn read_csv(
    file: &str,
    bytes: &[u8],
    orientation: Orientation,
) -> Result<CountMatrix, DataError> {
    let mut lines = Lines::new(file, bytes);
    let Some((_, header)) = lines.next_line()? else {
        return Err(DataError::Format {
            file: file.into(),
            message: "empty file; expected a header line of names".into(),
        });
    };
    let delimiter = delimiter_of(file, header)?;
    let mut names: Vec<String> = Fields::new(header, delimiter)
        .map(|field| field.map(Cow::into_owned))
        .collect::<Result<_, _>>()
        .map_err(|message| line_error(file, 1, message))?;
    // Whether the header starts with a corner cell, known at the first data row.
    let mut corner: Option<bool> = None;
    let (row_kind, column_kind) = match orientation {
        Orientation::CellsByGenes => ("cell", "gene"),
        Orientation::GenesByCells => ("gene", "cell"),
    };
    let mut row_names = Vec::new();
    // Cells × genes fills the CSR row by row; genes × cells collects triplets to transpose.
    let mut indptr = vec![0usize];
    let mut indices = Vec::new();
    let mut values = Vec::new();
    let mut triplets = Triplets::default();
    while let Some((number, line)) = lines.next_line()? {
        if line.trim().is_empty() {
            continue;
        }
        let at = |column: usize, message: String| {
            line_error(file, number, format!("column {column}: {message}"))
        };
        let mut fields = Fields::new(line, delimiter).enumerate();
        if corner.is_none() {
            let has = Fields::new(line, delimiter).count() != names.len() + 1;
            if has {
                names.remove(0);
            }
            check_names(file, &names, has, column_kind)?;
            corner = Some(has);
        }
        // Every line has a first field, if empty.
        let (_, name) = fields.next().unwrap_or((0, Ok(Cow::Borrowed(""))));
        let name = name.map_err(|message| at(1, message))?;
        if name.is_empty() {
            return Err(at(1, format!("empty {row_kind} name")));
        }
        let row = row_names.len();
        let mut n_values = 0;
        for (k, field) in fields {
            let column = k + 1;
            n_values += 1;
            if k > names.len() {
                break; // too many fields: reported below
            }
            let token = field.map_err(|message| at(column, message))?;
            let value = parse_count(&token).map_err(|message| {
                at(
                    column,
                    format!(
                        "{message} ({row_kind} `{name}`, {column_kind} `{}`)",
                        names[k - 1]
                    ),
                )
            })?;
            if value == 0.0 {
                continue;
            }
            match orientation {
                Orientation::CellsByGenes => {
                    indices.push((k - 1) as u32);
                    values.push(value);
                }
                Orientation::GenesByCells => triplets.push((k - 1) as u32, row as u32, value),
            }
        }
        if n_values != names.len() {
            let n_fields = Fields::new(line, delimiter).count();
            return Err(line_error(
                file,
                number,
                format!(
                    "{n_fields} fields; expected {} (a {row_kind} name and {} {column_kind} values, \
                     as the header names)",
                    names.len() + 1,
                    names.len()
                ),
            ));
        }
        if orientation == Orientation::CellsByGenes {
            indptr.push(values.len());
        }
        row_names.push(name.into_owned());
    }
    if row_names.is_empty() {
        return Err(DataError::Format {
            file: file.into(),
            message: format!("no data rows after the header; expected one line per {row_kind}"),
        });
    }
    let (cell_ids, mut genes) = match orientation {
        Orientation::CellsByGenes => (row_names, names),
        Orientation::GenesByCells => {
            (indptr, indices, values) = triplets.into_csr(names.len());
            (names, row_names)
        }
    };
    make_unique(&mut genes);
    let counts = CountMatrix {
        cell_ids,
        genes,
        indptr,
        indices,
        values,
        annotations: Default::default(),
        gene_columns: Default::default(),
    };
    counts.validate(file)?;
    Ok(counts)
}

/// Column names must be present; `corner` says whether header field 1 was a corner cell.
fn check_names(file: &str, names: &[String], corner: bool, kind: &str) -> Result<(), DataError> {
    if names.is_empty() {
        return Err(line_error(file, 1, format!("the header names no {kind}s")));
    }
    if let Some(i) = names.iter().position(String::is_empty) {
        let column = i + 1 + usize::from(corner);
        return Err(line_error(
            file,
            1,
            format!("column {column}: empty {kind} name"),
        ));
    }
    Ok(())
}
