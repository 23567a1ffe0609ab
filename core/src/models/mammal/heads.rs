//! MAMMAL's encoder-only heads (fuse-med-ml `ClassifierMLP`): Linear → ReLU → Dropout per hidden
//! layer, then a Linear to the outputs — the token head over the vocabulary and the scalar head.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, activation::relu};

use crate::nn::dropout;

#[derive(Module, Debug)]
pub struct ClassifierMlp {
    /// Hidden layers then the output layer.
    pub layers: Vec<Linear>,
    #[module(skip)]
    dropout: f64,
}

impl ClassifierMlp {
    pub fn new(
        d_in: usize,
        hidden: &[usize],
        outputs: usize,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let sizes: Vec<usize> = std::iter::once(d_in)
            .chain(hidden.iter().copied())
            .chain([outputs])
            .collect();
        Self {
            layers: sizes
                .windows(2)
                .map(|w| LinearConfig::new(w[0], w[1]).init(device))
                .collect(),
            dropout,
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let last = self.layers.len() - 1;
        self.layers.iter().enumerate().fold(x, |x, (i, layer)| {
            let x = layer.forward(x);
            if i == last {
                x
            } else {
                dropout(relu(x), self.dropout)
            }
        })
    }

    /// The reference's `Sequential` index of layer `i`: Dropout modules exist only when the
    /// dropout is positive, and shift the indices.
    pub fn reference_index(i: usize, dropout: f64) -> usize {
        i * if dropout > 0.0 { 3 } else { 2 }
    }
}
