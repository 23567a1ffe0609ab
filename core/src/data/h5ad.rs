//! AnnData `.h5ad` files, read from bytes with a pure-Rust HDF5 reader (hdf5-pure, which also
//! builds for wasm): `X`, a layer or `raw/X`, stored as CSR, CSC or dense; `var`/`obs` indexes;
//! categorical (text or numeric categories, current or anndata ≤ 0.7 layout) and string `obs`
//! columns as cell annotations. The anndata ≤ 0.6 layout (`obs` a table) is refused by name.

use std::collections::{BTreeMap, HashMap};

use hdf5_pure::{AttrValue, DType as H5Type, Dataset, File, Group};

use super::hdf5_claims::claimed_elements;
use super::{CountMatrix, DataError};

/// Which matrix of the file holds the raw counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatrixSource {
    X,
    Layer(String),
    /// `raw/X`, with `raw/var` for the genes.
    Raw,
    /// `X` if it holds raw counts, else the first of the layers [`COUNT_LAYERS`] and `raw/X`
    /// that does (a file after scanpy's normalisation keeps its counts there); `X` when none
    /// does, for the caller's counts check to refuse by name.
    Counts,
}

/// Layers that hold raw counts in files other tools write, tried in this order after `X`.
pub const COUNT_LAYERS: [&str; 3] = ["counts", "raw_counts", "umi_counts"];

/// A matrix as CSR: `(indptr, indices, values)`.
type Csr = (Vec<usize>, Vec<u32>, Vec<f32>);

struct Reader<'a> {
    file: &'a str,
    /// The file's length: no dataset may claim more than it can hold.
    file_len: u64,
    root: Group,
}

fn string_of(value: &AttrValue) -> Option<String> {
    match value {
        AttrValue::String(s) | AttrValue::AsciiString(s) | AttrValue::VarLenString(s) => {
            Some(s.clone())
        }
        _ => None,
    }
}

/// A string or string-array attribute (fixed-width or variable-length) as strings.
pub(crate) fn strings_of(value: &AttrValue) -> Option<Vec<String>> {
    match value {
        AttrValue::StringArray(v) | AttrValue::VarLenStringArray(v) => Some(v.clone()),
        other => string_of(other).map(|s| vec![s]),
    }
}

fn ints_of(value: &AttrValue) -> Option<Vec<i64>> {
    Some(match value {
        AttrValue::I32Array(v) => v.iter().map(|&x| x as i64).collect(),
        AttrValue::I64Array(v) => v.clone(),
        AttrValue::U32Array(v) => v.iter().map(|&x| x as i64).collect(),
        AttrValue::U64Array(v) => v.iter().map(|&x| x as i64).collect(),
        _ => return None,
    })
}

