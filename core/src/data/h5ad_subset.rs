//! Some cells of an `.h5ad` file as a new `.h5ad`: every cell-indexed element — `X`, `layers`,
//! `raw/X`, `obs`, `obsm`, `obsp` — cut to those cells, everything else (var, varm, uns…) kept.
//!
//! A copy is edited in place with hdf5-pure and then repacked, so what is not cell-indexed stays
//! byte for byte whatever its type; only the elements named above are read and rewritten.

use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, DType, Dataset, Group};

use super::DataError;
use super::h5ad::strings_of;
use super::h5ad_add::{members, row_chunks, string_array};
use super::hdf5_claims::claimed_elements;

/// What [`subset_h5ad_file`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubsetReport {
    /// Elements cut to the chosen cells (`X`, `obs/cell_type`, `layers/counts`, …).
    pub cut: Vec<String>,
    /// Cell-indexed elements left out, each with why (a layout this writer cannot cut).
    pub dropped: Vec<(String, String)>,
}

/// New gene names for the subset's `var` index (CELLxGENE's layout: Ensembl ids in the index).
#[derive(Clone, Debug, PartialEq)]
pub struct VarIndex {
    /// The `var` column that becomes the index (removed as a column).
    pub column: String,
    /// Its values, one per gene.
    pub names: Vec<String>,
    /// The current index, kept as `var['feature_name']`.
    pub previous: Vec<String>,
}

/// Which cells to keep, in file order.
struct Cut<'a> {
    cells: usize,
    rows: &'a [usize],
    /// Old cell index → new one, for the column axis of `obsp` and CSC matrices.
    new_index: Vec<Option<u32>>,
}

