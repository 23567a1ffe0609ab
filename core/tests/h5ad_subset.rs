//! `data subset` on an `.h5ad`: a file with everything scanpy writes (layers, raw, obsm, obsp,
//! numeric and nullable obs columns, plot colours, varm), cut to some cells. The outputs stay in
//! `target/tmp`, where CI's `scripts/check-h5ad.py` reads them back with anndata (the inputs are
//! removed: one holds an element anndata cannot read without `awkward`).

use std::path::{Path, PathBuf};

use hdf5_pure::{AttrValue, FileBuilder, GroupBuilder};
use tessera_core::data::h5ad::{MatrixSource, read_h5ad, read_h5ad_tables};
use tessera_core::data::{VarIndex, subset_h5ad_file};

fn text(s: &str) -> AttrValue {
    AttrValue::String(s.into())
}

fn encoded(group: &mut GroupBuilder, kind: &str, version: &str) {
    group.set_attr("encoding-type", text(kind));
    group.set_attr("encoding-version", text(version));
}

/// Cells c0…c3 × genes G0…G2; row i of X is `X[i]`.
const X: [[f32; 3]; 4] = [
    [1.0, 0.0, 2.0],
    [0.0, 3.0, 0.0],
    [0.0, 0.0, 0.0],
    [4.0, 0.0, 5.0],
];

/// `X` as CSR (`csr`) or CSC parts: data, indices, indptr.
fn compressed(csr: bool) -> (Vec<f32>, Vec<i32>, Vec<i32>) {
    let at = |major: usize, minor: usize| {
        if csr {
            X[major][minor]
        } else {
            X[minor][major]
        }
    };
    let (majors, minors) = if csr { (4, 3) } else { (3, 4) };
    let (mut data, mut indices, mut indptr) = (vec![], vec![], vec![0]);
    for major in 0..majors {
        for minor in (0..minors).filter(|&minor| at(major, minor) != 0.0) {
            data.push(at(major, minor));
            indices.push(minor as i32);
        }
        indptr.push(data.len() as i32);
    }
    (data, indices, indptr)
}

fn sparse(parent: &mut GroupBuilder, name: &str, csr: bool) {
    let (data, indices, indptr) = compressed(csr);
    let mut group = parent.create_group(name);
    encoded(
        &mut group,
        if csr { "csr_matrix" } else { "csc_matrix" },
        "0.1.0",
    );
    group.set_attr("shape", AttrValue::I64Array(vec![4, 3]));
    group.create_dataset("data").with_f32_data(&data);
    group.create_dataset("indices").with_i32_data(&indices);
    group.create_dataset("indptr").with_i32_data(&indptr);
    parent.add_group(group.finish());
}

fn strings(parent: &mut GroupBuilder, name: &str, values: &[&str]) {
    let dataset = parent.create_dataset(name);
    dataset.with_vlen_strings(values);
    dataset.set_attr("encoding-type", text("string-array"));
    dataset.set_attr("encoding-version", text("0.2.0"));
}

fn frame(builder: &mut FileBuilder, name: &str, index: &[&str], columns: &[&str]) -> GroupBuilder {
    let mut group = builder.create_group(name);
    encoded(&mut group, "dataframe", "0.2.0");
    group.set_attr("_index", text("_index"));
    group.set_attr(
        "column-order",
        AttrValue::StringArray(columns.iter().map(|c| c.to_string()).collect()),
    );
    strings(&mut group, "_index", index);
    group
}

fn categorical(obs: &mut GroupBuilder, name: &str, categories: &[&str], codes: &[i8]) {
    let mut group = obs.create_group(name);
    encoded(&mut group, "categorical", "0.2.0");
    group.set_attr("ordered", AttrValue::U8(0));
    strings(&mut group, "categories", categories);
    let codes_set = group.create_dataset("codes");
    codes_set.with_i8_data(codes);
    codes_set.set_attr("encoding-type", text("array"));
    codes_set.set_attr("encoding-version", text("0.2.0"));
    obs.add_group(group.finish());
}