impl Reader<'_> {
    fn field(&self, field: &str, message: impl ToString) -> DataError {
        DataError::Field {
            file: self.file.into(),
            field: field.into(),
            message: message.to_string(),
        }
    }

    fn group(&self, path: &str) -> Result<Group, DataError> {
        self.root
            .group(path)
            .map_err(|e| self.field(path, format!("not found ({e})")))
    }

    fn attrs(&self, group: &Group, path: &str) -> Result<HashMap<String, AttrValue>, DataError> {
        group.attrs().map_err(|e| self.field(path, e))
    }

    fn encoding(&self, group: &Group, path: &str) -> Result<String, DataError> {
        Ok(self
            .attrs(group, path)?
            .get("encoding-type")
            .and_then(string_of)
            .unwrap_or_default())
    }

    /// The dataset at `path`, refused by name when its shape claims more than the file holds.
    fn dataset(&self, path: &str) -> Result<Dataset, DataError> {
        let dataset = self
            .root
            .dataset(path)
            .map_err(|e| self.field(path, format!("not found ({e})")))?;
        claimed_elements(&dataset, self.file_len).map_err(|e| self.field(path, e))?;
        Ok(dataset)
    }

    /// Reads a whole dataset with `read` (e.g. `Dataset::read_f32`), errors naming `path`.
    fn read<T>(
        &self,
        path: &str,
        read: impl Fn(&Dataset) -> Result<Vec<T>, hdf5_pure::Error>,
    ) -> Result<Vec<T>, DataError> {
        read(&self.dataset(path)?).map_err(|e| self.field(path, e))
    }

    fn f32s(&self, path: &str) -> Result<Vec<f32>, DataError> {
        self.read(path, Dataset::read_f32)
    }

    fn i64s(&self, path: &str) -> Result<Vec<i64>, DataError> {
        self.read(path, Dataset::read_i64)
    }

    fn strings(&self, path: &str) -> Result<Vec<String>, DataError> {
        self.read(path, Dataset::read_string)
    }

    /// The row index of a dataframe group (`obs` or `var`), named by its `_index` attribute.
    fn index(&self, frame: &str) -> Result<Vec<String>, DataError> {
        let group = self.group(frame)?;
        let name = self
            .attrs(&group, frame)?
            .get("_index")
            .and_then(string_of)
            .unwrap_or_else(|| "_index".into());
        self.strings(&format!("{frame}/{name}"))
    }

    /// A dataset of labels as text: strings as they are, numbers (integer or float categories,
    /// which anndata writes for numeric categoricals) formatted.
    fn labels(&self, path: &str) -> Result<Vec<String>, DataError> {
        let dataset = self.dataset(path)?;
        let fail = |e: hdf5_pure::Error| self.field(path, e);
        match dataset.dtype().map_err(fail)? {
            H5Type::F32 | H5Type::F64 => Ok(dataset
                .read_f64()
                .map_err(fail)?
                .iter()
                .map(ToString::to_string)
                .collect()),
            H5Type::I8
            | H5Type::I16
            | H5Type::I32
            | H5Type::I64
            | H5Type::U8
            | H5Type::U16
            | H5Type::U32
            | H5Type::U64 => Ok(dataset
                .read_i64()
                .map_err(fail)?
                .iter()
                .map(ToString::to_string)
                .collect()),
            _ => dataset.read_string().map_err(fail),
        }
    }

    /// `codes` mapped to `categories` (code −1: missing, an empty label).
    fn decode(
        &self,
        path: &str,
        codes: Vec<i64>,
        categories: &[String],
    ) -> Result<Vec<String>, DataError> {
        codes
            .into_iter()
            .map(|code| match code {
                -1 => Ok(String::new()),
                c if c >= 0 && (c as usize) < categories.len() => {
                    Ok(categories[c as usize].clone())
                }
                c => Err(self.field(
                    path,
                    format!("code {c} but only {} categories", categories.len()),
                )),
            })
            .collect()
    }

    /// Where anndata 0.7 and older kept a categorical column's categories, when the column
    /// itself is a dataset of codes: `<frame>/__categories/<column>` or `uns/<column>_categories`.
    fn old_style_categories(&self, frame: &str, column: &str) -> Option<(String, Vec<String>)> {
        [
            format!("{frame}/__categories/{column}"),
            format!("uns/{column}_categories"),
        ]
        .into_iter()
        .find_map(|path| {
            let labels = self.root.dataset(&path).ok().and(self.labels(&path).ok())?;
            Some((path, labels))
        })
    }

    /// Categorical and string columns of a dataframe (`obs`, `var`) with `n` rows; numeric
    /// columns are left out.
    fn text_columns(
        &self,
        frame: &str,
        n: usize,
    ) -> Result<BTreeMap<String, Vec<String>>, DataError> {
        let group = self.group(frame)?;
        let attrs = self.attrs(&group, frame)?;
        let columns = attrs
            .get("column-order")
            .and_then(strings_of)
            .unwrap_or_default();
        let mut annotations = BTreeMap::new();
        for column in columns {
            let path = format!("{frame}/{column}");
            let labels = if let Ok(sub) = self.root.group(&path) {
                if self.encoding(&sub, &path)? != "categorical" {
                    continue;
                }
                let categories = self.labels(&format!("{path}/categories"))?;
                let codes = self.i64s(&format!("{path}/codes"))?;
                self.decode(&path, codes, &categories)?
            } else if let Ok(strings) = self.strings(&path) {
                strings
            } else if let Some((from, categories)) = self.old_style_categories(frame, &column) {
                let codes = self.i64s(&path)?;
                self.decode(&from, codes, &categories)?
            } else {
                continue;
            };
            if labels.len() != n {
                return Err(self.field(&path, format!("{} values for {n} rows", labels.len())));
            }
            annotations.insert(column, labels);
        }
        Ok(annotations)
    }

    /// The counts as CSR `(indptr, indices, values)`; the matrix's shape must be `expect`
    /// (cells in `obs`, genes in `var`), checked before anything is sized by it.
    fn matrix(&self, path: &str, expect: (usize, usize), var: &str) -> Result<Csr, DataError> {
        let mismatch = |rows: u64, cols: u64| {
            self.field(
                path,
                format!(
                    "shape {rows}×{cols} but {} cells in obs and {} genes in {var}",
                    expect.0, expect.1
                ),
            )
        };
        if let Ok(group) = self.root.group(path) {
            let encoding = self.encoding(&group, path)?;
            let shape = self
                .attrs(&group, path)?
                .get("shape")
                .and_then(ints_of)
                .filter(|s| s.len() == 2 && s.iter().all(|&d| d >= 0))
                .ok_or_else(|| {
                    self.field(path, "sparse matrix without a valid `shape` attribute")
                })?;
            if (shape[0] as u64, shape[1] as u64) != (expect.0 as u64, expect.1 as u64) {
                return Err(mismatch(shape[0] as u64, shape[1] as u64));
            }
            let (rows, cols) = expect;
            let values = self.f32s(&format!("{path}/data"))?;
            let indices = self.i64s(&format!("{path}/indices"))?;
            let indptr = self.i64s(&format!("{path}/indptr"))?;
            let (major, minor) = match encoding.as_str() {
                "csr_matrix" => (rows, cols),
                "csc_matrix" => (cols, rows),
                other => {
                    return Err(self.field(
                        path,
                        format!("encoding-type `{other}` is not a count matrix"),
                    ));
                }
            };
            if indptr.len() != major + 1
                || indices.len() != values.len()
                || indptr.last().copied() != Some(values.len() as i64)
            {
                return Err(self.field(path, "indptr/indices/data lengths do not match the shape"));
            }
            if indices.iter().any(|&j| j < 0 || j as usize >= minor)
                || indptr.windows(2).any(|w| w[0] > w[1] || w[0] < 0)
            {
                return Err(self.field(path, "indices or indptr out of range"));
            }
            let indptr: Vec<usize> = indptr.into_iter().map(|p| p as usize).collect();
            let indices: Vec<u32> = indices.into_iter().map(|j| j as u32).collect();
            if encoding == "csr_matrix" {
                return Ok((indptr, indices, values));
            }
            // CSC → CSR by counting entries per row.
            let mut row_ptr = vec![0usize; rows + 1];
            for &r in &indices {
                row_ptr[r as usize + 1] += 1;
            }
            for r in 0..rows {
                row_ptr[r + 1] += row_ptr[r];
            }
            let mut next = row_ptr.clone();
            let mut csr_indices = vec![0u32; values.len()];
            let mut csr_values = vec![0f32; values.len()];
            for col in 0..cols {
                for k in indptr[col]..indptr[col + 1] {
                    let r = indices[k] as usize;
                    csr_indices[next[r]] = col as u32;
                    csr_values[next[r]] = values[k];
                    next[r] += 1;
                }
            }
            return Ok((row_ptr, csr_indices, csr_values));
        }
        let dataset = self.dataset(path)?;
        let shape = dataset.shape().map_err(|e| self.field(path, e))?;
        let [rows, cols] = shape[..] else {
            return Err(self.field(
                path,
                format!("dense matrix of rank {}, expected 2", shape.len()),
            ));
        };
        if (rows, cols) != (expect.0 as u64, expect.1 as u64) {
            return Err(mismatch(rows, cols));
        }
        let (rows, cols) = expect;
        let dense = dataset.read_f32().map_err(|e| self.field(path, e))?;
        let mut indptr = vec![0];
        let mut indices = Vec::new();
        let mut values = Vec::new();
        for row in dense.chunks(cols.max(1)).take(rows) {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    indices.push(j as u32);
                    values.push(v);
                }
            }
            indptr.push(values.len());
        }
        Ok((indptr, indices, values))
    }
}

