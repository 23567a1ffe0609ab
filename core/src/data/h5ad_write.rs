//! Writing a [`CountMatrix`] as an AnnData `.h5ad` (CSR `X`, `obs` with categorical annotation
//! columns, `var` names and their other name columns), compressed — what `anndata.read_h5ad`
//! and our reader both accept — optionally with results added ([`AnnDataAdditions`]).

use std::collections::BTreeMap;

use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder};

use super::h5ad_add::{AnnDataAdditions, add_categorical, add_obs_columns, add_obsm_uns};
use super::{CountMatrix, DataError};

fn text(s: &str) -> AttrValue {
    AttrValue::String(s.into())
}

/// Chunked deflate for a 1-D dataset of `n` values (hdf5 needs chunks ≥ 1). Chunks stay under
/// 65,536 values: hdf5-pure stores a chunk dimension of 65,536 or more in 4 bytes, and HDF5 2.0
/// (h5py ≥ 3.15, current anndata) refuses any width but the minimal one (3 bytes there), so such
/// a file would not open; below 65,536 the 2 bytes it writes are the minimal width.
fn chunk(n: usize) -> u64 {
    (n.clamp(1, 1 << 15)) as u64
}

/// The matrix as `.h5ad` bytes; `file` names the destination in errors.
pub fn write_h5ad(file: &str, matrix: &CountMatrix) -> Result<Vec<u8>, DataError> {
    write_h5ad_with(file, matrix, &AnnDataAdditions::default())
}

/// The matrix and `additions` (obs columns after the matrix's own) as `.h5ad` bytes.
pub fn write_h5ad_with(
    file: &str,
    matrix: &CountMatrix,
    additions: &AnnDataAdditions,
) -> Result<Vec<u8>, DataError> {
    matrix.validate(file)?;
    additions.check(file, matrix.n_cells())?;
    let too_big = |what: &str| DataError::Field {
        file: file.into(),
        field: "X".into(),
        message: format!("{what} exceed the 32-bit index range"),
    };
    let indices: Vec<i32> = matrix
        .indices
        .iter()
        .map(|&i| i32::try_from(i).map_err(|_| too_big("gene indices")))
        .collect::<Result<_, _>>()?;
    let indptr: Vec<i64> = matrix.indptr.iter().map(|&p| p as i64).collect();

    let mut builder = FileBuilder::new();
    builder.set_attr("encoding-type", text("anndata"));
    builder.set_attr("encoding-version", text("0.1.0"));
    let mut x = builder.create_group("X");
    x.set_attr("encoding-type", text("csr_matrix"));
    x.set_attr("encoding-version", text("0.1.0"));
    x.set_attr(
        "shape",
        AttrValue::I64Array(vec![matrix.n_cells() as i64, matrix.n_genes() as i64]),
    );
    let n = matrix.values.len();
    x.create_dataset("data")
        .with_f32_data(&matrix.values)
        .with_chunks(&[chunk(n)])
        .with_deflate(6);
    x.create_dataset("indices")
        .with_i32_data(&indices)
        .with_chunks(&[chunk(n)])
        .with_deflate(6);
    x.create_dataset("indptr").with_i64_data(&indptr);
    builder.add_group(x.finish());

    let mut obs = frame(&mut builder, "obs", &matrix.cell_ids);
    categorical_columns(&mut obs, &matrix.annotations);
    let mut order: Vec<String> = matrix.annotations.keys().cloned().collect();
    order.extend(additions.obs.iter().map(|(name, _)| name.clone()));
    obs.set_attr("column-order", AttrValue::StringArray(order));
    add_obs_columns(&mut obs, additions);
    builder.add_group(obs.finish());
    let mut var = frame(&mut builder, "var", &matrix.genes);
    categorical_columns(&mut var, &matrix.gene_columns);
    let order: Vec<String> = matrix.gene_columns.keys().cloned().collect();
    var.set_attr("column-order", AttrValue::StringArray(order));
    builder.add_group(var.finish());
    add_obsm_uns(&mut builder, additions);

    builder.finish().map_err(|e| DataError::Format {
        file: file.into(),
        message: format!("cannot encode the HDF5 file: {e}"),
    })
}

/// `columns` as categorical columns of a dataframe group (the caller lists them in its
/// `column-order`).
fn categorical_columns(frame: &mut GroupBuilder, columns: &BTreeMap<String, Vec<String>>) {
    for (column, values) in columns {
        add_categorical(frame, column, values.iter().map(|v| Some(v.as_str())));
    }
}

/// An AnnData dataframe group whose `_index` holds `index`.
fn frame(builder: &mut FileBuilder, name: &str, index: &[String]) -> GroupBuilder {
    let mut group = builder.create_group(name);
    group.set_attr("encoding-type", text("dataframe"));
    group.set_attr("encoding-version", text("0.2.0"));
    group.set_attr("_index", text("_index"));
    let names: Vec<&str> = index.iter().map(String::as_str).collect();
    group.create_dataset("_index").with_vlen_strings(&names);
    group
}
