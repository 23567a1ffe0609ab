//! 10x Genomics MatrixMarket folders read from bytes: `matrix.mtx` (genes × cells), `barcodes.tsv`
//! and `features.tsv` or legacy `genes.tsv`, each possibly gzip-compressed → cells × genes CSR.

use super::text::{Lines, Triplets, line_error, make_unique, parse_count};
use super::{CountMatrix, DataError};

/// The three files of one 10x matrix folder, each as (name, bytes); names appear in errors.
#[derive(Clone, Debug)]
pub struct TenXFiles {
    pub matrix: (String, Vec<u8>),
    pub barcodes: (String, Vec<u8>),
    /// `features.tsv` (id, symbol, type, …) or legacy `genes.tsv` (id, symbol).
    pub features: (String, Vec<u8>),
}

/// The kinds of file a 10x folder holds, each recognised by the end of its name.
const KINDS: [(&str, &[&str]); 4] = [
    ("matrix.mtx", &["matrix.mtx", "matrix.mtx.gz"]),
    ("barcodes.tsv", &["barcodes.tsv", "barcodes.tsv.gz"]),
    ("features.tsv", &["features.tsv", "features.tsv.gz"]),
    ("genes.tsv", &["genes.tsv", "genes.tsv.gz"]),
];

impl TenXFiles {
    /// Picks the three files out of a folder's or an upload's `files` by name: `matrix.mtx[.gz]`,
    /// `barcodes.tsv[.gz]` and `features.tsv[.gz]` (or `genes.tsv[.gz]`), any directory or
    /// prefix (`GSM123_matrix.mtx.gz`) allowed and other files ignored; `folder` names the
    /// source in errors, which say what is missing or ambiguous.
    pub fn pick(folder: &str, files: Vec<(String, Vec<u8>)>) -> Result<TenXFiles, DataError> {
        let mut found: [Vec<(String, Vec<u8>)>; 4] = Default::default();
        let mut names = Vec::new();
        for (name, bytes) in files {
            let base = name.rsplit(['/', '\\']).next().unwrap_or(&name);
            let base = base.to_ascii_lowercase();
            names.push(format!("`{name}`"));
            if let Some(kind) = KINDS
                .iter()
                .position(|(_, ends)| ends.iter().any(|end| base.ends_with(end)))
            {
                found[kind].push((name, bytes));
            }
        }
        let error = |message: String| DataError::Format {
            file: folder.into(),
            message,
        };
        let [matrix, barcodes, features, genes] = found;
        // 10x Cell Ranger ≥ 3 writes features.tsv; genes.tsv is the older layout.
        let features = if features.is_empty() { genes } else { features };
        let mut missing = Vec::new();
        for (kind, candidates) in [
            ("`matrix.mtx[.gz]`", &matrix),
            ("`barcodes.tsv[.gz]`", &barcodes),
            ("`features.tsv[.gz]` (or `genes.tsv[.gz]`)", &features),
        ] {
            match candidates.len() {
                0 => missing.push(kind),
                1 => {}
                _ => {
                    let list: Vec<&str> = candidates.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(error(format!(
                        "several files could be {kind}: {}; give one sample's files at a time",
                        list.join(", ")
                    )));
                }
            }
        }
        if !missing.is_empty() {
            let got = if names.is_empty() {
                "no files".to_string()
            } else {
                names.join(", ")
            };
            return Err(error(format!(
                "not a 10x matrix folder: no {} among {got}",
                missing.join(", no ")
            )));
        }
        let one = |mut v: Vec<(String, Vec<u8>)>| v.pop().expect("checked above");
        Ok(TenXFiles {
            matrix: one(matrix),
            barcodes: one(barcodes),
            features: one(features),
        })
    }
}

/// One cell barcode per line (the first tab-separated column); blank lines only at the end.
fn read_barcodes(file: &str, bytes: &[u8]) -> Result<Vec<String>, DataError> {
    let mut lines = Lines::new(file, bytes);
    let mut barcodes = Vec::new();
    let mut blank = None;
    while let Some((number, line)) = lines.next_line()? {
        let barcode = line.split('\t').next().unwrap_or("").trim();
        if barcode.is_empty() {
            blank.get_or_insert(number);
            continue;
        }
        if let Some(blank) = blank {
            return Err(line_error(file, blank, "empty barcode"));
        }
        barcodes.push(barcode.to_string());
    }
    Ok(barcodes)
}

