//! What an HDF5 dataset claims to hold, checked against the bytes of the file that holds it
//! before anything is allocated: a shape of 10¹⁰ strings in a 12 kB file is an error, not an abort.

use hdf5_pure::Dataset;

/// The most bytes one stored byte can become: deflate's format ceiling is 1032:1 (a 258-byte
/// match per 2-bit code), and no HDF5 filter a reader here understands expands more.
pub(crate) const MAX_EXPANSION: u64 = 1032;

/// The most bytes of values a file of `file_len` bytes can hold (plus 64 kB: HDF5's fill values
/// let a tiny file declare a small dataset it never wrote).
pub(crate) fn capacity(file_len: u64) -> u64 {
    file_len
        .saturating_mul(MAX_EXPANSION)
        .saturating_add(1 << 16)
}

/// The dataset's element count, or why a file of `file_len` bytes cannot hold what its shape
/// claims (every element takes at least a byte; counted with checked arithmetic, so a shape of
/// 2⁶¹ × 2⁶¹ is refused, not wrapped).
pub(crate) fn claimed_elements(dataset: &Dataset, file_len: u64) -> Result<u64, String> {
    let shape = dataset.shape().map_err(|e| e.to_string())?;
    shape
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= capacity(file_len))
        .ok_or_else(|| {
            let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
            format!(
                "its shape {} claims more data than a {file_len}-byte file can hold",
                dims.join("×")
            )
        })
}
