//! Data readers: every cell format becomes one [`CountMatrix`].

pub mod count_matrix;
pub mod csv;
pub mod h5ad;
pub mod mtx;
mod text;

pub use count_matrix::{CountMatrix, DataError};
pub use csv::{Orientation, read_csv};
pub use mtx::{TenXFiles, read_10x};
pub use text::{is_gzip, make_unique};
