//! Graph boards (the spec's extension beyond lattices): any undirected graph read from an edge
//! list, every node occupied, with the two terminal node sets `flow` connects.
//!
//! petgraph holds the graph while it is read (deduplicated edges, node names); the game itself
//! runs on the compact [`Topology`] made from it.

use std::collections::HashMap;

use petgraph::graph::{NodeIndex, UnGraph};

use super::board::BoardError;
use super::topology::Topology;

#[derive(Clone, Debug)]
pub struct GraphBoard {
    graph: UnGraph<String, ()>,
    /// `flow`'s two sides (node indices); empty unless given.
    pub source: Vec<usize>,
    pub sink: Vec<usize>,
}

impl GraphBoard {
    /// A graph from an edge list: one edge per line, two node names separated by white space
    /// (or a comma); `#` starts a comment. Repeated edges count once; a self-loop or a line
    /// without two names is an error naming the line.
    pub fn from_edge_list(text: &str) -> Result<Self, BoardError> {
        let mut graph = UnGraph::<String, ()>::new_undirected();
        let mut index: HashMap<String, NodeIndex> = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let error = |message: String| BoardError::Line {
                line: number + 1,
                message,
            };
            let names: Vec<&str> = line
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|s| !s.is_empty())
                .collect();
            let [a, b] = names[..] else {
                return Err(error(format!(
                    "expected two node names, found {}: {line:?}",
                    names.len()
                )));
            };
            if a == b {
                return Err(error(format!("self-loop on node {a:?}")));
            }
            let mut node = |name: &str| {
                *index
                    .entry(name.to_string())
                    .or_insert_with(|| graph.add_node(name.to_string()))
            };
            let (a, b) = (node(a), node(b));
            graph.update_edge(a, b, ());
        }
        if graph.node_count() < 2 {
            return Err(BoardError::Invalid(
                "the edge list has no edges (lines of two node names)".into(),
            ));
        }
        Ok(Self {
            graph,
            source: Vec::new(),
            sink: Vec::new(),
        })
    }

    /// Names `flow`'s source and sink nodes; an unknown name is an error naming it.
    pub fn with_terminals(mut self, source: &[&str], sink: &[&str]) -> Result<Self, BoardError> {
        let find = |name: &str| -> Result<usize, BoardError> {
            self.graph
                .node_indices()
                .find(|&i| self.graph[i] == name)
                .map(NodeIndex::index)
                .ok_or_else(|| BoardError::Invalid(format!("no node named {name:?} in the graph")))
        };
        self.source = source.iter().map(|n| find(n)).collect::<Result<_, _>>()?;
        self.sink = sink.iter().map(|n| find(n)).collect::<Result<_, _>>()?;
        Ok(self)
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    pub fn edges(&self) -> usize {
        self.graph.edge_count()
    }

    /// The name of node `i` (nodes are numbered in order of first appearance).
    pub fn name(&self, i: usize) -> &str {
        &self.graph[NodeIndex::new(i)]
    }

    pub fn graph(&self) -> &UnGraph<String, ()> {
        &self.graph
    }

    /// Neighbour lists (sorted) and sides for the game.
    pub fn topology(&self) -> Topology {
        let neighbours: Vec<Vec<u32>> = self
            .graph
            .node_indices()
            .map(|v| {
                let mut list: Vec<u32> =
                    self.graph.neighbors(v).map(|u| u.index() as u32).collect();
                list.sort_unstable();
                list
            })
            .collect();
        Topology::graph(&neighbours, &self.source, &self.sink)
    }
}