/// Reads an `.h5ad` file's counts; `file` names it in errors.
pub fn read_h5ad(
    file: &str,
    bytes: Vec<u8>,
    source: &MatrixSource,
) -> Result<CountMatrix, DataError> {
    read_h5ad_noted(file, bytes, source).map(|(counts, _)| counts)
}

/// [`read_h5ad`], saying which matrix [`MatrixSource::Counts`] read when it was not `X`.
pub fn read_h5ad_noted(
    file: &str,
    bytes: Vec<u8>,
    source: &MatrixSource,
) -> Result<(CountMatrix, Option<String>), DataError> {
    Reader::open(file, bytes)?.counts(source)
}

/// The cells, genes and their annotation columns of an `.h5ad` file, without reading any
/// matrix — what choosing cells by an annotation needs, whatever `X` holds (scaled values
/// included). The returned matrix has no entries: read counts with [`read_h5ad`].
pub fn read_h5ad_tables(file: &str, bytes: Vec<u8>) -> Result<CountMatrix, DataError> {
    let reader = Reader::open(file, bytes)?;
    let cell_ids = reader.index("obs")?;
    let genes = reader.index("var")?;
    Ok(CountMatrix {
        annotations: reader.text_columns("obs", cell_ids.len())?,
        gene_columns: reader.text_columns("var", genes.len())?,
        indptr: vec![0; cell_ids.len() + 1],
        indices: Vec::new(),
        values: Vec::new(),
        cell_ids,
        genes,
    })
}

