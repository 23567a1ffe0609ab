//! Pieces shared by the text readers (10x MatrixMarket, CSV/TSV): gzip-transparent line reading
//! with line numbers, scanpy's unique names, and triplets → CSR.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, ErrorKind, Read};

use flate2::read::MultiGzDecoder;

use super::DataError;

/// Whether `bytes` start with the gzip magic number (names ending in `.gz` are not trusted:
/// browsers and download tools sometimes decompress on the fly and keep the name).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// The longest line a text reader takes (64 MiB). A cells × genes row of 60,000 genes is under
/// 1 MB and a genes × cells row of a million cells a few MB; the cap stops a compressed file of
/// one endless line (a gzip bomb) from expanding into memory.
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// The lines of a text file held in memory, decompressed on the fly when it is gzip (so a large
/// compressed file is never expanded whole); every error names the file and the line.
pub(crate) struct Lines<'a> {
    file: &'a str,
    reader: Box<dyn BufRead + 'a>,
    buffer: Vec<u8>,
    /// 1-based number of the line last returned.
    number: usize,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(file: &'a str, bytes: &'a [u8]) -> Self {
        let reader: Box<dyn BufRead + 'a> = if is_gzip(bytes) {
            // Multi-member, as bgzip and concatenated gzip files are.
            let decoder = LineCapped {
                inner: MultiGzDecoder::new(bytes),
                run: 0,
            };
            Box::new(BufReader::with_capacity(1 << 16, decoder))
        } else {
            Box::new(bytes)
        };
        Lines {
            file,
            reader,
            buffer: Vec::new(),
            number: 0,
        }
    }

    pub(crate) fn file(&self) -> &'a str {
        self.file
    }

    /// The next line (its 1-based number, its text without `\n` or `\r\n`), or `None` at the
    /// end of the file.
    pub(crate) fn next_line(&mut self) -> Result<Option<(usize, &str)>, DataError> {
        self.buffer.clear();
        let read = self.reader.read_until(b'\n', &mut self.buffer);
        self.number += 1;
        let message = match read {
            Ok(0) => return Ok(None),
            Ok(n) if n <= MAX_LINE_BYTES + 2 => None,
            // Plain text is in memory already; a gzip stream stops at the cap (`LineCapped`).
            Ok(_) => Some(too_long()),
            Err(e) if e.kind() == ErrorKind::FileTooLarge => Some(too_long()),
            Err(e) => Some(format!("the gzip data is corrupt ({e})")),
        };
        if let Some(message) = message {
            return Err(line_error(self.file, self.number, message));
        }
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
        }
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        let mut line = std::str::from_utf8(&self.buffer).map_err(|e| {
            let message = format!("not UTF-8 text (byte {} of the line)", e.valid_up_to() + 1);
            line_error(self.file, self.number, message)
        })?;
        if self.number == 1 {
            // Spreadsheet programs start UTF-8 text with a byte-order mark.
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        Ok(Some((self.number, line)))
    }
}

fn too_long() -> String {
    format!("longer than {} MiB", MAX_LINE_BYTES >> 20)
}

/// Decompressed bytes that fail (`FileTooLarge`) once a line runs past [`MAX_LINE_BYTES`], so a
/// small gzip file of one endless line is refused instead of expanded into memory.
struct LineCapped<R> {
    inner: R,
    /// Bytes since the last line break.
    run: usize,
}

impl<R: Read> Read for LineCapped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.run = match buf[..n].iter().rposition(|&b| b == b'\n') {
            Some(at) => n - 1 - at,
            None => self.run + n,
        };
        if self.run > MAX_LINE_BYTES + 1 {
            return Err(ErrorKind::FileTooLarge.into());
        }
        Ok(n)
    }
}

/// An error about line `line` of `file`.
pub(crate) fn line_error(file: &str, line: usize, message: impl std::fmt::Display) -> DataError {
    DataError::Format {
        file: file.into(),
        message: format!("line {line}: {message}"),
    }
}

