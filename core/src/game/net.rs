//! The agent's Q-network behind one interface: the convolutional net for n×n lattices, or the
//! message-passing net for any graph (lattices read as the graph of their sites included).
//!
//! Not a burn `Module` enum: each variant keeps its own weight names, so bundles of agents trained
//! before the graph agent existed load unchanged.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::gnn::{GraphBatch, GraphQNet, GraphQNetConfig, GraphState};
use super::qnet::{QNet, QNetConfig, one_hot};
use super::rules::Definition;
use crate::bundle::{Bundle, BundleError, KeyMap};

/// Which Q-network an agent has (`config.json`'s `architecture`; absent means convolutional).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// The spec's fully convolutional net: n×n lattices of any n.
    #[default]
    Convolutional,
    /// Message passing along the edges: any graph, lattices included.
    MessagePassing,
}

impl Architecture {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Convolutional => "convolutional",
            Self::MessagePassing => "message-passing",
        }
    }
}

// One per agent or trainer, moved rarely: the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Net {
    Convolutional(QNet),
    MessagePassing(GraphQNet),
}

impl Net {
    /// A fresh net of `shape` (features F, depth) with the spec's initialisation from `seed`.
    pub fn init(
        architecture: Architecture,
        shape: &QNetConfig,
        seed: u64,
        device: &Device,
    ) -> Self {
        match architecture {
            Architecture::Convolutional => Self::Convolutional(shape.init(seed, device)),
            Architecture::MessagePassing => Self::MessagePassing(
                GraphQNetConfig::new(shape.features, shape.depth).init(seed, device),
            ),
        }
    }

    pub fn architecture(&self) -> Architecture {
        match self {
            Self::Convolutional(_) => Architecture::Convolutional,
            Self::MessagePassing(_) => Architecture::MessagePassing,
        }
    }

    /// The net without autodiff (a copy of the weights).
    pub fn valid(&self) -> Self {
        match self {
            Self::Convolutional(net) => Self::Convolutional(net.valid()),
            Self::MessagePassing(net) => Self::MessagePassing(net.valid()),
        }
    }

    /// Whether the net can score a board of this topology (the convolutional one: lattices only).
    pub fn plays(&self, state: &GraphState<'_>) -> bool {
        match self {
            Self::Convolutional(_) => state.topology.lattice_side().is_some(),
            Self::MessagePassing(_) => true,
        }
    }

    /// Q-values of each board, one row per board, one value per site, unmasked. The
    /// convolutional net takes lattices only (see [`Net::plays`]) and shares a forward pass
    /// among boards of one side.
    pub fn q_values(
        &self,
        states: &[GraphState<'_>],
        definition: Definition,
        device: &Device,
    ) -> Vec<Vec<f32>> {
        match self {
            Self::MessagePassing(net) => net.q_values(states, definition, device),
            Self::Convolutional(_) => {
                if states.is_empty() {
                    return Vec::new();
                }
                let (q, starts) = self.every_site(states, definition, device);
                let values = q
                    .into_data()
                    .try_into_vec::<f32>()
                    .expect("the Q-network computes in f32");
                states
                    .iter()
                    .zip(starts)
                    .map(|(s, start)| values[start..start + s.sites.len()].to_vec())
                    .collect()
            }
        }
    }

    /// Q of `actions[i]` on board `states[i]`, as a tensor on `device` (the loss's input; with
    /// autodiff there).
    ///
    /// # Shapes
    /// `[states.len()]`.
    pub fn chosen(
        &self,
        states: &[GraphState<'_>],
        actions: &[usize],
        definition: Definition,
        device: &Device,
    ) -> Tensor<1> {
        let (q, starts) = self.every_site(states, definition, device);
        let rows: Vec<i64> = starts
            .iter()
            .zip(actions)
            .map(|(&start, &a)| (start + a) as i64)
            .collect();
        let batch = rows.len();
        q.select(
            0,
            Tensor::<1, Int>::from_data(TensorData::new(rows, [batch]), device),
        )
    }

    /// Q of every site of every board, as one tensor on `device` (with autodiff there), and
    /// where each board's sites start in it: board `i`'s site `s` is row `starts[i] + s`. The
    /// convolutional net runs one forward pass per lattice side, so boards of one side are
    /// adjacent, not necessarily in the order given.
    ///
    /// # Shapes
    /// `[Σ sites]`.
    pub fn every_site(
        &self,
        states: &[GraphState<'_>],
        definition: Definition,
        device: &Device,
    ) -> (Tensor<1>, Vec<usize>) {
        match self {
            Self::Convolutional(net) => {
                let side = |i: usize| {
                    states[i]
                        .topology
                        .lattice_side()
                        .expect("the convolutional net plays lattices only")
                };
                let mut order: Vec<usize> = (0..states.len()).collect();
                order.sort_by_key(|&i| side(i));
                let mut starts = vec![0; states.len()];
                let mut parts = Vec::new();
                let mut offset = 0;
                for group in order.chunk_by(|&a, &b| side(a) == side(b)) {
                    let n = side(group[0]);
                    for (k, &i) in group.iter().enumerate() {
                        starts[i] = offset + k * n * n;
                    }
                    offset += group.len() * n * n;
                    let boards: Vec<_> = group.iter().map(|&i| states[i].sites).collect();
                    parts.push(
                        net.forward(one_hot(&boards, n, device))
                            .reshape([group.len() * n * n]),
                    );
                }
                (Tensor::cat(parts, 0), starts)
            }
            Self::MessagePassing(net) => {
                let graphs = GraphBatch::new(states, definition, device);
                (net.forward(&graphs), graphs.starts.clone())
            }
        }
    }

    /// A bundle of `config` and these weights (each variant under its own names).
    pub fn bundle<C: Serialize>(&self, config: &C) -> Result<Bundle, BundleError> {
        match self {
            Self::Convolutional(net) => Bundle::build(config, net),
            Self::MessagePassing(net) => Bundle::build(config, net),
        }
    }

    /// `bundle` with these weights added as the file `path`.
    pub fn add_to(&self, bundle: Bundle, path: &str) -> Result<Bundle, BundleError> {
        match self {
            Self::Convolutional(net) => bundle.with_weights_file(path, net),
            Self::MessagePassing(net) => bundle.with_weights_file(path, net),
        }
    }

    /// Reads the weights from `bundle`'s weights file, or from the file `path` in it.
    pub fn load(&mut self, bundle: &Bundle, path: Option<&str>) -> Result<(), BundleError> {
        fn one<M: burn::store::ModuleSnapshot>(
            bundle: &Bundle,
            path: Option<&str>,
            net: &mut M,
        ) -> Result<(), BundleError> {
            match path {
                Some(path) => bundle.load_weights_file(path, net).map(drop),
                None => bundle.load_weights(net, &KeyMap::new()).map(drop),
            }
        }
        match self {
            Self::Convolutional(net) => one(bundle, path, net),
            Self::MessagePassing(net) => one(bundle, path, net),
        }
    }

    /// The convolutional net, if this is one.
    pub fn convolutional(&self) -> Option<&QNet> {
        match self {
            Self::Convolutional(net) => Some(net),
            Self::MessagePassing(_) => None,
        }
    }
}
