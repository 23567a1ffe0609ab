//! The annotation page's extras, in a small CPU module loaded only when asked for: a UMAP of
//! the cells' embeddings, and the annotated `.h5ad` (the user's counts, `obs` and `var` text
//! columns, with the results `tessera rna annotate --out-h5ad` adds).
//!
//! Nothing here may panic on input: every entry returns `Result`.

use js_sys::{Float32Array, Uint8Array, Uint32Array};
use serde::Deserialize;
use tessera_core::data::h5ad::MatrixSource;
use tessera_core::data::{Rows, open_files, write_h5ad_with};
use tessera_core::eval::umap::{UmapConfig, umap};
use tessera_core::models::bmfm_rna::annotation::{AnnotationTables, Call, CellQc, Unassigned};
use wasm_bindgen::prelude::*;

use crate::boundary::from_js_direct;
use crate::{js_error, named_files};

/// What `annotatedH5ad` takes of an `RnaDataset`'s results (other fields are not looked at), the
/// arrays as the results hold them.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnnotatedResults {
    class_names: Vec<String>,
    embedding_dim: usize,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    predicted: Uint32Array,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    confidence: Float32Array,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    unassigned: Uint8Array,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    total_counts: Float32Array,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    n_genes: Uint32Array,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    n_model_genes: Uint32Array,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    probabilities: Float32Array,
    #[serde(with = "serde_wasm_bindgen::preserve")]
    embedding: Float32Array,
    /// `cells × 2`.
    #[serde(with = "serde_wasm_bindgen::preserve")]
    umap: Float32Array,
}

/// The 2-D UMAP (seed `seed`, 15 neighbours) of `cells × dim` embeddings, `cells × 2`.
#[wasm_bindgen(js_name = umap2d)]
pub fn umap_2d(embedding: &[f32], dim: usize, seed: Option<u32>) -> Result<Float32Array, JsError> {
    if dim == 0 || !embedding.len().is_multiple_of(dim) {
        return Err(JsError::new(&format!(
            "umap2d: {} values are not rows of {dim}",
            embedding.len()
        )));
    }
    let config = UmapConfig {
        seed: seed.unwrap_or(0).into(),
        ..UmapConfig::default()
    };
    Ok(Float32Array::from(&umap(embedding, dim, &config)[..]))
}

/// The annotated `.h5ad`: `files` (`[{ name, bytes }]`, as `openData` took them) read again,
/// with `results` (an `RnaDataset`'s results, plus `umap`: `cells × 2`) added as
/// `tessera rna annotate --out-h5ad` adds them.
#[wasm_bindgen(js_name = annotatedH5ad)]
pub fn annotated_h5ad(files: JsValue, results: JsValue) -> Result<Uint8Array, JsError> {
    let list = named_files(files)?;
    let results: AnnotatedResults = from_js_direct("results", results)?;
    if results.embedding_dim == 0 {
        return Err(JsError::new(
            "results.embeddingDim: 0 is not a positive number",
        ));
    }
    let (classes, dim) = (results.class_names, results.embedding_dim);
    let (best, confidence) = (results.predicted.to_vec(), results.confidence.to_vec());
    let codes = results.unassigned.to_vec();
    let (counts, genes, model_genes) = (
        results.total_counts.to_vec(),
        results.n_genes.to_vec(),
        results.n_model_genes.to_vec(),
    );
    let (probabilities, embedding, map) = (
        results.probabilities.to_vec(),
        results.embedding.to_vec(),
        results.umap.to_vec(),
    );

    let opened = open_files(list, &MatrixSource::Counts).map_err(js_error)?;
    let n = best.len();
    // A CSV read as genes × cells when opened (the page said so) reads the same way here.
    let matrix = if opened.matrix.n_cells() == n {
        opened.matrix
    } else {
        match opened.transposed_csv() {
            Some(Ok(turned)) if turned.matrix.n_cells() == n => turned.matrix,
            _ => opened.matrix,
        }
    };
    let lengths = [
        ("confidence", confidence.len()),
        ("unassigned", codes.len()),
        ("totalCounts", counts.len()),
        ("nGenes", genes.len()),
        ("nModelGenes", model_genes.len()),
        ("probabilities", probabilities.len() / classes.len().max(1)),
        ("embedding", embedding.len() / dim),
        ("umap", map.len() / 2),
    ];
    if matrix.n_cells() != n {
        return Err(JsError::new(&format!(
            "the files hold {} cells, the results {n}",
            matrix.n_cells()
        )));
    }
    if let Some((key, len)) = lengths.iter().find(|(_, len)| *len != n) {
        return Err(JsError::new(&format!(
            "results.{key}: {len} rows for {n} cells"
        )));
    }
    let calls: Vec<Call> = (0..n)
        .map(|i| Call {
            best: best[i],
            confidence: confidence[i],
            unassigned: Unassigned::from_code(codes[i]),
        })
        .collect();
    let qc: Vec<CellQc> = (0..n)
        .map(|i| CellQc {
            total_counts: counts[i],
            n_genes: genes[i],
            n_model_genes: model_genes[i],
        })
        .collect();
    let tables = AnnotationTables {
        calls: &calls,
        qc: &qc,
        classes: &classes,
        probabilities: &probabilities,
        embedding: &embedding,
        dim,
    };
    let mut additions = tables.additions();
    additions.obsm.push((
        "X_umap".into(),
        Rows {
            columns: 2,
            values: map,
        },
    ));
    let bytes = write_h5ad_with("annotated.h5ad", &matrix, &additions).map_err(js_error)?;
    Ok(Uint8Array::from(&bytes[..]))
}
