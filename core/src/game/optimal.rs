//! The exact `flow` optimum at any size, by planar duality (spec §4): the fewest sites whose
//! removal separates left from right equals the cheapest top-to-bottom path on the 8-connected
//! lattice where Alive sites cost 1 and every other site 0 — a 0-1 breadth-first search, O(n²).

use std::collections::VecDeque;

use super::board::Site;
use super::rules::{Definition, FlowDirection, Game};

/// The minimum number of further moves that ends a `flow` game, and one set of sites that does
/// it; `None` for other definitions and for `flow` in both directions (no duality argument).
pub fn flow_optimum(game: &Game) -> Option<(usize, Vec<usize>)> {
    let Definition::Flow { direction } = game.definition() else {
        return None;
    };
    let n = game.n();
    let sites = game.sites();
    // Horizontal flow is cut by a top-to-bottom path; vertical flow by a left-to-right one
    // (the same search on the transposed board).
    let index = |a: usize, b: usize| match direction {
        FlowDirection::Horizontal => a * n + b,
        FlowDirection::Vertical => b * n + a,
        FlowDirection::Both => unreachable!(),
    };
    if direction == FlowDirection::Both {
        return None;
    }
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
