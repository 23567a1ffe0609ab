//! Exact optima (spec §4). `flow` at any size: on a lattice by planar duality — the fewest sites
//! whose removal separates left from right equals the cheapest top-to-bottom path on the
//! 8-connected lattice where Alive sites cost 1 and every other site 0, a 0-1 breadth-first
//! search, O(n²); on a graph, which has no dual, by Menger's theorem — the fewest nodes that
//! separate the terminal sets equal the most node-disjoint paths between them, a maximum flow
//! (petgraph's Dinic). On a lattice, which moves lower the cut (every move's exact value), from
//! a second search from the other edge. Any definition on small boards by exhaustive search
//! (iterative deepening with a memo).

use std::collections::VecDeque;

use petgraph::Direction;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use super::board::Site;
use super::rules::{Definition, FlowDirection, Game};
use super::topology::{BOTTOM, LEFT, RIGHT, TOP};

/// The minimum number of further moves that ends a `flow` game, and one set of sites that does
/// it (attacked in any order, each is still Alive on its turn); `None` for other definitions
/// and for `flow` in both directions (no single cut to find).
pub fn flow_optimum(game: &Game) -> Option<(usize, Vec<usize>)> {
    let sides = match game.definition() {
        Definition::Flow {
            direction: FlowDirection::Horizontal,
        } => (LEFT, RIGHT),
        Definition::Flow {
            direction: FlowDirection::Vertical,
        } => (TOP, BOTTOM),
        _ => return None,
    };
    if game.is_over() {
        return Some((0, Vec::new()));
    }
    Some(match lattice_cut_direction(game) {
        Some(transposed) => dual_path_cut(game, transposed),
        None => min_node_cut(game, sides),
    })
}

/// Which way a lattice's `flow` runs: horizontal flow is cut by a top-to-bottom dual path,
/// vertical flow by a left-to-right one (the same search on the transposed board); `None` for
/// other definitions, graphs and flow in both directions.
fn lattice_cut_direction(game: &Game) -> Option<bool> {
    game.topology().lattice_side()?;
    match game.definition() {
        Definition::Flow {
            direction: FlowDirection::Horizontal,
        } => Some(false),
        Definition::Flow {
            direction: FlowDirection::Vertical,
        } => Some(true),
        _ => None,
    }
}

/// The cheapest crossing path on the dual lattice (see the module doc); `transposed` for
/// vertical flow, whose cut runs left to right.
fn dual_path_cut(game: &Game, transposed: bool) -> (usize, Vec<usize>) {
    let n = game.n();
    let sites = game.sites();
    let search = DualSearch::from_edge(game, transposed, false);
    let end = (0..n)
        .map(|b| search.index(n - 1, b))
        .min_by_key(|&s| search.distance[s])
        .expect("a lattice has a row");
    let mut cut = Vec::new();
    let mut at = end;
    loop {
        if sites[at] == Site::Alive {
            cut.push(at);
        }
        if search.parent[at] == usize::MAX {
            break;
        }
        at = search.parent[at];
    }
    cut.reverse();
    (search.distance[end], cut)
}

/// `flow` on a lattice: the minimum cut c and, for every site, whether attacking it leaves a cut
/// of c − 1, i.e. whether it lies on some minimum cut. By duality that is a cheapest crossing
/// path through it: its costs from the two edges (each counting the site itself) sum to c + 1.
/// Every move's exact value from two searches, O(n²). `None` where [`flow_optimum`] has no
/// dual path (other definitions, graphs, flow in both directions).
pub fn flow_critical_sites(game: &Game) -> Option<(usize, Vec<bool>)> {
    let transposed = lattice_cut_direction(game)?;
    let sites = game.sites();
    if game.is_over() {
        return Some((0, vec![false; sites.len()]));
    }
    let n = game.n();
    let near = DualSearch::from_edge(game, transposed, false);
    let far = DualSearch::from_edge(game, transposed, true);
    let cut = (0..n)
        .map(|b| near.distance[near.index(n - 1, b)])
        .min()
        .expect("a lattice has a row");
    let critical = (0..sites.len())
        .map(|s| sites[s] == Site::Alive && near.distance[s] + far.distance[s] == cut + 1)
        .collect();
    Some((cut, critical))
}

