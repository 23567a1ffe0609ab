//! The attack game: clusters under removals equal clusters recomputed from scratch; the rules
//! (incremental) equal a from-scratch reading of the spec move by move; hand-drawn boards where
//! the definitions disagree; the random attacker's mean game length as the spec measured it; the
//! flow optimum (duality on lattices, max flow on graphs) against exhaustive search, and every
//! move's effect on it against searching again; seeded boards and board files.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

mod common;

use proptest::prelude::*;
use tessera_core::game::board::{rng, unit};
use tessera_core::game::clusters::Clusters;
use tessera_core::game::evaluate::{Player, evaluate_graph};
use tessera_core::game::optimal::{
    SearchLimit, exhaustive_optimum, flow_critical_sites, flow_optimum,
};
use tessera_core::game::rules::draw_boards;
use tessera_core::game::topology::Topology;
use tessera_core::game::{Board, Definition, FlowDirection, Game, GraphBoard, Policy, Site};

const FLOW: Definition = Definition::Flow {
    direction: FlowDirection::Horizontal,
};
const NOODLE: Definition = Definition::Noodle { d: 2.0 };
const DEFINITIONS: [Definition; 3] = [Definition::Network, FLOW, NOODLE];

/// The in-board 4-neighbours of a site, written independently of the library's `Topology`.
fn neighbours(n: usize, site: usize) -> impl Iterator<Item = usize> {
    let (i, j) = (site / n, site % n);
    [
        (i > 0).then(|| site - n),
        (j > 0).then(|| site - 1),
        (j + 1 < n).then(|| site + 1),
        (i + 1 < n).then(|| site + n),
    ]
    .into_iter()
    .flatten()
}

/// Components of `active` by breadth-first search: label per site (u32::MAX when inactive).
fn components(n: usize, active: &[bool]) -> (Vec<u32>, Vec<Vec<usize>>) {
    let mut label = vec![u32::MAX; n * n];
    let mut members = Vec::new();
    for start in 0..n * n {
        if !active[start] || label[start] != u32::MAX {
            continue;
        }
        let l = members.len() as u32;
        let mut queue = VecDeque::from([start]);
        label[start] = l;
        let mut sites = Vec::new();
        while let Some(v) = queue.pop_front() {
            sites.push(v);
            for u in neighbours(n, v) {
                if active[u] && label[u] == u32::MAX {
                    label[u] = l;
                    queue.push_back(u);
                }
            }
        }
        members.push(sites);
    }
    (label, members)
}

#[test]
fn clusters_under_removals_equal_clusters_recomputed() {
    let mut r = rng(11);
    for round in 0..40 {
        let n = 4 + round % 9;
        let board = Board::random(n, 0.5 + 0.4 * unit(&mut r), &mut r).unwrap();
        let mut active = board.occupied.clone();
        let mut clusters = Clusters::new(Arc::new(Topology::lattice(n)), active.clone());
        let mut order: Vec<usize> = (0..n * n).filter(|&s| active[s]).collect();
        // A seeded shuffle.
        for i in (1..order.len()).rev() {
            order.swap(i, (unit(&mut r) * (i + 1) as f64) as usize);
        }
        for &site in &order {
            clusters.remove(site);
            active[site] = false;
            let (truth, members) = components(n, &active);
            // Same partition: a bijection between our labels and the true ones.
            let mut map: HashMap<u32, u32> = HashMap::new();
            for s in (0..n * n).filter(|&s| active[s]) {
                let ours = clusters.label(s);
                assert_eq!(
                    *map.entry(ours).or_insert(truth[s]),
                    truth[s],
                    "round {round}, site {s}"
                );
            }
            assert_eq!(map.len(), members.len());
            // The split-off parts are exactly some of the true clusters, listed site by site.
            for (i, &part) in clusters.parts().iter().enumerate() {
                let mut sites: Vec<usize> = clusters.part_sites(i).collect();
                sites.sort();
                let mut want = members[map[&part] as usize].clone();
                want.sort();
                assert_eq!(sites, want);
            }
            // Sums equal a recount.
            for (&ours, &t) in &map {
                let stats = clusters.stats(ours);
                let sites = &members[t as usize];
                assert_eq!(stats.size as usize, sites.len());
                assert_eq!(
                    stats.left as usize,
                    sites.iter().filter(|&&s| s % n == 0).count()
                );
                assert_eq!(
                    stats.bottom as usize,
                    sites.iter().filter(|&&s| s / n == n - 1).count()
                );
                let perimeter: usize = sites
                    .iter()
                    .map(|&s| 4 - neighbours(n, s).filter(|&u| active[u]).count())
                    .sum();
                assert_eq!(stats.perimeter as usize, perimeter, "round {round}");
            }
        }
    }
}

