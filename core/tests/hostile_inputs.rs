//! Hostile input for the data and bundle readers: property tests (proptest) that mutate valid
//! files, and a corpus of crafted files (`tests/corpus/`), must end in a value or a named error —
//! never a panic, an allocation far past the input's size, or a hang.
//!
//! Why proptest: it runs on the stable toolchain in an ordinary `cargo test`, its cases shrink to
//! a minimal failing input, and a failing seed is saved under `proptest-regressions/` and
//! replayed first. cargo-fuzz needs nightly and a separate build, which CI here does not have.
//! The seed is fixed (`TESSERA_FUZZ_SEED`, default 0) so CI is reproducible; explore with
//! `TESSERA_FUZZ_SEED=$RANDOM PROPTEST_CASES=5000 cargo test --release -p tessera-core -p
//! tessera --test hostile_inputs`. The wasm entry points hand bytes to these same readers
//! (`openData` → `open_files`, the model loaders → `BundleStream`), so this covers them too.
//!
//! Memory: this test binary's allocator refuses any single request over 1 GiB (the process then
//! aborts, failing the run) and records each thread's largest request, which every case checks
//! against a bound derived from its input's size.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::time::{Duration, Instant};

use common::{fixture, read};
use flate2::{Compression, write::GzEncoder};
use proptest::prelude::*;
use tessera_core::bundle::safetensors::parse_header;
use tessera_core::bundle::{Bundle, BundleFiles, BundleStream};
use tessera_core::data::h5ad::MatrixSource;
use tessera_core::data::{CountMatrix, Orientation, TenXFiles, open_files, read_10x, read_csv};
use tessera_core::models::bmfm_rna::RnaConfig;
use tessera_core::models::mammal::MammalModel;

/// Refuses single allocations over 1 GiB; records each thread's largest request.
struct Guarded;

const REFUSE_OVER: usize = 1 << 30;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Guarded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > REFUSE_OVER {
            return std::ptr::null_mut();
        }
        let _ = LARGEST.try_with(|l| l.set(l.get().max(layout.size())));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > REFUSE_OVER {
            return std::ptr::null_mut();
        }
        let _ = LARGEST.try_with(|l| l.set(l.get().max(new_size)));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Guarded = Guarded;

