//! A bundle archive read as its bytes arrive (the browser's download or file stream): small
//! files are kept, and `model.safetensors` is handed on tensor by tensor as its pieces arrive,
//! so neither the archive nor a tensor's stored bytes are held here. Tar is parsed here because the `tar` crate reads only from a
//! blocking `Read`, which a JS stream cannot be.

use super::safetensors::{TensorEntry, header_len, parse_header};
use super::{BundleError, BundleFiles, WEIGHTS_FILE, member_path};

const BLOCK: usize = 512;
/// Small files are held in memory; a member larger than this that is not the weights is
/// refused (a hostile size cannot make the reader allocate it).
const MAX_SMALL_FILE: u64 = 256 << 20;

/// Where the reader is in the archive.
enum State {
    /// Collecting a 512-byte header block.
    Header,
    /// Inside a small file (or a GNU long name / PAX record), `left` bytes to go.
    Small {
        name: Option<String>,
        kind: Meta,
        data: Vec<u8>,
        left: u64,
    },
    /// Inside the weights file.
    Weights(WeightsReader),
    /// Skipping `left` bytes: a member that is not a file, or (`padding`) the zeros after a
    /// member's data.
    Skip { left: u64, padding: bool },
    /// A zero block was read: the archive is over.
    End,
}

#[derive(Clone, Copy, PartialEq)]
enum Meta {
    File,
    LongName,
    Pax,
}

/// Reads one safetensors member as it arrives.
struct WeightsReader {
    size: usize,
    read: usize,
    prefix: Vec<u8>,
    entries: Option<std::vec::IntoIter<TensorEntry>>,
    /// Bytes left in the current tensor, if one is open.
    current: Option<usize>,
}

/// A piece of `model.safetensors` as a [`BundleStream`] reads it.
#[derive(Debug)]
pub enum TensorPiece<'a> {
    /// A tensor starts (its header entry); its bytes follow, then [`TensorPiece::End`].
    Start(TensorEntry),
    /// The current tensor's next bytes.
    Bytes(&'a [u8]),
    /// The current tensor is complete.
    End,
}

/// Where a [`BundleStream`] hands the weights' pieces, with the small files read so far.
pub type TensorSink<'a> = dyn FnMut(&BundleFiles, TensorPiece<'_>) -> Result<(), BundleError> + 'a;

/// A bundle archive read chunk by chunk; see the module doc.
pub struct BundleStream {
    state: State,
    block: Vec<u8>,
    files: BundleFiles,
    long_name: Option<String>,
    padding: u64,
    received: u64,
    weights_seen: bool,
}

impl Default for BundleStream {
    fn default() -> Self {
        Self::new()
    }
}

fn archive(message: impl Into<String>) -> BundleError {
    BundleError::Archive(message.into())
}

impl BundleStream {
    pub fn new() -> Self {
        Self {
            state: State::Header,
            block: Vec::with_capacity(BLOCK),
            files: BundleFiles::default(),
            long_name: None,
            padding: 0,
            received: 0,
            weights_seen: false,
        }
    }

    /// The small files read so far (all of them, `config.json` included, once the weights
    /// start in an archive packed by `tessera bundle pack`).
    pub fn files(&self) -> &BundleFiles {
        &self.files
    }

    /// Bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Feeds the next bytes of the archive; the pieces of `model.safetensors`'s tensors are
    /// handed to `tensor` with the small files read before them.
    pub fn push(
        &mut self,
        mut chunk: &[u8],
        tensor: &mut TensorSink<'_>,
    ) -> Result<(), BundleError> {
        self.received += chunk.len() as u64;
        while !chunk.is_empty() {
            let used = self.step(chunk, tensor)?;
            chunk = &chunk[used..];
        }
        Ok(())
    }

