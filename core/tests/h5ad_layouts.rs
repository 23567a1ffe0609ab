//! AnnData layouts other tools write, each built here as a small file: numeric categories, the
//! anndata ≤ 0.7 categorical layout (codes in `obs/<col>`, categories in `obs/__categories` or
//! `uns/<col>_categories`), and the anndata ≤ 0.6 layout, refused with what to do.

use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder};
use tessera_core::data::h5ad::{MatrixSource, read_h5ad};

fn text(s: &str) -> AttrValue {
    AttrValue::String(s.into())
}

const CELLS: [&str; 3] = ["c1", "c2", "c3"];

/// A 3-cell × 2-gene file (dense `X`) whose `obs` columns `columns` adds (listed in
/// `column-order`); `extra` adds anything else at the root.
fn file(
    columns: &[&str],
    obs_columns: impl FnOnce(&mut GroupBuilder),
    extra: impl FnOnce(&mut FileBuilder),
) -> Vec<u8> {
    let mut builder = FileBuilder::new();
    builder.set_attr("encoding-type", text("anndata"));
    builder.set_attr("encoding-version", text("0.1.0"));
    builder
        .create_dataset("X")
        .with_f32_data(&[1.0, 0.0, 2.0, 3.0, 0.0, 4.0])
        .with_shape(&[3, 2]);
    let mut obs = builder.create_group("obs");
    obs.set_attr("_index", text("_index"));
    obs.set_attr("encoding-type", text("dataframe"));
    obs.set_attr(
        "column-order",
        AttrValue::StringArray(columns.iter().map(|c| c.to_string()).collect()),
    );
    obs.create_dataset("_index").with_vlen_strings(&CELLS);
    obs_columns(&mut obs);
    builder.add_group(obs.finish());
    let mut var = builder.create_group("var");
    var.set_attr("_index", text("_index"));
    var.set_attr("encoding-type", text("dataframe"));
    var.set_attr("column-order", AttrValue::StringArray(vec![]));
    var.create_dataset("_index")
        .with_vlen_strings(&["CD3E", "LYZ"]);
    builder.add_group(var.finish());
    extra(&mut builder);
    builder.finish().unwrap()
}

fn labels(bytes: Vec<u8>, column: &str) -> Vec<String> {
    let counts = read_h5ad("cells.h5ad", bytes, &MatrixSource::X).unwrap();
    assert_eq!((counts.n_cells(), counts.n_genes()), (3, 2));
    counts.annotation("cells.h5ad", column).unwrap().to_vec()
}

#[test]
fn numeric_categories_are_read_as_labels() {
    let bytes = file(
        &["batch", "leiden"],
        |obs| {
            let mut batch = obs.create_group("batch");
            batch.set_attr("encoding-type", text("categorical"));
            batch.set_attr("encoding-version", text("0.2.0"));
            batch.create_dataset("categories").with_i64_data(&[3, 7]);
            batch.create_dataset("codes").with_i32_data(&[1, 0, -1]);
            obs.add_group(batch.finish());
            let mut leiden = obs.create_group("leiden");
            leiden.set_attr("encoding-type", text("categorical"));
            leiden.set_attr("encoding-version", text("0.2.0"));
            leiden
                .create_dataset("categories")
                .with_f64_data(&[0.5, 1.5]);
            leiden.create_dataset("codes").with_i32_data(&[0, 1, 1]);
            obs.add_group(leiden.finish());
        },
        |_| {},
    );
    assert_eq!(labels(bytes.clone(), "batch"), ["7", "3", ""]);
    assert_eq!(labels(bytes, "leiden"), ["0.5", "1.5", "1.5"]);
}

