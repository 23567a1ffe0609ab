//! Graph files: a real network's nodes (ids, labels, positions) and links with its attribution,
//! as `tessera game graph import` writes them from networkx node-link JSON (topohub's Internet
//! Topology Zoo, SNDlib and CAIDA networks) and as `game eval --graph` and the game page read them.
//!
//! Both readers are serde over the file's own bytes, so no size in a file is trusted past its
//! length; every error names the file and the field (`nodes[3].pos`, `edges[7].target`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::board::shortened;
use super::graph::{GraphBoard, MAX_NODES};

/// A network to play on: what a graph file holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphFile {
    pub name: String,
    /// Where the network comes from and whom to credit.
    pub attribution: String,
    pub nodes: Vec<GraphNode>,
    /// Links as pairs of node ids; undirected, a repeat counts once.
    pub edges: Vec<[String; 2]>,
    /// `flow`'s two sides by default (node ids or labels): the sites a network connects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sink: Vec<String>,
}

/// One node: its id (what edges and `--source` / `--sink` name), an optional label (a city),
/// and where to draw it (longitude and latitude for geographic networks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphNode {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub x: f64,
    pub y: f64,
}

/// Why a graph file (or a node-link file being imported) cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum GraphFileError {
    #[error("{file}: {field}: {message}")]
    Field {
        file: String,
        field: String,
        message: String,
    },
    #[error("{file}: {source}")]
    Graph {
        file: String,
        #[source]
        source: super::BoardError,
    },
}

fn field(file: &str, field: impl Into<String>, message: impl Into<String>) -> GraphFileError {
    GraphFileError::Field {
        file: file.into(),
        field: field.into(),
        message: message.into(),
    }
}

