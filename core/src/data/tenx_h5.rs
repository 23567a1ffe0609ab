//! Cell Ranger's HDF5 matrices (`filtered_feature_bc_matrix.h5`, v3+, and the v2
//! `filtered_gene_bc_matrices_h5.h5`), read with hdf5-pure: barcodes become rows and the
//! `Gene Expression` features columns, named by their symbols made unique as scanpy's
//! `read_10x_h5` does, with the Ensembl ids kept as the `gene_ids` gene column.

use std::collections::BTreeMap;

use hdf5_pure::{File, Group};

use super::hdf5_claims::claimed_elements;
use super::{CountMatrix, DataError, make_unique};

/// The group holding the matrix and whether it is the v3 layout (features in `features/`).
fn tenx_group(root: &Group) -> Option<(String, bool)> {
    if root.group("matrix").is_ok() && root.dataset("matrix/barcodes").is_ok() {
        return Some(("matrix".into(), true));
    }
    root.groups().ok()?.into_iter().find_map(|name| {
        root.dataset(&format!("{name}/gene_names"))
            .ok()
            .map(|_| (name, false))
    })
}

/// Reads a Cell Ranger `.h5` matrix; `file` names it in errors.
pub fn read_10x_h5(file: &str, bytes: Vec<u8>) -> Result<CountMatrix, DataError> {
    let format = |message: String| DataError::Format {
        file: file.into(),
        message,
    };
    let field = |field: &str, message: String| DataError::Field {
        file: file.into(),
        field: field.into(),
        message,
    };
    let file_len = bytes.len() as u64;
    let hdf5 =
        File::from_bytes(bytes).map_err(|e| format(format!("not a readable HDF5 file ({e})")))?;
    let root = hdf5.group("/").map_err(|e| format(e.to_string()))?;
    let (group, v3) = tenx_group(&root).ok_or_else(|| {
        format(
            "not a Cell Ranger matrix: no `matrix/` group (v3) or genome group with \
             `gene_names` (v2)"
                .into(),
        )
    })?;
    // Every dataset is checked against the file's length before it is read.
    let dataset = |path: &str| {
        let dataset = root.dataset(path).map_err(|e| field(path, e.to_string()))?;
        claimed_elements(&dataset, file_len).map_err(|e| field(path, e))?;
        Ok::<_, DataError>(dataset)
    };
    let strings = |path: String| {
        dataset(&path)?
            .read_string()
            .map_err(|e| field(&path, e.to_string()))
    };
    let ints = |path: String| {
        dataset(&path)?
            .read_i64()
            .map_err(|e| field(&path, e.to_string()))
    };
    let cell_ids = strings(format!("{group}/barcodes"))?;
    let (mut symbols, ids, types) = if v3 {
        let types = strings(format!("{group}/features/feature_type")).ok();
        (
            strings(format!("{group}/features/name"))?,
            strings(format!("{group}/features/id"))?,
            types,
        )
    } else {
        (
            strings(format!("{group}/gene_names"))?,
            strings(format!("{group}/genes"))?,
            None,
        )
    };
    let values = ints(format!("{group}/data"))?;
    let indices = ints(format!("{group}/indices"))?;
    let indptr = ints(format!("{group}/indptr"))?;
    let n_features = symbols.len();
    if ids.len() != n_features || types.as_ref().is_some_and(|t| t.len() != n_features) {
        return Err(field(
            &format!("{group}/features"),
            format!("{n_features} names but {} ids", ids.len()),
        ));
    }
    if indptr.len() != cell_ids.len() + 1
        || indices.len() != values.len()
        || indptr.first() != Some(&0)
        || indptr.last().copied() != Some(values.len() as i64)
        || indptr.windows(2).any(|w| w[0] > w[1])
    {
        return Err(field(
            &format!("{group}/indptr"),
            format!(
                "does not describe {} barcodes and {} entries",
                cell_ids.len(),
                values.len()
            ),
        ));
    }
    if let Some(&bad) = indices.iter().find(|&&j| j < 0 || j as usize >= n_features) {
        return Err(field(
            &format!("{group}/indices"),
            format!("feature index {bad} with {n_features} features"),
        ));
    }
    // Unique over every feature first, then filtered, as scanpy does.
    make_unique(&mut symbols);
    let mut column = vec![None; n_features];
    let (mut genes, mut gene_ids) = (Vec::new(), Vec::new());
    for (i, (symbol, id)) in symbols.into_iter().zip(ids).enumerate() {
        if types.as_ref().is_none_or(|t| t[i] == "Gene Expression") {
            column[i] = Some(genes.len() as u32);
            genes.push(symbol);
            gene_ids.push(id);
        }
    }
    if genes.is_empty() && n_features > 0 {
        return Err(format("no `Gene Expression` features".into()));
    }
    let mut counts = CountMatrix {
        cell_ids,
        genes,
        indptr: vec![0],
        indices: Vec::new(),
        values: Vec::new(),
        annotations: BTreeMap::new(),
        gene_columns: BTreeMap::from([("gene_ids".to_string(), gene_ids)]),
    };
    for cell in indptr.windows(2) {
        for k in cell[0] as usize..cell[1] as usize {
            if let (Some(j), value) = (column[indices[k] as usize], values[k])
                && value != 0
            {
                counts.indices.push(j);
                counts.values.push(value as f32);
            }
        }
        counts.indptr.push(counts.values.len());
    }
    counts.validate(file)?;
    Ok(counts)
}
