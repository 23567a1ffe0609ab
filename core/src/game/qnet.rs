//! The agent's fully convolutional Q-network (../shared/specs/lattice-game.md §5): one net scores
//! every site of a board of any size; Q(s, a) ≈ −(discounted moves left after attacking a) / n.
//!
//! Layout: boards enter as `[batch, 4, n, n]` one-hot site states; the residual trunk keeps
//! `[batch, F, n, n]`; the head mixes each site's features with the board's global statistics.

use burn::config::Config;
use burn::module::{Module, ModuleMapper, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::board::Site;

/// The leaky-ReLU slope everywhere in the net.
pub(crate) const SLOPE: f64 = 0.01;
/// Input channels: one per site state (Wall, Alive, Dead, Attacked).
pub const CHANNELS: usize = 4;

#[derive(Config, Debug, PartialEq)]
pub struct QNetConfig {
    /// F: channels of the trunk (reference 64; 32 in an earlier setting).
    pub features: usize,
    /// Residual blocks (reference 10).
    pub depth: usize,
}

/// `x ← x + conv3×3(lrelu(x))`, zero padding.
#[derive(Module, Debug)]
pub struct Residual {
    pub conv: Conv2d,
}

#[derive(Module, Debug)]
pub struct QNet {
    /// 1×1, 4 → F.
    pub embed: Conv2d,
    pub blocks: Vec<Residual>,
    /// 1×1 on the global features, 4F → F.
    pub theta1: Conv2d,
    /// 1×1 on the site features, F → F.
    pub theta2: Conv2d,
    /// 1×1, 2F → F.
    pub theta3: Conv2d,
    /// 1×1, F → 1.
    pub theta4: Conv2d,
}

impl QNetConfig {
    /// A net with the spec's initialisation: weights U(−0.01, 0.01) drawn on the host from
    /// `seed` (the same net on every device), biases 0.
    pub fn init(&self, seed: u64, device: &Device) -> QNet {
        let f = self.features;
        let conv = |c_in, c_out, k: usize| {
            Conv2dConfig::new([c_in, c_out], [k, k])
                .with_padding(PaddingConfig2d::Explicit(k / 2, k / 2, k / 2, k / 2))
                .init(device)
        };
        let net = QNet {
            embed: conv(CHANNELS, f, 1),
            blocks: (0..self.depth)
                .map(|_| Residual {
                    conv: conv(f, f, 3),
                })
                .collect(),
            theta1: conv(4 * f, f, 1),
            theta2: conv(f, f, 1),
            theta3: conv(2 * f, f, 1),
            theta4: conv(f, 1, 1),
        };
        net.map(&mut UniformInit::new(seed, device))
    }
}

impl QNet {
    /// Q-values `[batch, n, n]` of boards `[batch, 4, n, n]`, unmasked (see [`masked_argmax`]).
    pub fn forward(&self, boards: Tensor<4>) -> Tensor<3> {
        let [batch, _, n, _] = boards.dims();
        let mut x = self.embed.forward(boards);
        for block in &self.blocks {
            x = x.clone() + block.conv.forward(leaky_relu(x, SLOPE));
        }
        let f = x.dims()[1];
        let flat = x.clone().reshape([batch, f, n * n]);
        let mean = flat.clone().mean_dim(2);
        let global = Tensor::cat(
            vec![
                mean.clone(),
                flat.clone().max_dim(2),
                flat.min_dim(2),
                mean * n as f64,
            ],
            1,
        )
        .reshape([batch, 4 * f, 1, 1]);
        let global = self.theta1.forward(global).expand([batch, f, n, n]);
        let joint = Tensor::cat(vec![global, self.theta2.forward(x)], 1);
        let hidden = self.theta3.forward(leaky_relu(joint, SLOPE));
        self.theta4
            .forward(leaky_relu(hidden, SLOPE))
            .reshape([batch, n, n])
    }

    /// Q-values of boards given as site states (each `n·n` long), one row per board.
    pub fn q_values(&self, boards: &[&[Site]], n: usize, device: &Device) -> Vec<Vec<f32>> {
        if boards.is_empty() {
            return Vec::new();
        }
        let q = self.forward(one_hot(boards, n, device));
        let values = q
            .into_data()
            .try_into_vec::<f32>()
            .expect("the Q-network computes in f32");
        values.chunks(n * n).map(<[f32]>::to_vec).collect()
    }
}

/// Boards as `[batch, 4, n, n]` one-hot channels in [`Site`] order.
pub fn one_hot(boards: &[&[Site]], n: usize, device: &Device) -> Tensor<4> {
    let plane = n * n;
    let mut values = vec![0f32; boards.len() * CHANNELS * plane];
    for (b, sites) in boards.iter().enumerate() {
        for (i, &site) in sites.iter().enumerate() {
            values[(b * CHANNELS + site as usize) * plane + i] = 1.0;
        }
    }
    Tensor::from_data(
        TensorData::new(values, [boards.len(), CHANNELS, n, n]),
        device,
    )
}

/// The `Alive` site with the highest Q (ties → the smallest index); `None` when none is Alive.
pub fn masked_argmax(q: &[f32], sites: &[Site]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, (&value, &site)) in q.iter().zip(sites).enumerate() {
        if site == Site::Alive && best.is_none_or(|(_, b)| value > b) {
            best = Some((i, value));
        }
    }
    best.map(|(i, _)| i)
}

/// U(−0.01, 0.01) for every weight, 0 for every bias (the spec's initialisation, drawn on the
/// host so every device gets the same net).
pub(crate) struct UniformInit {
    rng: Xoshiro256PlusPlus,
    device: Device,
}

impl UniformInit {
    pub(crate) fn new(seed: u64, device: &Device) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            device: device.clone(),
        }
    }
}

impl ModuleMapper for UniformInit {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let dims = tensor.dims();
        let count: usize = dims.iter().product();
        let values: Vec<f32> = if D == 1 {
            vec![0.0; count]
        } else {
            (0..count)
                .map(|_| (self.rng.random::<f64>() * 0.02 - 0.01) as f32)
                .collect()
        };
        let fresh = Tensor::from_data(TensorData::new(values, dims), &self.device)
            .set_require_grad(tensor.is_require_grad());
        Param::from_mapped_value(id, fresh, mapper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_skips_sites_that_are_not_alive_and_takes_the_first_tie() {
        let sites = [Site::Dead, Site::Alive, Site::Alive, Site::Attacked];
        assert_eq!(masked_argmax(&[9.0, 1.0, 1.0, 5.0], &sites), Some(1));
        assert_eq!(masked_argmax(&[9.0, 1.0, 2.0, 5.0], &sites), Some(2));
        assert_eq!(masked_argmax(&[1.0; 2], &[Site::Wall, Site::Dead]), None);
    }
}
