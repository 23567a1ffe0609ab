//! The safetensors container read and written one tensor at a time: the header alone is
//! parsed (from a prefix of the file, so a stream can start before the data arrives), and a
//! writer lays out the header first and then takes each tensor's bytes in turn, so neither side
//! ever holds a whole file.
//!
//! The `safetensors` crate reads only whole in-memory files and serialises only from
//! borrowed tensors all held at once; this module is the streaming half it lacks.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::ops::Range;

use safetensors::Dtype;
use serde::{Deserialize, Serialize};

use super::BundleError;

/// Longest header accepted (the `safetensors` crate's limit too): a hostile length prefix is
/// refused before anything is allocated for it.
pub const MAX_HEADER: usize = 100_000_000;

/// One tensor of a safetensors file: where its bytes are, relative to the file's start.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Byte range in the file (header included in the offsets).
    pub range: Range<usize>,
}

impl TensorEntry {
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
}

#[derive(Deserialize, Serialize)]
struct RawEntry {
    dtype: Dtype,
    shape: Vec<usize>,
    data_offsets: [usize; 2],
}

fn corrupt(file: &str, message: impl ToString) -> BundleError {
    BundleError::Corrupt {
        file: file.into(),
        message: message.to_string(),
    }
}

/// The header's length prefix: how many bytes the header takes after the first 8, or `None`
/// while fewer than 8 bytes are known.
pub fn header_len(file: &str, prefix: &[u8]) -> Result<Option<usize>, BundleError> {
    let Some(first) = prefix.get(..8) else {
        return Ok(None);
    };
    let n = u64::from_le_bytes(first.try_into().expect("8 bytes"));
    if n > MAX_HEADER as u64 {
        return Err(corrupt(
            file,
            format!("header length {n} is over the {MAX_HEADER}-byte limit"),
        ));
    }
    Ok(Some(n as usize))
}

/// Parses the header from a prefix of the file holding at least `8 + header_len` bytes, and
/// checks every entry against `file_len`, the file's real size: offsets must tile the data
/// exactly and each size must match its dtype and shape, or the tensor is named.
/// Entries come back in file order.
pub fn parse_header(
    file: &str,
    prefix: &[u8],
    file_len: usize,
) -> Result<Vec<TensorEntry>, BundleError> {
    let n = header_len(file, prefix)?.ok_or_else(|| corrupt(file, "shorter than 8 bytes"))?;
    let data_start = 8 + n;
    let header = prefix.get(8..data_start).ok_or_else(|| {
        corrupt(
            file,
            format!(
                "header says {n} bytes, the file has {}",
                file_len.saturating_sub(8)
            ),
        )
    })?;
    let raw: HashMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| corrupt(file, format!("header: {e}")))?;
    let mut entries = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        if name == "__metadata__" {
            continue;
        }
        let entry: RawEntry = serde_json::from_value(value)
            .map_err(|e| corrupt(file, format!("tensor `{name}`: {e}")))?;
        let [start, end] = entry.data_offsets;
        let bytes = entry
            .shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .and_then(|n| n.checked_mul(entry.dtype.bitsize()))
            .filter(|bits| bits % 8 == 0)
            .map(|bits| bits / 8);
        if bytes != end.checked_sub(start) {
            return Err(corrupt(
                file,
                format!(
                    "tensor `{name}`: {:?} {:?} does not take bytes {start}..{end}",
                    entry.dtype, entry.shape
                ),
            ));
        }
        entries.push(TensorEntry {
            name,
            dtype: entry.dtype,
            shape: entry.shape,
            range: data_start + start..data_start + end,
        });
    }
    entries.sort_by_key(|e| e.range.start);
    let mut at = data_start;
    for entry in &entries {
        if entry.range.start != at {
            return Err(corrupt(
                file,
                format!(
                    "tensor `{}` does not start where the one before ends",
                    entry.name
                ),
            ));
        }
        at = entry.range.end;
    }
    if at != file_len {
        return Err(corrupt(
            file,
            format!("the header describes {at} bytes, the file has {file_len}"),
        ));
    }
    Ok(entries)
}

/// What the writer needs to know of a tensor before its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<usize>,
}

impl TensorSpec {
    pub fn new(name: impl Into<String>, dtype: Dtype, shape: Vec<usize>) -> Self {
        Self {
            name: name.into(),
            dtype,
            shape,
        }
    }

    pub fn byte_len(&self) -> usize {
        self.shape.iter().product::<usize>() * self.dtype.bitsize() / 8
    }
}

/// Writes a safetensors file tensor by tensor: the header (with every offset) goes out
/// first, then [`SafetensorsWriter::tensor`] takes each tensor's bytes in the order given.
pub struct SafetensorsWriter<W: Write> {
    out: W,
    specs: Vec<TensorSpec>,
    next: usize,
    file: String,
}