/// The spec read literally: after every move, recompute clusters and who is functional.
struct Reference {
    n: usize,
    definition: Definition,
    sites: Vec<Site>,
    m: usize,
}

impl Reference {
    fn new(board: &Board, definition: Definition) -> Self {
        let sites = board
            .occupied
            .iter()
            .map(|&o| if o { Site::Alive } else { Site::Wall })
            .collect();
        let mut r = Self {
            n: board.n,
            definition,
            sites,
            m: 0,
        };
        r.update();
        r
    }

    fn update(&mut self) {
        let n = self.n;
        let active: Vec<bool> = self
            .sites
            .iter()
            .map(|&s| matches!(s, Site::Alive | Site::Dead))
            .collect();
        let (label, members) = components(n, &active);
        let functional: Vec<bool> = match self.definition {
            Definition::Network => {
                let mut sizes: Vec<usize> = members.iter().map(Vec::len).collect();
                sizes.sort_unstable_by(|a, b| b.cmp(a));
                if sizes.len() >= 2 {
                    self.m = self.m.max(sizes[1]);
                }
                members
                    .iter()
                    .map(|c| c.len() > self.m && c.len() == sizes[0])
                    .collect()
            }
            Definition::Flow { .. } => members
                .iter()
                .map(|c| c.iter().any(|&s| s % n == 0) && c.iter().any(|&s| s % n == n - 1))
                .collect(),
            Definition::Noodle { d } => members
                .iter()
                .map(|c| {
                    let perimeter: usize = c
                        .iter()
                        .map(|&s| 4 - neighbours(n, s).filter(|&u| active[u]).count())
                        .sum();
                    (perimeter as f64) < d * c.len() as f64
                })
                .collect(),
        };
        for s in 0..n * n {
            if self.sites[s] == Site::Alive && !functional[label[s] as usize] {
                self.sites[s] = Site::Dead;
            }
        }
    }

    fn attack(&mut self, site: usize) {
        assert_eq!(self.sites[site], Site::Alive);
        self.sites[site] = Site::Attacked;
        self.update();
    }
}

#[test]
fn the_rules_equal_the_spec_recomputed_after_every_move() {
    for (k, definition) in DEFINITIONS.into_iter().enumerate() {
        let boards = draw_boards(10, 0.65 + 0.1 * k as f64, 30, 5 + k as u64).unwrap();
        for (b, board) in boards.iter().enumerate() {
            let mut game = Game::new(board, definition);
            let mut reference = Reference::new(board, definition);
            let mut r = rng(b as u64);
            while !game.is_over() {
                assert_eq!(
                    game.sites(),
                    reference.sites.as_slice(),
                    "{definition:?} board {b}"
                );
                let site = Policy::Random { seed: 0 }.choose(&game, &mut r);
                let before = game.alive_count();
                let killed = game.attack(site).unwrap();
                assert_eq!(killed, before - 1 - game.alive_count());
                reference.attack(site);
            }
            assert_eq!(game.sites(), reference.sites.as_slice());
            assert!(!reference.sites.contains(&Site::Alive));
        }
    }
}

/// A spanning line on top, a 3×3 block below: each definition keeps a different part alive.
const DISAGREE: &str = "
######
......
.###..
.###..
.###..
......";

fn states(game: &Game, sites: &[usize]) -> Vec<Site> {
    sites.iter().map(|&s| game.sites()[s]).collect()
}