/// Makes names unique as scanpy's `var_names_make_unique` (anndata's `make_index_unique`) does:
/// the first occurrence keeps its name, later ones become `NAME-1`, `NAME-2`, …, skipping any
/// suffixed name that already exists, so names match what users see in Python.
pub fn make_unique(names: &mut [String]) {
    let mut seen = HashSet::with_capacity(names.len());
    let duplicates: Vec<usize> = (0..names.len())
        .filter(|&i| !seen.insert(names[i].clone()))
        .collect();
    let mut counter: HashMap<String, usize> = HashMap::new();
    for i in duplicates {
        let count = counter.entry(names[i].clone()).or_default();
        loop {
            *count += 1;
            let candidate = format!("{}-{}", names[i], count);
            if seen.insert(candidate.clone()) {
                names[i] = candidate;
                break;
            }
        }
    }
}

/// Nonzero entries as (row, column, value) in any order; what the text readers collect before
/// the CSR is built.
#[derive(Default)]
pub(crate) struct Triplets {
    pub rows: Vec<u32>,
    pub columns: Vec<u32>,
    pub values: Vec<f32>,
}

impl Triplets {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Triplets {
            rows: Vec::with_capacity(n),
            columns: Vec::with_capacity(n),
            values: Vec::with_capacity(n),
        }
    }

    pub(crate) fn push(&mut self, row: u32, column: u32, value: f32) {
        self.rows.push(row);
        self.columns.push(column);
        self.values.push(value);
    }

    /// CSR `(indptr, indices, values)` over `n_rows` rows, columns ascending within each row and
    /// repeated (row, column) entries summed, as scipy's COO → CSR conversion does.
    pub(crate) fn into_csr(self, n_rows: usize) -> (Vec<usize>, Vec<u32>, Vec<f32>) {
        let Triplets {
            rows,
            columns,
            values,
        } = self;
        // Counting sort by row; stable, so rows already in column order stay that way.
        let mut indptr = vec![0usize; n_rows + 1];
        for &r in &rows {
            indptr[r as usize + 1] += 1;
        }
        for r in 0..n_rows {
            indptr[r + 1] += indptr[r];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; values.len()];
        let mut sorted = vec![0f32; values.len()];
        for ((r, c), v) in rows.into_iter().zip(columns).zip(values) {
            let slot = &mut next[r as usize];
            indices[*slot] = c;
            sorted[*slot] = v;
            *slot += 1;
        }
        // Order each row by column where needed, then merge repeats in place.
        let mut write = 0;
        let mut start = 0;
        for r in 0..n_rows {
            let end = indptr[r + 1];
            if !indices[start..end].is_sorted() {
                let mut pairs: Vec<(u32, f32)> = indices[start..end]
                    .iter()
                    .copied()
                    .zip(sorted[start..end].iter().copied())
                    .collect();
                pairs.sort_by_key(|&(c, _)| c);
                for (k, (c, v)) in pairs.into_iter().enumerate() {
                    indices[start + k] = c;
                    sorted[start + k] = v;
                }
            }
            let row_start = write;
            for k in start..end {
                if write > row_start && indices[write - 1] == indices[k] {
                    sorted[write - 1] += sorted[k];
                } else {
                    indices[write] = indices[k];
                    sorted[write] = sorted[k];
                    write += 1;
                }
            }
            start = end;
            indptr[r + 1] = write;
        }
        indices.truncate(write);
        sorted.truncate(write);
        (indptr, indices, sorted)
    }
}

/// A count: a finite number ≥ 0 (integer or not); the error says what is wrong with `token`.
pub(crate) fn parse_count(token: &str) -> Result<f32, String> {
    let value: f32 = token
        .parse()
        .map_err(|_| format!("`{token}` is not a number"))?;
    if !value.is_finite() {
        Err(format!("`{token}` is not a finite count"))
    } else if value < 0.0 {
        Err(format!("`{token}` is negative; counts must be ≥ 0"))
    } else {
        Ok(value)
    }
}