/// A 0-1 breadth-first search over the 8-connected dual lattice from one edge (`far`: the last
/// row across the cut's direction, else the first), where entering an Alive site costs 1 and
/// any other site 0: every site's cost, its own included, and the site it was reached from.
struct DualSearch {
    n: usize,
    transposed: bool,
    distance: Vec<usize>,
    parent: Vec<usize>,
}

impl DualSearch {
    fn from_edge(game: &Game, transposed: bool, far: bool) -> Self {
        let n = game.n();
        let sites = game.sites();
        let mut search = Self {
            n,
            transposed,
            distance: vec![usize::MAX; n * n],
            parent: vec![usize::MAX; n * n],
        };
        let cost = |site: usize| usize::from(sites[site] == Site::Alive);
        let mut queue = VecDeque::with_capacity(n * n);
        let first = if far { n - 1 } else { 0 };
        for b in 0..n {
            let s = search.index(first, b);
            search.distance[s] = cost(s);
            if cost(s) == 0 {
                queue.push_front(s);
            } else {
                queue.push_back(s);
            }
        }
        let mut done = vec![false; n * n];
        while let Some(s) = queue.pop_front() {
            if done[s] {
                continue;
            }
            done[s] = true;
            let (a, b) = search.position(s);
            for da in -1i64..=1 {
                for db in -1i64..=1 {
                    let (na, nb) = (a as i64 + da, b as i64 + db);
                    if (da, db) == (0, 0) || na < 0 || nb < 0 || na >= n as i64 || nb >= n as i64 {
                        continue;
                    }
                    let t = search.index(na as usize, nb as usize);
                    let d = search.distance[s] + cost(t);
                    if d < search.distance[t] {
                        search.distance[t] = d;
                        search.parent[t] = s;
                        if cost(t) == 0 {
                            queue.push_front(t);
                        } else {
                            queue.push_back(t);
                        }
                    }
                }
            }
        }
        search
    }

    /// The site at search coordinates (a: across the cut's direction, b: along it).
    fn index(&self, a: usize, b: usize) -> usize {
        if self.transposed {
            b * self.n + a
        } else {
            a * self.n + b
        }
    }

    fn position(&self, site: usize) -> (usize, usize) {
        let (row, column) = (site / self.n, site % self.n);
        if self.transposed {
            (column, row)
        } else {
            (row, column)
        }
    }
}

/// The fewest Alive nodes whose removal leaves no path from a `sides.0` node to a `sides.1`
/// node through Alive nodes: a unit-capacity maximum flow with every Alive node split into an
/// in-half and an out-half joined by capacity 1. Only Alive nodes take part — an Attacked node
/// is gone, and a Dead one lies on no path between the sides or it would be functional. The cut
/// is read off the residual network: the nodes whose in-half the source still reaches and
/// whose out-half it does not.
fn min_node_cut(game: &Game, sides: (u8, u8)) -> (usize, Vec<usize>) {
    let topology = game.topology();
    let alive = game.alive_sites();
    // More than any cut (at most every Alive node): no cut ever crosses such an edge.
    let unbounded = alive.len() as u32 + 1;
    let mut network: DiGraph<(), u32> = DiGraph::with_capacity(2 * alive.len() + 2, 0);
    let source = network.add_node(());
    let sink = network.add_node(());
    let mut halves = vec![None; topology.len()];
    for &v in alive {
        let inner = network.add_node(());
        let outer = network.add_node(());
        network.add_edge(inner, outer, 1);
        halves[v as usize] = Some((inner, outer));
    }
    for &v in alive {
        let (inner, outer) = halves[v as usize].expect("an Alive node");
        for &u in topology.neighbours(v as usize) {
            if let Some((u_inner, _)) = halves[u as usize] {
                network.add_edge(outer, u_inner, unbounded);
            }
        }
        let flags = topology.sides(v as usize);
        if flags & sides.0 != 0 {
            network.add_edge(source, inner, unbounded);
        }
        if flags & sides.1 != 0 {
            network.add_edge(outer, sink, unbounded);
        }
    }
    let (paths, flows) = petgraph::algo::dinics(&network, source, sink);
    let mut reached = vec![false; network.node_count()];
    let mut queue = VecDeque::from([source]);
    reached[source.index()] = true;
    let mut visit = |node: NodeIndex, queue: &mut VecDeque<NodeIndex>| {
        if !reached[node.index()] {
            reached[node.index()] = true;
            queue.push_back(node);
        }
    };
    while let Some(node) = queue.pop_front() {
        for edge in network.edges_directed(node, Direction::Outgoing) {
            if flows[edge.id().index()] < *edge.weight() {
                visit(edge.target(), &mut queue);
            }
        }
        for edge in network.edges_directed(node, Direction::Incoming) {
            if flows[edge.id().index()] > 0 {
                visit(edge.source(), &mut queue);
            }
        }
    }
    let cut: Vec<usize> = alive
        .iter()
        .map(|&v| v as usize)
        .filter(|&v| {
            let (inner, outer) = halves[v].expect("an Alive node");
            reached[inner.index()] && !reached[outer.index()]
        })
        .collect();
    debug_assert_eq!(cut.len(), paths as usize, "max flow = min cut");
    (cut.len(), cut)
}