#[test]
fn the_definitions_disagree_on_a_hand_drawn_board() {
    let board = Board::parse(DISAGREE).unwrap();
    let line: Vec<usize> = (0..6).collect();
    let block: Vec<usize> = [2, 3, 4]
        .iter()
        .flat_map(|&i| [1, 2, 3].map(|j| i * 6 + j))
        .collect();
    let center = 3 * 6 + 2;

    // flow: the line spans, the block touches neither side. One cut ends it.
    let mut flow = Game::new(&board, FLOW);
    assert!(states(&flow, &line).iter().all(|&s| s == Site::Alive));
    assert!(states(&flow, &block).iter().all(|&s| s == Site::Dead));
    assert_eq!(flow_optimum(&flow).unwrap().0, 1);
    assert_eq!(
        flow.attack(2).unwrap(),
        5,
        "the whole line dies with its cut"
    );
    assert!(flow.is_over());

    // noodle: the line is a noodle (perimeter 14 over 6 sites ≥ 2), the block is not (12/9).
    let mut noodle = Game::new(&board, NOODLE);
    assert!(states(&noodle, &line).iter().all(|&s| s == Site::Dead));
    assert!(states(&noodle, &block).iter().all(|&s| s == Site::Alive));
    // Hollowing the block leaves a ring with perimeter 16 over 8 sites: a noodle.
    assert_eq!(noodle.attack(center).unwrap(), 8);
    assert!(noodle.is_over());

    // network: the block is the giant (9 > m = 6, the line); it dies only at 6 sites.
    let mut network = Game::new(&board, Definition::Network);
    assert!(states(&network, &line).iter().all(|&s| s == Site::Dead));
    assert!(states(&network, &block).iter().all(|&s| s == Site::Alive));
    assert_eq!(
        network.attack(center).unwrap(),
        0,
        "a ring of 8 is still the giant"
    );
    assert_eq!(network.attack(2 * 6 + 1).unwrap(), 0);
    // Cutting the ring into two paths of 3: a tie, each ≤ m, so the game ends.
    assert_eq!(network.attack(4 * 6 + 3).unwrap(), 6);
    assert!(network.is_over());
    assert_eq!(network.moves(), 3);

    // Attacking a Dead or off-board site is refused by name.
    let mut game = Game::new(&board, FLOW);
    let e = game.attack(center).unwrap_err().to_string();
    assert!(e.contains("(3, 2)") && e.contains("Dead"), "{e}");
    assert!(
        game.attack(99)
            .unwrap_err()
            .to_string()
            .contains("off the 6×6 board")
    );
}

#[test]
fn a_random_attacker_takes_as_long_as_the_spec_measured() {
    // Spec §4, n = 10, p = 0.8 (mean ± sd over random boards).
    for (definition, mean, sd) in [
        (Definition::Network, 25.0, 6.5),
        (FLOW, 19.9, 6.8),
        (NOODLE, 28.3, 4.9),
    ] {
        let boards = draw_boards(10, 0.8, 400, 1).unwrap();
        let steps: Vec<f64> = boards
            .iter()
            .enumerate()
            .map(|(i, b)| {
                Policy::Random { seed: i as u64 }
                    .play(b, definition)
                    .moves
                    .len() as f64
            })
            .collect();
        let m = steps.iter().sum::<f64>() / steps.len() as f64;
        let s = (steps.iter().map(|x| (x - m).powi(2)).sum::<f64>() / steps.len() as f64).sqrt();
        // Four standard errors of the mean, and the spread within 30 %.
        assert!(
            (m - mean).abs() < 4.0 * sd / 20.0,
            "{definition:?}: mean {m:.2} vs {mean}"
        );
        assert!(
            (s - sd).abs() < 0.3 * sd,
            "{definition:?}: sd {s:.2} vs {sd}"
        );
    }
}

