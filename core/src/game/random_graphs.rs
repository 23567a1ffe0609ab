//! The random boards a graph agent trains on: Erdős–Rényi, Barabási–Albert and random geometric
//! graphs, and site-diluted lattices read as graphs — drawn from a seed, the same everywhere.
//!
//! Written here rather than taken from petgraph's generators: those draw from `rand`'s
//! thread-local or version-dependent streams, and training must replay the same graphs from a seed.

use std::sync::Arc;

use rand::rngs::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::board::{Board, rng, unit};
use super::rules::{Definition, Game};
use super::topology::Topology;

/// Draws in a row over before the first move after which a family is left out of the mix.
const ATTEMPTS: usize = 1_000;

/// The largest random graph drawn (the generators are quadratic in the nodes).
pub const MAX_NODES: usize = 10_000;

/// Each side `flow` joins on a random graph: this many nodes (the shipped networks' sides have 3).
const SIDE_NODES: usize = 3;

/// What a graph agent's training boards are: a quarter each of lattices (the trainer's size and
/// p), Erdős–Rényi, Barabási–Albert and random geometric graphs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphMix {
    /// Node counts of the random graphs, drawn uniformly in `[min_nodes, max_nodes]`.
    pub min_nodes: usize,
    pub max_nodes: usize,
    /// Mean degree, drawn per graph uniformly in `[min_degree, max_degree]` (Barabási–Albert:
    /// m = the mean over 2, rounded, at least 1).
    pub min_degree: f64,
    pub max_degree: f64,
}

impl Default for GraphMix {
    /// 20–100 nodes of mean degree 2.5–4.5, around the shipped backbones (11–50 nodes, 2.5–3.5).
    fn default() -> Self {
        Self {
            min_nodes: 20,
            max_nodes: 100,
            min_degree: 2.5,
            max_degree: 4.5,
        }
    }
}

/// Which generator drew a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Lattice,
    ErdosRenyi,
    BarabasiAlbert,
    Geometric,
}

const FAMILIES: [Family; 4] = [
    Family::Lattice,
    Family::ErdosRenyi,
    Family::BarabasiAlbert,
    Family::Geometric,
];

/// A drawn board: who neighbours whom, and which nodes are occupied (all but a lattice's walls).
#[derive(Clone, Debug)]
pub struct Start {
    pub family: Family,
    pub topology: Arc<Topology>,
    pub occupied: Vec<bool>,
}

impl Start {
    pub fn game(&self, definition: Definition) -> Game {
        Game::on_topology(self.topology.clone(), self.occupied.clone(), definition)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    #[error("graphs: {0}")]
    Invalid(String),
    #[error(
        "under {definition}, every family's boards were over before the first move \
         ({ATTEMPTS} draws in a row each)"
    )]
    AlwaysOver { definition: &'static str },
}

impl GraphMix {
    pub fn check(&self, lattice_side: usize) -> Result<(), MixError> {
        let bad = |what: String| Err(MixError::Invalid(what));
        if self.min_nodes < 2 * SIDE_NODES + 1 || self.min_nodes > self.max_nodes {
            return bad(format!(
                "nodes {}–{}: need {} ≤ min ≤ max",
                self.min_nodes,
                self.max_nodes,
                2 * SIDE_NODES + 1
            ));
        }
        // The generators compare every pair of nodes: 10,000 is 5·10⁷ pairs, a second or so.
        if self.max_nodes > MAX_NODES {
            return bad(format!("max_nodes {}: at most {MAX_NODES}", self.max_nodes));
        }
        if !(self.min_degree >= 1.0 && self.min_degree <= self.max_degree)
            || self.max_degree >= self.min_nodes as f64
        {
            return bad(format!(
                "mean degree {}–{}: need 1 ≤ min ≤ max < min_nodes",
                self.min_degree, self.max_degree
            ));
        }
        if lattice_side < 2 {
            return bad(format!("lattice side {lattice_side}: at least 2"));
        }
        Ok(())
    }

    /// `count` boards from `seed`, the families in turn (lattice, ER, BA, geometric, lattice, …);
    /// a board already over under `definition` is drawn again, and a family whose boards are
    /// over [`ATTEMPTS`] times in a row is left out (Barabási–Albert under noodle: its hubs'
    /// degree makes every other node's deficit count against its cluster).
    pub fn draw(
        &self,
        lattice_side: usize,
        p: f64,
        count: usize,
        definition: Definition,
        seed: u64,
    ) -> Result<Vec<Start>, MixError> {
        self.check(lattice_side)?;
        let mut rng = rng(seed);
        let lattice = Arc::new(Topology::lattice(lattice_side));
        let mut starts = Vec::with_capacity(count);
        let mut families = FAMILIES.to_vec();
        let mut turn = 0;
        while starts.len() < count {
            if families.is_empty() {
                return Err(MixError::AlwaysOver {
                    definition: definition.name(),
                });
            }
            let family = families[turn % families.len()];
            let mut attempt = 0;
            let drawn = loop {
                let start = match family {
                    Family::Lattice => Start {
                        family,
                        topology: lattice.clone(),
                        occupied: Board::random(lattice_side, p, &mut rng)
                            .map_err(|e| MixError::Invalid(e.to_string()))?
                            .occupied,
                    },
                    _ => self.graph(family, &mut rng),
                };
                if !start.game(definition).is_over() {
                    break Some(start);
                }
                attempt += 1;
                if attempt == ATTEMPTS {
                    break None;
                }
            };
            match drawn {
                Some(start) => {
                    starts.push(start);
                    turn += 1;
                }
                None => families.retain(|&f| f != family),
            }
        }
        Ok(starts)
    }