#[test]
fn anndata_0_7_categoricals_are_read_from_either_place() {
    // Categories beside the codes in `obs/__categories` …
    let beside = file(
        &["cell_type", "n_genes"],
        |obs| {
            obs.create_dataset("cell_type").with_i32_data(&[1, 0, 1]);
            obs.create_dataset("n_genes").with_i64_data(&[2, 2, 1]);
            let mut categories = obs.create_group("__categories");
            categories
                .create_dataset("cell_type")
                .with_vlen_strings(&["B", "NK"]);
            obs.add_group(categories.finish());
        },
        |_| {},
    );
    assert_eq!(labels(beside.clone(), "cell_type"), ["NK", "B", "NK"]);
    // A numeric column without categories is not an annotation.
    let counts = read_h5ad("cells.h5ad", beside, &MatrixSource::X).unwrap();
    assert_eq!(counts.annotations.keys().collect::<Vec<_>>(), ["cell_type"]);

    // … or in `uns/<column>_categories`.
    let in_uns = file(
        &["cell_type"],
        |obs| {
            obs.create_dataset("cell_type").with_i32_data(&[0, 0, 1]);
        },
        |root| {
            let mut uns = root.create_group("uns");
            uns.create_dataset("cell_type_categories")
                .with_vlen_strings(&["CD4 T", "Monocyte"]);
            root.add_group(uns.finish());
        },
    );
    assert_eq!(labels(in_uns, "cell_type"), ["CD4 T", "CD4 T", "Monocyte"]);

    // A code past the categories names the column.
    let broken = file(
        &["cell_type"],
        |obs| {
            obs.create_dataset("cell_type").with_i32_data(&[0, 5, 1]);
            let mut categories = obs.create_group("__categories");
            categories
                .create_dataset("cell_type")
                .with_vlen_strings(&["B", "NK"]);
            obs.add_group(categories.finish());
        },
        |_| {},
    );
    let error = read_h5ad("cells.h5ad", broken, &MatrixSource::X)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("cells.h5ad: `obs/__categories/cell_type`: code 5 but only 2"),
        "{error}"
    );
}

#[test]
fn the_anndata_0_6_layout_is_refused_with_what_to_do() {
    let mut builder = FileBuilder::new();
    builder
        .create_dataset("X")
        .with_f32_data(&[1.0, 0.0])
        .with_shape(&[1, 2]);
    // anndata 0.6 wrote `obs` and `var` as tables (structured arrays), not groups.
    builder.create_dataset("obs").with_i64_data(&[0]);
    builder.create_dataset("var").with_i64_data(&[0, 1]);
    let bytes = builder.finish().unwrap();
    let error = read_h5ad("old.h5ad", bytes, &MatrixSource::X)
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("old.h5ad: `obs` is a table dataset")
            && error.contains("anndata 0.6")
            && error.contains("write_h5ad"),
        "{error}"
    );
}

/// A CELLxGENE-style file: Ensembl ids as the gene index, symbols in `var['feature_name']`.
fn cellxgene_style() -> tessera_core::data::CountMatrix {
    use std::collections::BTreeMap;
    use tessera_core::data::CountMatrix;
    CountMatrix {
        cell_ids: CELLS.iter().map(|c| c.to_string()).collect(),
        genes: ["ENSG00000198851", "ENSG00000090382", "ENSG00000000001"]
            .map(String::from)
            .to_vec(),
        indptr: vec![0, 2, 3, 4],
        indices: vec![0, 1, 1, 2],
        values: vec![1.0, 2.0, 3.0, 4.0],
        annotations: BTreeMap::new(),
        gene_columns: BTreeMap::from([(
            "feature_name".to_string(),
            ["CD3E", "LYZ", "NOT_IN_MODEL"].map(String::from).to_vec(),
        )]),
    }
}

fn vocab() -> tessera_core::tokenize::rna::GeneVocab {
    let tokens = [
        "[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]", "CD3E", "LYZ", "MS4A1",
    ];
    let ids = tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (t.to_string(), i as u32))
        .collect();
    tessera_core::tokenize::rna::GeneVocab::from_map("vocab.json", ids).unwrap()
}

