//! The text readers: 10x MatrixMarket folders and dense CSV/TSV tables, built in memory and
//! checked entry by entry against hand-written dense matrices; the errors users meet; and
//! celltypist's real sample CSV when it is there.

mod common;

use std::io::Write;

use flate2::{Compression, write::GzEncoder};
use tessera_core::data::{
    CountMatrix, Orientation, TenXFiles, is_gzip, make_unique, read_10x, read_csv,
};

/// Cells × genes: 3 cells, 5 genes.
const DENSE: [[f32; 5]; 3] = [
    [0.0, 3.0, 0.0, 1.0, 0.0],
    [2.0, 0.0, 0.0, 0.0, 7.0],
    [0.0, 0.0, 0.0, 0.0, 0.0],
];
const CELLS: [&str; 3] = ["AAACCTG-1", "AAACGGG-1", "AAAGATG-1"];
/// Symbols as a 10x folder lists them, duplicates included.
const SYMBOLS: [&str; 5] = ["CD3E", "MALAT1", "CD3E", "LYZ", "CD3E-1"];
/// What scanpy's `var_names_make_unique` makes of them: `CD3E-1` is taken, so the second
/// `CD3E` becomes `CD3E-2`.
const UNIQUE: [&str; 5] = ["CD3E", "MALAT1", "CD3E-2", "LYZ", "CD3E-1"];

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The CSR a reader must produce from `DENSE` (columns ascending, zeros absent).
fn expected(genes: &[&str]) -> CountMatrix {
    let mut counts = CountMatrix {
        cell_ids: CELLS.iter().map(|s| s.to_string()).collect(),
        genes: genes.iter().map(|s| s.to_string()).collect(),
        indptr: vec![0],
        indices: vec![],
        values: vec![],
        annotations: Default::default(),
        gene_columns: Default::default(),
    };
    for row in DENSE {
        for (j, v) in row.into_iter().enumerate() {
            if v != 0.0 {
                counts.indices.push(j as u32);
                counts.values.push(v);
            }
        }
        counts.indptr.push(counts.values.len());
    }
    counts
}

/// `matrix.mtx` of `DENSE` as 10x writes it (genes × cells, 1-based), entries in a scrambled
/// order so the reader's sorting is exercised.
fn mtx() -> String {
    let mut entries = vec![];
    for (cell, row) in DENSE.iter().enumerate() {
        for (gene, v) in row.iter().enumerate() {
            if *v != 0.0 {
                entries.push(format!("{} {} {v}", gene + 1, cell + 1));
            }
        }
    }
    entries.reverse();
    format!(
        "%%MatrixMarket matrix coordinate integer general\n\
         %metadata_json: {{\"software_version\": \"cellranger-7.1.0\"}}\n\
         5 3 {}\n{}\n",
        entries.len(),
        entries.join("\n")
    )
}

fn barcodes() -> String {
    CELLS.map(|c| format!("{c}\n")).concat()
}

fn features_v3() -> String {
    SYMBOLS
        .iter()
        .enumerate()
        .map(|(i, s)| format!("ENSG0000{i}\t{s}\tGene Expression\n"))
        .collect()
}

fn genes_legacy() -> String {
    SYMBOLS
        .iter()
        .enumerate()
        .map(|(i, s)| format!("ENSG0000{i}\t{s}\n"))
        .collect()
}

fn files(matrix: &str, barcodes: &str, features: &str) -> TenXFiles {
    TenXFiles {
        matrix: ("matrix.mtx".into(), matrix.as_bytes().to_vec()),
        barcodes: ("barcodes.tsv".into(), barcodes.as_bytes().to_vec()),
        features: ("features.tsv".into(), features.as_bytes().to_vec()),
    }
}

fn tenx_error(matrix: &str, barcodes: &str, features: &str) -> String {
    read_10x(files(matrix, barcodes, features))
        .unwrap_err()
        .to_string()
}

#[test]
fn tenx_plain_folder_becomes_cells_by_genes_csr() {
    let counts = read_10x(files(&mtx(), &barcodes(), &features_v3())).unwrap();
    assert_eq!(counts, expected(&UNIQUE));
    assert_eq!(counts.indptr, [0, 2, 4, 4]);
    assert_eq!(counts.indices, [1, 3, 0, 4]);
    assert_eq!(counts.values, [3.0, 1.0, 2.0, 7.0]);
    for (i, row) in DENSE.iter().enumerate() {
        assert_eq!(counts.dense_row(i), row);
    }
}

