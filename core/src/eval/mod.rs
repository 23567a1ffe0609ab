//! Evaluation: metrics, PCA, k-means, embedding scores, the logistic-regression baseline.

pub mod baseline;
pub mod embedding;
pub mod kmeans;
pub mod logistic;
pub mod metrics;
pub mod pca;
