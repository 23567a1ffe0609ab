//! The files of a bundle as relative path → bytes, and their single-archive (tar) form.
//!
//! Files are [`SharedBytes`]: reading a tar archive indexes its members where they lie (tar
//! stores them uncompressed), so a memory-mapped archive is never copied.

use std::collections::BTreeMap;
use std::io::Cursor;

use super::{BundleError, SharedBytes};

/// A bundle's files keyed by relative path with `/` separators (`tokenizers/genes/vocab.json`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BundleFiles {
    files: BTreeMap<String, SharedBytes>,
}

impl BundleFiles {
    pub fn insert(&mut self, path: impl Into<String>, bytes: impl Into<SharedBytes>) {
        self.files.insert(path.into(), bytes.into());
    }

    pub fn get(&self, path: &str) -> Result<&[u8], BundleError> {
        self.shared(path).map(SharedBytes::as_slice)
    }

    /// The file's bytes as a shareable window (no copy).
    pub fn shared(&self, path: &str) -> Result<&SharedBytes, BundleError> {
        self.files
            .get(path)
            .ok_or_else(|| BundleError::MissingFile(path.into()))
    }

    /// Takes a file out (`None` if there was none).
    pub fn remove(&mut self, path: &str) -> Option<SharedBytes> {
        self.files.remove(path)
    }

    pub fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Reads a tar archive of the bundle's files without copying them: each file is a window
    /// on `archive`. Entries may start with `./`; absolute paths and `..` are refused, so an
    /// archive cannot name files outside its bundle, and a member whose size reaches past the
    /// archive's end is refused by name.
    pub fn from_tar(archive: impl Into<SharedBytes>) -> Result<Self, BundleError> {
        let archive = archive.into();
        let archive_error = |e: std::io::Error| BundleError::Archive(e.to_string());
        let mut reader = tar::Archive::new(Cursor::new(archive.as_slice()));
        let mut files = Self::default();
        for entry in reader.entries_with_seek().map_err(archive_error)? {
            let entry = entry.map_err(archive_error)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let path = member_path(&raw).ok_or_else(|| {
                BundleError::Archive(format!("entry `{raw}` points outside the bundle"))
            })?;
            let start = usize::try_from(entry.raw_file_position()).ok();
            let size = usize::try_from(entry.size()).ok();
            let bytes = start
                .zip(size)
                .and_then(|(start, size)| archive.slice(start..start.checked_add(size)?))
                .ok_or_else(|| {
                    BundleError::Archive(format!(
                        "entry `{raw}` says {} bytes, more than the archive's {} hold",
                        entry.size(),
                        archive.len()
                    ))
                })?;
            files.insert(path, bytes);
        }
        if files.files.is_empty() {
            return Err(BundleError::Archive("no files in the archive".into()));
        }
        Ok(files)
    }

    /// Writes the files as a tar archive (deterministic: [`pack_order`], zero mtimes).
    pub fn to_tar(&self) -> Result<Vec<u8>, BundleError> {
        let mut builder = tar::Builder::new(Vec::new());
        let names: Vec<&str> = self.files.keys().map(String::as_str).collect();
        for path in pack_order(&names) {
            let data = self.files[path].as_slice();
            builder
                .append_data(&mut tar_header(data.len() as u64), path, data)
                .map_err(|e| BundleError::Archive(format!("entry `{path}`: {e}")))?;
        }
        builder
            .into_inner()
            .map_err(|e| BundleError::Archive(e.to_string()))
    }
}

/// The order files go into an archive: small files (config, tokenizer, vocabularies) first,
/// sorted, then the `.safetensors` weights, so a reader streaming the archive knows the model's
/// shape before its first tensor arrives.
pub fn pack_order<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut ordered = names.to_vec();
    ordered.sort_by_key(|name| (name.ends_with(".safetensors"), *name));
    ordered
}

/// The header of one archive member (regular file, mode 644, mtime 0: archives are
/// reproducible).
pub fn tar_header(size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header
}

/// An archive member's path inside its bundle: `./` and empty parts dropped; `None` for an
/// absolute path, one with `..`, or one with `\\` or `:` (Windows separators and drive or
/// stream names, which would let `..\\x` or `C:x` leave the folder there).
pub fn member_path(path: &str) -> Option<String> {
    if path.contains(['\\', ':']) {
        return None;
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => continue,
            ".." => return None,
            part => parts.push(part),
        }
    }
    (!path.starts_with('/') && !parts.is_empty()).then(|| parts.join("/"))
}