    fn graph(&self, family: Family, rng: &mut Xoshiro256PlusPlus) -> Start {
        let span = self.max_nodes - self.min_nodes + 1;
        let nodes = self.min_nodes + ((unit(rng) * span as f64) as usize).min(span - 1);
        let degree = self.min_degree + unit(rng) * (self.max_degree - self.min_degree);
        let mut edges: Vec<(usize, usize)> = Vec::new();
        let mut order: Vec<usize> = (0..nodes).collect();
        match family {
            Family::ErdosRenyi => {
                let p = degree / (nodes - 1) as f64;
                for a in 0..nodes {
                    for b in a + 1..nodes {
                        if unit(rng) < p {
                            edges.push((a, b));
                        }
                    }
                }
            }
            Family::BarabasiAlbert => {
                let m = ((degree / 2.0).round() as usize).clamp(1, nodes - 1);
                // A clique of m + 1 nodes, then each node joins m distinct earlier ones drawn in
                // proportion to their degree (a node appears in `ends` once per edge end).
                let mut ends: Vec<usize> = Vec::new();
                for a in 0..=m {
                    for b in a + 1..=m {
                        edges.push((a, b));
                        ends.extend([a, b]);
                    }
                }
                for v in m + 1..nodes {
                    let mut targets: Vec<usize> = Vec::with_capacity(m);
                    while targets.len() < m {
                        let u =
                            ends[((unit(rng) * ends.len() as f64) as usize).min(ends.len() - 1)];
                        if !targets.contains(&u) {
                            targets.push(u);
                        }
                    }
                    for u in targets {
                        edges.push((u, v));
                        ends.extend([u, v]);
                    }
                }
            }
            Family::Geometric => {
                let radius = (degree / (std::f64::consts::PI * nodes as f64)).sqrt();
                let points: Vec<(f64, f64)> = (0..nodes).map(|_| (unit(rng), unit(rng))).collect();
                for a in 0..nodes {
                    for b in a + 1..nodes {
                        let (dx, dy) = (points[a].0 - points[b].0, points[a].1 - points[b].1);
                        if dx * dx + dy * dy < radius * radius {
                            edges.push((a, b));
                        }
                    }
                }
                // flow's sides: the westernmost and easternmost nodes, as on the real networks.
                order.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0));
            }
            Family::Lattice => unreachable!("lattices are drawn as boards"),
        }
        if family != Family::Geometric {
            // flow's sides: random nodes (a partial Fisher–Yates shuffle from both ends).
            for i in 0..SIDE_NODES {
                let j = i + ((unit(rng) * (nodes - i) as f64) as usize).min(nodes - i - 1);
                order.swap(i, j);
            }
            for i in 0..SIDE_NODES {
                let end = nodes - 1 - i;
                let j = SIDE_NODES
                    + ((unit(rng) * (end + 1 - SIDE_NODES) as f64) as usize).min(end - SIDE_NODES);
                order.swap(end, j);
            }
        }
        let mut neighbours = vec![Vec::new(); nodes];
        for (a, b) in edges {
            neighbours[a].push(b as u32);
            neighbours[b].push(a as u32);
        }
        for list in &mut neighbours {
            list.sort_unstable();
        }
        let source = &order[..SIDE_NODES];
        let sink = &order[nodes - SIDE_NODES..];
        Start {
            family,
            topology: Arc::new(Topology::graph(&neighbours, source, sink)),
            occupied: vec![true; nodes],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_families_come_in_turn_from_a_seed_and_are_never_over_at_the_start() {
        let mix = GraphMix::default();
        let a = mix
            .draw(6, 0.8, 8, Definition::parse("flow").unwrap(), 5)
            .unwrap();
        let b = mix
            .draw(6, 0.8, 8, Definition::parse("flow").unwrap(), 5)
            .unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert_eq!((x.family, &x.occupied), (y.family, &y.occupied));
            assert_eq!(x.topology, y.topology);
        }
        assert_eq!(a[1].family, Family::ErdosRenyi);
        assert_eq!(a[6].family, Family::BarabasiAlbert);
        for start in &a {
            assert!(!start.game(Definition::parse("flow").unwrap()).is_over());
            let nodes = start.occupied.len();
            if start.family != Family::Lattice {
                assert!((20..=100).contains(&nodes), "{nodes}");
                let ends: usize = (0..nodes).map(|v| start.topology.neighbours(v).len()).sum();
                let mean = ends as f64 / nodes as f64;
                assert!(
                    (1.0..8.0).contains(&mean),
                    "{:?}: mean degree {mean}",
                    start.family
                );
            }
        }
        assert!(mix.draw(6, 0.8, 1, Definition::Network, 6).unwrap()[0].family == Family::Lattice);
        let noodle = mix
            .draw(6, 0.8, 12, Definition::Noodle { d: 2.0 }, 7)
            .unwrap();
        assert!(
            noodle.iter().all(|s| s.family != Family::BarabasiAlbert),
            "hubs put every Barabási–Albert board over at the start under noodle"
        );
        assert!(noodle.iter().any(|s| s.family == Family::Geometric));
        let bad = GraphMix {
            min_nodes: 50,
            max_nodes: 10,
            ..mix
        };
        assert!(bad.draw(6, 0.8, 1, Definition::Network, 0).is_err());
    }
}