#[test]
fn gene_symbols_are_found_in_a_var_column_or_named() {
    use tessera_core::data::write_h5ad;
    use tessera_core::models::bmfm_rna::panel::{GeneNames, GenePanel, default_min_genes};

    // Written and read back, the symbol column survives (as a categorical, like CELLxGENE's).
    let bytes = write_h5ad("cxg.h5ad", &cellxgene_style()).unwrap();
    let counts = read_h5ad("cxg.h5ad", bytes, &MatrixSource::X).unwrap();
    assert_eq!(counts, cellxgene_style());

    // The index matches no model gene; `feature_name` matches two, and is used.
    let panel = GenePanel::for_matrix("cxg.h5ad", &counts, &vocab(), &GeneNames::Auto).unwrap();
    assert_eq!(panel.source, "var['feature_name']");
    assert_eq!(panel.genes, ["CD3E", "LYZ"]);
    assert_eq!(panel.column, [Some(0), Some(1), None]);

    // Two of the model's three genes: enough by default (half, rounded up), not for three.
    assert_eq!(default_min_genes(3), 2);
    assert_eq!(
        (default_min_genes(1500), default_min_genes(2048)),
        (750, 1000)
    );
    panel.require("cxg.h5ad", 3, default_min_genes(3)).unwrap();
    let error = panel.require("cxg.h5ad", 3, 3).unwrap_err().to_string();
    assert!(
        error.starts_with(
            "cxg.h5ad: `var['feature_name']`: only 2 of the model's 3 genes are in the data, \
             fewer than the 3 it needs"
        ),
        "{error}"
    );

    // Where the index matches at least as many, it stays the index.
    let mut symbols = counts.clone();
    symbols.genes = ["CD3E", "LYZ", "MS4A1"].map(String::from).to_vec();
    let panel = GenePanel::for_matrix("s.h5ad", &symbols, &vocab(), &GeneNames::Auto).unwrap();
    assert_eq!((panel.source.as_str(), panel.len()), ("var_names", 3));

    // A named column is used as named, and a missing one is refused with those there are.
    let named = GeneNames::Column("feature_name".into());
    let panel = GenePanel::for_matrix("s.h5ad", &symbols, &vocab(), &named).unwrap();
    assert_eq!(panel.len(), 2);
    let error = GenePanel::for_matrix(
        "s.h5ad",
        &symbols,
        &vocab(),
        &GeneNames::Column("symbol".into()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("s.h5ad: `var['symbol']`: no such gene column")
            && error.contains("feature_name"),
        "{error}"
    );

    // No names match at all: the error says the other columns were tried.
    let mut none = counts;
    none.gene_columns.insert(
        "feature_name".into(),
        ["a", "b", "c"].map(String::from).to_vec(),
    );
    let error = GenePanel::for_matrix("n.h5ad", &none, &vocab(), &GeneNames::Auto)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("none of its 3 genes") && error.contains("other columns (feature_name)"),
        "{error}"
    );
}

/// Normalised `X`: `MatrixSource::Counts` reads the counts where scanpy users keep them, and says so.
#[test]
fn counts_are_found_in_a_layer_or_raw_when_x_is_normalised() {
    use tessera_core::data::h5ad::read_h5ad_noted;
    let normalised = |extra: &dyn Fn(&mut FileBuilder)| {
        let mut builder = FileBuilder::new();
        builder
            .create_dataset("X")
            .with_f32_data(&[0.5, 0.0, 1.25, 2.0, 0.0, 0.75])
            .with_shape(&[3, 2]);
        for (name, index) in [("obs", &CELLS[..]), ("var", &["CD3E", "LYZ"][..])] {
            let mut frame = builder.create_group(name);
            frame.set_attr("_index", text("_index"));
            frame.set_attr("column-order", AttrValue::StringArray(vec![]));
            frame.create_dataset("_index").with_vlen_strings(index);
            builder.add_group(frame.finish());
        }
        extra(&mut builder);
        builder.finish().unwrap()
    };
    let counts = [1.0f32, 0.0, 2.0, 3.0, 0.0, 4.0];
    let in_layer = normalised(&|root| {
        let mut layers = root.create_group("layers");
        layers
            .create_dataset("counts")
            .with_f32_data(&counts)
            .with_shape(&[3, 2]);
        root.add_group(layers.finish());
    });
    let (read, note) = read_h5ad_noted("n.h5ad", in_layer, &MatrixSource::Counts).unwrap();
    assert_eq!(read.values, [1.0, 2.0, 3.0, 4.0]);
    assert_eq!(
        note.as_deref(),
        Some("X holds normalised values; the raw counts were read from layers['counts']")
    );

    let in_raw = normalised(&|root| {
        let mut raw = root.create_group("raw");
        raw.create_dataset("X")
            .with_f32_data(&counts)
            .with_shape(&[3, 2]);
        let mut var = raw.create_group("var");
        var.set_attr("_index", text("_index"));
        var.set_attr("column-order", AttrValue::StringArray(vec![]));
        var.create_dataset("_index")
            .with_vlen_strings(&["CD3E", "LYZ"]);
        raw.add_group(var.finish());
        root.add_group(raw.finish());
    });
    let (read, note) = read_h5ad_noted("n.h5ad", in_raw, &MatrixSource::Counts).unwrap();
    assert_eq!(read.values, [1.0, 2.0, 3.0, 4.0]);
    assert!(note.unwrap().ends_with("read from raw/X"));

    // Nowhere else: X as it is, for the counts check to refuse by name.
    let (read, note) =
        read_h5ad_noted("n.h5ad", normalised(&|_| {}), &MatrixSource::Counts).unwrap();
    assert_eq!((read.is_counts(), note), (false, None));
    let error = read.require_counts("n.h5ad").unwrap_err().to_string();
    assert!(error.contains("n.h5ad: `X`: holds 0.5"), "{error}");
}