#[test]
fn the_flow_optimum_by_duality_equals_exhaustive_search() {
    for (n, p, seed) in [(4, 0.7, 1), (5, 0.75, 2), (5, 0.85, 3), (6, 0.7, 4)] {
        for board in draw_boards(n, p, 12, seed).unwrap() {
            let game = Game::new(&board, FLOW);
            let (optimum, cut) = flow_optimum(&game).unwrap();
            let (searched, _) = exhaustive_optimum(&game, 1_000_000).unwrap();
            assert_eq!(optimum, searched, "{}", board.to_json_line());
            // Its cut, played, ends the game in exactly that many moves.
            let mut play = game.clone();
            for site in &cut {
                play.attack(*site).unwrap();
            }
            assert!(play.is_over());
            assert_eq!(play.moves(), optimum);
        }
    }
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    /// Every move's exact value in two searches: a site is critical exactly when attacking it
    /// (and searching again) lowers the minimum cut by one, in either flow direction, mid-game.
    #[test]
    fn critical_sites_are_the_moves_that_lower_the_cut(
        n in 1usize..13,
        p in 0.4f64..1.0,
        seed in any::<u64>(),
        vertical in any::<bool>(),
        attacks in 0usize..6,
    ) {
        let definition = Definition::Flow {
            direction: if vertical { FlowDirection::Vertical } else { FlowDirection::Horizontal },
        };
        let mut r = rng(seed);
        let board = Board::random(n, p, &mut r).unwrap();
        let mut game = Game::new(&board, definition);
        for _ in 0..attacks {
            let alive = game.alive_sites();
            if alive.is_empty() {
                break;
            }
            let site = alive[(unit(&mut r) * alive.len() as f64) as usize % alive.len()];
            game.attack(site as usize).unwrap();
        }
        let (cut, critical) = flow_critical_sites(&game).unwrap();
        prop_assert_eq!(cut, flow_optimum(&game).unwrap().0);
        for (site, &lowers) in critical.iter().enumerate() {
            if game.sites()[site] != Site::Alive {
                prop_assert!(!lowers);
                continue;
            }
            let mut next = game.clone();
            next.attack(site).unwrap();
            let after = flow_optimum(&next).unwrap().0;
            prop_assert_eq!(after, cut - usize::from(lowers), "site {}", site);
        }
    }
}

/// A lattice board as a graph board: its occupied sites (named by index) joined as on the
/// lattice, the left column the source and the right column the sink.
fn lattice_as_graph(board: &Board) -> GraphBoard {
    let n = board.n;
    let mut text = String::new();
    for site in (0..n * n).filter(|&s| board.occupied[s]) {
        for next in [(site % n + 1 < n).then(|| site + 1), Some(site + n)]
            .into_iter()
            .flatten()
            .filter(|&t| t < n * n && board.occupied[t])
        {
            text.push_str(&format!("{site} {next}\n"));
        }
    }
    let graph = GraphBoard::from_edge_list(&text).unwrap();
    let column = |j: usize| -> Vec<String> {
        (0..n)
            .map(|i| (i * n + j).to_string())
            .filter(|name| (0..graph.len()).any(|v| graph.name(v) == name))
            .collect()
    };
    let (left, right) = (column(0), column(n - 1));
    let left: Vec<&str> = left.iter().map(String::as_str).collect();
    let right: Vec<&str> = right.iter().map(String::as_str).collect();
    graph.with_terminals(&left, &right).unwrap()
}

#[test]
fn the_flow_optimum_by_max_flow_equals_duality_and_exhaustive_search() {
    // The same boards read as graphs: no dual lattice there, so Menger's max flow answers; it
    // must find the duality's number, also past exhaustive search's 64 sites.
    for (n, p, seed) in [(5, 0.75, 2), (8, 0.7, 5), (10, 0.8, 1), (16, 0.65, 7)] {
        for board in draw_boards(n, p, 6, seed).unwrap() {
            let (optimum, _) = flow_optimum(&Game::new(&board, FLOW)).unwrap();
            let graph = lattice_as_graph(&board);
            let game = Game::on_graph(&graph, FLOW);
            let (cut_size, cut) = flow_optimum(&game).unwrap();
            assert_eq!(cut_size, optimum, "{}", board.to_json_line());
            let mut play = game.clone();
            for &node in &cut {
                // Any order: each cut node is still Alive on its turn.
                play.attack(node).unwrap();
            }
            assert!(play.is_over());
            let scored = evaluate_graph(&graph, FLOW, Player::Optimal);
            assert_eq!(
                scored.steps,
                Some(vec![optimum]),
                "{}",
                board.to_json_line()
            );
        }
    }
    // On random graphs with hubs and several terminals, against exhaustive search.
    for seed in 0..16 {
        let graph = GraphBoard::from_edge_list(&random_graph(18, 10, seed))
            .unwrap()
            .with_terminals(&["v4", "v9"], &["v13", "v15", "v16"])
            .unwrap();
        let game = Game::on_graph(&graph, FLOW);
        let (optimum, cut) = flow_optimum(&game).unwrap();
        assert_eq!(
            optimum,
            exhaustive_optimum(&game, 1_000_000).unwrap().0,
            "seed {seed}"
        );
        assert!(optimum >= 1, "a terminal pair is connected at the start");
        let mut play = game.clone();
        for &node in cut.iter().rev() {
            play.attack(node).unwrap();
        }
        assert!(play.is_over(), "seed {seed}");
    }
}