/// Gene symbols (second column) and feature types (third column, empty in legacy `genes.tsv`).
fn read_features(file: &str, bytes: &[u8]) -> Result<(Vec<String>, Vec<String>), DataError> {
    let mut lines = Lines::new(file, bytes);
    let (mut symbols, mut types) = (Vec::new(), Vec::new());
    let mut columns = None;
    let mut blank = None;
    while let Some((number, line)) = lines.next_line()? {
        if line.trim().is_empty() {
            blank.get_or_insert(number);
            continue;
        }
        if let Some(blank) = blank {
            return Err(line_error(file, blank, "empty line among the features"));
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 2 {
            return Err(line_error(
                file,
                number,
                "one column; expected tab-separated `id, symbol[, type]`",
            ));
        }
        let first = *columns.get_or_insert(fields.len());
        if fields.len() != first {
            return Err(line_error(
                file,
                number,
                format!("{} columns, but line 1 has {first}", fields.len()),
            ));
        }
        let symbol = fields[1].trim();
        if symbol.is_empty() {
            return Err(line_error(file, number, "empty gene symbol (column 2)"));
        }
        symbols.push(symbol.to_string());
        types.push(fields.get(2).map_or("", |t| t.trim()).to_string());
    }
    Ok((symbols, types))
}

/// The `%%MatrixMarket` banner: only `matrix coordinate integer|real general`, what 10x writes.
/// Returns whether values are declared integers.
fn read_banner(file: &str, number: usize, line: &str) -> Result<bool, DataError> {
    let tokens: Vec<String> = line
        .split_ascii_whitespace()
        .map(str::to_ascii_lowercase)
        .collect();
    let bad = |message: String| line_error(file, number, message);
    if tokens.first().map(String::as_str) != Some("%%matrixmarket") {
        return Err(bad(format!(
            "`{line}` is not a MatrixMarket header (`%%MatrixMarket matrix coordinate integer general`)"
        )));
    }
    let [_, object, format, field, symmetry] = &tokens[..] else {
        return Err(bad(format!(
            "header `{line}` should have 5 words: `%%MatrixMarket matrix coordinate integer general`"
        )));
    };
    if object != "matrix" {
        return Err(bad(format!("object `{object}`; expected `matrix`")));
    }
    if format != "coordinate" {
        return Err(bad(format!(
            "format `{format}`; a 10x matrix is sparse, `coordinate`"
        )));
    }
    let integer = match field.as_str() {
        "integer" | "unsigned-integer" => true,
        "real" | "double" => false,
        other => {
            return Err(bad(format!(
                "field `{other}`; counts must be `integer` or `real`"
            )));
        }
    };
    if symmetry != "general" {
        return Err(bad(format!(
            "symmetry `{symmetry}`; a genes × cells matrix is `general`"
        )));
    }
    Ok(integer)
}

/// One index of an entry, 1-based in the file, 0-based out; `what` is "gene" or "cell".
fn parse_index(token: &str, what: &str, size: usize) -> Result<usize, String> {
    match token.parse::<u64>() {
        Ok(i) if i >= 1 && i <= size as u64 => Ok(i as usize - 1),
        Ok(i) => Err(format!(
            "{what} index {i} is out of range 1..={size} (MatrixMarket indices are 1-based)"
        )),
        Err(_) => Err(format!("{what} index `{token}` is not a positive integer")),
    }
}

/// An entry's value; in an `integer` matrix it must be written as an integer.
fn parse_value(token: &str, integer: bool) -> Result<f32, String> {
    if integer && token.parse::<i64>().is_err() && token.parse::<f64>().is_ok() {
        return Err(format!(
            "`{token}` is not an integer, but the header declares `integer` values"
        ));
    }
    parse_count(token)
}

/// Reads a 10x matrix folder: cells (barcodes) become rows, genes the columns, named by their
/// symbols made unique as scanpy does (`NAME`, `NAME-1`, …).
///
/// As scanpy's `read_10x_mtx` (with its default `gex_only`), when `features.tsv` has a type
/// column only `Gene Expression` features are kept (antibody or CRISPR capture counts are no
/// genes). Entries repeating a (gene, cell) pair are summed, as scipy's reader does; explicit
/// zeros are dropped.
pub fn read_10x(files: TenXFiles) -> Result<CountMatrix, DataError> {
    let (matrix_file, matrix_bytes) = &files.matrix;
    let (barcodes_file, barcodes_bytes) = &files.barcodes;
    let (features_file, features_bytes) = &files.features;
    let cell_ids = read_barcodes(barcodes_file, barcodes_bytes)?;
    let (mut symbols, types) = read_features(features_file, features_bytes)?;
    // Unique over every feature first, then filtered, as scanpy does.
    make_unique(&mut symbols);
    let n_features = symbols.len();
    let keep_all = types.iter().all(String::is_empty);
    let mut column = vec![None; n_features];
    let mut genes = Vec::new();
    for (i, symbol) in symbols.into_iter().enumerate() {
        if keep_all || types[i] == "Gene Expression" {
            column[i] = Some(genes.len() as u32);
            genes.push(symbol);
        }
    }
    if genes.is_empty() && n_features > 0 {
        let mut kinds: Vec<&str> = types.iter().map(String::as_str).collect();
        kinds.sort_unstable();
        kinds.dedup();
        return Err(DataError::Format {
            file: features_file.clone(),
            message: format!(
                "no `Gene Expression` features (types: {})",
                kinds.join(", ")
            ),
        });
    }
    if n_features > u32::MAX as usize {
        return Err(DataError::Format {
            file: features_file.clone(),
            message: format!("{n_features} features; at most {} are supported", u32::MAX),
        });
    }

    let mut lines = Lines::new(matrix_file, matrix_bytes);
    let file = lines.file();
    let Some((number, banner)) = lines.next_line()? else {
        return Err(DataError::Format {
            file: file.into(),
            message: "empty file; expected `%%MatrixMarket matrix coordinate integer general`"
                .into(),
        });
    };
    let integer = read_banner(file, number, banner)?;
    // Comments (10x writes `%metadata_json: …`) and blank lines, then the size line.
    let (number, size) = loop {
        match lines.next_line()? {
            None => {
                return Err(DataError::Format {
                    file: file.into(),
                    message: "the file ends before the `genes cells entries` size line".into(),
                });
            }
            Some((_, line)) if line.starts_with('%') || line.trim().is_empty() => {}
            Some((number, line)) => {
                let size: Vec<u64> = line
                    .split_ascii_whitespace()
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        line_error(
                            file,
                            number,
                            format!(
                                "size line `{line}` is not three integers (genes cells entries)"
                            ),
                        )
                    })?;
                let [genes, cells, entries] = size[..] else {
                    return Err(line_error(
                        file,
                        number,
                        format!("size line `{line}` is not three integers (genes cells entries)"),
                    ));
                };
                break (number, (genes, cells, entries));
            }
        }
    };
    let (n_rows, n_cols, n_entries) = size;
    if n_rows != n_features as u64 || n_cols != cell_ids.len() as u64 {
        let hint = if n_rows == cell_ids.len() as u64 && n_cols == n_features as u64 {
            " (it looks transposed; 10x writes genes × cells)"
        } else {
            ""
        };
        return Err(line_error(
            file,
            number,
            format!(
                "the matrix is {n_rows} genes × {n_cols} cells, but {features_file} lists {n_features} \
                 features and {barcodes_file} {} barcodes{hint}",
                cell_ids.len()
            ),
        ));
    }
    if n_entries > n_rows.saturating_mul(n_cols) {
        return Err(line_error(
            file,
            number,
            format!("{n_entries} entries cannot fit a {n_rows} × {n_cols} matrix"),
        ));
    }
    let n_cells = cell_ids.len();
    // Capped: the size line is not trusted with an allocation before the entries arrive.
    let mut triplets = Triplets::with_capacity((n_entries as usize).min(1 << 22));
    let mut seen: u64 = 0;
    while let Some((number, line)) = lines.next_line()? {
        let bad = |message: String| line_error(file, number, message);
        let mut tokens = line.split_ascii_whitespace();
        let (Some(gene), Some(cell), Some(value), None) =
            (tokens.next(), tokens.next(), tokens.next(), tokens.next())
        else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(bad(format!("`{line}` is not an entry `gene cell value`")));
        };
        seen += 1;
        if seen > n_entries {
            return Err(bad(format!(
                "more entries than the {n_entries} the size line declares"
            )));
        }
        let gene = parse_index(gene, "gene", n_features).map_err(&bad)?;
        let cell = parse_index(cell, "cell", n_cells).map_err(&bad)?;
        let value = parse_value(value, integer).map_err(&bad)?;
        if let Some(j) = column[gene]
            && value != 0.0
        {
            triplets.push(cell as u32, j, value);
        }
    }
    if seen < n_entries {
        return Err(DataError::Format {
            file: file.into(),
            message: format!(
                "the size line declares {n_entries} entries, but the file ends after {seen}"
            ),
        });
    }
    let (indptr, indices, values) = triplets.into_csr(n_cells);
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
