//! Reading a user's cells from disk: `.h5ad`, a 10x folder (or its `matrix.mtx`), or a CSV/TSV
//! count table; the bytes go to core, which tells the format.

use std::path::Path;

use anyhow::{Context, Result, bail};
use tessera_core::data::h5ad::MatrixSource;
use tessera_core::data::{CountMatrix, Opened, open_files};

/// Reads a count matrix: the file, or every file of a folder (a 10x folder; `matrix.mtx[.gz]`
/// stands for its folder). Which reader applies is core's decision (`data::open_files`), the same
/// as in the browser. `layer` picks an `.h5ad` layer (`raw` for `raw/X`) instead of `X`.
pub fn read_counts(path: &Path, layer: Option<&str>) -> Result<CountMatrix> {
    Ok(read_opened(path, layer)?.matrix)
}

/// [`read_counts`], with the format that was read (`h5ad`, `10x`, `10x .h5`, `csv`).
pub fn read_opened(path: &Path, layer: Option<&str>) -> Result<Opened> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()));
    let lower = path.display().to_string().to_lowercase();
    let folder = if path.is_dir() {
        Some(path)
    } else if lower.ends_with(".mtx") || lower.ends_with(".mtx.gz") {
        Some(path.parent().unwrap_or(Path::new(".")))
    } else {
        None
    };
    let files = match folder {
        Some(folder) => {
            let mut files = Vec::new();
            let listing = std::fs::read_dir(folder)
                .with_context(|| format!("{}: cannot list", folder.display()))?;
            for entry in listing {
                let entry = entry?;
                if entry.file_type()?.is_file() {
                    let name = entry.path().display().to_string();
                    files.push((name, read(&entry.path())?));
                }
            }
            files
        }
        None => vec![(path.display().to_string(), read(path)?)],
    };
    let source = match layer {
        None => MatrixSource::Counts,
        Some("X") => MatrixSource::X,
        Some("raw") => MatrixSource::Raw,
        Some(layer) => MatrixSource::Layer(layer.to_string()),
    };
    let opened = open_files(files, &source)?;
    if let Some(note) = &opened.note {
        eprintln!(
            "{}",
            crate::terminal::printable(&format!("{}: {note}", opened.name))
        );
    }
    Ok(opened)
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
