//! Reading AnnData files: the real pbmc3k set, and the errors users meet.

mod common;

use common::{read, shared_dir};
use tessera_core::data::h5ad::{MatrixSource, read_h5ad};

fn pbmc_bytes() -> Vec<u8> {
    read(&shared_dir().join("data/pbmc3k/pbmc3k_counts_labeled.h5ad"))
}

#[test]
fn pbmc3k_reads_counts_genes_cells_and_labels() {
    let counts = read_h5ad("pbmc3k.h5ad", pbmc_bytes(), &MatrixSource::X).unwrap();
    assert_eq!((counts.n_cells(), counts.n_genes()), (2638, 16579));
    assert_eq!(counts.values.len(), 2_242_529);
    assert!(
        counts.values.iter().all(|v| v.fract() == 0.0 && *v > 0.0),
        "raw integer counts"
    );
    let types = counts.annotation("pbmc3k.h5ad", "cell_type").unwrap();
    let mut distinct: Vec<&String> = types.iter().collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 8);
    let split = counts.annotation("pbmc3k.h5ad", "split").unwrap();
    assert!(
        split.iter().all(|s| s == "train" || s == "test"),
        "{:?}",
        &split[..3]
    );
    assert!(counts.cell_ids[0].len() > 8, "barcodes as cell ids");
    // A dense row sums to the CSR row.
    let row: f32 = counts.dense_row(5).iter().sum();
    let csr: f32 = counts.row(5).map(|(_, v)| v).sum();
    assert_eq!(row, csr);
}

#[test]
fn errors_name_the_file_and_field() {
    let error = read_h5ad("cells.h5ad", b"not hdf5 at all".to_vec(), &MatrixSource::X).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("cells.h5ad: not a readable HDF5 file"),
        "{error}"
    );

    let error = read_h5ad(
        "pbmc3k.h5ad",
        pbmc_bytes(),
        &MatrixSource::Layer("spliced".into()),
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("pbmc3k.h5ad: `layers/spliced`"),
        "{error}"
    );

    let counts = read_h5ad("pbmc3k.h5ad", pbmc_bytes(), &MatrixSource::X).unwrap();
    let error = counts
        .annotation("pbmc3k.h5ad", "tissue")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`tissue`") && error.contains("cell_type, split"),
        "{error}"
    );

    let mut broken = counts.clone();
    broken.values[3] = -1.0;
    let error = broken.validate("pbmc3k.h5ad").unwrap_err().to_string();
    assert!(
        error.contains(&broken.cell_ids[0]) && error.contains("-1"),
        "{error}"
    );
}

#[test]
fn pca_logistic_baseline_on_pbmc3k_held_out_cells() {
    use tessera_core::eval::baseline::{BaselineConfig, run};
    let counts = read_h5ad("pbmc3k.h5ad", pbmc_bytes(), &MatrixSource::X).unwrap();
    let config = BaselineConfig {
        label: "cell_type".into(),
        split: "split".into(),
        genes: 2000,
        components: 50,
        seed: 0,
    };
    let report = run("pbmc3k.h5ad", &counts, config.clone()).unwrap();
    assert_eq!(report.train_cells + report.test_cells, 2638);
    // PBMC cell types separate well on PCA of log counts; a broken pipeline lands near the
    // majority-class rate instead.
    assert!(report.accuracy > 0.85, "{report:?}");
    assert!(
        report.accuracy > report.majority_accuracy + 0.3,
        "{report:?}"
    );
    // Seeded: the same figures again.
    let again = run("pbmc3k.h5ad", &counts, config).unwrap();
    assert_eq!(
        (report.accuracy, report.macro_f1),
        (again.accuracy, again.macro_f1)
    );
    eprintln!(
        "baseline: accuracy {:.4}, macro-F1 {:.4}",
        report.accuracy, report.macro_f1
    );
}