impl GraphFile {
    /// Reads a graph file (JSON, the fields above, nothing else) and checks it: unique ids,
    /// edges between known nodes, finite positions, at most [`MAX_NODES`] nodes.
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, GraphFileError> {
        let mut reader = serde_json::Deserializer::from_slice(bytes);
        let graph: Self = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
            let path = e.path().to_string();
            field(
                file,
                if path == "." { "graph".into() } else { path },
                e.inner().to_string(),
            )
        })?;
        graph.check(file)?;
        Ok(graph)
    }

    /// A graph file from networkx node-link JSON (`nodes` with `id`, `name` or `label`, and
    /// `pos: [x, y]` or `x` / `y`; `edges` or `links` with `source` / `target`), as topohub
    /// ships its networks. Ids may be numbers or strings; direction and repeated links are
    /// dropped (the game is played on the undirected graph). `name` defaults to the file's
    /// `graph.name`.
    pub fn from_node_link(
        file: &str,
        bytes: &[u8],
        name: Option<&str>,
        attribution: &str,
    ) -> Result<Self, GraphFileError> {
        let root: Value =
            serde_json::from_slice(bytes).map_err(|e| field(file, "json", e.to_string()))?;
        let id_of = |value: &Value, at: String| -> Result<String, GraphFileError> {
            match value {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(field(
                    file,
                    at,
                    format!("expected a string or a number, found {other}"),
                )),
            }
        };
        let list = |key: &str| -> Option<&Vec<Value>> { root.get(key).and_then(Value::as_array) };
        let nodes_in =
            list("nodes").ok_or_else(|| field(file, "nodes", "missing, or not a list"))?;
        if nodes_in.len() > MAX_NODES {
            return Err(field(
                file,
                "nodes",
                format!("{} nodes, above the limit of {MAX_NODES}", nodes_in.len()),
            ));
        }
        let mut nodes = Vec::with_capacity(nodes_in.len());
        for (i, node) in nodes_in.iter().enumerate() {
            let at = |key: &str| format!("nodes[{i}].{key}");
            let id = id_of(
                node.get("id")
                    .ok_or_else(|| field(file, at("id"), "missing"))?,
                at("id"),
            )?;
            let label = ["name", "label"]
                .iter()
                .find_map(|key| node.get(*key).and_then(Value::as_str))
                .map(str::to_owned);
            let (x, y) = match (node.get("pos"), node.get("x"), node.get("y")) {
                (Some(pos), _, _) => match pos.as_array().map(Vec::as_slice) {
                    Some([x, y]) => (x.as_f64(), y.as_f64()),
                    _ => return Err(field(file, at("pos"), "expected [x, y]")),
                },
                (None, Some(x), Some(y)) => (x.as_f64(), y.as_f64()),
                _ => {
                    return Err(field(
                        file,
                        at("pos"),
                        "missing: the node has no position (pos, or x and y)",
                    ));
                }
            };
            let (Some(x), Some(y)) = (x, y) else {
                return Err(field(file, at("pos"), "expected numbers"));
            };
            nodes.push(GraphNode { id, label, x, y });
        }
        let (key, links) = match (list("edges"), list("links")) {
            (Some(edges), _) => ("edges", edges),
            (None, Some(links)) => ("links", links),
            (None, None) => return Err(field(file, "edges", "missing, or not a list (nor links)")),
        };
        let mut edges = Vec::with_capacity(links.len());
        for (i, link) in links.iter().enumerate() {
            let end = |side: &str| -> Result<String, GraphFileError> {
                let at = format!("{key}[{i}].{side}");
                id_of(
                    link.get(side)
                        .ok_or_else(|| field(file, at.clone(), "missing"))?,
                    at,
                )
            };
            edges.push([end("source")?, end("target")?]);
        }
        let name = match name {
            Some(name) => name.to_owned(),
            None => root
                .pointer("/graph/name")
                .and_then(Value::as_str)
                .ok_or_else(|| field(file, "graph.name", "missing: give the network a name"))?
                .to_owned(),
        };
        let graph = Self {
            name,
            attribution: attribution.to_owned(),
            nodes,
            edges,
            source: Vec::new(),
            sink: Vec::new(),
        };
        graph.check(file)?;
        Ok(graph)
    }

    /// Unique ids, edges between known nodes (no self-loops), finite positions.
    fn check(&self, file: &str) -> Result<(), GraphFileError> {
        if self.nodes.len() > MAX_NODES {
            return Err(field(
                file,
                "nodes",
                format!("{} nodes, above the limit of {MAX_NODES}", self.nodes.len()),
            ));
        }
        let mut seen = HashMap::with_capacity(self.nodes.len());
        for (i, node) in self.nodes.iter().enumerate() {
            if let Some(first) = seen.insert(node.id.as_str(), i) {
                return Err(field(
                    file,
                    format!("nodes[{i}].id"),
                    format!("{:?} is also node {first}'s id", shortened(&node.id)),
                ));
            }
            if !node.x.is_finite() || !node.y.is_finite() {
                return Err(field(
                    file,
                    format!("nodes[{i}]"),
                    "its position is not finite",
                ));
            }
        }
        for (i, [a, b]) in self.edges.iter().enumerate() {
            for (side, id) in [("0", a), ("1", b)] {
                if !seen.contains_key(id.as_str()) {
                    return Err(field(
                        file,
                        format!("edges[{i}][{side}]"),
                        format!("no node has id {:?}", shortened(id)),
                    ));
                }
            }
            if a == b {
                return Err(field(
                    file,
                    format!("edges[{i}]"),
                    format!("self-loop on node {:?}", shortened(a)),
                ));
            }
        }
        Ok(())
    }

    /// The board to play on with `flow`'s sides `source` and `sink` (ids or labels; the file's
    /// own sides when both are empty).
    pub fn board_between(
        &self,
        file: &str,
        source: &[&str],
        sink: &[&str],
    ) -> Result<GraphBoard, GraphFileError> {
        let (source, sink): (Vec<&str>, Vec<&str>) = if source.is_empty() && sink.is_empty() {
            (
                self.source.iter().map(String::as_str).collect(),
                self.sink.iter().map(String::as_str).collect(),
            )
        } else {
            (source.to_vec(), sink.to_vec())
        };
        let mut ids = [Vec::new(), Vec::new()];
        for (side, names) in ids.iter_mut().zip([source, sink]) {
            for name in names {
                side.push(self.node_id(file, name)?.to_owned());
            }
        }
        let [source, sink] = ids;
        let (source, sink): (Vec<&str>, Vec<&str>) = (
            source.iter().map(String::as_str).collect(),
            sink.iter().map(String::as_str).collect(),
        );
        self.board(file)?
            .with_terminals(&source, &sink)
            .map_err(|source| GraphFileError::Graph {
                file: file.into(),
                source,
            })
    }

    /// The board to play on: one node per node (ids as names, in file order), the edges.
    pub fn board(&self, file: &str) -> Result<GraphBoard, GraphFileError> {
        let index: HashMap<&str, usize> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        let edges: Vec<(usize, usize)> = self
            .edges
            .iter()
            .filter_map(|[a, b]| Some((*index.get(a.as_str())?, *index.get(b.as_str())?)))
            .collect();
        let ids: Vec<&str> = self.nodes.iter().map(|n| n.id.as_str()).collect();
        GraphBoard::from_edges(&ids, &edges).map_err(|source| GraphFileError::Graph {
            file: file.into(),
            source,
        })
    }

    /// The id of the node `name` names: an id, else a label no other node has.
    pub fn node_id<'a>(&'a self, file: &str, name: &'a str) -> Result<&'a str, GraphFileError> {
        if self.nodes.iter().any(|n| n.id == name) {
            return Ok(name);
        }
        let mut labelled = self
            .nodes
            .iter()
            .filter(|n| n.label.as_deref() == Some(name));
        match (labelled.next(), labelled.next()) {
            (Some(node), None) => Ok(&node.id),
            (Some(_), Some(_)) => Err(field(
                file,
                "nodes",
                format!(
                    "several nodes are labelled {:?}; name one by its id",
                    shortened(name)
                ),
            )),
            (None, _) => Err(field(
                file,
                "nodes",
                format!("no node has the id or label {:?}", shortened(name)),
            )),
        }
    }
}
