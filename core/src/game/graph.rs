//! Graph boards (the spec's extension beyond lattices): any undirected graph read from an edge
//! list, every node occupied, with the two terminal node sets `flow` connects.
//!
//! The edge list is read once into (node, node) pairs, sorted and deduplicated, and laid out as
//! compressed sparse rows: memory O(nodes + edges) whatever the degrees, time O(E log E). The
//! game itself runs on the [`Topology`] made from it.

use std::collections::HashMap;

use super::board::{BoardError, MAX_SITES, shortened};
use super::topology::Topology;

/// The most nodes a graph board may have ([`MAX_SITES`], as for lattices).
pub const MAX_NODES: usize = MAX_SITES;

/// The most distinct edges a graph board may have: 2²⁷ = 134,217,728 (each is stored twice as
/// u32 neighbours; this keeps the adjacency at 1 GiB and its offsets within u32).
pub const MAX_EDGES: usize = 1 << 27;

#[derive(Clone, Debug)]
pub struct GraphBoard {
    /// Node names back to back; node `i`'s is `names[name_ends[i - 1]..name_ends[i]]`.
    names: String,
    name_ends: Vec<usize>,
    /// Compressed sparse rows: node `v`'s neighbours, ascending, are
    /// `adjacency[offsets[v]..offsets[v + 1]]`.
    offsets: Vec<u32>,
    adjacency: Vec<u32>,
    /// `flow`'s two sides (node indices); empty unless given.
    pub source: Vec<usize>,
    pub sink: Vec<usize>,
}