/// Runs `f` on hostile input of `input_len` bytes: it must finish within a generous time (a
/// hang guard, not a speed target) and allocate no single block above `64 × input + 16 MiB`.
fn bounded<T>(what: &str, input_len: usize, f: impl FnOnce() -> T) -> T {
    LARGEST.with(|l| l.set(0));
    let start = Instant::now();
    let out = f();
    let largest = LARGEST.with(Cell::get);
    let limit = input_len.saturating_mul(64) + (16 << 20);
    assert!(
        largest <= limit,
        "{what}: one allocation of {largest} bytes for {input_len} bytes of input"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{what}: took {:?}",
        start.elapsed()
    );
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `bytes` with up to a few bytes overwritten and possibly cut short: what corruption,
/// truncated downloads and hand-edited files look like.
fn mutated(bytes: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = bytes.len();
    (
        proptest::collection::vec((0..len, any::<u8>()), 1..8),
        proptest::option::weighted(0.2, 0..len),
    )
        .prop_map(move |(edits, cut)| {
            let mut out = bytes.clone();
            for (at, byte) in edits {
                out[at] = byte;
            }
            if let Some(cut) = cut {
                out.truncate(cut);
            }
            out
        })
}

/// A small count matrix (3 cells × 4 genes) in every file format the readers take.
fn small_matrix() -> CountMatrix {
    CountMatrix {
        cell_ids: vec!["AAAC-1".into(), "AAAG-1".into(), "AATT-1".into()],
        genes: vec!["CD3E".into(), "LYZ".into(), "MS4A1".into(), "NKG7".into()],
        indptr: vec![0, 2, 3, 5],
        indices: vec![0, 3, 1, 0, 2],
        values: vec![1.0, 4.0, 2.0, 7.0, 1.0],
        annotations: Default::default(),
        gene_columns: Default::default(),
    }
}

fn h5ad_bytes() -> Vec<u8> {
    tessera_core::data::write_h5ad("x.h5ad", &small_matrix()).unwrap()
}

/// A bundle archive: `config.json` and a two-tensor `model.safetensors`.
fn bundle_tar() -> Vec<u8> {
    let data = [0u8; 24];
    let tensors = [("a", vec![2usize, 2]), ("b", vec![2usize])].map(|(name, shape)| {
        let len = shape.iter().product::<usize>() * 4;
        let view =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, &data[..len])
                .unwrap();
        (name, view)
    });
    let weights = safetensors::serialize(tensors, None).unwrap();
    let mut files = BundleFiles::default();
    files.insert("config.json", br#"{"architecture": "x"}"#.to_vec());
    files.insert("model.safetensors", weights);
    files.to_tar().unwrap()
}

/// Feeds `archive` to the streaming reader in chunks of `chunk` bytes.
fn stream(archive: &[u8], chunk: usize) -> Result<BundleFiles, tessera_core::bundle::BundleError> {
    let mut reader = BundleStream::new();
    for piece in archive.chunks(chunk.max(1)) {
        reader.push(piece, &mut |_, _| Ok(()))?;
    }
    reader.finish()
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    #[test]
    fn h5ad_corrupted(bytes in mutated(h5ad_bytes())) {
        let len = bytes.len();
        let _ = bounded("h5ad", len, || {
            open_files(vec![("x.h5ad".into(), bytes)], &MatrixSource::Counts)
        });
    }

    #[test]
    fn csv_any_text(text in "[a-zA-Z0-9,.;\t\"\n\r=+-]{0,400}", gz in any::<bool>()) {
        let bytes = if gz { gzip(text.as_bytes()) } else { text.into_bytes() };
        for orientation in [Orientation::CellsByGenes, Orientation::GenesByCells] {
            let _ = bounded("csv", bytes.len(), || read_csv("x.csv", &bytes, orientation));
        }
    }

    #[test]
    fn csv_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = bounded("csv bytes", bytes.len(), || {
            read_csv("x.csv", &bytes, Orientation::CellsByGenes)
        });
    }

    /// MatrixMarket headers that claim any size, with a few entries anywhere.
    #[test]
    fn mtx_claims(
        rows in any::<u64>().prop_map(|n| n % 5 + if n % 3 == 0 { n } else { 0 }),
        cols in any::<u64>().prop_map(|n| n % 5 + if n % 3 == 0 { n } else { 0 }),
        nnz in any::<u64>().prop_map(|n| if n % 2 == 0 { n % 6 } else { n }),
        entries in proptest::collection::vec((0u64..6, 0u64..6, -2i64..1_000_000), 0..6),
        field in prop_oneof!["integer", "real", "pattern", "complex", "x"],
    ) {
        let mut mtx = format!("%%MatrixMarket matrix coordinate {field} general\n{rows} {cols} {nnz}\n");
        for (r, c, v) in entries {
            mtx += &format!("{r} {c} {v}\n");
        }
        let files = TenXFiles {
            matrix: ("matrix.mtx".into(), mtx.into_bytes()),
            barcodes: ("barcodes.tsv".into(), b"A-1\nB-1\nC-1\n".to_vec()),
            features: ("features.tsv".into(), b"g1\tG1\ng2\tG2\ng3\tG3\ng4\tG4\n".to_vec()),
        };
        let _ = bounded("mtx", 200, || read_10x(files));
    }

    #[test]
    fn bundle_archive_corrupted(archive in mutated(bundle_tar()), chunk in 1usize..2000) {
        let len = archive.len();
        let whole = bounded("tar", len, || Bundle::from_tar(archive.clone()).map(|_| ()));
        let streamed = bounded("tar stream", len, || stream(&archive, chunk).map(|_| ()));
        // Both readers see the same archive: when the whole-file reader takes it, the stream
        // reader must not fail on framing (it may still refuse what it checks earlier).
        if whole.is_ok() {
            prop_assert!(
                streamed.as_ref().map_or_else(|e| !e.to_string().contains("ends early"), |_| true),
                "the whole-file reader took it; the stream reader said {:?}",
                streamed
            );
        }
    }

    #[test]
    fn safetensors_header_corrupted(bytes in mutated(tessera_safetensors_sample())) {
        let len = bytes.len();
        let _ = bounded("safetensors", len, || parse_header("model.safetensors", &bytes, len));
    }

    /// Any number in any size field of a MAMMAL `config.json`, with the fixture's weights.
    #[test]
    fn mammal_config_sizes(
        field in prop_oneof![
            Just("d_model"), Just("d_ff"), Just("d_kv"), Just("num_heads"), Just("num_layers"),
            Just("num_decoder_layers"), Just("vocab_size"), Just("relative_attention_num_buckets"),
        ],
        value in prop_oneof![0u64..300, any::<u64>(), Just(1u64 << 32), Just(1u64 << 62)],
    ) {
        let mut config: serde_json::Value =
            serde_json::from_slice(&read(&fixture("mammal-tiny/config.json"))).unwrap();
        config["t5_config"][field] = value.into();
        let mut files = BundleFiles::default();
        files.insert("config.json", serde_json::to_vec(&config).unwrap());
        files.insert("model.safetensors", read(&fixture("mammal-tiny/model.safetensors")));
        let bundle = Bundle::from_files(files).unwrap();
        let device = burn::tensor::Device::flex();
        let _ = bounded("mammal config", 8 << 20, || MammalModel::from_bundle(&bundle, &device).map(|_| ()));
    }

    /// Any number in any size field of a BMFM-RNA `config.json`.
    #[test]
    fn rna_config_sizes(
        field in prop_oneof![
            Just("hidden_size"), Just("num_hidden_layers"), Just("num_attention_heads"),
            Just("intermediate_size"),
        ],
        value in prop_oneof![0u64..300, any::<u64>(), Just(1u64 << 32), Just(1u64 << 62)],
    ) {
        let mut config: serde_json::Value =
            serde_json::from_slice(&read(&fixture("rna-scbert-tiny/config.json"))).unwrap();
        config[field] = value.into();
        let bytes = serde_json::to_vec(&config).unwrap();
        let _ = bounded("rna config", bytes.len(), || RnaConfig::parse(&bytes).map(|_| ()));
    }
}