#[test]
fn boards_are_seeded_and_round_trip_through_board_files() {
    let a = draw_boards(8, 0.7, 5, 42).unwrap();
    assert_eq!(a, draw_boards(8, 0.7, 5, 42).unwrap());
    assert_ne!(a, draw_boards(8, 0.7, 5, 43).unwrap());
    // Pinned: the same seed gives these sites on every platform.
    assert_eq!(draw_boards(4, 0.6, 1, 7).unwrap()[0].to_json_line(), PINNED);
    let text: String = a.iter().map(|b| b.to_json_line() + "\n").collect();
    assert_eq!(Board::read_lines(&text).unwrap(), a);
    let e = Board::read_lines("{\"n\": 2, \"p\": 0.5, \"sites\": \"101\"}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1") && e.contains("needs 4"), "{e}");
    let e = Board::read_lines("\n{\"n\": 2, \"p\": 0.5, \"sites\": \"10x1\"}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("'x'"), "{e}");
}

const PINNED: &str = r#"{"n":4,"p":0.6,"sites":"1101010101110111"}"#;

#[test]
fn degree_breaks_ties_by_the_smallest_index() {
    let board = Board::parse("###\n###\n###").unwrap();
    let game = Game::new(&board, FLOW);
    // The centre has degree 4; after it every site has degree 2, and the smallest index wins.
    assert_eq!(Policy::Degree.choose(&game, &mut rng(0)), 4);
    let played = Policy::Degree.play(&board, FLOW);
    assert_eq!(played.moves[..2], [4, 0]);
}

#[test]
fn collective_influence_and_corehd_pick_what_their_definitions_say() {
    // A plus: the centre has degree 4 but nothing at distance 2 has more than one neighbour
    // (CI₂ = 3·0), while each arm's inner site has CI₂ = (2−1)·(1 + 1 + 1) = 3.
    let plus = Board::parse("..#..\n..#..\n#####\n..#..\n..#..").unwrap();
    let game = Game::new(&plus, Definition::Network);
    let mut r = rng(0);
    assert_eq!(Policy::Degree.choose(&game, &mut r), 12);
    assert_eq!(
        Policy::CollectiveInfluence { radius: 2 }.choose(&game, &mut r),
        7
    );

    // A 2×2 block (the only 2-core) hanging from a tree whose hub has degree 4: CoreHD attacks
    // the core (ties → site 0), degree the hub.
    let tree = Board::parse("##....\n##....\n.#....\n.#....\n###...\n.#....").unwrap();
    let game = Game::new(&tree, Definition::Network);
    assert_eq!(Policy::Degree.choose(&game, &mut r), 25);
    assert_eq!(Policy::CoreHd.choose(&game, &mut r), 0);
    // Once the core is broken, CoreHD falls back to degree.
    let played = Policy::CoreHd.play(&tree, Definition::Network);
    assert_eq!(played.moves[0], 0);
    assert!(
        played.moves.contains(&25) || played.moves.len() <= 3,
        "{:?}",
        played.moves
    );
}

