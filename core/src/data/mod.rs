//! Data readers: every cell format becomes one [`CountMatrix`].

pub mod count_matrix;
pub mod h5ad;

pub use count_matrix::{CountMatrix, DataError};
