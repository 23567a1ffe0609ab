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
    let report = run("pbmc3k.h5ad", &counts, config.clone(), None).unwrap();
    assert_eq!(report.train_cells + report.test_cells, 2638);
    // PBMC cell types separate well on PCA of log counts; a broken pipeline lands near the
    // majority-class rate instead.
    assert!(report.accuracy > 0.85, "{report:?}");
    assert!(
        report.accuracy > report.majority_accuracy + 0.3,
        "{report:?}"
    );
    // The test cells as a data set of their own, genes in another order, score the same:
    // other studies' cells are matched by gene name.
    let split = counts.annotation("pbmc3k.h5ad", "split").unwrap();
    let test: Vec<usize> = (0..counts.n_cells())
        .filter(|&i| split[i] == "test")
        .collect();
    let mut other = counts.subset(&test);
    let order: Vec<usize> = (0..other.n_genes()).rev().collect();
    other.genes = order.iter().map(|&j| other.genes[j].clone()).collect();
    for index in &mut other.indices {
        *index = (other.genes.len() - 1 - *index as usize) as u32;
    }
    let cells = tessera_core::eval::baseline::OtherCells {
        file: "test-cells.h5ad",
        cells: &other,
        refit: false,
    };
    let again = run("pbmc3k.h5ad", &counts, config, Some(cells)).unwrap();
    assert_eq!(again.test_cells, report.test_cells);
    assert_eq!(
        (report.accuracy, report.macro_f1),
        (again.accuracy, again.macro_f1)
    );
    eprintln!(
        "baseline: accuracy {:.4}, macro-F1 {:.4}",
        report.accuracy, report.macro_f1
    );
}

/// Small AnnData files written here with hdf5-pure's writer, in the layouts anndata uses.
mod written {
    use std::collections::BTreeMap;

    use hdf5_pure::{AttrValue, DatasetBuilder, FileBuilder, FinishedGroup, GroupBuilder};
    use tessera_core::data::CountMatrix;
    use tessera_core::data::h5ad::{MatrixSource, read_h5ad};

    /// Cells × genes.
    const DENSE: [[f32; 4]; 3] = [
        [0.0, 2.0, 0.0, 5.0],
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ];
    const CELLS: [&str; 3] = ["c1", "c2", "c3"];
    const GENES: [&str; 4] = ["CD3E", "LYZ", "MS4A1", "NKG7"];

    #[derive(Clone, Copy, Debug)]
    enum Layout {
        Csr,
        Csc,
        Dense,
    }

    /// Where a matrix or dataframe can be put: the file's root or a group.
    trait Parent {
        fn dataset(&mut self, name: &str) -> &mut DatasetBuilder;
        fn group(&mut self, name: &str) -> GroupBuilder;
        fn add(&mut self, group: FinishedGroup);
    }

