//! One stored tensor decoded, piece by piece as its bytes arrive, into the one buffer its
//! parameter takes: floats and q8 as f32 (a Linear weight straight into burn's transposed
//! layout), integers as stored — so no tensor is ever held both encoded and decoded.

use burn::tensor::{DType, TensorData};
use safetensors::Dtype;

use super::BundleError;
use super::dtype::{decode_float_into, is_float};
use super::safetensors::TensorEntry;

/// Values decoded per step: a bounded scratch buffer, whatever the size of a piece.
const STEP: usize = 16 * 1024;

pub(super) fn tensor_error(file: &str, tensor: &str, message: impl ToString) -> BundleError {
    BundleError::Tensor {
        file: file.into(),
        tensor: tensor.into(),
        message: message.to_string(),
    }
}

/// The burn dtype a stored tensor loads as: every float (and q8) as f32, integers as they are.
pub(super) fn load_dtype(file: &str, entry: &TensorEntry) -> Result<DType, BundleError> {
    Ok(match entry.dtype {
        d if is_float(d) || d == Dtype::I8 => DType::F32,
        Dtype::I64 => DType::I64,
        Dtype::I32 => DType::I32,
        Dtype::I16 => DType::I16,
        Dtype::U8 => DType::U8,
        Dtype::U32 => DType::U32,
        Dtype::U64 => DType::U64,
        other => {
            return Err(tensor_error(
                file,
                &entry.name,
                format!("{other:?} tensors cannot be loaded"),
            ));
        }
    })
}

/// A tensor being decoded; see the module doc.
pub(super) struct TensorDecoder {
    file: String,
    entry: TensorEntry,
    /// Written column-major (`[cols, rows]`), burn's Linear layout.
    transposed: bool,
    values: Values,
    /// Bytes received so far.
    received: usize,
    /// The first bytes of a value split between two pieces.
    carry: Vec<u8>,
}

enum Values {
    /// Floats and int8 (not yet scaled) as f32, `rows × cols`; `at` = values decoded.
    Float {
        out: Vec<f32>,
        rows: usize,
        cols: usize,
        at: usize,
        scratch: Vec<f32>,
    },
    /// Integer tensors, kept as stored.
    Raw(Vec<u8>),
}

impl TensorDecoder {
    /// A decoder for `entry` (checked: a dtype that loads, the byte length its shape needs).
    pub fn new(file: &str, entry: &TensorEntry, transposed: bool) -> Result<Self, BundleError> {
        let dtype = load_dtype(file, entry)?;
        let count: usize = entry.shape.iter().product();
        let width = entry.dtype.bitsize() / 8;
        if entry.range.len() != count * width {
            return Err(tensor_error(
                file,
                &entry.name,
                format!(
                    "{} bytes for {:?} {:?}",
                    entry.range.len(),
                    entry.dtype,
                    entry.shape
                ),
            ));
        }
        let values = if dtype == DType::F32 {
            let (rows, cols) = match entry.shape.as_slice() {
                [rows, cols] => (*rows, *cols),
                _ => (1, count),
            };
            // A size read from the file is not trusted to fit: the allocation may fail, by name.
            let mut out = Vec::new();
            out.try_reserve_exact(count).map_err(|_| {
                tensor_error(
                    file,
                    &entry.name,
                    format!(
                        "{count} values ({:.0} MiB as f32) do not fit in memory",
                        count as f64 * 4.0 / (1024.0 * 1024.0)
                    ),
                )
            })?;
            out.resize(count, 0f32);
            Values::Float {
                out,
                rows,
                cols,
                at: 0,
                scratch: Vec::new(),
            }
        } else {
            Values::Raw(Vec::with_capacity(entry.range.len()))
        };
        Ok(Self {
            file: file.into(),
            entry: entry.clone(),
            transposed: transposed && entry.shape.len() == 2 && dtype == DType::F32,
            values,
            received: 0,
            carry: Vec::new(),
        })
    }

    pub fn entry(&self) -> &TensorEntry {
        &self.entry
    }

    /// Whether it is decoded column-major (a 2-D float tensor asked for transposed).
    pub fn transposed(&self) -> bool {
        self.transposed
    }

    /// Decodes the tensor's next bytes.
    pub fn push(&mut self, mut bytes: &[u8]) -> Result<(), BundleError> {
        let left = self.entry.range.len() - self.received;
        if bytes.len() > left {
            return Err(tensor_error(
                &self.file,
                &self.entry.name,
                format!("{} bytes past its end", bytes.len() - left),
            ));
        }
        self.received += bytes.len();
        let width = self.entry.dtype.bitsize() / 8;
        if let Values::Raw(raw) = &mut self.values {
            raw.extend_from_slice(bytes);
            return Ok(());
        }
        if !self.carry.is_empty() {
            let n = (width - self.carry.len()).min(bytes.len());
            self.carry.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.carry.len() < width {
                return Ok(());
            }
            let carry = std::mem::take(&mut self.carry);
            self.decode(&carry)?;
        }
        let whole = bytes.len() / width * width;
        for piece in bytes[..whole].chunks(STEP * width) {
            self.decode(piece)?;
        }
        self.carry.extend_from_slice(&bytes[whole..]);
        Ok(())
    }

