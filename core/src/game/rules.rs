//! The game: a board's site states under one robustness definition (`network`, `flow`, `noodle`),
//! moves that attack an `Alive` site, and the update that marks every no-longer-functional site
//! `Dead` (../shared/specs/lattice-game.md §2–3).
//!
//! Only the attacked site's cluster changes in a move, so the update looks only at its parts
//! ([`Clusters::remove`]); a site dies at most once, so a whole game costs O(N log N).

use serde::{Deserialize, Serialize};

use std::sync::Arc;

use super::board::{Board, BoardError, MAX_SIDE, Site, Symmetry};
use super::clusters::{Clusters, Split, Stats};
use super::graph::GraphBoard;
use super::topology::Topology;

/// Which pair of sides `flow` connects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowDirection {
    /// Left column to right column (the paper's).
    #[default]
    Horizontal,
    /// Top row to bottom row.
    Vertical,
    /// Either pair.
    Both,
}

/// What "functional" means.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Definition {
    /// Only a cluster larger than every fragment ever split off (the largest second-largest
    /// cluster seen so far) is functional.
    Network,
    /// A cluster is functional while it touches both sides.
    Flow { direction: FlowDirection },
    /// A cluster dies when its perimeter / size ≥ `d` (off-board neighbours count as blocked).
    Noodle { d: f64 },
}