    /// One step of the state machine over the front of `chunk`; returns the bytes used.
    fn step(&mut self, chunk: &[u8], tensor: &mut TensorSink<'_>) -> Result<usize, BundleError> {
        match &mut self.state {
            State::End => Ok(chunk.len()),
            State::Skip { left, .. } => {
                let n = (*left).min(chunk.len() as u64) as usize;
                *left -= n as u64;
                if *left == 0 {
                    self.state = State::Header;
                }
                Ok(n)
            }
            State::Header => {
                let n = (BLOCK - self.block.len()).min(chunk.len());
                self.block.extend_from_slice(&chunk[..n]);
                if self.block.len() == BLOCK {
                    let block = std::mem::take(&mut self.block);
                    self.header(&block)?;
                }
                Ok(n)
            }
            State::Small { left, data, .. } => {
                let n = (*left).min(chunk.len() as u64) as usize;
                data.extend_from_slice(&chunk[..n]);
                *left -= n as u64;
                if *left == 0 {
                    self.end_small()?;
                }
                Ok(n)
            }
            State::Weights(reader) => {
                let n = (reader.size - reader.read).min(chunk.len());
                reader.take(&chunk[..n], &self.files, tensor)?;
                if reader.read == reader.size {
                    reader.finish()?;
                    self.state = self.after_member();
                }
                Ok(n)
            }
        }
    }

    /// The state after a member's data: its padding to the next 512-byte block, if any.
    fn after_member(&mut self) -> State {
        match std::mem::take(&mut self.padding) {
            0 => State::Header,
            left => State::Skip {
                left,
                padding: true,
            },
        }
    }

    fn header(&mut self, block: &[u8]) -> Result<(), BundleError> {
        if block.iter().all(|&b| b == 0) {
            // The first zero block ends the archive, as for the `tar` crate and GNU tar: what
            // follows (the second zero block, or anything) is not read.
            self.state = State::End;
            return Ok(());
        }
        let header = tar::Header::from_byte_slice(block);
        let size = header
            .entry_size()
            .map_err(|e| archive(format!("bad member header: {e}")))?;
        self.padding = size.next_multiple_of(BLOCK as u64) - size;
        let kind = header.entry_type();
        let raw = match self.long_name.take() {
            Some(name) => name,
            None => String::from_utf8_lossy(&header.path_bytes()).into_owned(),
        };
        let meta = if kind.is_gnu_longname() {
            Some(Meta::LongName)
        } else if kind.is_pax_local_extensions() {
            Some(Meta::Pax)
        } else {
            None
        };
        if let Some(meta) = meta {
            return self.start_small(None, meta, size);
        }
        if !kind.is_file() {
            let left = size + std::mem::take(&mut self.padding);
            self.state = if left == 0 {
                State::Header
            } else {
                State::Skip {
                    left,
                    padding: false,
                }
            };
            return Ok(());
        }
        let path = member_path(&raw)
            .ok_or_else(|| archive(format!("entry `{raw}` points outside the bundle")))?;
        if path == WEIGHTS_FILE {
            self.weights_seen = true;
            let size = usize::try_from(size)
                .map_err(|_| archive(format!("entry `{raw}`: {size} bytes is too large")))?;
            self.state = State::Weights(WeightsReader {
                size,
                read: 0,
                prefix: Vec::new(),
                entries: None,
                current: None,
            });
            if size == 0 {
                return Err(BundleError::Corrupt {
                    file: WEIGHTS_FILE.into(),
                    message: "empty".into(),
                });
            }
            return Ok(());
        }
        self.start_small(Some(path), Meta::File, size)
    }

    fn start_small(
        &mut self,
        name: Option<String>,
        kind: Meta,
        size: u64,
    ) -> Result<(), BundleError> {
        if size > MAX_SMALL_FILE {
            return Err(archive(format!(
                "entry `{}` says {size} bytes; only model.safetensors may be over {MAX_SMALL_FILE}",
                name.as_deref().unwrap_or("(header)")
            )));
        }
        self.state = State::Small {
            name,
            kind,
            // Grown as the bytes arrive, so a size the header only claims is never allocated.
            data: Vec::with_capacity((size as usize).min(1 << 16)),
            left: size,
        };
        if size == 0 {
            self.end_small()?;
        }
        Ok(())
    }

