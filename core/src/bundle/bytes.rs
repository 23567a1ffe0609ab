//! Bytes shared without copying: a bundle's files are windows on one buffer (a memory-mapped
//! file natively, a `Vec` elsewhere), so a tar member or a tensor is read where it lies.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// Where a bundle's bytes live. Core never opens files: the native CLI hands in a memory map,
/// everything else a `Vec<u8>`.
pub trait ByteSource: Send + Sync {
    fn bytes(&self) -> &[u8];

    /// Says that `range` will not be read again, so a memory map can drop those pages from the
    /// process (they stay in the OS file cache). A heap buffer ignores it.
    fn release(&self, _range: Range<usize>) {}
}

impl ByteSource for Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

/// A window on a shared [`ByteSource`]; cloning and slicing never copy bytes.
#[derive(Clone)]
pub struct SharedBytes {
    source: Arc<dyn ByteSource>,
    range: Range<usize>,
}

impl SharedBytes {
    /// The whole of `source`.
    pub fn new(source: Arc<dyn ByteSource>) -> Self {
        let len = source.bytes().len();
        Self {
            source,
            range: 0..len,
        }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.source.bytes()[self.range.clone()]
    }

    pub fn len(&self) -> usize {
        self.range.len()
    }

    pub fn is_empty(&self) -> bool {
        self.range.is_empty()
    }

    /// The bytes `range` of this window, or `None` when it reaches past the window's end —
    /// every offset read from a file goes through here, so none is trusted past the bytes
    /// that exist.
    pub fn slice(&self, range: Range<usize>) -> Option<Self> {
        if range.start > range.end || range.end > self.len() {
            return None;
        }
        Some(Self {
            source: Arc::clone(&self.source),
            range: self.range.start + range.start..self.range.start + range.end,
        })
    }

    /// Tells the source that this window will not be read again (see [`ByteSource::release`]).
    pub fn release(&self) {
        self.source.release(self.range.clone());
    }
}

impl From<Vec<u8>> for SharedBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(Arc::new(bytes))
    }
}

/// A copy of borrowed bytes (for callers that hold them elsewhere already).
impl From<&[u8]> for SharedBytes {
    fn from(bytes: &[u8]) -> Self {
        bytes.to_vec().into()
    }
}

impl From<&Vec<u8>> for SharedBytes {
    fn from(bytes: &Vec<u8>) -> Self {
        bytes.clone().into()
    }
}

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl std::ops::Deref for SharedBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq for SharedBytes {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl fmt::Debug for SharedBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedBytes({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_share_and_stay_inside() {
        let bytes = SharedBytes::from((0u8..10).collect::<Vec<_>>());
        let middle = bytes.slice(2..8).unwrap();
        assert_eq!(middle.as_slice(), &[2, 3, 4, 5, 6, 7]);
        assert_eq!(middle.slice(1..3).unwrap().as_slice(), &[3, 4]);
        assert!(middle.slice(4..7).is_none(), "past the window's end");
        assert!(bytes.slice(0..11).is_none());
    }
}
