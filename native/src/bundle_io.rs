//! Bundles on disk: a folder (or a `.tar` archive) in, memory-mapped so no file is copied into
//! the heap; an atomically written folder or archive out, streamed so no file is held whole.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use memmap2::{Mmap, UncheckedAdvice};
use tessera_core::bundle::{Bundle, BundleFiles, ByteSource, SharedBytes, pack_order, tar_header};

/// Files below this size are read into the heap; larger ones are memory-mapped.
const MAP_FROM: u64 = 1 << 20;
/// How much of a mapped file is copied before its pages are released from the process.
const RELEASE_EVERY: usize = 64 << 20;

/// A read-only memory map of a file. Released ranges are dropped from the process's resident
/// pages (the OS keeps them in its file cache), so reading a 2 GB checkpoint tensor by tensor
/// never holds it all.
struct MappedFile(Mmap);

impl ByteSource for MappedFile {
    fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn release(&self, range: Range<usize>) {
        // madvise works on whole pages: release only the pages entirely inside `range`.
        let page = 4096;
        let start = range.start.next_multiple_of(page);
        let end = range.end.min(self.0.len()) / page * page;
        if end > start {
            // SAFETY: the map is private and read-only; MADV_DONTNEED on it only drops pages,
            // which are read again from the file if touched (nothing can have changed them).
            let _ = unsafe {
                self.0
                    .unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }
}

/// A file's bytes: memory-mapped when large, read when small (or empty, which cannot be mapped).
pub fn map_file(path: &Path) -> Result<SharedBytes> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let len = file
        .metadata()
        .with_context(|| format!("{}: cannot stat", path.display()))?
        .len();
    if len < MAP_FROM {
        let mut bytes = Vec::with_capacity(len as usize);
        (&file)
            .read_to_end(&mut bytes)
            .with_context(|| format!("{}: cannot read", path.display()))?;
        return Ok(bytes.into());
    }
    // SAFETY: the map is read-only. Another process truncating the file while it is mapped
    // would make reads fault — the same hazard every mmap-based checkpoint loader accepts.
    let map = unsafe { Mmap::map(&file) }
        .with_context(|| format!("{}: cannot memory-map", path.display()))?;
    Ok(SharedBytes::new(Arc::new(MappedFile(map))))
}

/// [`read`] for a model going onto `backend`'s device (made already): tensors larger than one
/// of its GPU buffers are refused by name when the weights load.
pub fn read_for(path: &Path, backend: crate::backend::Backend) -> Result<Bundle> {
    Ok(read(path)?.with_tensor_limit(backend.max_tensor_bytes()))
}

/// Reads a bundle folder, or a `.tar` archive of one.
pub fn read(path: &Path) -> Result<Bundle> {
    fs::metadata(path).with_context(|| format!("{}: cannot open bundle", path.display()))?;
    Bundle::from_files(read_files(path)?).with_context(|| format!("bundle {}", path.display()))
}

/// The files of a folder (recursively, `/`-separated relative names) or of a `.tar` archive,
/// memory-mapped where large.
pub fn read_files(path: &Path) -> Result<BundleFiles> {
    let meta = fs::metadata(path).with_context(|| format!("{}: cannot open", path.display()))?;
    if meta.is_dir() {
        let mut files = BundleFiles::default();
        for (name, file) in list(path)? {
            files.insert(name, map_file(&file)?);
        }
        Ok(files)
    } else {
        BundleFiles::from_tar(map_file(path)?)
            .with_context(|| format!("archive {}", path.display()))
    }
}

/// Every file under `root` as (relative `/`-separated name, path), sorted by name. A symbolic
/// link is followed only to a file inside `root` (never to a folder, which could loop): a
/// bundle folder must not pack or load a file from elsewhere on the disk by accident.
fn list(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
        let entries =
            fs::read_dir(dir).with_context(|| format!("{}: cannot list", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let kind = entry
                .file_type()
                .with_context(|| format!("{}: cannot stat", path.display()))?;
            if kind.is_symlink() {
                let target = fs::canonicalize(&path)
                    .with_context(|| format!("{}: a broken symbolic link", path.display()))?;
                if !target.starts_with(root) || target.is_dir() {
                    bail!(
                        "{}: a symbolic link to {}, {}; copy the file into the bundle if it \
                         belongs there",
                        path.display(),
                        target.display(),
                        if target.is_dir() {
                            "a folder"
                        } else {
                            "outside the bundle folder"
                        }
                    );
                }
            }
            if kind.is_dir() {
                walk(root, &path, out)?;
            } else {
                let relative = path.strip_prefix(root).expect("under root");
                let name = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                out.push((name, path));
            }
        }
        Ok(())
    }
    let root =
        fs::canonicalize(root).with_context(|| format!("{}: cannot open", root.display()))?;
    let mut out = Vec::new();
    walk(&root, &root, &mut out)?;
    out.sort();
    Ok(out)
}

/// A reader over shared bytes that releases what it has handed out every `RELEASE_EVERY` (for tar's
/// appender and file copies), so writing a mapped 2 GB file never holds it resident.
struct ReleasingReader {
    bytes: SharedBytes,
    at: usize,
    released: usize,
}

impl ReleasingReader {
    fn new(bytes: SharedBytes) -> Self {
        Self {
            bytes,
            at: 0,
            released: 0,
        }
    }
}

impl Read for ReleasingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.bytes.len() - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        if self.at - self.released >= RELEASE_EVERY || self.at == self.bytes.len() {
            if let Some(done) = self.bytes.slice(self.released..self.at) {
                done.release();
            }
            self.released = self.at;
        }
        Ok(n)
    }
}

