//! The graph agent's message-passing Q-network: one net scores every node of any graph (a lattice
//! read as the graph of its sites too); Q(s, a) ≈ −(discounted moves left after attacking a) / √N.
//!
//! Layout: the boards of a batch are laid end to end as one graph — node features `[nodes, C]`,
//! each edge both ways — and the residual trunk keeps `[nodes, F]`; the head mixes each node's
//! features with its own board's mean / max / min / √N·mean, as the lattice net's head does.
//! Scatter and gather are burn's `select` / `select_assign`, so it trains and runs on every backend.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::leaky_relu;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

use super::board::Site;
use super::qnet::{SLOPE, UniformInit};
use super::rules::{Definition, FlowDirection};
use super::topology::{BOTTOM, LEFT, RIGHT, TOP, Topology};

/// Node features: the four site states one-hot, flow's source and sink flags, the node's degree
/// over its board's largest (what it lacks of that counts as blocked under noodle) and ln(1 + degree).
pub const NODE_FEATURES: usize = 8;

/// Added to the padding of a board's pooled rows so that max and min never pick it.
const FAR: f64 = 1e9;

#[derive(Config, Debug, PartialEq)]
pub struct GraphQNetConfig {
    /// F: features per node.
    pub features: usize,
    /// Message-passing layers (each widens the receptive field by one hop).
    pub depth: usize,
}

/// `h ← h + own(lrelu(h)) + neighbours(mean over neighbours of lrelu(h))`.
#[derive(Module, Debug)]
pub struct MessageLayer {
    pub own: Linear,
    pub neighbours: Linear,
}

#[derive(Module, Debug)]
pub struct GraphQNet {
    /// C → F.
    pub embed: Linear,
    pub layers: Vec<MessageLayer>,
    /// On the board's pooled features, 4F → F.
    pub theta1: Linear,
    /// On the node's features, F → F.
    pub theta2: Linear,
    /// 2F → F.
    pub theta3: Linear,
    /// F → 1.
    pub theta4: Linear,
}

/// One board as the net reads it: its site states and who neighbours whom.
#[derive(Clone, Copy)]
pub struct GraphState<'a> {
    pub sites: &'a [Site],
    pub topology: &'a Topology,
}

/// Boards laid end to end as one graph, on a device.
///
/// # Shapes
/// `features [N, C]`; `tails`, `heads [E]` (every edge both ways); `inverse_degree [N, 1]`;
/// `board [N]` (each node's board); `slot [N]` (its row in the padded `[B·W, F]` pooling table,
/// W the largest board); `padding [B·W, 1]` (1 where no node is); `sizes [B, 1]`.
pub struct GraphBatch {
    features: Tensor<2>,
    tails: Tensor<1, Int>,
    heads: Tensor<1, Int>,
    inverse_degree: Tensor<2>,
    board: Tensor<1, Int>,
    slot: Tensor<1, Int>,
    padding: Tensor<2>,
    sizes: Tensor<2>,
    width: usize,
    /// Each board's first node in the batch, and the total (B + 1 entries).
    pub starts: Vec<usize>,
}