    /// Decodes whole stored values and puts them where they go.
    fn decode(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        let Values::Float {
            out,
            rows,
            cols,
            at,
            scratch,
        } = &mut self.values
        else {
            unreachable!("called for floats only")
        };
        let n = bytes.len() / (self.entry.dtype.bitsize() / 8);
        scratch.resize(n, 0.0);
        if self.entry.dtype == Dtype::I8 {
            for (value, &q) in scratch.iter_mut().zip(bytes) {
                *value = q as i8 as f32;
            }
        } else {
            decode_float_into(
                &self.file,
                &self.entry.name,
                self.entry.dtype,
                bytes,
                scratch,
            )?;
        }
        if self.transposed {
            let (rows, cols) = (*rows, *cols);
            let (mut r, mut c) = (*at / cols, *at % cols);
            for &value in scratch.iter() {
                out[c * rows + r] = value;
                c += 1;
                if c == cols {
                    c = 0;
                    r += 1;
                }
            }
        } else {
            out[*at..*at + n].copy_from_slice(scratch);
        }
        *at += n;
        Ok(())
    }

    /// Whether every byte has arrived.
    pub fn complete(&self) -> bool {
        self.received == self.entry.range.len()
    }

    /// The decoded tensor (`scales`: a q8 weight's, one per row), in burn's layout; the shape
    /// is reversed if it was decoded transposed.
    pub fn finish(self, scales: Option<&[f32]>) -> Result<TensorData, BundleError> {
        let error = |message: String| tensor_error(&self.file, &self.entry.name, message);
        if !self.complete() {
            return Err(error(format!(
                "ends after {} of its {} bytes",
                self.received,
                self.entry.range.len()
            )));
        }
        let mut shape = self.entry.shape.clone();
        let mut out = match self.values {
            Values::Raw(raw) => {
                let dtype = load_dtype(&self.file, &self.entry)?;
                return Ok(TensorData::from_bytes_vec(raw, shape, dtype));
            }
            Values::Float { out, .. } => out,
        };
        match (self.entry.dtype == Dtype::I8, scales) {
            (true, Some(scales)) if scales.len() == shape[0] => {
                let rows = shape[0];
                if self.transposed {
                    for column in out.chunks_exact_mut(rows) {
                        column.iter_mut().zip(scales).for_each(|(v, s)| *v *= s);
                    }
                } else {
                    let cols = out.len() / rows.max(1);
                    for (row, s) in out.chunks_exact_mut(cols.max(1)).zip(scales) {
                        row.iter_mut().for_each(|v| *v *= s);
                    }
                }
            }
            (true, _) => return Err(error("int8 weights without their q8 scales".into())),
            (false, Some(_)) => {
                return Err(error("q8 scales for a tensor that is not int8".into()));
            }
            (false, None) => {}
        }
        if self.transposed {
            shape.reverse();
        }
        Ok(TensorData::new(out, shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::dtype::encode_float;

    fn entry(dtype: Dtype, shape: &[usize]) -> TensorEntry {
        let len = shape.iter().product::<usize>() * dtype.bitsize() / 8;
        TensorEntry {
            name: "t".into(),
            dtype,
            shape: shape.to_vec(),
            range: 0..len,
        }
    }

    /// Whatever the piece sizes, the tensor decodes to its values (transposed on request).
    #[test]
    fn pieces_of_any_size_decode_alike() {
        let values: Vec<f32> = (0..35).map(|i| i as f32 * 0.25 - 3.0).collect();
        for dtype in [Dtype::F32, Dtype::F16, Dtype::BF16] {
            let bytes = encode_float(&values, dtype);
            for piece in [1, 3, 7, 64, bytes.len()] {
                for transposed in [false, true] {
                    let mut decoder =
                        TensorDecoder::new("f", &entry(dtype, &[5, 7]), transposed).unwrap();
                    bytes
                        .chunks(piece)
                        .try_for_each(|b| decoder.push(b))
                        .unwrap();
                    let data = decoder.finish(None).unwrap();
                    let got = data.try_to_vec::<f32>().unwrap();
                    for r in 0..5 {
                        for c in 0..7 {
                            let at = if transposed { c * 5 + r } else { r * 7 + c };
                            assert_eq!(got[at], values[r * 7 + c], "{dtype:?} piece {piece}");
                        }
                    }
                    let shape = if transposed { [7, 5] } else { [5, 7] };
                    assert_eq!(data.shape().as_slice(), shape.as_slice());
                }
            }
        }
    }

    #[test]
    fn int8_rows_take_their_scales() {
        let bytes: Vec<u8> = [1i8, -2, 3, 4, -5, 6].iter().map(|&q| q as u8).collect();
        for transposed in [false, true] {
            let mut decoder =
                TensorDecoder::new("f", &entry(Dtype::I8, &[2, 3]), transposed).unwrap();
            decoder.push(&bytes).unwrap();
            let got = decoder
                .finish(Some(&[0.5, 2.0]))
                .unwrap()
                .try_to_vec::<f32>()
                .unwrap();
            let want = if transposed {
                vec![0.5, 8.0, -1.0, -10.0, 1.5, 12.0]
            } else {
                vec![0.5, -1.0, 1.5, 8.0, -10.0, 12.0]
            };
            assert_eq!(got, want);
        }
        let mut decoder = TensorDecoder::new("f", &entry(Dtype::I8, &[2, 3]), false).unwrap();
        decoder.push(&bytes).unwrap();
        let error = decoder.finish(None).unwrap_err().to_string();
        assert!(error.contains("without their q8 scales"), "{error}");
    }

    #[test]
    fn short_and_long_tensors_are_refused_by_name() {
        let mut decoder =
            TensorDecoder::new("m.safetensors", &entry(Dtype::F32, &[2]), false).unwrap();
        decoder.push(&[0; 5]).unwrap();
        let error = decoder.finish(None).unwrap_err().to_string();
        assert!(
            error.contains("m.safetensors: tensor `t`: ends after 5 of its 8 bytes"),
            "{error}"
        );
        let mut decoder =
            TensorDecoder::new("m.safetensors", &entry(Dtype::F32, &[2]), false).unwrap();
        assert!(
            decoder
                .push(&[0; 9])
                .unwrap_err()
                .to_string()
                .contains("past its end")
        );
    }
}