impl<'a> Reader<'a> {
    /// The file's root, refusing the anndata ≤ 0.6 layout with what to do.
    fn open(file: &'a str, bytes: Vec<u8>) -> Result<Self, DataError> {
        let format = |message: String| DataError::Format {
            file: file.into(),
            message,
        };
        let file_len = bytes.len() as u64;
        let hdf5 = File::from_bytes(bytes)
            .map_err(|e| format(format!("not a readable HDF5 file ({e})")))?;
        let root = hdf5.group("/").map_err(|e| format(e.to_string()))?;
        if root.group("obs").is_err() && root.dataset("obs").is_ok() {
            return Err(format(
                "`obs` is a table dataset, not a group: the layout anndata 0.6 and older wrote. \
                 Open it with a current anndata and save it again (`anndata.read_h5ad(old)\
                 .write_h5ad(new)`), then read the new file"
                    .into(),
            ));
        }
        Ok(Self {
            file,
            file_len,
            root,
        })
    }

    /// The matrix `source` names, with a note when [`MatrixSource::Counts`] did not read `X`.
    fn counts(&self, source: &MatrixSource) -> Result<(CountMatrix, Option<String>), DataError> {
        if *source != MatrixSource::Counts {
            return self.read_matrix(source).map(|counts| (counts, None));
        }
        let x = self.read_matrix(&MatrixSource::X)?;
        if x.is_counts() {
            return Ok((x, None));
        }
        let candidates = COUNT_LAYERS
            .iter()
            .map(|layer| {
                (
                    MatrixSource::Layer(layer.to_string()),
                    format!("layers['{layer}']"),
                )
            })
            .chain([(MatrixSource::Raw, "raw/X".to_string())]);
        for (candidate, name) in candidates {
            if let Ok(counts) = self.read_matrix(&candidate)
                && counts.is_counts()
            {
                let note =
                    format!("X holds normalised values; the raw counts were read from {name}");
                return Ok((counts, Some(note)));
            }
        }
        Ok((x, None))
    }

    fn read_matrix(&self, source: &MatrixSource) -> Result<CountMatrix, DataError> {
        let (matrix, var) = match source {
            MatrixSource::X | MatrixSource::Counts => ("X".to_string(), "var"),
            MatrixSource::Layer(name) => (format!("layers/{name}"), "var"),
            MatrixSource::Raw => ("raw/X".to_string(), "raw/var"),
        };
        if self.root.group(&matrix).is_err() {
            // A missing matrix is named first (before the indexes its shape is checked against).
            self.dataset(&matrix)?;
        }
        let cell_ids = self.index("obs")?;
        let genes = self.index(var)?;
        let (rows, cols) = (cell_ids.len(), genes.len());
        let (indptr, indices, values) = self.matrix(&matrix, (rows, cols), var)?;
        let counts = CountMatrix {
            annotations: self.text_columns("obs", rows)?,
            gene_columns: self.text_columns(var, cols)?,
            cell_ids,
            genes,
            indptr,
            indices,
            values,
        };
        counts.validate(self.file)?;
        Ok(counts)
    }
}
