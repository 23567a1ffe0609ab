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
            Self::Convolutional(net) => {
                let side = |s: &GraphState<'_>| {
                    s.topology
                        .lattice_side()
                        .expect("the convolutional net plays lattices only")
                };
                let mut sides: Vec<usize> = states.iter().map(side).collect();
                sides.sort_unstable();
                sides.dedup();
                let mut rows = vec![Vec::new(); states.len()];
                for n in sides {
                    let which: Vec<usize> = (0..states.len())
                        .filter(|&i| side(&states[i]) == n)
                        .collect();
                    let boards: Vec<_> = which.iter().map(|&i| states[i].sites).collect();
                    for (i, row) in which.into_iter().zip(net.q_values(&boards, n, device)) {
                        rows[i] = row;
                    }
                }
                rows
            }
        }
    }

    /// Q of `actions[i]` on board `states[i]`, as a tensor on `device` (the loss's input; with
    /// autodiff there). The convolutional net needs boards of one side.
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
        let batch = states.len();
        match self {
            Self::Convolutional(net) => {
                let n = states[0]
                    .topology
                    .lattice_side()
                    .expect("the convolutional net plays lattices only");
                let boards: Vec<_> = states.iter().map(|s| s.sites).collect();
                let q = net
                    .forward(one_hot(&boards, n, device))
                    .reshape([batch, n * n]);
                let actions: Vec<i64> = actions.iter().map(|&a| a as i64).collect();
                let actions =
                    Tensor::<2, Int>::from_data(TensorData::new(actions, [batch, 1]), device);
                q.gather(1, actions).reshape([batch])
            }
            Self::MessagePassing(net) => {
                let graphs = GraphBatch::new(states, definition, device);
                let rows: Vec<i64> = actions
                    .iter()
                    .zip(&graphs.starts)
                    .map(|(&a, &start)| (start + a) as i64)
                    .collect();
                let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [batch]), device);
                net.forward(&graphs).select(0, rows)
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