impl<W: Write> SafetensorsWriter<W> {
    /// Writes the header for `specs` (in that data order) to `out`; `file` names the file in
    /// errors.
    pub fn new(
        file: &str,
        mut out: W,
        specs: Vec<TensorSpec>,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Self, BundleError> {
        let mut header = serde_json::Map::new();
        if !metadata.is_empty() {
            header.insert("__metadata__".into(), serde_json::json!(metadata));
        }
        let mut offset = 0;
        for spec in &specs {
            let end = offset + spec.byte_len();
            let entry = RawEntry {
                dtype: spec.dtype,
                shape: spec.shape.clone(),
                data_offsets: [offset, end],
            };
            let value = serde_json::to_value(entry).map_err(|e| save(file, e))?;
            if header.insert(spec.name.clone(), value).is_some() {
                return Err(save(file, format!("tensor `{}` twice", spec.name)));
            }
            offset = end;
        }
        let mut json = serde_json::to_vec(&header).map_err(|e| save(file, e))?;
        // The data starts 8-byte aligned, as the format's own writer does it.
        json.resize(json.len().next_multiple_of(8), b' ');
        out.write_all(&(json.len() as u64).to_le_bytes())
            .and_then(|()| out.write_all(&json))
            .map_err(|e| save(file, e))?;
        Ok(Self {
            out,
            specs,
            next: 0,
            file: file.into(),
        })
    }

    /// The tensor whose bytes are expected next, or `None` once all are written.
    pub fn next_spec(&self) -> Option<&TensorSpec> {
        self.specs.get(self.next)
    }

    /// Writes the next tensor's bytes; their length must be what its spec says.
    pub fn tensor(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        let spec = self
            .specs
            .get(self.next)
            .ok_or_else(|| save(&self.file, "more tensors than the header lists"))?;
        if bytes.len() != spec.byte_len() {
            return Err(save(
                &self.file,
                format!(
                    "tensor `{}`: {} bytes, its header says {}",
                    spec.name,
                    bytes.len(),
                    spec.byte_len()
                ),
            ));
        }
        self.out.write_all(bytes).map_err(|e| save(&self.file, e))?;
        self.next += 1;
        Ok(())
    }

    /// Checks that every tensor was written and hands back the output.
    pub fn finish(mut self) -> Result<W, BundleError> {
        if let Some(spec) = self.specs.get(self.next) {
            return Err(save(
                &self.file,
                format!("tensor `{}` was never written", spec.name),
            ));
        }
        self.out.flush().map_err(|e| save(&self.file, e))?;
        Ok(self.out)
    }
}

fn save(file: &str, message: impl ToString) -> BundleError {
    BundleError::Save {
        file: file.into(),
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(specs: Vec<TensorSpec>, data: &[&[u8]]) -> Vec<u8> {
        let mut writer = SafetensorsWriter::new("t", Vec::new(), specs, &BTreeMap::new()).unwrap();
        for bytes in data {
            writer.tensor(bytes).unwrap();
        }
        writer.finish().unwrap()
    }

    #[test]
    fn what_the_writer_lays_out_the_crate_and_the_parser_read_back() {
        let specs = vec![
            TensorSpec::new("b", Dtype::F32, vec![2]),
            TensorSpec::new("a", Dtype::I8, vec![3]),
        ];
        let file = written(specs, &[&[0, 0, 128, 63, 0, 0, 0, 64], &[1, 2, 255]]);
        let crate_view = safetensors::SafeTensors::deserialize(&file).unwrap();
        assert_eq!(crate_view.tensor("a").unwrap().data(), &[1, 2, 255]);
        let entries = parse_header("t", &file, file.len()).unwrap();
        assert_eq!(
            entries.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["b", "a"],
            "file order"
        );
        assert_eq!(&file[entries[1].range.clone()], &[1, 2, 255]);
    }

    #[test]
    fn sizes_past_the_file_are_refused_by_name() {
        let specs = vec![TensorSpec::new("w", Dtype::F32, vec![2])];
        let file = written(specs, &[&[0; 8]]);
        let error = parse_header("m.safetensors", &file, file.len() + 4).unwrap_err();
        assert!(error.to_string().contains("the file has"), "{error}");
        let mut huge = file.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        let error = parse_header("m.safetensors", &huge, huge.len()).unwrap_err();
        assert!(error.to_string().contains("over the"), "{error}");
        let error = parse_header("m.safetensors", &file[..12], file.len()).unwrap_err();
        assert!(error.to_string().contains("header says"), "{error}");
    }

    #[test]
    fn a_short_write_is_an_error() {
        let specs = vec![TensorSpec::new("w", Dtype::F32, vec![2])];
        let mut writer = SafetensorsWriter::new("t", Vec::new(), specs, &BTreeMap::new()).unwrap();
        assert!(
            writer
                .tensor(&[0; 4])
                .unwrap_err()
                .to_string()
                .contains("`w`")
        );
        assert!(
            writer
                .finish()
                .unwrap_err()
                .to_string()
                .contains("never written")
        );
    }
}