#[test]
fn exhaustive_search_finds_optima_a_person_might_miss() {
    let board = Board::parse(DISAGREE).unwrap();
    // network: isolating a corner of the block (2 moves) leaves 6 ≤ m = 6 — one move fewer than
    // shrinking the block to 6.
    let (moves, line) =
        exhaustive_optimum(&Game::new(&board, Definition::Network), 100_000).unwrap();
    assert_eq!(moves, 2, "{line:?}");
    let mut game = Game::new(&board, Definition::Network);
    for site in line {
        game.attack(site).unwrap();
    }
    assert!(game.is_over());
    assert_eq!(
        exhaustive_optimum(&Game::new(&board, NOODLE), 100_000)
            .unwrap()
            .0,
        1
    );
    assert_eq!(
        exhaustive_optimum(&Game::new(&board, FLOW), 100_000)
            .unwrap()
            .0,
        1
    );

    // Never worse than a heuristic's game, and its line replays to the end.
    for definition in [Definition::Network, NOODLE] {
        for board in draw_boards(5, 0.8, 6, 9).unwrap() {
            let game = Game::new(&board, definition);
            let (moves, line) = exhaustive_optimum(&game, 2_000_000).unwrap();
            assert!(moves >= 1 && moves <= Policy::Degree.play(&board, definition).moves.len());
            let mut replay = game.clone();
            for site in line {
                replay.attack(site).unwrap();
            }
            assert!(replay.is_over() && replay.moves() == moves);
        }
    }
    let big = &draw_boards(9, 0.8, 1, 1).unwrap()[0];
    assert_eq!(
        exhaustive_optimum(&Game::new(big, NOODLE), 10).unwrap_err(),
        SearchLimit::TooLarge(81)
    );
}

/// A seeded random graph: a ring (so it starts connected) plus random chords, and a few hubs
/// of high degree (more neighbours than a lattice site ever has).
fn random_graph(nodes: usize, chords: usize, seed: u64) -> String {
    let mut r = rng(seed);
    let mut lines: Vec<String> = (0..nodes)
        .map(|i| format!("v{i} v{}", (i + 1) % nodes))
        .collect();
    for _ in 0..chords {
        let a = (unit(&mut r) * nodes as f64) as usize;
        let b = (unit(&mut r) * nodes as f64) as usize;
        if a != b {
            lines.push(format!("v{a} v{b}"));
        }
    }
    for hub in 0..2 {
        for k in 0..9 {
            lines.push(format!("v{hub} v{}", (hub * 7 + k * 3 + 2) % nodes));
        }
    }
    lines.join("\n")
}

#[test]
fn clusters_on_graphs_equal_a_union_find_recount() {
    for seed in 0..12 {
        let graph = GraphBoard::from_edge_list(&random_graph(30, 12, seed)).unwrap();
        let topology = Arc::new(graph.topology());
        let max_degree = topology.max_degree();
        assert!(max_degree > 4, "hubs beyond a lattice's degree");
        let count = graph.len();
        let mut active = vec![true; count];
        let mut clusters = Clusters::new(Arc::clone(&topology), active.clone());
        let mut r = rng(100 + seed);
        let mut order: Vec<usize> = (0..count).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, (unit(&mut r) * (i + 1) as f64) as usize);
        }
        for &node in &order {
            clusters.remove(node);
            active[node] = false;
            let mut truth = petgraph::unionfind::UnionFind::<usize>::new(count);
            for (a, b) in graph.edge_pairs() {
                if active[a] && active[b] {
                    truth.union(a, b);
                }
            }
            let mut map: HashMap<u32, usize> = HashMap::new();
            let mut sizes: HashMap<usize, u32> = HashMap::new();
            let mut perimeters: HashMap<usize, u64> = HashMap::new();
            for v in (0..count).filter(|&v| active[v]) {
                let root = truth.find(v);
                assert_eq!(
                    *map.entry(clusters.label(v)).or_insert(root),
                    root,
                    "seed {seed}, node {v}"
                );
                *sizes.entry(root).or_default() += 1;
                let live = topology
                    .neighbours(v)
                    .iter()
                    .filter(|&&u| active[u as usize])
                    .count();
                *perimeters.entry(root).or_default() += (max_degree - live) as u64;
            }
            assert_eq!(map.len(), sizes.len(), "as many clusters as the recount");
            for (&label, root) in &map {
                assert_eq!(clusters.stats(label).size, sizes[root]);
                assert_eq!(clusters.stats(label).perimeter, perimeters[root]);
            }
        }
    }
}

