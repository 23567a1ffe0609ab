//! Evaluation: metrics, PCA, UMAP, k-means, embedding scores, the logistic-regression baseline
//! (cells) and the n-gram baseline (molecules).

pub mod baseline;
pub mod embedding;
pub mod kmeans;
pub mod lbfgs;
pub mod logistic;
pub mod metrics;
pub mod molecule_baseline;
pub mod pca;
pub mod umap;
