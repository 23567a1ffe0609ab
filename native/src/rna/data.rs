//! Reading a user's cells from disk: `.h5ad`, a 10x folder (or its `matrix.mtx`), or a CSV/TSV
//! count table — the format is told by the path.

use std::path::Path;

use anyhow::{Context, Result, bail};
use tessera_core::data::h5ad::{MatrixSource, read_h5ad};
use tessera_core::data::{CountMatrix, Orientation, TenXFiles, read_10x, read_csv};

/// Reads a count matrix; `layer` picks an `.h5ad` layer (`raw` for `raw/X`) instead of `X`.
pub fn read_counts(path: &Path, layer: Option<&str>) -> Result<CountMatrix> {
    let name = path.display().to_string();
    let lower = name.to_lowercase();
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()));
    if path.is_dir() || lower.ends_with(".mtx") || lower.ends_with(".mtx.gz") {
        let folder = if path.is_dir() {
            path
        } else {
            path.parent().unwrap_or(Path::new("."))
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(folder)
            .with_context(|| format!("{}: cannot list", folder.display()))?
        {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    read(&entry.path())?,
                ));
            }
        }
        return Ok(read_10x(TenXFiles::pick(
            &folder.display().to_string(),
            files,
        )?)?);
    }
    if lower.ends_with(".h5ad") {
        let source = match layer {
            None | Some("X") => MatrixSource::X,
            Some("raw") => MatrixSource::Raw,
            Some(layer) => MatrixSource::Layer(layer.to_string()),
        };
        return Ok(read_h5ad(&name, read(path)?, &source)?);
    }
    if [".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return Ok(read_csv(&name, &read(path)?, Orientation::CellsByGenes)?);
    }
    bail!(
        "{name}: unknown format (expected .h5ad, a 10x folder or matrix.mtx[.gz], or .csv/.tsv[.gz])"
    )
}

/// Rows whose `split` annotation is `value`, or every row when no split column is named.
pub fn rows_where(
    matrix: &CountMatrix,
    file: &str,
    split: Option<&str>,
    value: &str,
) -> Result<Vec<usize>> {
    match split {
        None => Ok((0..matrix.n_cells()).collect()),
        Some(column) => {
            let values = matrix.annotation(file, column)?;
            let rows: Vec<usize> = (0..matrix.n_cells())
                .filter(|&i| values[i] == value)
                .collect();
            if rows.is_empty() {
                bail!("{file}: no cell has {column} = `{value}`");
            }
            Ok(rows)
        }
    }
}
