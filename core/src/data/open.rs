//! Telling a user's files apart: one `.h5ad`, one CSV/TSV table (optionally gzipped) or the
//! files of a 10x folder, by name and content, read into a [`CountMatrix`] — for every front-end.

use super::h5ad::{MatrixSource, read_h5ad_noted};
use super::{CountMatrix, DataError, Orientation, TenXFiles, read_10x, read_csv};

/// A data set read from files, before it is matched to a vocabulary.
pub struct Opened {
    pub name: String,
    /// `"h5ad"`, `"10x"` or `"csv"`.
    pub format: &'static str,
    pub matrix: CountMatrix,
    /// For a CSV: its bytes, to read the other way round if genes turn out to be rows.
    pub csv: Option<Vec<u8>>,
    /// How the data was read when the user should know (counts taken from a layer).
    pub note: Option<String>,
}

impl Opened {
    /// A CSV read the other way round (genes × cells), for tables whose genes are rows.
    pub fn transposed_csv(&self) -> Option<Result<Opened, DataError>> {
        let bytes = self.csv.as_ref()?;
        Some(
            read_csv(&self.name, bytes, Orientation::GenesByCells).map(|matrix| Opened {
                name: self.name.clone(),
                format: self.format,
                matrix,
                csv: None,
                note: None,
            }),
        )
    }
}

/// The name a file goes by in messages: its last path component.
fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

const HDF5_SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";
const TENX_NAMES: [&str; 4] = ["matrix.mtx", "barcodes.tsv", "features.tsv", "genes.tsv"];

/// Picks the reader from the files' names and contents.
pub fn open_files(
    files: Vec<(String, Vec<u8>)>,
    source: &MatrixSource,
) -> Result<Opened, DataError> {
    // Folders dragged from a file manager carry hidden files (.DS_Store, ._x): ignore them.
    let files: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|(name, _)| !base_name(name).starts_with('.'))
        .collect();
    let format = |file: &str, message: &str| DataError::Format {
        file: file.into(),
        message: message.into(),
    };
    let is_tenx = |name: &str| {
        let base = base_name(name).to_ascii_lowercase();
        let base = base.strip_suffix(".gz").unwrap_or(&base);
        TENX_NAMES.iter().any(|kind| base.ends_with(kind))
    };
    if files.is_empty() {
        return Err(format("input", "no files were given"));
    }
    if files.iter().any(|(name, _)| is_tenx(name)) {
        let folder = tenx_folder(&files);
        let picked = TenXFiles::pick(&folder, files)?;
        return Ok(Opened {
            name: folder,
            format: "10x",
            matrix: read_10x(picked)?,
            csv: None,
            note: None,
        });
    }
    if files.len() > 1 {
        let names: Vec<&str> = files.iter().map(|(n, _)| base_name(n)).collect();
        return Err(format(
            &names.join(", "),
            "expected one .h5ad or CSV file, or the files of one 10x folder \
             (matrix.mtx, barcodes.tsv and features.tsv)",
        ));
    }
    let (name, bytes) = files.into_iter().next().expect("one file");
    let base = base_name(&name).to_string();
    let lower = base.to_ascii_lowercase();
    let plain = lower.strip_suffix(".gz").unwrap_or(&lower);
    if bytes.starts_with(HDF5_SIGNATURE) || lower.ends_with(".h5ad") {
        if lower.ends_with(".h5") {
            #[cfg(feature = "cellranger-h5")]
            return Ok(Opened {
                matrix: super::tenx_h5::read_10x_h5(&base, bytes)?,
                name: base,
                format: "10x .h5",
                csv: None,
                note: None,
            });
            #[cfg(not(feature = "cellranger-h5"))]
            return Err(format(
                &base,
                "Cell Ranger .h5 matrices are read by the `tessera` CLI, not here; use the \
                 matrix folder (matrix.mtx, barcodes.tsv, features.tsv) or an .h5ad file",
            ));
        }
        if !bytes.starts_with(HDF5_SIGNATURE) {
            let message = if super::is_gzip(&bytes) {
                "this .h5ad is gzip-compressed; decompress it first"
            } else {
                "not an .h5ad file: it does not start with the HDF5 signature"
            };
            return Err(format(&base, message));
        }
        let (matrix, note) = read_h5ad_noted(&base, bytes, source)?;
        return Ok(Opened {
            name: base,
            format: "h5ad",
            matrix,
            csv: None,
            note,
        });
    }
    if [".csv", ".tsv", ".txt", ".tab"]
        .iter()
        .any(|end| plain.ends_with(end))
    {
        let matrix = read_csv(&base, &bytes, Orientation::CellsByGenes)?;
        return Ok(Opened {
            name: base,
            format: "csv",
            matrix,
            csv: Some(bytes),
            note: None,
        });
    }
    Err(format(
        &base,
        "unrecognised file type; expected an .h5ad file, a .csv/.tsv table (optionally .gz) \
         or a 10x folder's matrix.mtx, barcodes.tsv and features.tsv",
    ))
}

/// The folder the 10x files came from (their common directory), or a generic name.
fn tenx_folder(files: &[(String, Vec<u8>)]) -> String {
    let dirs: Vec<&str> = files
        .iter()
        .map(|(name, _)| name.rsplit_once(['/', '\\']).map_or("", |(dir, _)| dir))
        .collect();
    match dirs.first() {
        Some(first) if !first.is_empty() && dirs.iter().all(|d| d == first) => {
            base_name(first).to_string()
        }
        _ => "10x files".into(),
    }
}