/// Why an exhaustive search gave no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SearchLimit {
    #[error("exhaustive search covers boards of at most 64 sites (8×8); this one has {0}")]
    TooLarge(usize),
    #[error("exhaustive search stopped after {0} states without proving an optimum")]
    Budget(usize),
}

/// The fewest moves that end `game`, and one way to play them, by exhaustive search: iterative
/// deepening over attack sequences, cut where [`Game::moves_lower_bound`] exceeds the moves
/// left, remembering states already shown not to end within a number of moves. Any definition;
/// boards of up to 64 sites (8×8: seconds a board for network and noodle; `max_states` bounds
/// the work).
pub fn exhaustive_optimum(
    game: &Game,
    max_states: usize,
) -> Result<(usize, Vec<usize>), SearchLimit> {
    let sites = game.sites().len();
    if game.state_key().is_none() {
        return Err(SearchLimit::TooLarge(sites));
    }
    let mut search = Search {
        failed: std::collections::HashMap::new(),
        visited: 0,
        max_states,
    };
    for budget in 0..=game.alive_count() {
        if let Some(mut line) = search.within(game, budget)? {
            line.reverse();
            return Ok((line.len(), line));
        }
    }
    unreachable!("attacking every Alive site ends any game")
}

struct Search {
    /// State → the largest number of moves it is known not to end within.
    failed: std::collections::HashMap<(u128, u32), usize>,
    visited: usize,
    max_states: usize,
}

impl Search {
    /// A line of at most `budget` moves that ends `game` (reversed), if there is one.
    fn within(&mut self, game: &Game, budget: usize) -> Result<Option<Vec<usize>>, SearchLimit> {
        if game.is_over() {
            return Ok(Some(Vec::new()));
        }
        if budget == 0 || game.moves_lower_bound() > budget {
            return Ok(None);
        }
        let key = game.state_key().expect("checked at the start");
        if self.failed.get(&key).is_some_and(|&b| b >= budget) {
            return Ok(None);
        }
        self.visited += 1;
        if self.visited > self.max_states {
            return Err(SearchLimit::Budget(self.max_states));
        }
        // Likely moves first (high degree), so the last, successful depth ends early.
        let mut moves: Vec<usize> = game.alive_sites().iter().map(|&s| s as usize).collect();
        moves.sort_by_key(|&s| (std::cmp::Reverse(game.degree(s)), s));
        for site in moves {
            let mut next = game.clone();
            next.attack(site).expect("an Alive site");
            if let Some(mut line) = self.within(&next, budget - 1)? {
                line.push(site);
                return Ok(Some(line));
            }
        }
        self.failed.insert(key, budget);
        Ok(None)
    }
}