    impl Parent for FileBuilder {
        fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
            self.create_dataset(name)
        }
        fn group(&mut self, name: &str) -> GroupBuilder {
            self.create_group(name)
        }
        fn add(&mut self, group: FinishedGroup) {
            self.add_group(group)
        }
    }

    impl Parent for GroupBuilder {
        fn dataset(&mut self, name: &str) -> &mut DatasetBuilder {
            self.create_dataset(name)
        }
        fn group(&mut self, name: &str) -> GroupBuilder {
            self.create_group(name)
        }
        fn add(&mut self, group: FinishedGroup) {
            self.add_group(group)
        }
    }

    fn text(s: &str) -> AttrValue {
        AttrValue::String(s.into())
    }

    /// `dense` (rows × columns) under `name`, as anndata writes `X`, a layer or `raw/X`.
    fn put_matrix(parent: &mut impl Parent, name: &str, dense: &[Vec<f32>], layout: Layout) {
        let (rows, cols) = (dense.len(), dense[0].len());
        if let Layout::Dense = layout {
            let flat: Vec<f32> = dense.concat();
            parent
                .dataset(name)
                .with_f32_data(&flat)
                .with_shape(&[rows as u64, cols as u64])
                .set_attr("encoding-type", text("array"))
                .set_attr("encoding-version", text("0.2.0"));
            return;
        }
        // CSR runs over rows, CSC over columns.
        let by_rows = matches!(layout, Layout::Csr);
        let (major, minor) = if by_rows { (rows, cols) } else { (cols, rows) };
        let at = |i: usize, j: usize| if by_rows { dense[i][j] } else { dense[j][i] };
        let (mut data, mut indices, mut indptr) = (vec![], vec![], vec![0i32]);
        for i in 0..major {
            for j in 0..minor {
                let v = at(i, j);
                if v != 0.0 {
                    data.push(v);
                    indices.push(j as i32);
                }
            }
            indptr.push(data.len() as i32);
        }
        let mut group = parent.group(name);
        let encoding = if by_rows { "csr_matrix" } else { "csc_matrix" };
        group.set_attr("encoding-type", text(encoding));
        group.set_attr("encoding-version", text("0.1.0"));
        group.set_attr("shape", AttrValue::I64Array(vec![rows as i64, cols as i64]));
        group.create_dataset("data").with_f32_data(&data);
        group.create_dataset("indices").with_i32_data(&indices);
        group.create_dataset("indptr").with_i32_data(&indptr);
        parent.add(group.finish());
    }

    /// A dataframe whose index dataset is called `index_name`, with optional categorical columns
    /// (name, categories, codes).
    fn put_frame(
        parent: &mut impl Parent,
        name: &str,
        index_name: &str,
        index: &[&str],
        categorical: &[(&str, &[&str], &[i8])],
    ) {
        let mut frame = parent.group(name);
        frame.set_attr("encoding-type", text("dataframe"));
        frame.set_attr("encoding-version", text("0.2.0"));
        frame.set_attr("_index", text(index_name));
        frame.set_attr(
            "column-order",
            AttrValue::StringArray(categorical.iter().map(|c| c.0.to_string()).collect()),
        );
        frame.create_dataset(index_name).with_vlen_strings(index);
        for (column, categories, codes) in categorical {
            let mut group = frame.create_group(column);
            group.set_attr("encoding-type", text("categorical"));
            group.set_attr("encoding-version", text("0.2.0"));
            group
                .create_dataset("categories")
                .with_vlen_strings(categories);
            group.create_dataset("codes").with_i8_data(codes);
            frame.add_group(group.finish());
        }
        parent.add(frame.finish());
    }

    fn dense() -> Vec<Vec<f32>> {
        DENSE.iter().map(|r| r.to_vec()).collect()
    }

    /// The counts every file below must give.
    fn expected(genes: &[&str]) -> CountMatrix {
        let mut counts = CountMatrix {
            cell_ids: CELLS.map(String::from).to_vec(),
            genes: genes.iter().map(|g| g.to_string()).collect(),
            indptr: vec![0, 2, 3, 3],
            indices: vec![1, 3, 0],
            values: vec![2.0, 5.0, 1.0],
            annotations: BTreeMap::new(),
            gene_columns: BTreeMap::new(),
        };
        counts.annotations.insert(
            "cell_type".into(),
            vec!["T".into(), "B".into(), String::new()],
        );
        counts
    }

    /// A file with `obs` (a `cell_type` column, one code missing), `var`, and `X` in `layout`;
    /// `extra` adds layers or `raw`.
    fn file(
        x: &[Vec<f32>],
        x_genes: &[&str],
        layout: Layout,
        extra: impl Fn(&mut FileBuilder),
    ) -> Vec<u8> {
        let mut builder = FileBuilder::new();
        builder.set_attr("encoding-type", text("anndata"));
        builder.set_attr("encoding-version", text("0.1.0"));
        put_matrix(&mut builder, "X", x, layout);
        put_frame(
            &mut builder,
            "obs",
            "cell_barcode",
            &CELLS,
            &[("cell_type", &["B", "T"], &[1, 0, -1])],
        );
        put_frame(&mut builder, "var", "_index", x_genes, &[]);
        extra(&mut builder);
        builder.finish().expect("hdf5-pure writes the file")
    }

    #[test]
    fn csr_csc_and_dense_x_read_the_same() {
        for layout in [Layout::Csr, Layout::Csc, Layout::Dense] {
            let bytes = file(&dense(), &GENES, layout, |_| {});
            let counts = read_h5ad("small.h5ad", bytes, &MatrixSource::X)
                .unwrap_or_else(|e| panic!("{layout:?}: {e}"));
            assert_eq!(counts, expected(&GENES), "{layout:?}");
        }
    }

    #[test]
    fn counts_layer_and_raw_x_are_read_where_x_is_normalised() {
        // X holds log-normalised values; the counts are in a layer.
        let normalised: Vec<Vec<f32>> = dense()
            .iter()
            .map(|row| row.iter().map(|v| (1.0 + v).ln()).collect())
            .collect();
        for layout in [Layout::Csr, Layout::Csc, Layout::Dense] {
            let bytes = file(&normalised, &GENES, Layout::Csr, |builder| {
                let mut layers = builder.create_group("layers");
                layers.set_attr("encoding-type", text("dict"));
                put_matrix(&mut layers, "counts", &dense(), layout);
                builder.add_group(layers.finish());
            });
            let source = MatrixSource::Layer("counts".into());
            let counts = read_h5ad("layered.h5ad", bytes.clone(), &source)
                .unwrap_or_else(|e| panic!("{layout:?}: {e}"));
            assert_eq!(counts, expected(&GENES), "{layout:?}");
            let x = read_h5ad("layered.h5ad", bytes, &MatrixSource::X).unwrap();
            assert_eq!(x.values[0], 3f32.ln());
        }

        // X keeps two highly variable genes; raw has all four, with its own var.
        let subset: Vec<Vec<f32>> = dense().iter().map(|row| vec![row[1], row[3]]).collect();
        for layout in [Layout::Csr, Layout::Csc, Layout::Dense] {
            let bytes = file(&subset, &["LYZ", "NKG7"], Layout::Dense, |builder| {
                let mut raw = builder.create_group("raw");
                raw.set_attr("encoding-type", text("raw"));
                put_matrix(&mut raw, "X", &dense(), layout);
                put_frame(&mut raw, "var", "_index", &GENES, &[]);
                builder.add_group(raw.finish());
            });
            let counts = read_h5ad("raw.h5ad", bytes.clone(), &MatrixSource::Raw)
                .unwrap_or_else(|e| panic!("{layout:?}: {e}"));
            assert_eq!(counts, expected(&GENES), "{layout:?}");
            let x = read_h5ad("raw.h5ad", bytes, &MatrixSource::X).unwrap();
            assert_eq!(x.genes, ["LYZ", "NKG7"]);
            assert_eq!(x.indices, [0, 1]);
        }
    }

    #[test]
    fn written_files_with_mismatched_parts_are_refused() {
        // var lists three genes for a four-gene X.
        let bytes = file(&dense(), &GENES[..3], Layout::Csc, |_| {});
        let error = read_h5ad("short.h5ad", bytes, &MatrixSource::X)
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "short.h5ad: `X`: shape 3×4 but 3 cells in obs and 3 genes in var"
        );
        let bytes = file(&dense(), &GENES, Layout::Dense, |_| {});
        let error = read_h5ad("small.h5ad", bytes, &MatrixSource::Raw)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("small.h5ad: `raw/X`: not found"),
            "{error}"
        );
    }
}

