//! The files of a bundle as relative path → bytes, and their single-archive (tar) form.

use std::collections::BTreeMap;
use std::io::Read;

use super::BundleError;

/// A bundle's files keyed by relative path with `/` separators (`tokenizers/genes/vocab.json`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BundleFiles {
    files: BTreeMap<String, Vec<u8>>,
}

impl BundleFiles {
    pub fn insert(&mut self, path: impl Into<String>, bytes: Vec<u8>) {
        self.files.insert(path.into(), bytes);
    }

    pub fn get(&self, path: &str) -> Result<&[u8], BundleError> {
        self.files
            .get(path)
            .map(Vec::as_slice)
            .ok_or_else(|| BundleError::MissingFile(path.into()))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Reads a tar archive of the bundle's files. Entries may start with `./`; absolute paths
    /// and `..` are refused, so an archive cannot name files outside its bundle.
    pub fn from_tar(bytes: &[u8]) -> Result<Self, BundleError> {
        let archive_error = |e: std::io::Error| BundleError::Archive(e.to_string());
        let mut archive = tar::Archive::new(bytes);
        let mut files = Self::default();
        for entry in archive.entries().map_err(archive_error)? {
            let mut entry = entry.map_err(archive_error)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let path = normalise(&raw).ok_or_else(|| {
                BundleError::Archive(format!("entry `{raw}` points outside the bundle"))
            })?;
            let mut data = Vec::with_capacity(entry.size() as usize);
            entry
                .read_to_end(&mut data)
                .map_err(|e| BundleError::Archive(format!("entry `{raw}`: {e}")))?;
            files.insert(path, data);
        }
        if files.files.is_empty() {
            return Err(BundleError::Archive("no files in the archive".into()));
        }
        Ok(files)
    }

    /// Writes the files as a tar archive (deterministic: sorted, zero mtimes).
    pub fn to_tar(&self) -> Result<Vec<u8>, BundleError> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in &self.files {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, path, data.as_slice())
                .map_err(|e| BundleError::Archive(format!("entry `{path}`: {e}")))?;
        }
        builder
            .into_inner()
            .map_err(|e| BundleError::Archive(e.to_string()))
    }
}

fn normalise(path: &str) -> Option<String> {
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
