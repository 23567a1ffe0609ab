//! Models, one module per architecture. Each loads from and saves to a [`Bundle`](crate::bundle::Bundle).

pub mod bmfm_rna;
pub mod encoder;
pub mod mammal;