/// Why an edit stopped: the HDF5 layer, or a cell-indexed element that cannot be cut.
#[derive(Debug, thiserror::Error)]
enum EditError {
    #[error(transparent)]
    Hdf5(#[from] hdf5_pure::Error),
    #[error("`{path}`: {why}")]
    Layout { path: String, why: String },
}

type H5Result<T> = Result<T, EditError>;

/// Elements without which the subset is not an AnnData file: these fail the cut, never drop.
const ESSENTIAL: [&str; 3] = ["X", "obs", "obs/_index"];

/// Writes the cells `rows` (strictly increasing) of the `.h5ad` file `src` (`cells` cells) to
/// `dst`, optionally renaming its genes; `dst` appears only once complete.
pub fn subset_h5ad_file(
    src: &Path,
    dst: &Path,
    cells: usize,
    rows: &[usize],
    var_index: Option<&VarIndex>,
) -> Result<SubsetReport, DataError> {
    let name = src.display().to_string();
    let fail = |message: String| DataError::Format {
        file: name.clone(),
        message,
    };
    if rows.windows(2).any(|w| w[0] >= w[1]) || rows.last().is_some_and(|&r| r >= cells) {
        return Err(fail(format!(
            "the cells to keep must be increasing and below {cells}"
        )));
    }
    let mut new_index = vec![None; cells];
    for (new, &old) in rows.iter().enumerate() {
        new_index[old] = Some(new as u32);
    }
    let cut = Cut {
        cells,
        rows,
        new_index,
    };
    let edit = sibling(dst, "edit");
    let packed = sibling(dst, "packed");
    let result = (|| {
        std::fs::copy(src, &edit).map_err(|e| fail(format!("cannot copy it: {e}")))?;
        let report = edit_copy(&edit, &cut, var_index)
            .map_err(|e| fail(format!("cannot cut it to {} cells: {e}", rows.len())))?;
        // The edit leaves the cut elements' old storage as unused space; a repack drops it.
        hdf5_pure::repack(&edit, &packed, &hdf5_pure::RepackOptions::new())
            .map_err(|e| fail(format!("cannot compact the subset: {e}")))?;
        std::fs::rename(&packed, dst)
            .map_err(|e| fail(format!("cannot write {}: {e}", dst.display())))?;
        Ok(report)
    })();
    let _ = std::fs::remove_file(&edit);
    let _ = std::fs::remove_file(&packed);
    result
}

/// `dst` with a hidden temporary suffix, in its folder (so the final rename stays on one disk).
fn sibling(dst: &Path, what: &str) -> PathBuf {
    let mut name = dst.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{what}.tmp"));
    dst.with_file_name(name)
}

/// Cuts the file at `path` in place and commits.
fn edit_copy(path: &Path, cut: &Cut, var_index: Option<&VarIndex>) -> H5Result<SubsetReport> {
    let file = hdf5_pure::File::open_rw(path)?;
    let root = file.root();
    let file_len = std::fs::metadata(path).map_err(hdf5_pure::Error::Io)?.len();
    check_claims(&root, "", file_len)?;
    let mut report = SubsetReport::default();
    let top = members(&root)?;
    let has = |name: &str| top.iter().any(|m| m == name);
    if has("X") {
        cut_member(&root, "X", "X", cut, false, &mut report)?;
    }
    for (group_name, both_axes) in [("layers", false), ("obsm", false), ("obsp", true)] {
        if has(group_name) {
            let group = root.group(group_name)?;
            for member in members(&group)? {
                let path = format!("{group_name}/{member}");
                cut_member(&group, &member, &path, cut, both_axes, &mut report)?;
            }
        }
    }
    if has("raw") {
        let raw = root.group("raw")?;
        if members(&raw)?.iter().any(|m| m == "X") {
            cut_member(&raw, "X", "raw/X", cut, false, &mut report)?;
        }
    }
    if has("obs") {
        if has("uns") {
            cut_colors(&root, cut)?;
        }
        cut_member(&root, "obs", "obs", cut, false, &mut report)?;
    }
    if let Some(index) = var_index {
        rename_var(&root.group("var")?, index)?;
    }
    drop(root);
    file.commit()?;
    file.close()?;
    Ok(report)
}

/// Refuses, by path, any dataset under `group` whose shape claims more than the file can hold,
/// before the edit reads one (the cells' matrix was checked when it was read; the rest was not).
fn check_claims(group: &Group, path: &str, file_len: u64) -> H5Result<()> {
    for name in group.datasets()? {
        claimed_elements(&group.dataset(&name)?, file_len).map_err(|why| EditError::Layout {
            path: format!("{path}{name}"),
            why,
        })?;
    }
    for name in group.groups()? {
        check_claims(&group.group(&name)?, &format!("{path}{name}/"), file_len)?;
    }
    Ok(())
}

fn encoding(attrs: &std::collections::HashMap<String, AttrValue>) -> Option<String> {
    attrs
        .get("encoding-type")
        .and_then(strings_of)
        .and_then(|v| v.into_iter().next())
}

/// Cuts one cell-indexed element (a dataset or an AnnData-encoded group) of `parent`, or drops it
/// with the reason when its layout is not one this writer knows.
fn cut_member(
    parent: &Group,
    name: &str,
    path: &str,
    cut: &Cut,
    both_axes: bool,
    report: &mut SubsetReport,
) -> H5Result<()> {
    if parent.datasets()?.iter().any(|d| d == name) {
        let dataset = parent.dataset(name)?;
        return match cut_dataset(parent, name, &dataset, cut.cells, cut.rows, both_axes)? {
            Ok(()) => {
                report.cut.push(path.into());
                Ok(())
            }
            Err(why) => drop_member(parent, name, path, why, report),
        };
    }
    let group = parent.group(name)?;
    let attrs = group.attrs()?;
    match encoding(&attrs).as_deref() {
        Some(kind @ ("csr_matrix" | "csc_matrix")) => {
            match cut_sparse(&group, kind == "csr_matrix", &attrs, cut, both_axes)? {
                Ok(()) => report.cut.push(path.into()),
                Err(why) => drop_member(parent, name, path, why, report)?,
            }
        }
        Some("dataframe") if !both_axes => {
            // anndata 0.7 keeps categories in `__categories/<column>`: per category, not per cell.
            for member in members(&group)?.into_iter().filter(|m| m != "__categories") {
                cut_member(
                    &group,
                    &member,
                    &format!("{path}/{member}"),
                    cut,
                    false,
                    report,
                )?;
            }
        }
        Some("categorical") if !both_axes => match cut_categorical(&group, cut)? {
            Ok(()) => report.cut.push(path.into()),
            Err(why) => drop_member(parent, name, path, why, report)?,
        },
        Some("nullable-integer" | "nullable-boolean" | "nullable-string-array") if !both_axes => {
            for part in ["values", "mask"] {
                let dataset = group.dataset(part)?;
                if let Err(why) = cut_dataset(&group, part, &dataset, cut.cells, cut.rows, false)? {
                    return drop_member(parent, name, path, why, report);
                }
            }
            report.cut.push(path.into());
        }
        other => {
            let layout = other.map_or("a group without an AnnData encoding".into(), |kind| {
                format!("encoding `{kind}`")
            });
            drop_member(
                parent,
                name,
                path,
                format!("{layout} cannot be cut"),
                report,
            )?;
        }
    }
    Ok(())
}

fn drop_member(
    parent: &Group,
    name: &str,
    path: &str,
    why: String,
    report: &mut SubsetReport,
) -> H5Result<()> {
    if ESSENTIAL.contains(&path) {
        return Err(EditError::Layout {
            path: path.into(),
            why,
        });
    }
    parent.delete(name)?;
    report.dropped.push((path.into(), why));
    Ok(())
}

/// The categories (of `n`) that the cells `rows` use, in order; codes are valid (−1 or below `n`).
fn used_categories(codes: &[i64], rows: &[usize], n: usize) -> Vec<usize> {
    let mut used = vec![false; n];
    for &r in rows {
        if let Ok(code) = usize::try_from(codes[r]) {
            used[code] = true;
        }
    }
    (0..n).filter(|&c| used[c]).collect()
}

/// Cuts `uns/<column>_colors` (scanpy's plot colours, one per category) to the categories the
/// chosen cells use, before the `obs` cut renumbers them — what anndata does when it subsets.
fn cut_colors(root: &Group, cut: &Cut) -> H5Result<()> {
    // An anndata ≤ 0.6 `obs` table is a dataset, not a group of columns.
    let Ok(obs) = root.group("obs") else {
        return Ok(());
    };
    let uns = root.group("uns")?;
    let colors: Vec<String> = uns.datasets()?;
    for column in obs.groups()? {
        let Some(name) = colors.iter().find(|c| **c == format!("{column}_colors")) else {
            continue;
        };
        let group = obs.group(&column)?;
        if encoding(&group.attrs()?).as_deref() != Some("categorical") {
            continue;
        }
        let codes = group.dataset("codes")?.read_i64()?;
        let n = group
            .dataset("categories")?
            .shape()?
            .first()
            .copied()
            .unwrap_or(0) as usize;
        let dataset = uns.dataset(name)?;
        let valid = codes.len() == cut.cells && codes.iter().all(|&c| c >= -1 && c < n as i64);
        if valid && dataset.shape()? == [n as u64] {
            let kept = used_categories(&codes, cut.rows, n);
            // A layout that cannot be cut leaves the colours as they were: scanpy redraws them.
            let _ = cut_dataset(&uns, name, &dataset, n, &kept, false)?;
        }
    }
    Ok(())
}

/// The chosen cells of a categorical column, and (as anndata does when it subsets) only the
/// categories they use, codes renumbered.
fn cut_categorical(group: &Group, cut: &Cut) -> H5Result<Result<(), String>> {
    let codes_set = group.dataset("codes")?;
    let categories_set = group.dataset("categories")?;
    let (codes, n_categories) = (codes_set.read_i64()?, categories_set.shape()?);
    let n_categories = n_categories.first().copied().unwrap_or_default() as usize;
    if codes.len() != cut.cells || codes.iter().any(|&c| c < -1 || c >= n_categories as i64) {
        return Ok(Err(format!(
            "its codes do not index its {n_categories} categories for the file's {} cells",
            cut.cells
        )));
    }
    let kept = used_categories(&codes, cut.rows, n_categories);
    let mut renumber = vec![-1i64; n_categories];
    for (new, &old) in kept.iter().enumerate() {
        renumber[old] = new as i64;
    }
    let new_codes: Vec<i64> = cut
        .rows
        .iter()
        .map(|&r| {
            if codes[r] < 0 {
                -1
            } else {
                renumber[codes[r] as usize]
            }
        })
        .collect();
    if let Err(why) = cut_dataset(
        group,
        "categories",
        &categories_set,
        n_categories,
        &kept,
        false,
    )? {
        return Ok(Err(why));
    }
    let (dtype, attrs) = (codes_set.dtype()?, codes_set.attrs()?);
    group.delete("codes")?;
    group.create_dataset("codes", |b| {
        // The stored width: anndata writes the narrowest signed type pandas chose.
        match dtype {
            DType::I8 => b.with_i8_data(&new_codes.iter().map(|&c| c as i8).collect::<Vec<_>>()),
            DType::I16 => b.with_i16_data(&new_codes.iter().map(|&c| c as i16).collect::<Vec<_>>()),
            DType::I64 => b.with_i64_data(&new_codes),
            _ => b.with_i32_data(&new_codes.iter().map(|&c| c as i32).collect::<Vec<_>>()),
        };
        finish(b, &attrs, None);
    })?;
    Ok(Ok(()))
}

/// The rows `rows` (of `cells`) of a dataset indexed by cells along its first axis (and, for
/// `both_axes`, its second too); `Ok(Err(why))` when it cannot be cut.
fn cut_dataset(
    parent: &Group,
    name: &str,
    dataset: &Dataset,
    cells: usize,
    rows: &[usize],
    both_axes: bool,
) -> H5Result<Result<(), String>> {
    let shape = dataset.shape()?;
    if shape.first() != Some(&(cells as u64)) || (both_axes && shape.get(1) != shape.first()) {
        return Ok(Err(format!(
            "its shape {shape:?} is not indexed by the file's {} cells",
            cells
        )));
    }
    let attrs = dataset.attrs()?;
    let mut new_shape = shape.clone();
    new_shape[0] = rows.len() as u64;
    if both_axes {
        new_shape[1] = rows.len() as u64;
    }
    let elements: u64 = new_shape.iter().product();
    let per_row = (new_shape[1..].iter().product::<u64>()) as usize;
    let chunks = (elements > 0).then(|| match new_shape.as_slice() {
        [n] => vec![(*n).clamp(1, 1 << 15)],
        [n, m] => row_chunks(*n as usize, (*m).min(1 << 15) as usize).to_vec(),
        _ => Vec::new(),
    });
    if dataset.dtype()? == DType::VariableLengthString {
        if shape.len() != 1 {
            return Ok(Err("a multi-dimensional string array cannot be cut".into()));
        }
        let values = dataset.read_string()?;
        let kept: Vec<&str> = rows.iter().map(|&r| values[r].as_str()).collect();
        parent.delete(name)?;
        parent.create_dataset(name, |b| {
            b.with_vlen_strings(&kept);
            // Contiguous: hdf5-pure adds variable-length strings in place only unchunked.
            finish(b, &attrs, None);
        })?;
        return Ok(Ok(()));
    }
    if !fixed_size(&dataset.dtype()?) {
        return Ok(Err(format!(
            "its element type {} is not one of fixed size",
            dataset.dtype()?
        )));
    }
    let datatype = dataset.datatype()?;
    let raw = dataset.read_raw()?;
    let row_bytes = raw.len() / cells.max(1);
    let element = row_bytes / (shape[1..].iter().product::<u64>() as usize).max(1);
    let mut kept = Vec::with_capacity(rows.len() * per_row * element);
    for &r in rows {
        let row = &raw[r * row_bytes..(r + 1) * row_bytes];
        if both_axes {
            for &c in rows {
                kept.extend_from_slice(&row[c * element..(c + 1) * element]);
            }
        } else {
            kept.extend_from_slice(row);
        }
    }
    parent.delete(name)?;
    parent.create_dataset(name, |b| {
        b.with_raw_data(datatype, kept, elements)
            .with_shape(&new_shape);
        finish(b, &attrs, chunks.as_deref());
    })?;
    Ok(Ok(()))
}

/// Whether elements are plain bytes of one size (numbers, fixed strings, enums such as h5py's
/// booleans, records of those) — what can be cut by copying rows of bytes; variable-length data
/// and references point elsewhere in the file.
fn fixed_size(dtype: &DType) -> bool {
    match dtype {
        DType::VariableLengthString | DType::ObjectReference | DType::Other(_) => false,
        DType::Compound(fields) => fields.iter().all(|(_, t)| fixed_size(t)),
        DType::Array(inner, _) => fixed_size(inner),
        _ => true,
    }
}

/// Chunked deflate (chunk dimensions below 65,536: see `h5ad_write`) and the old attributes.
fn finish(
    builder: &mut hdf5_pure::DatasetBuilder,
    attrs: &std::collections::HashMap<String, AttrValue>,
    chunks: Option<&[u64]>,
) {
    if let Some(chunks) = chunks.filter(|c| !c.is_empty()) {
        builder.with_chunks(chunks).with_deflate(4);
    }
    let mut names: Vec<&String> = attrs.keys().collect();
    names.sort();
    for name in names {
        builder.set_attr(name, attrs[name].clone());
    }
}

/// Cuts a CSR (cells are rows) or CSC (cells are the entries' indices) matrix group;
/// `Ok(Err(why))` when its parts do not describe a matrix indexed by the file's cells.
fn cut_sparse(
    group: &Group,
    csr: bool,
    attrs: &std::collections::HashMap<String, AttrValue>,
    cut: &Cut,
    both_axes: bool,
) -> H5Result<Result<(), String>> {
    let shape: Vec<u64> = match attrs.get("shape") {
        Some(AttrValue::I64Array(v)) => v.iter().map(|&x| x.max(0) as u64).collect(),
        Some(AttrValue::I32Array(v)) => v.iter().map(|&x| x.max(0) as u64).collect(),
        Some(AttrValue::U64Array(v)) => v.clone(),
        _ => return Ok(Err("it has no `shape` attribute".into())),
    };
    let cells = cut.cells as u64;
    if shape.len() != 2 || shape[0] != cells || (both_axes && shape[1] != cells) {
        return Ok(Err(format!(
            "its shape {shape:?} is not indexed by the file's {cells} cells"
        )));
    }
    let indptr_set = group.dataset("indptr")?;
    let indices_set = group.dataset("indices")?;
    let data_set = group.dataset("data")?;
    let indptr = indptr_set.read_i64()?;
    let indices = indices_set.read_i64()?;
    let data = data_set.read_raw()?;
    let element = data.len() / indices.len().max(1);
    let (majors_total, minors_total) = if csr {
        (shape[0], shape[1])
    } else {
        (shape[1], shape[0])
    };
    let consistent = indptr.len() as u64 == majors_total + 1
        && indptr.first() == Some(&0)
        && indptr.windows(2).all(|w| w[0] <= w[1])
        && indptr.last().is_some_and(|&p| p as usize == indices.len())
        && indices.iter().all(|&i| i >= 0 && (i as u64) < minors_total)
        && data.len() == indices.len() * element;
    if !consistent {
        return Ok(Err(
            "its indptr, indices and data do not describe a matrix of its shape".into(),
        ));
    }
    // CSR: keep the chosen rows (and, for obsp, the chosen columns within them). CSC: keep every
    // column (or, for obsp, the chosen ones) and within it the entries of chosen rows.
    let majors: Vec<usize> = if csr || both_axes {
        cut.rows.to_vec()
    } else {
        (0..majors_total as usize).collect()
    };
    let renumber_minors = !csr || both_axes;
    let mut new_indptr = Vec::with_capacity(majors.len() + 1);
    let mut new_indices = Vec::new();
    let mut new_data = Vec::new();
    new_indptr.push(0i64);
    for &major in &majors {
        for k in indptr[major] as usize..indptr[major + 1] as usize {
            let index = if renumber_minors {
                match cut.new_index[indices[k] as usize] {
                    Some(new) => new as i64,
                    None => continue,
                }
            } else {
                indices[k]
            };
            new_indices.push(index);
            new_data.extend_from_slice(&data[k * element..(k + 1) * element]);
        }
        new_indptr.push(new_indices.len() as i64);
    }
    let n = new_indices.len() as u64;
    let chunks = [n.clamp(1, 1 << 15)];
    let wide = |dataset: &Dataset| -> H5Result<bool> { Ok(dataset.dtype()? == DType::I64) };
    let (wide_indices, wide_indptr) = (wide(&indices_set)?, wide(&indptr_set)?);
    let (data_type, data_attrs) = (data_set.datatype()?, data_set.attrs()?);
    for part in ["data", "indices", "indptr"] {
        group.delete(part)?;
    }
    group.create_dataset("data", |b| {
        b.with_raw_data(data_type, new_data, n);
        finish(b, &data_attrs, (n > 0).then_some(&chunks[..]));
    })?;
    let integers = |b: &mut hdf5_pure::DatasetBuilder, values: &[i64], wide: bool| {
        if wide {
            b.with_i64_data(values);
        } else {
            b.with_i32_data(&values.iter().map(|&i| i as i32).collect::<Vec<_>>());
        }
    };
    group.create_dataset("indices", |b| {
        integers(b, &new_indices, wide_indices);
        if n > 0 {
            b.with_chunks(&chunks).with_deflate(4);
        }
    })?;
    group.create_dataset("indptr", |b| integers(b, &new_indptr, wide_indptr))?;
    let kept = cut.rows.len() as i64;
    let columns = if both_axes { kept } else { shape[1] as i64 };
    group.set_attr("shape", AttrValue::I64Array(vec![kept, columns]))?;
    Ok(Ok(()))
}

/// Makes `index.column` the `var` index and keeps the old one as `var['feature_name']`.
fn rename_var(var: &Group, index: &VarIndex) -> H5Result<()> {
    let attrs = var.attrs()?;
    let index_name = attrs
        .get("_index")
        .and_then(strings_of)
        .and_then(|v| v.into_iter().next())
        .unwrap_or_else(|| "_index".into());
    let mut order: Vec<String> = attrs
        .get("column-order")
        .and_then(strings_of)
        .unwrap_or_default();
    let existing = members(var)?;
    for name in [index_name.as_str(), index.column.as_str(), "feature_name"] {
        if existing.iter().any(|m| m == name) {
            var.delete(name)?;
        }
    }
    var.create_dataset(&index_name, |b| string_array(b, &index.names))?;
    var.create_dataset("feature_name", |b| string_array(b, &index.previous))?;
    order.retain(|c| c != &index.column && c != "feature_name");
    order.push("feature_name".into());
    Ok(var.set_attr("column-order", AttrValue::VarLenStringArray(order))?)
}
