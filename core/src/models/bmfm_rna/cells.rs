//! Every chosen cell of a data set through a pipeline, a batch at a time, to embeddings, label
//! probabilities and QC: the pass the CLI's `rna embed` / `annotate` and the Python package share.

use burn::tensor::{Device, Tensor};

use super::annotation::CellQc;
use super::panel::GenePanel;
use super::{RnaError, RnaPipeline};
use crate::data::CountMatrix;

/// What a pass over the cells produces, in the order of the rows asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct CellResults {
    pub dim: usize,
    /// Row-major `[cells, dim]`.
    pub embeddings: Vec<f32>,
    /// Per label head: row-major `[cells, classes]`.
    pub probabilities: Vec<Vec<f32>>,
    /// Each cell's QC against the model's genes.
    pub qc: Vec<CellQc>,
}

impl RnaPipeline {
    /// Runs `rows` of `matrix` through the model, `batch_size` cells at a time (runs of
    /// consecutive rows become one batch each, so a cell's batch does not depend on how the
    /// rows were chosen), calling `done` with each batch's cell count.
    pub fn run_cells(
        &self,
        matrix: &CountMatrix,
        panel: &GenePanel,
        rows: &[usize],
        batch_size: usize,
        device: &Device,
        mut done: impl FnMut(usize),
    ) -> Result<CellResults, RnaError> {
        let mut results = CellResults {
            dim: self.embedding_dim(),
            embeddings: Vec::with_capacity(rows.len() * self.embedding_dim()),
            probabilities: vec![Vec::new(); self.model.config.labels().len()],
            qc: rows
                .iter()
                .map(|&row| CellQc::of(matrix, panel, row))
                .collect(),
        };
        for chunk in rows.chunks(batch_size.max(1)) {
            let batch = if chunk.windows(2).all(|w| w[1] == w[0] + 1) {
                self.batch(matrix, panel, chunk[0]..chunk[chunk.len() - 1] + 1)?
            } else {
                self.batch(&matrix.subset(chunk), panel, 0..chunk.len())?
            };
            let outputs = self.outputs(&batch, device)?;
            results.embeddings.extend(host(outputs.embedding)?);
            for (all, p) in results.probabilities.iter_mut().zip(outputs.probabilities) {
                all.extend(host(p)?);
            }
            done(chunk.len());
        }
        Ok(results)
    }
}

fn host(tensor: Tensor<2>) -> Result<Vec<f32>, RnaError> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| RnaError::Readback(format!("{e:?}")))
}
