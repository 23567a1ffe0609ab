//! Bundles on disk: a folder (or a `.tar` archive) in, an atomically written folder or archive out.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use tessera_core::bundle::{Bundle, BundleFiles};

/// Reads a bundle folder, or a `.tar` archive of one.
pub fn read(path: &Path) -> Result<Bundle> {
    fs::metadata(path).with_context(|| format!("{}: cannot open bundle", path.display()))?;
    Bundle::from_files(read_files(path)?).with_context(|| format!("bundle {}", path.display()))
}

/// The files of a folder (recursively, `/`-separated relative names) or of a `.tar` archive.
pub fn read_files(path: &Path) -> Result<BundleFiles> {
    let meta = fs::metadata(path).with_context(|| format!("{}: cannot open", path.display()))?;
    if meta.is_dir() {
        let mut files = BundleFiles::default();
        collect(path, path, &mut files)?;
        Ok(files)
    } else {
        let bytes = fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
        BundleFiles::from_tar(&bytes).with_context(|| format!("archive {}", path.display()))
    }
}

fn collect(root: &Path, dir: &Path, files: &mut BundleFiles) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, files)?;
        } else {
            let relative = path.strip_prefix(root).expect("under root");
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let bytes =
                fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
            files.insert(name, bytes);
        }
    }
    Ok(())
}

/// One tensor for [`write_safetensors`]: name, dtype, shape and little-endian bytes.
pub type NamedTensor = (String, safetensors::Dtype, Vec<usize>, Vec<u8>);

/// Writes tensors as one safetensors file (atomically).
pub fn write_safetensors(path: &Path, tensors: &[NamedTensor]) -> Result<()> {
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            Ok((
                name.clone(),
                safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)?,
            ))
        })
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    write_file_atomic(path, &safetensors::serialize(views, None)?)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a file and a failed write leaves the old one intact.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = sibling(path, "tmp");
    fs::write(&temp, bytes).with_context(|| format!("{}: cannot write", temp.display()))?;
    fs::rename(&temp, path).with_context(|| format!("{}: cannot replace", path.display()))
}

/// Writes a bundle folder: all files go into a temporary folder beside `dir`, which then takes
/// `dir`'s place (an existing bundle there is replaced only once the new one is complete).
pub fn write_dir(bundle: &Bundle, dir: &Path) -> Result<()> {
    if dir.exists() && !dir.join(tessera_core::bundle::CONFIG_FILE).exists() {
        bail!(
            "{}: exists and is not a bundle; refusing to replace it",
            dir.display()
        );
    }
    let temp = sibling(dir, "tmp");
    let _ = fs::remove_dir_all(&temp);
    for (name, bytes) in bundle.files().iter() {
        let path = temp.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        fs::write(&path, bytes).with_context(|| format!("{}: cannot write", path.display()))?;
    }
    let old = sibling(dir, "old");
    if dir.exists() {
        fs::rename(dir, &old).with_context(|| format!("{}: cannot move aside", dir.display()))?;
    }
    fs::rename(&temp, dir).with_context(|| format!("{}: cannot create", dir.display()))?;
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// `.NAME.KIND-PID` next to `path`.
fn sibling(path: &Path, kind: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{kind}-{}", std::process::id()))
}