#[test]
fn tenx_gzip_prefixed_legacy_genes_tsv_reads_the_same() {
    let upload = vec![
        ("GSM123_README.txt".to_string(), b"notes".to_vec()),
        (
            "sample/GSM123_matrix.mtx.gz".to_string(),
            gzip(mtx().as_bytes()),
        ),
        (
            "sample/GSM123_barcodes.tsv.gz".to_string(),
            gzip(barcodes().as_bytes()),
        ),
        (
            "sample/GSM123_genes.tsv.gz".to_string(),
            gzip(genes_legacy().as_bytes()),
        ),
    ];
    let picked = TenXFiles::pick("sample", upload).unwrap();
    assert_eq!(picked.matrix.0, "sample/GSM123_matrix.mtx.gz");
    assert_eq!(picked.features.0, "sample/GSM123_genes.tsv.gz");
    assert!(is_gzip(&picked.barcodes.1));
    assert_eq!(read_10x(picked).unwrap(), expected(&UNIQUE));

    // Gzip is recognised by its magic bytes, not the name; CRLF line ends are accepted.
    let mut renamed = files(&mtx(), &barcodes(), &features_v3());
    renamed.matrix.1 = gzip(mtx().as_bytes());
    renamed.barcodes.1 = barcodes().replace('\n', "\r\n").into_bytes();
    assert_eq!(read_10x(renamed).unwrap(), expected(&UNIQUE));

    // Several gzip members one after another (bgzip, `cat a.gz b.gz`) are one stream.
    let text = mtx();
    let (head, tail) = text.split_at(text.len() / 2);
    let mut members = gzip(head.as_bytes());
    members.extend(gzip(tail.as_bytes()));
    let mut split = files(&mtx(), &barcodes(), &features_v3());
    split.matrix.1 = members;
    assert_eq!(read_10x(split).unwrap(), expected(&UNIQUE));
}

#[test]
fn duplicate_symbols_become_unique_as_scanpy_makes_them() {
    let mut names: Vec<String> = ["A", "B", "A", "A", "A-1", "B"].map(String::from).to_vec();
    make_unique(&mut names);
    assert_eq!(names, ["A", "B", "A-2", "A-3", "A-1", "B-1"]);
    let counts = read_10x(files(&mtx(), &barcodes(), &genes_legacy())).unwrap();
    assert_eq!(counts.genes, UNIQUE);
}

#[test]
fn tenx_keeps_gene_expression_features_only() {
    // Gene 3 (0-based 2) becomes an antibody: its column disappears, the others shift.
    let features = features_v3().replacen(
        "ENSG00002\tCD3E\tGene Expression",
        "ENSG00002\tCD3E\tAntibody Capture",
        1,
    );
    let mut matrix = mtx();
    matrix = matrix.replace("5 3 4\n", "5 3 5\n") + "3 1 9\n";
    let counts = read_10x(files(&matrix, &barcodes(), &features)).unwrap();
    assert_eq!(counts.genes, ["CD3E", "MALAT1", "LYZ", "CD3E-1"]);
    assert_eq!(counts.indices, [1, 2, 0, 3]);
    assert_eq!(counts.values, [3.0, 1.0, 2.0, 7.0]);

    let only_antibodies = "A1\tCD3\tAntibody Capture\n";
    let error = tenx_error(
        "%%MatrixMarket matrix coordinate integer general\n1 3 0\n",
        &barcodes(),
        only_antibodies,
    );
    assert!(
        error.contains("features.tsv: no `Gene Expression` features (types: Antibody Capture)"),
        "{error}"
    );
}

#[test]
fn tenx_repeated_entries_are_summed_and_zeros_dropped() {
    let matrix = "%%MatrixMarket matrix coordinate real general\n\
                  % comment\n\
                  5 3 4\n\
                  2 1 1.5\n\
                  2 1 1.5\n\
                  4 1 0\n\
                  4 1 1e0\n";
    let counts = read_10x(files(matrix, &barcodes(), &features_v3())).unwrap();
    assert_eq!(counts.indptr, [0, 2, 2, 2]);
    assert_eq!(counts.indices, [1, 3]);
    assert_eq!(counts.values, [3.0, 1.0]);
}