impl GraphBatch {
    /// The batch of `states`; `flow`'s sides are read from the topology only under `flow`.
    pub fn new(states: &[GraphState<'_>], definition: Definition, device: &Device) -> Self {
        let mut starts = Vec::with_capacity(states.len() + 1);
        let mut total = 0;
        for state in states {
            starts.push(total);
            total += state.sites.len();
        }
        starts.push(total);
        let width = states
            .iter()
            .map(|s| s.sites.len())
            .max()
            .unwrap_or(0)
            .max(1);
        let mut features = vec![0f32; total * NODE_FEATURES];
        let (mut tails, mut heads) = (Vec::new(), Vec::new());
        let mut inverse_degree = Vec::with_capacity(total);
        let mut board = Vec::with_capacity(total);
        let mut slot = Vec::with_capacity(total);
        let mut padding = vec![1f32; states.len() * width];
        for (b, state) in states.iter().enumerate() {
            let top = state.topology;
            let largest = top.max_degree().max(1) as f32;
            for (v, &site) in state.sites.iter().enumerate() {
                let node = starts[b] + v;
                let row = &mut features[node * NODE_FEATURES..(node + 1) * NODE_FEATURES];
                row[site as usize] = 1.0;
                if let Definition::Flow { direction } = definition {
                    let (source, sink) = match direction {
                        FlowDirection::Horizontal => (LEFT, RIGHT),
                        FlowDirection::Vertical => (TOP, BOTTOM),
                        FlowDirection::Both => (LEFT | TOP, RIGHT | BOTTOM),
                    };
                    row[4] = f32::from(top.sides(v) & source != 0);
                    row[5] = f32::from(top.sides(v) & sink != 0);
                }
                let neighbours = top.neighbours(v);
                let degree = neighbours.len() as f32;
                row[6] = degree / largest;
                row[7] = degree.ln_1p();
                inverse_degree.push(if neighbours.is_empty() {
                    0.0
                } else {
                    1.0 / degree
                });
                for &u in neighbours {
                    tails.push((starts[b] + u as usize) as i64);
                    heads.push(node as i64);
                }
                board.push(b as i64);
                slot.push((b * width + v) as i64);
                padding[b * width + v] = 0.0;
            }
        }
        let sizes: Vec<f32> = states.iter().map(|s| s.sites.len() as f32).collect();
        let ints = |values: Vec<i64>| {
            let len = values.len();
            Tensor::<1, Int>::from_data(TensorData::new(values, [len]), device)
        };
        let column = |values: Vec<f32>| {
            let len = values.len();
            Tensor::<2>::from_data(TensorData::new(values, [len, 1]), device)
        };
        Self {
            features: Tensor::from_data(TensorData::new(features, [total, NODE_FEATURES]), device),
            tails: ints(tails),
            heads: ints(heads),
            inverse_degree: column(inverse_degree),
            board: ints(board),
            slot: ints(slot),
            padding: column(padding),
            sizes: column(sizes),
            width,
            starts,
        }
    }

    /// Boards in the batch.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Nodes in the batch.
    pub fn nodes(&self) -> usize {
        *self.starts.last().expect("starts has B + 1 entries")
    }
}

impl GraphQNetConfig {
    /// A net with the lattice net's initialisation: weights U(−0.01, 0.01) drawn on the host
    /// from `seed`, biases 0.
    pub fn init(&self, seed: u64, device: &Device) -> GraphQNet {
        let f = self.features;
        let linear = |d_in, d_out| LinearConfig::new(d_in, d_out).init(device);
        let net = GraphQNet {
            embed: linear(NODE_FEATURES, f),
            layers: (0..self.depth)
                .map(|_| MessageLayer {
                    own: linear(f, f),
                    neighbours: linear(f, f),
                })
                .collect(),
            theta1: linear(4 * f, f),
            theta2: linear(f, f),
            theta3: linear(2 * f, f),
            theta4: linear(f, 1),
        };
        net.map(&mut UniformInit::new(seed, device))
    }
}

impl GraphQNet {
    /// Q-values `[N]` of every node of the batch, unmasked.
    pub fn forward(&self, batch: &GraphBatch) -> Tensor<1> {
        let device = batch.features.device();
        let nodes = batch.nodes();
        let boards = batch.len();
        let mut h = self.embed.forward(batch.features.clone());
        let f = h.dims()[1];
        for layer in &self.layers {
            let active = leaky_relu(h.clone(), SLOPE);
            let messages = active.clone().select(0, batch.tails.clone());
            let gathered = Tensor::<2>::zeros([nodes, f], &device).select_assign(
                0,
                batch.heads.clone(),
                messages,
                IndexingUpdateOp::Add,
            ) * batch.inverse_degree.clone();
            h = h + layer.own.forward(active) + layer.neighbours.forward(gathered);
        }
        let padded = Tensor::<2>::zeros([boards * batch.width, f], &device).select_assign(
            0,
            batch.slot.clone(),
            h.clone(),
            IndexingUpdateOp::Add,
        );
        let far = batch.padding.clone() * FAR;
        let max = (padded.clone() - far.clone())
            .reshape([boards, batch.width, f])
            .max_dim(1)
            .reshape([boards, f]);
        let min = (padded + far)
            .reshape([boards, batch.width, f])
            .min_dim(1)
            .reshape([boards, f]);
        let mean = Tensor::<2>::zeros([boards, f], &device).select_assign(
            0,
            batch.board.clone(),
            h.clone(),
            IndexingUpdateOp::Add,
        ) / batch.sizes.clone();
        let scaled = mean.clone() * batch.sizes.clone().sqrt();
        let global = self
            .theta1
            .forward(Tensor::cat(vec![mean, max, min, scaled], 1))
            .select(0, batch.board.clone());
        let joint = Tensor::cat(vec![global, self.theta2.forward(h)], 1);
        let hidden = self.theta3.forward(leaky_relu(joint, SLOPE));
        self.theta4
            .forward(leaky_relu(hidden, SLOPE))
            .reshape([nodes])
    }

    /// Q-values of each board, one row per board (each as long as its board).
    pub fn q_values(
        &self,
        states: &[GraphState<'_>],
        definition: Definition,
        device: &Device,
    ) -> Vec<Vec<f32>> {
        if states.is_empty() {
            return Vec::new();
        }
        let batch = GraphBatch::new(states, definition, device);
        let values = self
            .forward(&batch)
            .into_data()
            .try_into_vec::<f32>()
            .expect("the Q-network computes in f32");
        batch
            .starts
            .windows(2)
            .map(|w| values[w[0]..w[1]].to_vec())
            .collect()
    }
}
