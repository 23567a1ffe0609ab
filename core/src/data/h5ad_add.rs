//! Results added to an AnnData file: `obs` columns, `obsm` matrices and `uns` string lists —
//! in place on a copy of the user's own file (everything else in it kept), or into a new file.
//!
//! The same [`AnnDataAdditions`] goes either way, so the CLI's copy and the page's new file hold
//! results under the same names and encodings (anndata's 0.2.0 element specs).

#[cfg(not(target_arch = "wasm32"))]
use std::path::Path;

use hdf5_pure::{AttrValue, DatasetBuilder, GroupBuilder};

use super::DataError;
#[cfg(not(target_arch = "wasm32"))]
use super::h5ad::strings_of;

/// What to add: every `obs` column and `obsm` matrix has one entry (row) per cell.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AnnDataAdditions {
    pub obs: Vec<(String, ObsColumn)>,
    pub obsm: Vec<(String, Rows)>,
    /// `uns` entries holding a list of strings (e.g. the class names of a probability matrix).
    pub uns: Vec<(String, Vec<String>)>,
}

/// One `obs` column.
#[derive(Clone, Debug, PartialEq)]
pub enum ObsColumn {
    /// A pandas categorical; `None` is a missing value (code −1, NaN in pandas).
    Categorical(Vec<Option<String>>),
    F32(Vec<f32>),
    U32(Vec<u32>),
}

/// A row-major `[rows, columns]` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Rows {
    pub columns: usize,
    pub values: Vec<f32>,
}

impl ObsColumn {
    fn len(&self) -> usize {
        match self {
            Self::Categorical(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::U32(v) => v.len(),
        }
    }
}

impl AnnDataAdditions {
    /// Every column and matrix must have `cells` rows; `file` names the destination.
    pub fn check(&self, file: &str, cells: usize) -> Result<(), DataError> {
        let wrong = |field: String, rows: usize| DataError::Field {
            file: file.into(),
            field,
            message: format!("{rows} rows for {cells} cells"),
        };
        for (name, column) in &self.obs {
            if column.len() != cells {
                return Err(wrong(format!("obs/{name}"), column.len()));
            }
        }
        for (name, rows) in &self.obsm {
            if rows.columns == 0 || rows.values.len() != cells * rows.columns {
                return Err(wrong(
                    format!("obsm/{name}"),
                    rows.values.len() / rows.columns.max(1),
                ));
            }
        }
        Ok(())
    }
}

fn text(s: &str) -> AttrValue {
    AttrValue::String(s.into())
}

/// Sorted categories and each value's code (−1 for a missing value).
pub(crate) fn categories_and_codes<'a>(
    values: impl Iterator<Item = Option<&'a str>> + Clone,
) -> (Vec<&'a str>, Vec<i32>) {
    let mut categories: Vec<&str> = values.clone().flatten().collect();
    categories.sort_unstable();
    categories.dedup();
    let codes = values
        .map(|v| {
            v.and_then(|v| categories.binary_search(&v).ok())
                .map_or(-1, |i| i as i32)
        })
        .collect();
    (categories, codes)
}

