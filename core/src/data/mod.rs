//! Data readers (and an `.h5ad` writer): every cell format becomes one [`CountMatrix`]; tables of
//! text records (molecules) become a [`Table`].

pub mod count_matrix;
pub mod csv;
pub mod h5ad;
pub mod h5ad_add;
#[cfg(not(target_arch = "wasm32"))]
pub mod h5ad_subset;
pub mod h5ad_write;
mod hdf5_claims;
pub mod mtx;
pub mod open;
pub mod table;
#[cfg(feature = "cellranger-h5")]
pub mod tenx_h5;
mod text;

pub use count_matrix::{CountMatrix, DataError, are_counts};
pub use csv::{Orientation, read_csv};
#[cfg(not(target_arch = "wasm32"))]
pub use h5ad_add::add_to_h5ad_file;
pub use h5ad_add::{AnnDataAdditions, ObsColumn, Rows};
#[cfg(not(target_arch = "wasm32"))]
pub use h5ad_subset::{SubsetReport, VarIndex, subset_h5ad_file};
pub use h5ad_write::{write_h5ad, write_h5ad_with};
pub use mtx::{TenXFiles, read_10x};
pub use open::{Opened, open_files};
pub use table::Table;
pub use text::{is_gzip, make_unique};
