//! Evaluation: label and clustering metrics (and, later, PCA / neighbour graphs / UMAP).

pub mod metrics;
