//! Exact optima (spec §4). `flow` at any size by planar duality: the fewest sites whose removal
//! separates left from right equals the cheapest top-to-bottom path on the 8-connected lattice
//! where Alive sites cost 1 and every other site 0 — a 0-1 breadth-first search, O(n²). Any
//! definition on small boards by exhaustive search (iterative deepening with a memo).

use std::collections::VecDeque;

use super::board::Site;
use super::rules::{Definition, FlowDirection, Game};

/// The minimum number of further moves that ends a `flow` game, and one set of sites that does
/// it; `None` for other definitions, for `flow` in both directions and on graph boards (no
/// duality argument).
pub fn flow_optimum(game: &Game) -> Option<(usize, Vec<usize>)> {
    game.topology().lattice_side()?;
    let transposed = match game.definition() {
        Definition::Flow {
            direction: FlowDirection::Horizontal,
        } => false,
        Definition::Flow {
            direction: FlowDirection::Vertical,
        } => true,
        _ => return None,
    };
    let n = game.n();
    let sites = game.sites();
    // Horizontal flow is cut by a top-to-bottom path; vertical flow by a left-to-right one
    // (the same search on the transposed board).
    let index = |a: usize, b: usize| if transposed { b * n + a } else { a * n + b };
    if game.is_over() {
        return Some((0, Vec::new()));
    }
    let cost = |site: usize| usize::from(sites[site] == Site::Alive);
    let mut distance = vec![usize::MAX; n * n];
    let mut parent = vec![usize::MAX; n * n];
    let mut queue = VecDeque::with_capacity(n * n);
    for b in 0..n {
        let s = index(0, b);
        distance[s] = cost(s);
        if cost(s) == 0 {
            queue.push_front(s);
        } else {
            queue.push_back(s);
        }
    }
    // Positions in search coordinates (a: across the cut's direction, b: along it).
    let mut position = vec![(0usize, 0usize); n * n];
    for a in 0..n {
        for b in 0..n {
            position[index(a, b)] = (a, b);
        }
    }
    let mut done = vec![false; n * n];
    while let Some(s) = queue.pop_front() {
        if done[s] {
            continue;
        }
        done[s] = true;
        let (a, b) = position[s];
        if a == n - 1 {
            let mut cut = Vec::new();
            let mut at = s;
            loop {
                if sites[at] == Site::Alive {
                    cut.push(at);
                }
                if parent[at] == usize::MAX {
                    break;
                }
                at = parent[at];
            }
            cut.reverse();
            return Some((distance[s], cut));
        }
        for da in -1i64..=1 {
            for db in -1i64..=1 {
                let (na, nb) = (a as i64 + da, b as i64 + db);
                if (da, db) == (0, 0) || na < 0 || nb < 0 || na >= n as i64 || nb >= n as i64 {
                    continue;
                }
                let t = index(na as usize, nb as usize);
                let d = distance[s] + cost(t);
                if d < distance[t] {
                    distance[t] = d;
                    parent[t] = s;
                    if cost(t) == 0 {
                        queue.push_front(t);
                    } else {
                        queue.push_back(t);
                    }
                }
            }
        }
    }
    None
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
