//! Evaluation: metrics, PCA, the logistic-regression baseline.

pub mod baseline;
pub mod logistic;
pub mod metrics;
pub mod pca;