#[test]
fn tenx_pick_names_what_is_missing_or_ambiguous() {
    let bytes = || b"x".to_vec();
    let error = TenXFiles::pick(
        "upload",
        vec![
            ("matrix.mtx.gz".into(), bytes()),
            ("notes.txt".into(), bytes()),
        ],
    )
    .unwrap_err()
    .to_string();
    assert_eq!(
        error,
        "upload: not a 10x matrix folder: no `barcodes.tsv[.gz]`, no `features.tsv[.gz]` (or \
         `genes.tsv[.gz]`) among `matrix.mtx.gz`, `notes.txt`"
    );
    let error = TenXFiles::pick(
        "upload",
        vec![
            ("GSM1_matrix.mtx.gz".into(), bytes()),
            ("GSM2_matrix.mtx.gz".into(), bytes()),
            ("barcodes.tsv".into(), bytes()),
            ("features.tsv".into(), bytes()),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains(
            "several files could be `matrix.mtx[.gz]`: GSM1_matrix.mtx.gz, GSM2_matrix.mtx.gz"
        ),
        "{error}"
    );
    // features.tsv wins over a stray legacy genes.tsv.
    let picked = TenXFiles::pick(
        "upload",
        vec![
            ("Matrix.MTX".into(), bytes()),
            ("barcodes.tsv".into(), bytes()),
            ("genes.tsv".into(), bytes()),
            ("features.tsv.gz".into(), bytes()),
        ],
    )
    .unwrap();
    assert_eq!(picked.features.0, "features.tsv.gz");
}

#[test]
fn tenx_errors_name_the_file_and_line() {
    let (b, f) = (barcodes(), features_v3());
    let with_entries = |entries: &str, n: usize| {
        format!("%%MatrixMarket matrix coordinate integer general\n5 3 {n}\n{entries}")
    };
    let cases = [
        (
            tenx_error("gene cell value\n", &b, &f),
            "matrix.mtx: line 1: `gene cell value` is not a MatrixMarket header",
        ),
        (
            tenx_error("%%MatrixMarket matrix array real general\n5 3\n", &b, &f),
            "matrix.mtx: line 1: format `array`",
        ),
        (tenx_error("", &b, &f), "matrix.mtx: empty file"),
        (
            tenx_error(&with_entries("", 0).replace("5 3 0", "5 4 0"), &b, &f),
            "matrix.mtx: line 2: the matrix is 5 genes × 4 cells, but features.tsv lists 5 \
             features and barcodes.tsv 3 barcodes",
        ),
        (
            tenx_error(&with_entries("", 0).replace("5 3 0", "3 5 0"), &b, &f),
            "(it looks transposed; 10x writes genes × cells)",
        ),
        (
            tenx_error(&with_entries("1 1 1\n6 2 1\n", 2), &b, &f),
            "matrix.mtx: line 4: gene index 6 is out of range 1..=5",
        ),
        (
            tenx_error(&with_entries("1 1 1\n1 0 1\n", 2), &b, &f),
            "matrix.mtx: line 4: cell index 0 is out of range 1..=3",
        ),
        (
            tenx_error(&with_entries("1 1 one\n", 1), &b, &f),
            "matrix.mtx: line 3: `one` is not a number",
        ),
        (
            tenx_error(&with_entries("1 1 -2\n", 1), &b, &f),
            "matrix.mtx: line 3: `-2` is negative",
        ),
        (
            tenx_error(&with_entries("1 1 2.5\n", 1), &b, &f),
            "matrix.mtx: line 3: `2.5` is not an integer, but the header declares `integer`",
        ),
        (
            tenx_error(&with_entries("1 1 2\n", 2), &b, &f),
            "matrix.mtx: the size line declares 2 entries, but the file ends after 1",
        ),
        (
            tenx_error(&with_entries("1 1 2\n2 2 2\n", 1), &b, &f),
            "matrix.mtx: line 4: more entries than the 1 the size line declares",
        ),
        (
            tenx_error(&with_entries("1 1\n", 1), &b, &f),
            "matrix.mtx: line 3: `1 1` is not an entry `gene cell value`",
        ),
        (
            tenx_error(&mtx(), "A\n\nB\nC\n", &f),
            "barcodes.tsv: line 2: empty barcode",
        ),
        (
            tenx_error(&mtx(), &b, "ENSG1\n"),
            "features.tsv: line 1: one column",
        ),
    ];
    for (error, want) in cases {
        assert!(error.contains(want), "`{error}` should contain `{want}`");
    }

    let mut corrupt = files(&mtx(), &b, &f);
    let mut bytes = gzip(mtx().as_bytes());
    let n = bytes.len();
    bytes[n / 2..].fill(0xff);
    corrupt.matrix = ("matrix.mtx.gz".into(), bytes);
    let error = read_10x(corrupt).unwrap_err().to_string();
    assert!(
        error.starts_with("matrix.mtx.gz: line ") && error.contains("gzip data is corrupt"),
        "{error}"
    );
}

/// `DENSE` as a cells × genes table with `delimiter`.
fn table(delimiter: &str) -> String {
    let mut text = format!("{delimiter}{}\n", UNIQUE.join(delimiter));
    for (cell, row) in CELLS.iter().zip(DENSE) {
        let values: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        text += &format!("{cell}{delimiter}{}\n", values.join(delimiter));
    }
    text
}

/// `DENSE` transposed: genes × cells.
fn table_transposed() -> String {
    let mut text = format!("gene,{}\n", CELLS.join(","));
    for (gene, name) in UNIQUE.iter().enumerate() {
        let values: Vec<String> = DENSE.iter().map(|row| row[gene].to_string()).collect();
        text += &format!("{name},{}\n", values.join(","));
    }
    text
}

#[test]
fn csv_reads_both_orientations_into_the_same_csr() {
    let want = expected(&UNIQUE);
    let csv = table(",");
    assert_eq!(
        read_csv("cells.csv", csv.as_bytes(), Orientation::CellsByGenes).unwrap(),
        want
    );
    assert_eq!(
        read_csv(
            "genes.csv",
            table_transposed().as_bytes(),
            Orientation::GenesByCells
        )
        .unwrap(),
        want
    );
    // Tab-separated, gzip-compressed.
    let tsv = gzip(table("\t").as_bytes());
    assert_eq!(
        read_csv("cells.tsv.gz", &tsv, Orientation::CellsByGenes).unwrap(),
        want
    );
    // Quoted names (a comma inside one), CRLF, a byte-order mark, blank lines, spaces, and
    // non-integer values.
    let quoted = "\u{feff}\"\",\"A,B\",\"say \"\"hi\"\"\"\r\n\
                  \"c1\", 1.5 ,0\r\n\
                  \r\n\
                  c2,0,2e1\r\n";
    let counts = read_csv("quoted.csv", quoted.as_bytes(), Orientation::CellsByGenes).unwrap();
    assert_eq!(counts.genes, ["A,B", "say \"hi\""]);
    assert_eq!(counts.cell_ids, ["c1", "c2"]);
    assert_eq!(counts.indptr, [0, 1, 2]);
    assert_eq!(counts.indices, [0, 1]);
    assert_eq!(counts.values, [1.5, 20.0]);
    // R's write.table: no corner cell in the header; duplicate gene names made unique.
    let r_style = "G,G\nc1,1,2\n";
    let counts = read_csv("r.csv", r_style.as_bytes(), Orientation::CellsByGenes).unwrap();
    assert_eq!(counts.genes, ["G", "G-1"]);
    assert_eq!(counts.values, [1.0, 2.0]);
}

#[test]
fn csv_errors_name_the_line_and_column() {
    let error = |text: &str, orientation| {
        read_csv("t.csv", text.as_bytes(), orientation)
            .unwrap_err()
            .to_string()
    };
    let cells = Orientation::CellsByGenes;
    let cases = [
        (error("", cells), "t.csv: empty file"),
        (
            error("just one name\nc1\n", cells),
            "t.csv: line 1: the header has no comma or tab",
        ),
        (
            error(",A,B\n", cells),
            "t.csv: no data rows after the header",
        ),
        (
            error(",A,B\nc1,1,x\n", cells),
            "t.csv: line 2: column 3: `x` is not a number (cell `c1`, gene `B`)",
        ),
        (
            error(",A,B\nc1,1,2\nc2,-1,0\n", cells),
            "t.csv: line 3: column 2: `-1` is negative; counts must be ≥ 0 (cell `c2`, gene `A`)",
        ),
        (
            error(",A,B\nc1,nan,0\n", cells),
            "t.csv: line 2: column 2: `nan` is not a finite count",
        ),
        (
            error(",A,B\nc1,1,2\nc2,1\n", cells),
            "t.csv: line 3: 2 fields; expected 3 (a cell name and 2 gene values",
        ),
        (
            error(",A,B\nc1,1,2\nc2,1,2,3\n", cells),
            "t.csv: line 3: 4 fields; expected 3",
        ),
        (
            error(",A,,C\nc1,1,2,3\n", cells),
            "t.csv: line 1: column 3: empty gene name",
        ),
        (
            error(",A\nc1,\"1\n", cells),
            "t.csv: line 2: column 2: unterminated quote",
        ),
        (
            error(",A\n,1\n", cells),
            "t.csv: line 2: column 1: empty cell name",
        ),
        (
            error("gene,c1,c2\nG1,0,1\nG2,0,y\n", Orientation::GenesByCells),
            "t.csv: line 3: column 3: `y` is not a number (gene `G2`, cell `c2`)",
        ),
    ];
    for (error, want) in cases {
        assert!(error.contains(want), "`{error}` should contain `{want}`");
    }
    let error = read_csv("bad.csv", b",A\nc1,\xff\n", cells)
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "bad.csv: line 2: not UTF-8 text (byte 4 of the line)"
    );
}