fn dict(builder: &mut FileBuilder, name: &str) -> GroupBuilder {
    let mut group = builder.create_group(name);
    encoded(&mut group, "dict", "0.1.0");
    group
}

/// The whole file, as anndata 0.12 lays it out.
fn rich_file() -> Vec<u8> {
    let mut builder = FileBuilder::new();
    builder.set_attr("encoding-type", text("anndata"));
    builder.set_attr("encoding-version", text("0.1.0"));
    let (data, indices, indptr) = compressed(true);
    let mut x = builder.create_group("X");
    encoded(&mut x, "csr_matrix", "0.1.0");
    x.set_attr("shape", AttrValue::I64Array(vec![4, 3]));
    x.create_dataset("data").with_f32_data(&data);
    x.create_dataset("indices").with_i32_data(&indices);
    x.create_dataset("indptr").with_i32_data(&indptr);
    builder.add_group(x.finish());
    let mut layers = dict(&mut builder, "layers");
    sparse(&mut layers, "counts", true);
    let dense: Vec<f32> = X.iter().flatten().map(|v| v * 10.0).collect();
    let d = layers.create_dataset("dense");
    d.with_f32_data(&dense).with_shape(&[4, 3]);
    d.set_attr("encoding-type", text("array"));
    d.set_attr("encoding-version", text("0.2.0"));
    builder.add_group(layers.finish());

    let mut raw = builder.create_group("raw");
    encoded(&mut raw, "raw", "0.1.0");
    sparse(&mut raw, "X", false);
    let mut raw_var = raw.create_group("var");
    encoded(&mut raw_var, "dataframe", "0.2.0");
    raw_var.set_attr("_index", text("_index"));
    raw_var.set_attr("column-order", AttrValue::StringArray(vec![]));
    strings(&mut raw_var, "_index", &["G0", "G1", "G2"]);
    raw.add_group(raw_var.finish());
    builder.add_group(raw.finish());

    let columns = ["cell_type", "split", "n_counts", "score"];
    let mut obs = frame(&mut builder, "obs", &["c0", "c1", "c2", "c3"], &columns);
    categorical(&mut obs, "cell_type", &["B", "NK", "T"], &[0, 2, 1, 2]);
    categorical(&mut obs, "split", &["test", "train"], &[1, 0, 1, 0]);
    let n = obs.create_dataset("n_counts");
    n.with_f64_data(&[3.0, 3.0, 0.0, 9.0]);
    n.set_attr("encoding-type", text("array"));
    n.set_attr("encoding-version", text("0.2.0"));
    let mut score = obs.create_group("score");
    encoded(&mut score, "nullable-integer", "0.1.0");
    score
        .create_dataset("values")
        .with_i64_data(&[10, 11, 12, 13]);
    // A boolean as h5py stores one: an enum FALSE = 0, TRUE = 1.
    let boolean = hdf5_pure::EnumTypeBuilder::u8_based()
        .value("FALSE", 0)
        .value("TRUE", 1)
        .build()
        .unwrap();
    score
        .create_dataset("mask")
        .with_enum_u8_data(boolean, &[0, 1, 0, 0]);
    obs.add_group(score.finish());
    builder.add_group(obs.finish());

    let mut var = frame(&mut builder, "var", &["G0", "G1", "G2"], &["gene_ids"]);
    strings(&mut var, "gene_ids", &["E0", "E1", "E2"]);
    builder.add_group(var.finish());

    let mut obsm = dict(&mut builder, "obsm");
    let pca = obsm.create_dataset("X_pca");
    pca.with_f32_data(&[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
        .with_shape(&[4, 2]);
    pca.set_attr("encoding-type", text("array"));
    pca.set_attr("encoding-version", text("0.2.0"));
    let mut odd = obsm.create_group("ragged");
    encoded(&mut odd, "awkward-array", "0.1.0");
    odd.create_dataset("values").with_f32_data(&[1.0]);
    obsm.add_group(odd.finish());
    builder.add_group(obsm.finish());

    let mut obsp = dict(&mut builder, "obsp");
    // Distances: (0,1) 1, (1,3) 2, (3,1) 3, (2,0) 4, as CSR over 4 × 4.
    let mut distances = obsp.create_group("distances");
    encoded(&mut distances, "csr_matrix", "0.1.0");
    distances.set_attr("shape", AttrValue::I64Array(vec![4, 4]));
    distances
        .create_dataset("data")
        .with_f64_data(&[1.0, 2.0, 4.0, 3.0]);
    distances
        .create_dataset("indices")
        .with_i32_data(&[1, 3, 0, 1]);
    distances
        .create_dataset("indptr")
        .with_i32_data(&[0, 1, 2, 3, 4]);
    obsp.add_group(distances.finish());
    let conn: Vec<f64> = (0..16).map(f64::from).collect();
    let c = obsp.create_dataset("connectivities");
    c.with_f64_data(&conn).with_shape(&[4, 4]);
    c.set_attr("encoding-type", text("array"));
    c.set_attr("encoding-version", text("0.2.0"));
    builder.add_group(obsp.finish());

    let mut uns = dict(&mut builder, "uns");
    strings(&mut uns, "cell_type_colors", &["#b", "#n", "#t"]);
    strings(&mut uns, "kept", &["as", "it", "was"]);
    builder.add_group(uns.finish());
    let mut varm = dict(&mut builder, "varm");
    let pcs = varm.create_dataset("PCs");
    pcs.with_f64_data(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .with_shape(&[3, 2]);
    pcs.set_attr("encoding-type", text("array"));
    pcs.set_attr("encoding-version", text("0.2.0"));
    builder.add_group(varm.finish());
    builder.finish().unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tessera-h5ad-subset");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn every_cell_indexed_element_is_cut_and_the_rest_kept() {
    let src = scratch("rich.h5ad");
    std::fs::write(&src, rich_file()).unwrap();
    let dst = scratch("rich-c1-c3.h5ad");
    let report = subset_h5ad_file(&src, &dst, 4, &[1, 3], None).unwrap();
    assert_eq!(
        report.dropped,
        [(
            "obsm/ragged".to_string(),
            "encoding `awkward-array` cannot be cut".to_string()
        )]
    );
    for element in [
        "X",
        "layers/counts",
        "layers/dense",
        "raw/X",
        "obs/score",
        "obsp/distances",
    ] {
        assert!(
            report.cut.iter().any(|c| c == element),
            "{element}: {report:?}"
        );
    }

    // Our reader: the counts and the annotations of c1 and c3.
    let bytes = std::fs::read(&dst).unwrap();
    let counts = read_h5ad("rich-c1-c3.h5ad", bytes, &MatrixSource::X).unwrap();
    assert_eq!(counts.cell_ids, ["c1", "c3"]);
    let dense = |row: usize| {
        let mut out = [0.0; 3];
        for (column, value) in counts.row(row) {
            out[column] = value;
        }
        out
    };
    assert_eq!([dense(0), dense(1)], [X[1], X[3]]);
    assert_eq!(counts.annotation("f", "cell_type").unwrap(), ["T", "T"]);
    assert_eq!(counts.annotation("f", "split").unwrap(), ["test", "test"]);

    // Everything else, element by element.
    let file = hdf5_pure::File::open(&dst).unwrap();
    let f32s = |path: &str| file.dataset(path).unwrap().read_f32().unwrap();
    let f64s = |path: &str| file.dataset(path).unwrap().read_f64().unwrap();
    let i64s = |path: &str| file.dataset(path).unwrap().read_i64().unwrap();
    let strs = |path: &str| file.dataset(path).unwrap().read_string().unwrap();
    assert_eq!(f32s("layers/counts/data"), [3.0, 4.0, 5.0]);
    assert_eq!(f32s("layers/dense"), [0.0, 30.0, 0.0, 40.0, 0.0, 50.0]);
    // raw/X stays CSC: column by column, rows renumbered.
    assert_eq!(f32s("raw/X/data"), [4.0, 3.0, 5.0]);
    assert_eq!(i64s("raw/X/indices"), [1, 0, 1]);
    assert_eq!(i64s("raw/X/indptr"), [0, 1, 2, 3]);
    let shape = file.group("raw/X").unwrap().attrs().unwrap()["shape"].clone();
    assert_eq!(shape, AttrValue::I64Array(vec![2, 3]));
    assert_eq!(strs("raw/var/_index"), ["G0", "G1", "G2"]);
    // Unused categories go, as anndata drops them, and the plot colours with them.
    assert_eq!(strs("obs/cell_type/categories"), ["T"]);
    assert_eq!(i64s("obs/cell_type/codes"), [0, 0]);
    assert_eq!(strs("uns/cell_type_colors"), ["#t"]);
    assert_eq!(f64s("obs/n_counts"), [3.0, 9.0]);
    assert_eq!(i64s("obs/score/values"), [11, 13]);
    let mask = file.dataset("obs/score/mask").unwrap();
    assert_eq!(mask.read_raw().unwrap(), [1, 0]);
    assert!(matches!(mask.dtype().unwrap(), hdf5_pure::DType::Enum(_)));
    let n_counts = file.dataset("obs/n_counts").unwrap().attrs().unwrap();
    assert_eq!(n_counts["encoding-type"], text("array"));
    assert_eq!(f32s("obsm/X_pca"), [1.0, 1.5, 3.0, 3.5]);
    // obsp on both axes: (1,3) → (0,1) and (3,1) → (1,0).
    assert_eq!(f64s("obsp/distances/data"), [2.0, 3.0]);
    assert_eq!(i64s("obsp/distances/indices"), [1, 0]);
    assert_eq!(f64s("obsp/connectivities"), [5.0, 7.0, 13.0, 15.0]);
    assert_eq!(strs("var/gene_ids"), ["E0", "E1", "E2"]);
    assert_eq!(strs("uns/kept"), ["as", "it", "was"]);
    assert_eq!(f64s("varm/PCs"), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert!(file.group("obsm/ragged").is_err());
    // The input (with an element anndata itself cannot read without `awkward`) is not ours.
    std::fs::remove_file(src).unwrap();
}

#[test]
fn the_subset_can_take_its_gene_names_from_a_var_column() {
    let src = scratch("rich-for-ids.h5ad");
    std::fs::write(&src, rich_file()).unwrap();
    let dst = scratch("rich-ensembl.h5ad");
    let index = VarIndex {
        column: "gene_ids".into(),
        names: vec!["E0".into(), "E1".into(), "E2".into()],
        previous: vec!["G0".into(), "G1".into(), "G2".into()],
    };
    subset_h5ad_file(&src, &dst, 4, &[0, 2], Some(&index)).unwrap();
    let file = hdf5_pure::File::open(&dst).unwrap();
    let strs = |path: &str| file.dataset(path).unwrap().read_string().unwrap();
    assert_eq!(strs("var/_index"), ["E0", "E1", "E2"]);
    assert_eq!(strs("var/feature_name"), ["G0", "G1", "G2"]);
    assert!(file.dataset("var/gene_ids").is_err());
    let order = file.group("var").unwrap().attrs().unwrap()["column-order"].clone();
    assert!(
        matches!(&order, AttrValue::VarLenStringArray(c) | AttrValue::StringArray(c) if c == &["feature_name"]),
        "{order:?}"
    );
    std::fs::remove_file(src).unwrap();
}

#[test]
fn a_cut_that_cannot_be_made_names_the_file_and_writes_nothing() {
    let src = scratch("rich-bad.h5ad");
    std::fs::write(&src, rich_file()).unwrap();
    let dst = scratch("never.h5ad");
    let error = subset_h5ad_file(&src, &dst, 4, &[3, 1], None).unwrap_err();
    assert!(error.to_string().contains("rich-bad.h5ad"), "{error}");
    // X says 4 cells; told 5, the cut refuses rather than write a file anndata cannot open.
    let error = subset_h5ad_file(&src, &dst, 5, &[1], None).unwrap_err();
    assert!(error.to_string().contains("`X`"), "{error}");
    assert!(!dst.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dst.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("never.h5ad"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_file(src).unwrap();
}

#[test]
fn anndata_0_7_categories_survive_a_cut() {
    // Codes in `obs/<column>`, categories in `obs/__categories/<column>` (one per category, not
    // per cell: kept whole), dense `X`.
    let mut builder = FileBuilder::new();
    let dense: Vec<f32> = X.iter().flatten().copied().collect();
    builder
        .create_dataset("X")
        .with_f32_data(&dense)
        .with_shape(&[4, 3]);
    let mut obs = frame(
        &mut builder,
        "obs",
        &["c0", "c1", "c2", "c3"],
        &["cell_type"],
    );
    obs.create_dataset("cell_type").with_i32_data(&[0, 1, 1, 0]);
    let mut categories = obs.create_group("__categories");
    categories
        .create_dataset("cell_type")
        .with_vlen_strings(&["B", "NK"]);
    obs.add_group(categories.finish());
    builder.add_group(obs.finish());
    let var = frame(&mut builder, "var", &["G0", "G1", "G2"], &[]);
    builder.add_group(var.finish());
    let src = scratch("old-categories.h5ad");
    std::fs::write(&src, builder.finish().unwrap()).unwrap();
    let dst = scratch("old-categories-cut.h5ad");
    let report = subset_h5ad_file(&src, &dst, 4, &[1, 3], None).unwrap();
    assert!(report.dropped.is_empty(), "{report:?}");
    let counts = read_h5ad("cut.h5ad", std::fs::read(&dst).unwrap(), &MatrixSource::X).unwrap();
    assert_eq!(
        counts.annotation("cut.h5ad", "cell_type").unwrap(),
        ["NK", "B"]
    );
    let row: Vec<(usize, f32)> = counts.row(1).collect();
    assert_eq!(row, [(0, 4.0), (2, 5.0)]);
    // A legacy layout made for our reader, not a file for CI's anndata check.
    std::fs::remove_file(src).unwrap();
    std::fs::remove_file(dst).unwrap();
}

#[test]
fn cells_are_chosen_from_the_tables_whatever_x_holds() {
    // Scaled values in X (scanpy's `pbmc68k_reduced`): not counts, but the tables read.
    let mut builder = FileBuilder::new();
    builder
        .create_dataset("X")
        .with_f32_data(&[
            -0.3, 1.2, 0.5, -1.0, 0.0, 2.0, 0.1, 0.2, -0.4, 0.9, 1.1, 0.0,
        ])
        .with_shape(&[4, 3]);
    let mut obs = frame(
        &mut builder,
        "obs",
        &["c0", "c1", "c2", "c3"],
        &["cell_type"],
    );
    categorical(&mut obs, "cell_type", &["B", "NK"], &[0, 1, 1, 0]);
    builder.add_group(obs.finish());
    let mut var = frame(&mut builder, "var", &["G0", "G1", "G2"], &["gene_ids"]);
    strings(&mut var, "gene_ids", &["E0", "E1", "E2"]);
    builder.add_group(var.finish());
    let bytes = builder.finish().unwrap();
    let error = read_h5ad("scaled.h5ad", bytes.clone(), &MatrixSource::X).unwrap_err();
    assert!(error.to_string().contains("raw counts"), "{error}");
    let tables = read_h5ad_tables("scaled.h5ad", bytes).unwrap();
    assert_eq!(tables.cell_ids, ["c0", "c1", "c2", "c3"]);
    assert_eq!(
        tables.annotation("f", "cell_type").unwrap(),
        ["B", "NK", "NK", "B"]
    );
    assert_eq!(
        tables.gene_column("f", "gene_ids").unwrap(),
        ["E0", "E1", "E2"]
    );
    assert_eq!(tables.values.len(), 0);
}