/// Cell Ranger `.h5` matrices, v3 (`matrix/`, features with types) and v2 (a genome group):
/// barcodes as cells, Gene Expression features as genes by symbol, ids kept as `gene_ids`.
#[cfg(feature = "cellranger-h5")]
#[test]
fn cell_ranger_h5_matrices_are_read_in_both_layouts() {
    use tessera_core::data::tenx_h5::read_10x_h5;
    // 3 barcodes × 3 features (the third an antibody in v3), CSC by barcode.
    let fill = |group: &mut GroupBuilder| {
        group
            .create_dataset("barcodes")
            .with_vlen_strings(&["AAAC-1", "AAAG-1", "AACT-1"]);
        group.create_dataset("data").with_i32_data(&[3, 1, 5, 2, 7]);
        group
            .create_dataset("indices")
            .with_i64_data(&[0, 2, 1, 0, 1]);
        group.create_dataset("indptr").with_i64_data(&[0, 2, 3, 5]);
        group.create_dataset("shape").with_i32_data(&[3, 3]);
    };
    let mut v3 = FileBuilder::new();
    let mut matrix = v3.create_group("matrix");
    fill(&mut matrix);
    let mut features = matrix.create_group("features");
    features
        .create_dataset("id")
        .with_vlen_strings(&["ENSG1", "ENSG2", "CD3_TotalSeqB"]);
    features
        .create_dataset("name")
        .with_vlen_strings(&["CD3E", "LYZ", "CD3"]);
    features.create_dataset("feature_type").with_vlen_strings(&[
        "Gene Expression",
        "Gene Expression",
        "Antibody Capture",
    ]);
    matrix.add_group(features.finish());
    v3.add_group(matrix.finish());
    let counts = read_10x_h5("filtered_feature_bc_matrix.h5", v3.finish().unwrap()).unwrap();
    assert_eq!(counts.cell_ids, ["AAAC-1", "AAAG-1", "AACT-1"]);
    assert_eq!(counts.genes, ["CD3E", "LYZ"]);
    assert_eq!(counts.gene_columns["gene_ids"], ["ENSG1", "ENSG2"]);
    assert_eq!(counts.dense_row(0), [3.0, 0.0]); // the antibody count is no gene
    assert_eq!(counts.dense_row(1), [0.0, 5.0]);
    assert_eq!(counts.dense_row(2), [2.0, 7.0]);

    let mut v2 = FileBuilder::new();
    let mut genome = v2.create_group("GRCh38");
    fill(&mut genome);
    genome
        .create_dataset("genes")
        .with_vlen_strings(&["ENSG1", "ENSG2", "ENSG3"]);
    genome
        .create_dataset("gene_names")
        .with_vlen_strings(&["CD3E", "LYZ", "CD3E"]);
    v2.add_group(genome.finish());
    let counts = read_10x_h5("v2.h5", v2.finish().unwrap()).unwrap();
    assert_eq!(counts.genes, ["CD3E", "LYZ", "CD3E-1"]);
    assert_eq!(counts.dense_row(0), [3.0, 0.0, 1.0]);

    // An HDF5 file of another kind is named as such.
    let error = read_10x_h5("other.h5", file(&[], |_| {}, |_| {}))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("other.h5: not a Cell Ranger matrix"),
        "{error}"
    );
}