    fn end_small(&mut self) -> Result<(), BundleError> {
        let state = std::mem::replace(&mut self.state, State::Header);
        let State::Small {
            name, kind, data, ..
        } = state
        else {
            unreachable!("called in the Small state")
        };
        match kind {
            Meta::File => self.files.insert(name.expect("files have names"), data),
            Meta::LongName => {
                let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                self.long_name = Some(String::from_utf8_lossy(&data[..end]).into_owned());
            }
            Meta::Pax => self.long_name = pax_path(&data),
        }
        self.state = self.after_member();
        Ok(())
    }

    /// Ends the stream: the archive must have been whole, with the weights in it.
    pub fn finish(self) -> Result<BundleFiles, BundleError> {
        match self.state {
            // A cut inside the last member's padding or the closing zero blocks loses nothing
            // (tar readers accept it too).
            State::End | State::Skip { padding: true, .. } => {}
            State::Header if self.block.iter().all(|&b| b == 0) => {}
            _ => {
                return Err(archive(format!(
                    "the archive ends early, after {} bytes",
                    self.received
                )));
            }
        }
        if !self.weights_seen {
            return Err(BundleError::MissingFile(WEIGHTS_FILE.into()));
        }
        Ok(self.files)
    }
}

/// The `path` record of a PAX extended header (`"LEN path=VALUE\n"` records).
fn pax_path(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines().find_map(|line| {
        let (_, record) = line.split_once(' ')?;
        record.strip_prefix("path=").map(str::to_string)
    })
}

impl WeightsReader {
    fn take(
        &mut self,
        mut bytes: &[u8],
        files: &BundleFiles,
        tensor: &mut TensorSink<'_>,
    ) -> Result<(), BundleError> {
        while !bytes.is_empty() {
            if self.entries.is_none() {
                // Still in the header: it is parsed once all of it is here.
                let want = match header_len(WEIGHTS_FILE, &self.prefix)? {
                    Some(n) => 8 + n,
                    None => 8,
                };
                if want > self.size {
                    return Err(BundleError::Corrupt {
                        file: WEIGHTS_FILE.into(),
                        message: format!("header of {want} bytes in a {}-byte file", self.size),
                    });
                }
                let n = (want - self.prefix.len()).min(bytes.len());
                self.prefix.extend_from_slice(&bytes[..n]);
                self.read += n;
                bytes = &bytes[n..];
                if self.prefix.len() == want && want > 8 {
                    let entries = parse_header(WEIGHTS_FILE, &self.prefix, self.size)?;
                    self.entries = Some(entries.into_iter());
                    self.prefix = Vec::new();
                    self.next_tensor(files, tensor)?;
                }
                continue;
            }
            let Some(left) = &mut self.current else {
                return Err(BundleError::Corrupt {
                    file: WEIGHTS_FILE.into(),
                    message: "bytes after the last tensor".into(),
                });
            };
            let n = (*left).min(bytes.len());
            *left -= n;
            let done = *left == 0;
            tensor(files, TensorPiece::Bytes(&bytes[..n]))?;
            self.read += n;
            bytes = &bytes[n..];
            if done {
                tensor(files, TensorPiece::End)?;
                self.next_tensor(files, tensor)?;
            }
        }
        Ok(())
    }

    /// Starts the next tensor; empty tensors end as soon as they start.
    fn next_tensor(
        &mut self,
        files: &BundleFiles,
        tensor: &mut TensorSink<'_>,
    ) -> Result<(), BundleError> {
        self.current = None;
        let Some(entries) = &mut self.entries else {
            return Ok(());
        };
        for entry in entries.by_ref() {
            let len = entry.range.len();
            tensor(files, TensorPiece::Start(entry))?;
            if len > 0 {
                self.current = Some(len);
                return Ok(());
            }
            tensor(files, TensorPiece::End)?;
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), BundleError> {
        if self.entries.is_none() || self.current.is_some() {
            return Err(BundleError::Corrupt {
                file: WEIGHTS_FILE.into(),
                message: "ends before its last tensor".into(),
            });
        }
        Ok(())
    }
}