/// A categorical column's group attributes, as anndata writes them.
pub(crate) fn categorical_attrs() -> [(&'static str, AttrValue); 3] {
    [
        ("encoding-type", text("categorical")),
        ("encoding-version", text("0.2.0")),
        ("ordered", AttrValue::U8(0)),
    ]
}

/// Chunks of at most 32,768 values along the first axis, the whole row along the second:
/// `hdf5_pure` writes a chunk dimension of 65,536 or more in a width HDF5 2.0 refuses.
pub(crate) fn row_chunks(rows: usize, columns: usize) -> [u64; 2] {
    [
        ((1 << 15) / columns.max(1)).clamp(1, rows.max(1)) as u64,
        columns as u64,
    ]
}

/// A numeric column's values (a categorical one is a group, not a dataset).
enum Numeric<'a> {
    F32(&'a [f32]),
    U32(&'a [u32]),
}

impl ObsColumn {
    /// The numeric values, or the categorical column's values.
    fn kind(&self) -> Result<Numeric<'_>, &[Option<String>]> {
        match self {
            Self::F32(v) => Ok(Numeric::F32(v)),
            Self::U32(v) => Ok(Numeric::U32(v)),
            Self::Categorical(v) => Err(v),
        }
    }
}

fn numeric(builder: &mut DatasetBuilder, column: Numeric) {
    match column {
        Numeric::F32(v) => builder.with_f32_data(v),
        Numeric::U32(v) => builder.with_u32_data(v),
    };
    builder.set_attr("encoding-type", text("array"));
    builder.set_attr("encoding-version", text("0.2.0"));
}

fn matrix(builder: &mut DatasetBuilder, rows: &Rows) {
    let n = rows.values.len() / rows.columns;
    builder
        .with_f32_data(&rows.values)
        .with_shape(&[n as u64, rows.columns as u64])
        .with_chunks(&row_chunks(n, rows.columns))
        .with_deflate(4);
    builder.set_attr("encoding-type", text("array"));
    builder.set_attr("encoding-version", text("0.2.0"));
}

pub(crate) fn string_array(builder: &mut DatasetBuilder, values: &[String]) {
    let values: Vec<&str> = values.iter().map(String::as_str).collect();
    builder.with_vlen_strings(&values);
    builder.set_attr("encoding-type", text("string-array"));
    builder.set_attr("encoding-version", text("0.2.0"));
}

/// The names of a group's subgroups and datasets.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn members(group: &hdf5_pure::Group) -> Result<Vec<String>, hdf5_pure::Error> {
    let mut names = group.groups()?;
    names.extend(group.datasets()?);
    Ok(names)
}

fn dict_attrs() -> [(&'static str, AttrValue); 2] {
    [
        ("encoding-type", text("dict")),
        ("encoding-version", text("0.1.0")),
    ]
}

/// A categorical column `name` of a new file's dataframe group (`None`: a missing value).
pub(crate) fn add_categorical<'a>(
    frame: &mut GroupBuilder,
    name: &str,
    values: impl Iterator<Item = Option<&'a str>> + Clone,
) {
    let (categories, codes) = categories_and_codes(values);
    let mut group = frame.create_group(name);
    for (key, value) in categorical_attrs() {
        group.set_attr(key, value);
    }
    group
        .create_dataset("categories")
        .with_vlen_strings(&categories);
    group.create_dataset("codes").with_i32_data(&codes);
    frame.add_group(group.finish());
}

/// Adds the `obs` columns to a new file's `obs` group (the caller lists them in its
/// `column-order`).
pub(crate) fn add_obs_columns(obs: &mut GroupBuilder, additions: &AnnDataAdditions) {
    for (name, column) in &additions.obs {
        match column.kind() {
            Ok(values) => numeric(obs.create_dataset(name), values),
            Err(values) => add_categorical(obs, name, values.iter().map(|v| v.as_deref())),
        }
    }
}

/// Adds the `obsm` and `uns` entries to a new file (which has neither group yet).
pub(crate) fn add_obsm_uns(builder: &mut hdf5_pure::FileBuilder, additions: &AnnDataAdditions) {
    for (group_name, empty) in [
        ("obsm", additions.obsm.is_empty()),
        ("uns", additions.uns.is_empty()),
    ] {
        let mut group = builder.create_group(group_name);
        for (key, value) in dict_attrs() {
            group.set_attr(key, value);
        }
        if !empty {
            if group_name == "obsm" {
                for (name, rows) in &additions.obsm {
                    matrix(group.create_dataset(name), rows);
                }
            } else {
                for (name, values) in &additions.uns {
                    string_array(group.create_dataset(name), values);
                }
            }
        }
        builder.add_group(group.finish());
    }
}