/// Writes `files` as one tar archive at `path` (atomically), streaming each file from where it
/// lies: small files first, weights last (see `pack_order`). Returns the archive's size.
pub fn write_tar(files: &BundleFiles, path: &Path) -> Result<u64> {
    write_atomic_with(path, |out| {
        let mut builder = tar::Builder::new(out);
        let names: Vec<&str> = files.iter().map(|(name, _)| name).collect();
        for name in pack_order(&names) {
            let bytes = files.shared(name)?.clone();
            let mut header = tar_header(bytes.len() as u64);
            let reader = ReleasingReader::new(bytes);
            builder
                .append_data(&mut header, name, reader)
                .with_context(|| format!("{}: entry {name}", path.display()))?;
        }
        builder.into_inner()?.flush()?;
        Ok(())
    })?;
    Ok(fs::metadata(path)?.len())
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
    write_atomic_with(path, |out| Ok(out.write_all(bytes)?))
}

/// Streams a file's contents into a temporary file beside `path` with `fill`, then renames it
/// into place; on any error the temporary file is removed and `path` is untouched.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let temp = sibling(path, "tmp");
    let result = (|| {
        let file =
            File::create(&temp).with_context(|| format!("{}: cannot write", temp.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        fill(&mut out)?;
        out.flush()
            .with_context(|| format!("{}: cannot write", temp.display()))?;
        fs::rename(&temp, path).with_context(|| format!("{}: cannot replace", path.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes a bundle folder: all files go into a temporary folder beside `dir`, which then takes
/// `dir`'s place (an existing bundle there is replaced only once the new one is complete).
pub fn write_dir(bundle: &Bundle, dir: &Path) -> Result<()> {
    write_dir_with(dir, |temp| write_files(bundle.files(), temp))
}

/// Writes `files` under `dir` (which exists), streaming each from where it lies.
pub fn write_files(files: &BundleFiles, dir: &Path) -> Result<()> {
    for (name, _) in files.iter() {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        let file =
            File::create(&path).with_context(|| format!("{}: cannot write", path.display()))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        std::io::copy(
            &mut ReleasingReader::new(files.shared(name)?.clone()),
            &mut out,
        )
        .and_then(|_| out.flush())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(())
}

/// Fills a temporary folder beside `dir` with `fill`, then swaps it into `dir`'s place; a
/// folder there that is not a bundle (no `config.json`) is never replaced.
pub fn write_dir_with(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if dir.exists() && !dir.join(tessera_core::bundle::CONFIG_FILE).exists() {
        bail!(
            "{}: exists and is not a bundle; refusing to replace it",
            dir.display()
        );
    }
    let temp = sibling(dir, "tmp");
    let _ = fs::remove_dir_all(&temp);
    fs::create_dir_all(&temp).with_context(|| format!("{}: cannot create", temp.display()))?;
    if let Err(error) = fill(&temp) {
        let _ = fs::remove_dir_all(&temp);
        return Err(error);
    }
    let old = sibling(dir, "old");
    let had_old = dir.exists();
    if had_old && let Err(error) = fs::rename(dir, &old) {
        let _ = fs::remove_dir_all(&temp);
        return Err(error).with_context(|| format!("{}: cannot move aside", dir.display()));
    }
    if let Err(error) = fs::rename(&temp, dir) {
        // Put the previous bundle back: a failed write must not lose it.
        let _ = fs::remove_dir_all(&temp);
        if had_old {
            let _ = fs::rename(&old, dir);
        }
        return Err(error).with_context(|| format!("{}: cannot create", dir.display()));
    }
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// `.NAME.KIND-PID` next to `path`.
/// A temporary path beside `path` (same folder, so a rename moves it into place).
pub fn temp_path(path: &Path) -> PathBuf {
    sibling(path, "tmp")
}

fn sibling(path: &Path, kind: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{kind}-{}", std::process::id()))
}