#[test]
fn written_h5ad_reads_back_identically() {
    use tessera_core::data::write_h5ad;
    let counts = read_h5ad("pbmc3k.h5ad", pbmc_bytes(), &MatrixSource::X).unwrap();
    let split = counts.annotation("pbmc3k.h5ad", "split").unwrap();
    let test: Vec<usize> = (0..counts.n_cells())
        .filter(|&i| split[i] == "test")
        .collect();
    let subset = counts.subset(&test);
    assert_eq!(subset.n_cells(), 564);
    let bytes = write_h5ad("test.h5ad", &subset).unwrap();
    let back = read_h5ad("test.h5ad", bytes, &MatrixSource::X).unwrap();
    assert_eq!(back, subset);
}

#[test]
fn normalised_values_are_refused_where_counts_are_required() {
    let mut counts = read_h5ad("pbmc3k.h5ad", pbmc_bytes(), &MatrixSource::X).unwrap();
    assert_eq!(counts.require_counts("pbmc3k.h5ad"), Ok(()));
    let at = counts.indptr[7] + 2;
    counts.values[at] = 0.25;
    let error = counts.require_counts("norm.h5ad").unwrap_err().to_string();
    let (cell, gene) = (
        &counts.cell_ids[7],
        &counts.genes[counts.indices[at] as usize],
    );
    assert!(
        error.contains("norm.h5ad")
            && error.contains(cell.as_str())
            && error.contains(gene.as_str()),
        "{error}"
    );
}