/// Adds `additions` to the AnnData file at `path`, in place, replacing entries of the same
/// names; everything else in the file stays as it was. Call it on a copy: a failed edit can
/// leave the file unusable. `cells` is the file's number of cells.
#[cfg(not(target_arch = "wasm32"))]
pub fn add_to_h5ad_file(
    path: &Path,
    cells: usize,
    additions: &AnnDataAdditions,
) -> Result<(), DataError> {
    let name = path.display().to_string();
    additions.check(&name, cells)?;
    let error = |what: &str, e: hdf5_pure::Error| DataError::Format {
        file: name.clone(),
        message: format!("cannot add {what}: {e}"),
    };
    let file =
        hdf5_pure::File::open_rw(path).map_err(|e| error("to it (opening it for writing)", e))?;
    let root = file.root();
    let obs = root.group("obs").map_err(|e| error("obs columns", e))?;
    // anndata reads only the columns `column-order` lists (an empty one is stored as a float
    // array, not strings).
    let mut order: Vec<String> = obs
        .attrs()
        .map_err(|e| error("obs columns", e))?
        .get("column-order")
        .and_then(strings_of)
        .unwrap_or_default();
    let existing: Vec<String> = members(&obs).map_err(|e| error("obs columns", e))?;
    for (column, values) in &additions.obs {
        let what = format!("obs/{column}");
        if existing.contains(column) {
            obs.delete(column).map_err(|e| error(&what, e))?;
        }
        if !order.contains(column) {
            order.push(column.clone());
        }
        let staged = match values.kind() {
            Err(values) => {
                let (categories, codes) = categories_and_codes(values.iter().map(|v| v.as_deref()));
                obs.create_group_with(column, |group| {
                    for (key, value) in categorical_attrs() {
                        group.set_attr(key, value);
                    }
                    group.create_dataset("categories", |b| {
                        b.with_vlen_strings(&categories);
                    });
                    group.create_dataset("codes", |b| {
                        b.with_i32_data(&codes);
                    });
                })
                .map(drop)
            }
            Ok(numbers) => obs
                .create_dataset(column, |b| numeric(b, numbers))
                .map(drop),
        };
        staged.map_err(|e| error(&what, e))?;
    }
    obs.set_attr("column-order", AttrValue::VarLenStringArray(order))
        .map_err(|e| error("obs column-order", e))?;

    let top: Vec<String> = members(&root).map_err(|e| error("obsm", e))?;
    let group_for = |group_name: &str| -> Result<(hdf5_pure::Group, Vec<String>), DataError> {
        if top.iter().any(|m| m == group_name) {
            let group = root.group(group_name).map_err(|e| error(group_name, e))?;
            let members = members(&group).map_err(|e| error(group_name, e))?;
            Ok((group, members))
        } else {
            let group = root
                .create_group_with(group_name, |g| {
                    for (key, value) in dict_attrs() {
                        g.set_attr(key, value);
                    }
                })
                .map_err(|e| error(group_name, e))?;
            Ok((group, Vec::new()))
        }
    };
    if !additions.obsm.is_empty() {
        let (obsm, members) = group_for("obsm")?;
        for (key, rows) in &additions.obsm {
            let what = format!("obsm/{key}");
            if members.contains(key) {
                obsm.delete(key).map_err(|e| error(&what, e))?;
            }
            obsm.create_dataset(key, |b| matrix(b, rows))
                .map_err(|e| error(&what, e))?;
        }
    }
    if !additions.uns.is_empty() {
        let (uns, members) = group_for("uns")?;
        for (key, values) in &additions.uns {
            let what = format!("uns/{key}");
            if members.contains(key) {
                uns.delete(key).map_err(|e| error(&what, e))?;
            }
            uns.create_dataset(key, |b| string_array(b, values))
                .map_err(|e| error(&what, e))?;
        }
    }
    drop((obs, root));
    file.commit()
        .map_err(|e| error("the results (writing them)", e))?;
    file.close()
        .map_err(|e| error("the results (closing the file)", e))?;
    Ok(())
}