/// celltypist 1.7.1's `sample_cell_by_gene.csv` (PyPI, MIT): `TESSERA_CELLTYPIST_CSV`, or
/// `data/celltypist/sample_cell_by_gene.csv[.gz]` under the shared folder.
fn celltypist_csv() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("TESSERA_CELLTYPIST_CSV") {
        return Some(path.into());
    }
    let dir = common::shared_dir().join("data/celltypist");
    ["sample_cell_by_gene.csv", "sample_cell_by_gene.csv.gz"]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
}

#[test]
fn celltypist_sample_csv_when_present() {
    let Some(path) = celltypist_csv() else {
        eprintln!(
            "skipped: celltypist's sample_cell_by_gene.csv is not in the shared data \
             (set TESSERA_CELLTYPIST_CSV to read it)"
        );
        return;
    };
    let bytes = common::read(&path);
    let counts = read_csv("sample_cell_by_gene.csv", &bytes, Orientation::CellsByGenes).unwrap();
    assert_eq!((counts.n_cells(), counts.n_genes()), (559, 32_786));
    assert_eq!(counts.cell_ids[0], "Cell_1");
    assert_eq!(counts.genes[..3], ["MIR1302-10", "FAM138A", "OR4F5"]);

    // Independently: split the plain text of a few cells' lines and sum them in f64.
    let text = if is_gzip(&bytes) {
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain)
            .unwrap();
        plain
    } else {
        String::from_utf8(bytes).unwrap()
    };
    let lines: Vec<&str> = text.lines().collect();
    for cell in [0, 100, 558] {
        let fields: Vec<&str> = lines[cell + 1].split(',').collect();
        assert_eq!(fields[0], counts.cell_ids[cell]);
        let values: Vec<f64> = fields[1..].iter().map(|v| v.parse().unwrap()).collect();
        let sum: f64 = values.iter().sum();
        let nonzero = values.iter().filter(|&&v| v != 0.0).count();
        let csr: f64 = counts.row(cell).map(|(_, v)| v as f64).sum();
        assert!(
            (csr - sum).abs() < 1e-3 * sum.max(1.0),
            "cell {cell}: {csr} vs {sum}"
        );
        assert_eq!(counts.row(cell).count(), nonzero, "cell {cell}");
    }
    // Cell_1 as pandas reads it: 17,348 counts over 2,631 genes.
    let first: f32 = counts.row(0).map(|(_, v)| v).sum();
    assert_eq!((first.round(), counts.row(0).count()), (17_348.0, 2631));
}
