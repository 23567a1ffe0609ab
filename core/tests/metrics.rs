//! Metrics against values worked out by hand (and equal to scikit-learn's).

use tessera_core::eval::metrics::*;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} vs {b}");
}

#[test]
fn label_metrics() {
    let truth = [0, 0, 1, 1, 2];
    let predicted = [0, 1, 1, 1, 2];
    close(accuracy(&truth, &predicted), 0.8);
    // F1 per class: 2/3, 4/5, 1
    close(macro_f1(&truth, &predicted), (2.0 / 3.0 + 0.8 + 1.0) / 3.0);
}

#[test]
fn clustering_agreement() {
    let truth = [0, 0, 1, 1];
    let clusters = [0, 0, 1, 2];
    // (1 − 1/3) / (3/2 − 1/3)
    close(adjusted_rand_index(&truth, &clusters), 4.0 / 7.0);
    // MI = ln 2; H = ln 2 and 1.5·ln 2 → ln2 / (1.25·ln 2)
    close(normalized_mutual_info(&truth, &clusters), 0.8);
    // Relabelled identical partitions agree perfectly.
    close(adjusted_rand_index(&truth, &[5, 5, 3, 3]), 1.0);
    close(normalized_mutual_info(&truth, &[5, 5, 3, 3]), 1.0);
}

#[test]
fn silhouette_of_two_tight_clusters() {
    let points = [0.0, 1.0, 10.0, 11.0];
    let labels = [0, 0, 1, 1];
    let expected = (2.0 * (1.0 - 1.0 / 10.5) + 2.0 * (1.0 - 1.0 / 9.5)) / 4.0;
    close(silhouette(&points, 1, &labels), expected);
    close(silhouette(&points, 1, &[0, 0, 0, 0]), 0.0);
}

#[test]
fn roc_auc_counts_ties_as_half_and_rmse_is_the_root_mean_square() {
    use tessera_core::eval::metrics::{rmse, roc_auc};
    assert_eq!(
        roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
        Some(0.75)
    );
    assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
    assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    assert!((rmse(&[1.0, 3.0], &[2.0, 2.0]) - 1.0).abs() < 1e-12);
}