impl Definition {
    pub const NAMES: [&'static str; 3] = ["network", "flow", "noodle"];

    /// `network`, `flow` (horizontal) or `noodle` (d = 2).
    pub fn parse(name: &str) -> Result<Self, UnknownDefinition> {
        match name {
            "network" => Ok(Self::Network),
            "flow" => Ok(Self::Flow {
                direction: FlowDirection::Horizontal,
            }),
            "noodle" => Ok(Self::Noodle { d: 2.0 }),
            other => Err(UnknownDefinition {
                name: other.to_string(),
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Flow { .. } => "flow",
            Self::Noodle { .. } => "noodle",
        }
    }

    /// Four symmetries of the square that leave the definition unchanged, for augmenting
    /// training boards: the rotations, except for one-axis `flow`, where a quarter turn would swap
    /// the sides it connects — there the two mirrors and the half turn.
    pub fn symmetries(&self) -> [Symmetry; 4] {
        match self {
            Self::Flow {
                direction: FlowDirection::Horizontal | FlowDirection::Vertical,
            } => [
                Symmetry::Identity,
                Symmetry::MirrorColumns,
                Symmetry::MirrorRows,
                Symmetry::Rotate180,
            ],
            _ => [
                Symmetry::Identity,
                Symmetry::Rotate90,
                Symmetry::Rotate180,
                Symmetry::Rotate270,
            ],
        }
    }

    /// Whether a cluster with these sums is functional (`flow`, `noodle`; `network` decides
    /// globally).
    fn local(&self, stats: &Stats) -> bool {
        match *self {
            Self::Network => true,
            Self::Flow { direction } => {
                let horizontal = stats.left > 0 && stats.right > 0;
                let vertical = stats.top > 0 && stats.bottom > 0;
                match direction {
                    FlowDirection::Horizontal => horizontal,
                    FlowDirection::Vertical => vertical,
                    FlowDirection::Both => horizontal || vertical,
                }
            }
            Self::Noodle { d } => {
                stats.size > 0 && (stats.perimeter as f64) < d * stats.size as f64
            }
        }
    }
}

/// A definition name [`Definition::parse`] does not know.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown definition {name:?} (expected one of: network, flow, noodle)")]
pub struct UnknownDefinition {
    pub name: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GameError {
    #[error("site {site} is off the {board}")]
    OffBoard {
        site: usize,
        /// "6×6 board" or "graph of 5 nodes".
        board: String,
    },
    #[error("site {place} is {state:?}, not Alive: only Alive sites can be attacked")]
    NotAlive {
        /// `(row, column)` on a lattice, the node's number on a graph.
        place: String,
        state: Site,
    },
    #[error("the game is over")]
    Over,
}

/// A game in progress.
#[derive(Clone)]
pub struct Game {
    /// The lattice's side (a graph board: its node count).
    n: usize,
    definition: Definition,
    sites: Vec<Site>,
    clusters: Clusters,
    /// `network`: the largest second-largest cluster size seen.
    m: u32,
    occupied: usize,
    /// Alive sites, unordered, with each site's position in it (O(1) removal).
    alive: Vec<u32>,
    position: Vec<u32>,
    moves: usize,
    /// Σ over moves of the alive fraction after it (the robustness area, unnormalised).
    area: f64,
    /// Sites to kill after a move, and whether each split-off part lives (kept to avoid
    /// allocating per move).
    scratch: Vec<u32>,
    part_alive: Vec<bool>,
}

const NOWHERE: u32 = u32::MAX;

impl Game {
    /// A new game: every occupied site `Alive`, then the definition's update.
    pub fn new(board: &Board, definition: Definition) -> Self {
        Self::on_topology(
            Arc::new(Topology::lattice(board.n)),
            board.occupied.clone(),
            definition,
        )
    }

    /// A new game on a graph board: every node occupied (`flow` connects its source and sink
    /// nodes; `noodle` counts what a node lacks of the largest degree as blocked).
    pub fn on_graph(graph: &GraphBoard, definition: Definition) -> Self {
        Self::on_topology(
            Arc::new(graph.topology()),
            vec![true; graph.len()],
            definition,
        )
    }

    /// A new game on any topology whose `occupied` nodes start `Alive` (the others are walls).
    pub fn on_topology(
        topology: Arc<Topology>,
        occupied: Vec<bool>,
        definition: Definition,
    ) -> Self {
        let count = occupied.len();
        let n = topology.lattice_side().unwrap_or(count);
        let sites: Vec<Site> = occupied
            .iter()
            .map(|&o| if o { Site::Alive } else { Site::Wall })
            .collect();
        let occupied_count = occupied.iter().filter(|&&o| o).count();
        let clusters = Clusters::new(topology, occupied);
        let mut alive = Vec::with_capacity(count);
        let mut position = vec![NOWHERE; count];
        for (site, &state) in sites.iter().enumerate() {
            if state == Site::Alive {
                position[site] = alive.len() as u32;
                alive.push(site as u32);
            }
        }
        let mut game = Self {
            n,
            definition,
            sites,
            clusters,
            m: 0,
            occupied: occupied_count,
            alive,
            position,
            moves: 0,
            area: 0.0,
            scratch: Vec::with_capacity(count),
            part_alive: Vec::new(),
        };
        game.initial_update();
        game
    }

    fn initial_update(&mut self) {
        let labels = self.clusters.labels();
        let functional: Vec<bool> = match self.definition {
            Definition::Network => {
                let sizes: Vec<u32> = labels.map(|l| self.clusters.stats(l).size).collect();
                let (largest, second) = top_two(sizes.iter().copied().enumerate());
                if sizes.len() >= 2 {
                    self.m = second.map_or(0, |(_, s)| s);
                }
                let winner = largest.filter(|&(_, s)| s > self.m).map(|(i, _)| i);
                (0..sizes.len()).map(|i| Some(i) == winner).collect()
            }
            definition => labels
                .map(|l| definition.local(self.clusters.stats(l)))
                .collect(),
        };
        for site in 0..self.sites.len() {
            if self.sites[site] == Site::Alive && !functional[self.clusters.label(site) as usize] {
                self.kill(site);
            }
        }
    }

    fn kill(&mut self, site: usize) {
        if self.sites[site] != Site::Alive {
            return;
        }
        self.sites[site] = Site::Dead;
        let at = self.position[site] as usize;
        let last = self.alive.pop().expect("an alive site is listed");
        if last as usize != site {
            self.alive[at] = last;
            self.position[last as usize] = at as u32;
        }
        self.position[site] = NOWHERE;
    }

    /// Attacks `site` (row-major index); returns how many other sites died with it.
    pub fn attack(&mut self, site: usize) -> Result<usize, GameError> {
        if site >= self.sites.len() {
            let board = match self.clusters.topology().lattice_side() {
                Some(n) => format!("{n}×{n} board"),
                None => format!("graph of {} nodes", self.sites.len()),
            };
            return Err(GameError::OffBoard { site, board });
        }
        if self.is_over() {
            return Err(GameError::Over);
        }
        if self.sites[site] != Site::Alive {
            let place = match self.clusters.topology().lattice_side() {
                Some(n) => format!("({}, {})", site / n, site % n),
                None => format!("{site}"),
            };
            return Err(GameError::NotAlive {
                place,
                state: self.sites[site],
            });
        }
        let before = self.alive.len();
        self.kill(site);
        self.sites[site] = Site::Attacked;
        let split = self.clusters.remove(site);
        self.update(&split);
        self.moves += 1;
        self.area += self.alive.len() as f64 / self.occupied.max(1) as f64;
        Ok(before - 1 - self.alive.len())
    }

    /// Marks dead what the removal made non-functional (only the split cluster's parts change).
    fn update(&mut self, split: &Split) {
        let Some(kept) = split.kept else {
            return;
        };
        let mut part_alive = std::mem::take(&mut self.part_alive);
        part_alive.clear();
        let kept_alive = match self.definition {
            Definition::Network => {
                const KEPT: usize = usize::MAX;
                let sizes = std::iter::once((KEPT, self.clusters.stats(kept).size)).chain(
                    self.clusters
                        .parts()
                        .iter()
                        .enumerate()
                        .map(|(i, &l)| (i, self.clusters.stats(l).size)),
                );
                let (largest, second) = top_two(sizes);
                if let Some((_, s)) = second {
                    self.m = self.m.max(s);
                }
                let winner = largest.filter(|&(_, s)| s > self.m).map(|(i, _)| i);
                part_alive.extend((0..self.clusters.parts().len()).map(|i| winner == Some(i)));
                winner == Some(KEPT)
            }
            definition => {
                part_alive.extend(
                    self.clusters
                        .parts()
                        .iter()
                        .map(|&label| definition.local(self.clusters.stats(label))),
                );
                definition.local(self.clusters.stats(kept))
            }
        };
        // Collect, then kill: killing needs `&mut self` while a part's sites borrow the clusters.
        let mut doomed = std::mem::take(&mut self.scratch);
        doomed.clear();
        for (i, &alive) in part_alive.iter().enumerate() {
            if !alive {
                doomed.extend(self.clusters.part_sites(i).map(|s| s as u32));
            }
        }
        self.part_alive = part_alive;
        if !kept_alive && let Some(start) = split.kept_site {
            self.clusters
                .for_each_site(start, |s| doomed.push(s as u32));
        }
        for &s in &doomed {
            self.kill(s as usize);
        }
        self.scratch = doomed;
    }

    pub fn is_over(&self) -> bool {
        self.alive.is_empty()
    }

    pub fn n(&self) -> usize {
        self.n
    }

    pub fn definition(&self) -> Definition {
        self.definition
    }

    pub fn sites(&self) -> &[Site] {
        &self.sites
    }

    /// Alive sites, in no particular order (the order is a function of the moves played).
    pub fn alive_sites(&self) -> &[u32] {
        &self.alive
    }

    pub fn alive_count(&self) -> usize {
        self.alive.len()
    }

    pub fn occupied(&self) -> usize {
        self.occupied
    }

    pub fn moves(&self) -> usize {
        self.moves
    }

    /// #Alive / #occupied now.
    pub fn functional_fraction(&self) -> f64 {
        self.alive.len() as f64 / self.occupied.max(1) as f64
    }

    /// R = Σ_t f(t) / #occupied (Schneider et al.'s robustness; lower is a better attack).
    pub fn robustness(&self) -> f64 {
        self.area / self.occupied.max(1) as f64
    }

    /// Everything the rest of the game depends on, packed (2 bits per site, and `network`'s
    /// running second-largest size); `None` above 64 sites.
    pub fn state_key(&self) -> Option<(u128, u32)> {
        if self.sites.len() > 64 {
            return None;
        }
        let packed = self
            .sites
            .iter()
            .fold(0u128, |key, &s| (key << 2) | s as u128);
        Some((packed, self.m))
    }

    /// Occupied, not-attacked neighbours of a site (the `degree` policy's degree).
    pub fn degree(&self, site: usize) -> usize {
        self.clusters.topology().max_degree() - self.clusters.blocked(site) as usize
    }

    /// A lower bound on the moves still needed (admissible, for exhaustive search). A move
    /// changes only the attacked site's cluster, so every cluster with an Alive site needs a move
    /// of its own; under `noodle` a cluster also needs its deficit d·size − perimeter closed, and
    /// one move closes at most d + max degree of it (size −1, perimeter +2k − max degree with
    /// k ≤ max degree active neighbours; split-off parts share the deficit).
    pub fn moves_lower_bound(&self) -> usize {
        let mut labels: Vec<u32> = self
            .alive
            .iter()
            .map(|&s| self.clusters.label(s as usize))
            .collect();
        labels.sort_unstable();
        labels.dedup();
        match self.definition {
            Definition::Noodle { d } => {
                let step = d + self.topology().max_degree() as f64;
                labels
                    .iter()
                    .map(|&l| {
                        let stats = self.clusters.stats(l);
                        let deficit = d * stats.size as f64 - stats.perimeter as f64;
                        ((deficit / step).ceil() as usize).max(1)
                    })
                    .sum()
            }
            _ => labels.len(),
        }
    }

    /// Who neighbours whom on this board.
    pub fn topology(&self) -> &Topology {
        self.clusters.topology()
    }
}

/// A cluster (by index) and its size, if any.
type Ranked = Option<(usize, u32)>;

/// The largest and second-largest (index, size) of a sequence, ties to the earlier for the
/// largest (a tie makes the second equal to the largest).
fn top_two(sizes: impl Iterator<Item = (usize, u32)>) -> (Ranked, Ranked) {
    let mut largest: Ranked = None;
    let mut second: Ranked = None;
    for (i, s) in sizes {
        match largest {
            Some((_, l)) if s <= l => {
                if second.is_none_or(|(_, t)| s > t) {
                    second = Some((i, s));
                }
            }
            _ => {
                second = largest;
                largest = Some((i, s));
            }
        }
    }
    (largest, second)
}

/// Consecutive draws rejected before [`draw_boards`] gives up.
pub const MAX_REJECTED: usize = 10_000;

/// `count` boards drawn one after another from one generator seeded with `seed`; a board already
/// over after the first update under any of the three definitions is drawn again, so every
/// board can be played under each. Refuses (rather than drawing forever) when `MAX_REJECTED`
/// draws in a row are over, which happens at p far below the percolation threshold.
pub fn draw_boards(n: usize, p: f64, count: usize, seed: u64) -> Result<Vec<Board>, BoardError> {
    if n == 0 || !(p > 0.0 && p <= 1.0) {
        return Err(BoardError::Invalid(format!(
            "boards need a side of at least 1 and 0 < p ≤ 1 (got n = {n}, p = {p})"
        )));
    }
    if n > MAX_SIDE {
        return Err(BoardError::Invalid(format!(
            "board side {n} is above the limit of {MAX_SIDE} (boards have at most {} sites)",
            super::board::MAX_SITES
        )));
    }
    let mut rng = super::board::rng(seed);
    let definitions = [
        Definition::Network,
        Definition::Flow {
            direction: FlowDirection::Horizontal,
        },
        Definition::Noodle { d: 2.0 },
    ];
    // (`count` is the caller's: no capacity reserved from it up front.)
    let mut boards = Vec::new();
    let mut rejected = 0;
    while boards.len() < count {
        let board = Board::random(n, p, &mut rng)?;
        if definitions.iter().all(|&d| !Game::new(&board, d).is_over()) {
            boards.push(board);
            rejected = 0;
        } else {
            rejected += 1;
            if rejected >= MAX_REJECTED {
                return Err(BoardError::Invalid(format!(
                    "{MAX_REJECTED} boards of {n}×{n} at p = {p} in a row were over before the \
                     first move under some definition (flow needs a left–right path: p well \
                     above the percolation threshold ≈ 0.593); {} of {count} drawn",
                    boards.len()
                )));
            }
        }
    }
    Ok(boards)
}