#[test]
fn graph_boards_play_every_definition() {
    // A "bow tie": two triangles joined at c; s and t on either end.
    let text = "# a bow tie\ns a\na c\ns c\nc b\nb t\nc t\nc t   # repeated: counts once\n";
    let graph = GraphBoard::from_edge_list(text).unwrap();
    assert_eq!((graph.len(), graph.edges()), (5, 6));
    let flow = Definition::parse("flow").unwrap();
    // Without terminals nothing spans, so flow would be over at once; with them, c is the cut.
    let graph = graph.with_terminals(&["s"], &["t"]).unwrap();
    let c = (0..graph.len()).find(|&i| graph.name(i) == "c").unwrap();
    let mut game = Game::on_graph(&graph, flow);
    assert_eq!(game.alive_count(), 5);
    assert_eq!(game.degree(c), 4);
    game.attack(c).unwrap();
    assert!(game.is_over(), "c separates s from t");
    // One move is the optimum: c, or a terminal itself (s is the only source).
    let optimal = evaluate_graph(&graph, flow, Player::Optimal);
    assert_eq!(optimal.steps, Some(vec![1]));
    let s = (0..graph.len()).find(|&i| graph.name(i) == "s").unwrap();
    let t = (0..graph.len()).find(|&i| graph.name(i) == "t").unwrap();
    let line = &optimal.moves.unwrap()[0];
    assert!([s, c, t].contains(&line[0]), "{line:?}");
    // network: attacking the hub leaves two equal pairs, a tie, which ends the game too.
    let mut network = Game::on_graph(&graph, Definition::Network);
    network.attack(c).unwrap();
    assert!(network.is_over());
    // noodle (d = 2): a node's blocked contacts are its attacked neighbours plus what it lacks of
    // the largest degree (4): the bow tie has perimeter 2 + 2 + 0 + 2 + 2 = 8 < 2·5, so it lives…
    let noodle = Definition::parse("noodle").unwrap();
    let mut game = Game::on_graph(&graph, noodle);
    assert_eq!(game.alive_count(), 5);
    // … and once s is gone, a (3: two missing, one attacked), c (1: s attacked), b and t (2 each)
    // give 8 ≥ 2·4: the cluster dies.
    game.attack(s).unwrap();
    assert!(game.is_over());
    for name in ["random", "degree", "greedy", "ci", "corehd"] {
        let e = evaluate_graph(&graph, noodle, Player::parse(name, 1).unwrap());
        assert!(e.steps.unwrap()[0] >= 1, "{name}");
    }
}

#[test]
fn bad_edge_lists_are_named() {
    let e = GraphBoard::from_edge_list("a b\nc\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("two node names"), "{e}");
    let e = GraphBoard::from_edge_list("a b\nb b\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("self-loop"), "{e}");
    let e = GraphBoard::from_edge_list("# nothing\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no edges"), "{e}");
    let graph = GraphBoard::from_edge_list("a b").unwrap();
    let e = graph
        .with_terminals(&["a"], &["z"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("\"z\""), "{e}");
}

/// The fewest moves by brute force: breadth-first over every attack sequence (tiny boards only).
fn brute_force(game: &Game) -> usize {
    let mut frontier = vec![game.clone()];
    for depth in 0.. {
        if frontier.iter().any(Game::is_over) {
            return depth;
        }
        let mut next = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for g in &frontier {
            for &site in g.alive_sites() {
                let mut child = g.clone();
                child.attack(site as usize).unwrap();
                if seen.insert(child.state_key().unwrap()) {
                    next.push(child);
                }
            }
        }
        frontier = next;
    }
    unreachable!()
}

#[test]
fn the_search_bound_never_cuts_an_optimum() {
    // The lower bound (a move per Alive cluster; noodle's deficit closed at most d + 4 a move)
    // prunes the search; on tiny boards it must still find what brute force finds.
    for (n, seed) in [(3, 1), (4, 2), (4, 3), (4, 5)] {
        for board in draw_boards(n, 0.8, 4, seed).unwrap() {
            for definition in DEFINITIONS {
                let game = Game::new(&board, definition);
                assert!(game.moves_lower_bound() <= brute_force(&game));
                assert_eq!(
                    exhaustive_optimum(&game, 1_000_000).unwrap().0,
                    brute_force(&game),
                    "{} on {}",
                    definition.name(),
                    board.to_json_line()
                );
            }
        }
    }
    // And every 6×6 noodle board of the README's set now completes within the budget.
    for board in draw_boards(6, 0.8, 50, 1).unwrap() {
        let game = Game::new(&board, NOODLE);
        assert!(exhaustive_optimum(&game, tessera_core::game::evaluate::EXHAUSTIVE_STATES).is_ok());
    }
}