impl GraphBoard {
    /// A graph from an edge list: one edge per line, two node names separated by white space
    /// (or a comma); `#` starts a comment. Repeated edges (either way round) count once; a
    /// self-loop or a line without two names is an error naming the line, and so is the node
    /// that would exceed [`MAX_NODES`]; more than [`MAX_EDGES`] distinct edges is an error.
    /// Nodes are numbered in order of first appearance.
    pub fn from_edge_list<'a>(text: &'a str) -> Result<Self, BoardError> {
        let mut index: HashMap<&'a str, u32> = HashMap::new();
        let mut order: Vec<&'a str> = Vec::new();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let error = |message: String| BoardError::Line {
                line: number + 1,
                message,
            };
            let mut names = line
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty());
            let (Some(a), Some(b), None) = (names.next(), names.next(), names.next()) else {
                let found = line
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|s| !s.is_empty())
                    .count();
                return Err(error(format!(
                    "expected two node names, found {found}: {:?}",
                    shortened(line)
                )));
            };
            if a == b {
                return Err(error(format!("self-loop on node {:?}", shortened(a))));
            }
            let mut node = |name: &'a str| -> Result<u32, BoardError> {
                if let Some(&i) = index.get(name) {
                    return Ok(i);
                }
                if order.len() >= MAX_NODES {
                    return Err(error(format!(
                        "node {:?} is one more than the limit of {MAX_NODES} nodes",
                        shortened(name)
                    )));
                }
                // Below MAX_NODES, so within u32.
                let i = order.len() as u32;
                order.push(name);
                index.insert(name, i);
                Ok(i)
            };
            let (a, b) = (node(a)?, node(b)?);
            pairs.push((a.min(b), a.max(b)));
        }
        drop(index);
        if order.len() < 2 {
            return Err(BoardError::Invalid(
                "the edge list has no edges (lines of two node names)".into(),
            ));
        }
        Self::from_pairs(order, pairs)
    }

    /// A graph of the nodes `names` (in that order, every one a node even without an edge) and
    /// the `edges` between them (indices into `names`; repeats count once). A self-loop, an
    /// index past the nodes, no edge at all, or more than [`MAX_NODES`] nodes or [`MAX_EDGES`]
    /// distinct edges is an error naming it.
    pub fn from_edges<S: AsRef<str>>(
        names: &[S],
        edges: &[(usize, usize)],
    ) -> Result<Self, BoardError> {
        if names.len() > MAX_NODES {
            return Err(BoardError::Invalid(format!(
                "{} nodes, above the limit of {MAX_NODES}",
                names.len()
            )));
        }
        let mut pairs = Vec::with_capacity(edges.len());
        for (i, &(a, b)) in edges.iter().enumerate() {
            if a >= names.len() || b >= names.len() {
                return Err(BoardError::Invalid(format!(
                    "edge {i}: node index {} is past the {} nodes",
                    a.max(b),
                    names.len()
                )));
            }
            if a == b {
                return Err(BoardError::Invalid(format!(
                    "edge {i}: self-loop on node {:?}",
                    shortened(names[a].as_ref())
                )));
            }
            // Below MAX_NODES, so within u32.
            pairs.push(((a.min(b)) as u32, (a.max(b)) as u32));
        }
        if pairs.is_empty() {
            return Err(BoardError::Invalid("the graph has no edges".into()));
        }
        Self::from_pairs(names.iter().map(AsRef::as_ref).collect(), pairs)
    }

    /// The graph of nodes `order` and edges `pairs` (smaller index first), laid out as CSR.
    fn from_pairs(order: Vec<&str>, mut pairs: Vec<(u32, u32)>) -> Result<Self, BoardError> {
        pairs.sort_unstable();
        pairs.dedup();
        if pairs.len() > MAX_EDGES {
            return Err(BoardError::Invalid(format!(
                "the graph has {} distinct edges, above the limit of {MAX_EDGES}",
                pairs.len()
            )));
        }
        // Degrees, then each node's slice filled in pair order: a node receives its smaller
        // neighbours (pairs (u, v), u ascending) before its larger ones (pairs (v, w), w
        // ascending), so every list comes out sorted.
        let nodes = order.len();
        let mut offsets = vec![0u32; nodes + 1];
        for &(a, b) in &pairs {
            offsets[a as usize + 1] += 1;
            offsets[b as usize + 1] += 1;
        }
        for v in 0..nodes {
            offsets[v + 1] += offsets[v];
        }
        let mut fill: Vec<u32> = offsets[..nodes].to_vec();
        let mut adjacency = vec![0u32; 2 * pairs.len()];
        for &(a, b) in &pairs {
            adjacency[fill[a as usize] as usize] = b;
            fill[a as usize] += 1;
            adjacency[fill[b as usize] as usize] = a;
            fill[b as usize] += 1;
        }
        drop(pairs);
        let mut names = String::with_capacity(order.iter().map(|n| n.len()).sum());
        let mut name_ends = Vec::with_capacity(nodes);
        for name in order {
            names.push_str(name);
            name_ends.push(names.len());
        }
        Ok(Self {
            names,
            name_ends,
            offsets,
            adjacency,
            source: Vec::new(),
            sink: Vec::new(),
        })
    }

    /// Names `flow`'s source and sink nodes; an unknown name is an error naming it.
    pub fn with_terminals(mut self, source: &[&str], sink: &[&str]) -> Result<Self, BoardError> {
        let index: HashMap<&str, usize> = (0..self.len()).map(|i| (self.name(i), i)).collect();
        let find = |name: &&str| -> Result<usize, BoardError> {
            index.get(*name).copied().ok_or_else(|| {
                BoardError::Invalid(format!("no node named {:?} in the graph", shortened(name)))
            })
        };
        let source = source.iter().map(find).collect::<Result<_, _>>()?;
        let sink = sink.iter().map(find).collect::<Result<_, _>>()?;
        drop(index);
        self.source = source;
        self.sink = sink;
        Ok(self)
    }

    pub fn len(&self) -> usize {
        self.name_ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.name_ends.is_empty()
    }

    /// Distinct edges.
    pub fn edges(&self) -> usize {
        self.adjacency.len() / 2
    }

    /// The name of node `i` (nodes are numbered in order of first appearance).
    pub fn name(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.name_ends[i - 1] };
        &self.names[start..self.name_ends[i]]
    }

    /// The neighbours of node `v`, ascending.
    pub fn neighbours(&self, v: usize) -> &[u32] {
        &self.adjacency[self.offsets[v] as usize..self.offsets[v + 1] as usize]
    }

    /// Every distinct edge once, as (smaller node, larger node), ascending.
    pub fn edge_pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (0..self.len()).flat_map(move |v| {
            self.neighbours(v)
                .iter()
                .map(|&u| u as usize)
                .filter(move |&u| u > v)
                .map(move |u| (v, u))
        })
    }

    /// Neighbour lists (sorted) and sides for the game.
    pub fn topology(&self) -> Topology {
        Topology::from_csr(
            self.offsets.clone(),
            self.adjacency.clone(),
            &self.source,
            &self.sink,
        )
    }
}