/// A small safetensors file (two f32 tensors) for the header property.
fn tessera_safetensors_sample() -> Vec<u8> {
    let files = Bundle::from_tar(bundle_tar()).unwrap();
    files.files().get("model.safetensors").unwrap().to_vec()
}

/// Each crafted file of `tests/corpus/` (found by the tester, or by the properties above) and
/// the words its error must contain.
const CORPUS: [(&str, &str); 10] = [
    ("csc_1e12.h5ad", "shape 1000000000000×2 but 3 cells"),
    ("csc_2p61.h5ad", "shape 2305843009213693952×2 but 3 cells"),
    ("csr_1e12.h5ad", "shape 3×1000000000000 but 3 cells"),
    (
        "obs_1e10.h5ad",
        "`obs/_index`: its shape 10000000000 claims more data than",
    ),
    (
        "big_header.tar",
        "says 1099511627776 bytes, more than the archive",
    ),
    ("pax_size.tar", "says 9223372036854775807 bytes"),
    ("longname.tar", "bundle archive"),
    (
        "backslash.tar",
        "entry `..\\..\\evil.json` points outside the bundle",
    ),
    ("big_weights.tar", "says 1099511627776 bytes"),
    ("pax_size40.tar", "says 1099511627776 bytes"),
];

fn corpus(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn corpus_files_are_refused_by_name() {
    for (name, expected) in CORPUS {
        let bytes = corpus(name);
        let len = bytes.len();
        let error = if name.ends_with(".tar") {
            let whole = bounded(name, len, || Bundle::from_tar(bytes.clone()).map(|_| ()));
            let streamed = bounded(name, len, || stream(&bytes, 512).map(|_| ()));
            assert!(streamed.is_err(), "{name}: the stream reader took it");
            whole.unwrap_err().to_string()
        } else {
            bounded(name, len, || {
                open_files(vec![(name.into(), bytes)], &MatrixSource::Counts).map(|_| ())
            })
            .unwrap_err()
            .to_string()
        };
        assert!(error.contains(expected), "{name}: {error}");
    }
}

/// A gzip file of one 65 MiB line (a decompression bomb in miniature) is refused at the cap,
/// holding no more than the cap.
#[test]
fn one_endless_line_is_refused() {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(b"cell,").unwrap();
    let block = vec![b'7'; 1 << 20];
    for _ in 0..65 {
        encoder.write_all(&block).unwrap();
    }
    let bytes = encoder.finish().unwrap();
    let error = read_csv("bomb.csv.gz", &bytes, Orientation::CellsByGenes).unwrap_err();
    assert!(
        error.to_string().contains("line 1: longer than 64 MiB"),
        "{error}"
    );
}

/// Counts from 2²⁴ up cannot be held exactly as f32 and are refused, naming the cell.
#[test]
fn counts_past_f32_precision_are_refused() {
    let text = "cell,A,B\nc1,16777217,1\n";
    let error = read_csv("x.csv", text.as_bytes(), Orientation::CellsByGenes)
        .unwrap_err()
        .to_string();
    assert!(error.contains("cell `c1` has value 16777216"), "{error}");
}

/// A layer count no model has is refused by its field's own name in each kind of config, in
/// the one-line message the CLI and the browser show (the error and its causes).
#[test]
fn layer_counts_are_refused_by_field() {
    use tessera_core::error::chain;
    let device = burn::tensor::Device::flex();
    for (field, want) in [
        (
            "num_layers",
            "config.json: t5_config: num_layers 5000: more than 1024 layers",
        ),
        (
            "num_decoder_layers",
            "config.json: t5_config: num_decoder_layers 5000: more than 1024 layers",
        ),
    ] {
        let mut config: serde_json::Value =
            serde_json::from_slice(&read(&fixture("mammal-tiny/config.json"))).unwrap();
        config["t5_config"][field] = 5000.into();
        let mut files = BundleFiles::default();
        files.insert("config.json", serde_json::to_vec(&config).unwrap());
        files.insert(
            "model.safetensors",
            read(&fixture("mammal-tiny/model.safetensors")),
        );
        let bundle = Bundle::from_files(files).unwrap();
        let error = MammalModel::from_bundle(&bundle, &device).unwrap_err();
        assert!(chain(&error).starts_with(want), "{}", chain(&error));
    }
    let mut config: serde_json::Value =
        serde_json::from_slice(&read(&fixture("rna-scbert-tiny/config.json"))).unwrap();
    config["num_hidden_layers"] = 5000.into();
    let error = RnaConfig::parse(&serde_json::to_vec(&config).unwrap()).unwrap_err();
    assert!(
        chain(&error).starts_with("config.json: num_hidden_layers 5000: more than 1024 layers"),
        "{}",
        chain(&error)
    );
}
