//! Hostile and oversized input to the attack game's readers: board files (JSON Lines), board
//! pictures and edge lists. Arbitrary bytes and structured-but-hostile lines must never panic and
//! must give either an error naming what is wrong or a valid board; sizes beyond the limits are
//! refused at once, before anything is allocated for them; graphs with hubs and long paths load
//! in time and memory O(nodes + edges). Plus the regressions the tester reported.
//!
//! Part of the fuzzing harness (see `hostile_inputs.rs`): 48 cases a property with seed 0 unless
//! `PROPTEST_CASES` / `TESSERA_FUZZ_SEED` say otherwise (a few seconds in release).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use petgraph::unionfind::UnionFind;

use proptest::prelude::*;
use tessera_core::game::board::{rng, unit};
use tessera_core::game::clusters::Clusters;
use tessera_core::game::rules::draw_boards;
use tessera_core::game::{
    Board, BoardError, Definition, FlowDirection, Game, GraphBoard, GraphFile, MAX_SIDE, MAX_SITES,
    Policy, Site,
};

const DEFINITIONS: [Definition; 3] = [
    Definition::Network,
    Definition::Flow {
        direction: FlowDirection::Horizontal,
    },
    Definition::Noodle { d: 2.0 },
];

/// A board the readers returned is a real board.
fn assert_valid_board(board: &Board) {
    assert!(board.n >= 1 && board.n <= MAX_SIDE, "side {}", board.n);
    assert_eq!(board.occupied.len(), board.n * board.n);
    assert!(board.occupied.len() <= MAX_SITES);
}

/// A graph the reader returned is a real graph: at least one edge, sorted symmetric neighbour
/// lists without self-loops or repeats, distinct names.
fn assert_valid_graph(graph: &GraphBoard) {
    assert!(graph.len() >= 2 && graph.edges() >= 1);
    let mut total = 0;
    for v in 0..graph.len() {
        let list = graph.neighbours(v);
        assert!(list.windows(2).all(|w| w[0] < w[1]), "node {v}: {list:?}");
        for &u in list {
            assert_ne!(u as usize, v, "self-loop on {v}");
            assert!(
                graph
                    .neighbours(u as usize)
                    .binary_search(&(v as u32))
                    .is_ok()
            );
        }
        total += list.len();
    }
    assert_eq!(total, 2 * graph.edges());
    let names: BTreeSet<&str> = (0..graph.len()).map(|i| graph.name(i)).collect();
    assert_eq!(names.len(), graph.len(), "names are distinct");
}

/// Plays a few moves of each definition (no panics, only Alive sites attacked).
fn play_a_little(game: Game) {
    let mut game = game;
    let mut r = rng(3);
    for _ in 0..5 {
        if game.is_over() {
            break;
        }
        let site = Policy::Random { seed: 3 }.choose(&game, &mut r);
        assert_eq!(game.sites()[site], Site::Alive);
        game.attack(site).unwrap();
    }
}

/// `degree` one move at a time by the plain scan: what the heap-driven game must equal.
fn degree_by_scan(mut game: Game) -> Vec<usize> {
    let mut r = rng(0);
    let mut moves = Vec::new();
    while !game.is_over() {
        let site = Policy::Degree.choose(&game, &mut r);
        game.attack(site).unwrap();
        moves.push(site);
    }
    moves
}

fn board_line(n: &str, p: &str, sites: &str) -> String {
    format!("{{\"n\": {n}, \"p\": {p}, \"sites\": \"{sites}\"}}")
}

/// Side values that have broken readers before: 0, small, around 2¹⁶ and 2³² (n² overflows a
/// 32-bit or a 64-bit usize), the limit's edges, and anything.
fn hostile_side() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        1u64..12,
        Just(MAX_SIDE as u64),
        Just(MAX_SIDE as u64 + 1),
        Just(65_535u64),
        Just(65_536u64),
        Just(1u64 << 32),
        Just((1u64 << 32) + 1),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

/// A node-link file of `nodes` nodes (ids drawn from a small set, so some repeat) and `links`
/// (endpoints drawn from a slightly larger set, so some are unknown), positions sometimes
/// missing or not numbers.
fn node_link(nodes: &[(u8, u8)], links: &[(u8, u8)]) -> String {
    let nodes: Vec<String> = nodes
        .iter()
        .map(|&(id, pos)| match pos % 4 {
            0 => format!(r#"{{"id":{id}}}"#),
            1 => format!(r#"{{"id":"{id}","pos":["x",1]}}"#),
            _ => format!(r#"{{"id":{id},"name":"n{id}","pos":[{pos},{}]}}"#, pos / 2),
        })
        .collect();
    let links: Vec<String> = links
        .iter()
        .map(|&(a, b)| format!(r#"{{"source":{a},"target":"{b}"}}"#))
        .collect();
    format!(
        r#"{{"graph":{{"name":"g"}},"nodes":[{}],"links":[{}]}}"#,
        nodes.join(","),
        links.join(",")
    )
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    #[test]
    fn arbitrary_bytes_never_break_the_graph_file_readers(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = GraphFile::parse("g.json", &bytes);
        let _ = GraphFile::from_node_link("g.json", &bytes, None, "x");
    }

    #[test]
    fn hostile_node_link_files_are_graphs_or_errors_naming_the_field(
        nodes in proptest::collection::vec((0u8..12, any::<u8>()), 0..12),
        links in proptest::collection::vec((0u8..14, 0u8..14), 0..20),
    ) {
        let text = node_link(&nodes, &links);
        match GraphFile::from_node_link("g.json", text.as_bytes(), None, "x") {
            Ok(file) => {
                // What import accepts, the graph-file reader reads back the same.
                let again = serde_json::to_vec(&file).unwrap();
                prop_assert_eq!(&GraphFile::parse("g.json", &again).unwrap(), &file);
                match file.board("g.json") {
                    Ok(graph) => {
                        assert_valid_graph(&graph);
                        for definition in DEFINITIONS {
                            play_a_little(Game::on_graph(&graph, definition));
                        }
                    }
                    Err(e) => prop_assert!(e.to_string().starts_with("g.json: "), "{}", e),
                }
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(
                    message.starts_with("g.json: nodes") || message.starts_with("g.json: edges"),
                    "{}", message
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    #[test]
    fn arbitrary_bytes_never_break_the_board_reader(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(boards) = Board::read_lines(&text) {
            boards.iter().for_each(assert_valid_board);
        }
        if let Ok(board) = Board::parse(&text) {
            assert_valid_board(&board);
        }
    }

    #[test]
    fn arbitrary_text_never_breaks_the_edge_list_reader(text in "([a-c0-2#, \t]{0,8}\n?){0,30}") {
        if let Ok(graph) = GraphBoard::from_edge_list(&text) {
            assert_valid_graph(&graph);
            for definition in DEFINITIONS {
                play_a_little(Game::on_graph(&graph, definition));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_break_the_edge_list_reader(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(graph) = GraphBoard::from_edge_list(&String::from_utf8_lossy(&bytes)) {
            assert_valid_graph(&graph);
        }
    }

    #[test]
    fn hostile_board_lines_are_boards_or_errors_naming_line_and_field(
        n in hostile_side(),
        length in prop_oneof![0usize..50, Just(16usize), Just(MAX_SIDE * MAX_SIDE + 1)],
        bad in proptest::option::of(0usize..60),
        p in prop_oneof![Just("0.7".to_string()), Just("-3".into()), Just("1e308".into()), Just("\"x\"".into())],
        blank_lines in 0usize..3,
    ) {
        // The oversized "sites" (MAX_SITES + 1 characters) only with a side it could match.
        let length = if length > 50 && n != MAX_SIDE as u64 + 1 { 9 } else { length };
        let mut sites: String = (0..length).map(|k| if k % 3 == 0 { '0' } else { '1' }).collect();
        if let Some(at) = bad.filter(|&at| at < length) {
            sites.replace_range(at..at + 1, "é");
        }
        let text = format!("{}{}", "\n".repeat(blank_lines), board_line(&n.to_string(), &p, &sites));
        let line = blank_lines + 1;
        let chars = sites.chars().count();
        let fits = n >= 1 && n <= MAX_SIDE as u64 && n.checked_mul(n) == Some(chars as u64);
        match Board::read_lines(&text) {
            Ok(boards) => {
                prop_assert!(fits && !sites.contains('é') && p != "\"x\"");
                prop_assert_eq!(boards.len(), 1);
                assert_valid_board(&boards[0]);
                prop_assert_eq!(boards[0].n as u64, n);
            }
            Err(BoardError::Field { line: l, field, message }) => {
                prop_assert_eq!(l, line);
                prop_assert!(!fits || sites.contains('é') || p == "\"x\"", "{field}: {message}");
                match field {
                    "p" => prop_assert!(p == "\"x\"" && message.contains("\"x\""), "{message}"),
                    "n" => prop_assert!(message.contains(&n.to_string()), "{message}"),
                    "sites" => prop_assert!(
                        message.contains(&chars.to_string()) || message.contains("'é'"),
                        "{message}"
                    ),
                    other => prop_assert!(false, "field {other}: {message}"),
                }
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn hostile_board_fields_are_refused_not_panicked_on(
        n in prop_oneof![Just("-1"), Just("1.5"), Just("1e40"), Just("null"), Just("\"4\""), Just("18446744073709551616"), Just("2")],
        extra in proptest::option::of(Just(", \"x\": 1")),
    ) {
        let text = format!("{{\"n\": {n}, \"p\": 0.5, \"sites\": \"0110\"{}}}", extra.unwrap_or(""));
        match Board::read_lines(&text) {
            Ok(boards) => prop_assert!(n == "2" && extra.is_none() && boards[0].n == 2),
            Err(e) => {
                let e = e.to_string();
                prop_assert!(e.contains("line 1"), "{e}");
                // The field at fault is named.
                prop_assert!(e.contains("\"n\"") || e.contains("\"x\""), "{e}");
            }
        }
    }

    #[test]
    fn edge_lists_read_as_a_reference_reads_them(
        lines in proptest::collection::vec(
            (proptest::collection::vec(0u8..7, 0..4), any::<bool>(), any::<bool>()),
            0..40,
        ),
    ) {
        // Names from a small pool, so repeats, reversed repeats and self-loops are common.
        let name = |i: u8| format!("n{i}");
        let mut text = String::new();
        for (names, comma, comment) in &lines {
            let names: Vec<String> = names.iter().map(|&i| name(i)).collect();
            text.push_str(&names.join(if *comma { "," } else { " \t" }));
            if *comment {
                text.push_str(" # n9 n8");
            }
            text.push('\n');
        }
        // The reference: the first bad line (not two names, or a self-loop) is the error;
        // otherwise nodes in order of appearance and unordered distinct pairs.
        let mut order: Vec<String> = Vec::new();
        let mut edges = BTreeSet::new();
        let mut bad = None;
        for (i, (names, _, _)) in lines.iter().enumerate() {
            if names.is_empty() {
                continue;
            }
            if names.len() != 2 || names[0] == names[1] {
                bad = Some(i + 1);
                break;
            }
            for &k in names {
                if !order.contains(&name(k)) {
                    order.push(name(k));
                }
            }
            edges.insert((names[0].min(names[1]), names[0].max(names[1])));
        }
        match (GraphBoard::from_edge_list(&text), bad) {
            (Err(e), Some(line)) => prop_assert!(e.to_string().contains(&format!("line {line}:")), "{e}"),
            (Err(e), None) => {
                prop_assert!(edges.is_empty() && e.to_string().contains("no edges"), "{e}")
            }
            (Ok(graph), None) => {
                assert_valid_graph(&graph);
                let names: Vec<&str> = (0..graph.len()).map(|i| graph.name(i)).collect();
                prop_assert_eq!(names, order.iter().map(String::as_str).collect::<Vec<_>>());
                let read: BTreeSet<(String, String)> = graph
                    .edge_pairs()
                    .map(|(a, b)| {
                        let (a, b) = (graph.name(a).to_string(), graph.name(b).to_string());
                        (a.clone().min(b.clone()), a.max(b))
                    })
                    .collect();
                let want: BTreeSet<(String, String)> =
                    edges.iter().map(|&(a, b)| (name(a), name(b))).collect();
                prop_assert_eq!(read, want);
            }
            (Ok(_), Some(line)) => prop_assert!(false, "line {line} is bad but was read"),
        }
    }
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    #[test]
    fn the_degree_heap_plays_the_moves_of_the_scan(
        seed in any::<u64>(),
        n in 2usize..14,
        p in 0.55f64..1.0,
        definition in 0usize..3,
        edges in proptest::collection::vec((0u8..40, 0u8..40), 1..120),
    ) {
        let definition = DEFINITIONS[definition];
        // Lattices: many ties, broken by the smallest index.
        for board in draw_boards(n, p, 1, seed).unwrap_or_default() {
            let game = Game::new(&board, definition);
            prop_assert_eq!(Policy::Degree.play_game(game.clone()).moves, degree_by_scan(game));
        }
        // Graphs with hubs.
        let text: String = edges
            .iter()
            .filter(|(a, b)| a != b)
            .map(|(a, b)| format!("{a} {b}\n"))
            .collect();
        if let Ok(graph) = GraphBoard::from_edge_list(&text) {
            let (a, b) = (graph.name(0).to_string(), graph.name(1).to_string());
            let graph = graph.with_terminals(&[&a], &[&b]).unwrap();
            let game = Game::on_graph(&graph, definition);
            prop_assert_eq!(Policy::Degree.play_game(game.clone()).moves, degree_by_scan(game));
        }
    }
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    #[test]
    fn clusters_with_hubs_equal_a_recount_after_every_removal(
        hubs in proptest::collection::vec(proptest::collection::vec(0u16..80, 10..60), 1..4),
        extra in proptest::collection::vec((0u16..80, 0u16..80), 0..60),
        order_seed in any::<u64>(),
    ) {
        // Hubs far above a lattice's degree (the probe's side of `Clusters::remove`), and
        // sparse edges that leave leaves and bridges to split off.
        let mut text = String::new();
        for (h, leaves) in hubs.iter().enumerate() {
            for &leaf in leaves {
                text.push_str(&format!("h{h} {leaf}\n"));
            }
        }
        for &(a, b) in extra.iter().filter(|(a, b)| a != b) {
            text.push_str(&format!("{a} {b}\n"));
        }
        let graph = GraphBoard::from_edge_list(&text).unwrap();
        let topology = Arc::new(graph.topology());
        let count = graph.len();
        let mut active = vec![true; count];
        let mut clusters = Clusters::new(Arc::clone(&topology), active.clone());
        let mut order: Vec<usize> = (0..count).collect();
        let mut r = rng(order_seed);
        for i in (1..count).rev() {
            order.swap(i, (unit(&mut r) * (i + 1) as f64) as usize);
        }
        for &node in &order {
            clusters.remove(node);
            active[node] = false;
            let mut truth = UnionFind::<usize>::new(count);
            for (a, b) in graph.edge_pairs() {
                if active[a] && active[b] {
                    truth.union(a, b);
                }
            }
            let mut ours_to_truth: HashMap<u32, usize> = HashMap::new();
            let mut truth_to_ours: HashMap<usize, u32> = HashMap::new();
            let mut sizes: HashMap<u32, u32> = HashMap::new();
            for v in (0..count).filter(|&v| active[v]) {
                let (ours, root) = (clusters.label(v), truth.find(v));
                prop_assert_eq!(*ours_to_truth.entry(ours).or_insert(root), root);
                prop_assert_eq!(*truth_to_ours.entry(root).or_insert(ours), ours);
                *sizes.entry(ours).or_default() += 1;
            }
            for (&label, &size) in &sizes {
                prop_assert_eq!(clusters.stats(label).size, size);
            }
            for (i, &part) in clusters.parts().iter().enumerate() {
                let sites: Vec<usize> = clusters.part_sites(i).collect();
                prop_assert_eq!(sites.len() as u32, sizes[&part]);
                prop_assert!(sites.iter().all(|&v| clusters.label(v) == part));
            }
        }
    }
}

// Regressions from the tester's report.

#[test]
fn a_side_of_2_to_the_32_is_refused_naming_the_line_and_field() {
    // n² overflowed to 0 and the board was scored "0 moves" by every policy.
    let text = format!("\n{}\n", board_line("4294967296", "0.5", ""));
    let e = Board::read_lines(&text).unwrap_err();
    let message = e.to_string();
    assert!(
        matches!(
            e,
            BoardError::Field {
                line: 2,
                field: "n",
                ..
            }
        ),
        "{message}"
    );
    assert!(
        message.contains("4294967296") && message.contains("\"sites\" has 0 characters"),
        "{message}"
    );
    // n² overflowing u64 too.
    let e = Board::read_lines(&board_line(&u64::MAX.to_string(), "0.5", "1")).unwrap_err();
    assert!(e.to_string().contains("field \"n\""), "{e}");
}

#[test]
fn a_side_of_65536_is_refused_as_on_wasm32() {
    // 65,536² overflows a 32-bit usize: refused by the line's own data on every platform.
    let e = Board::read_lines(&board_line("65536", "0.5", "0101"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 1") && e.contains("field \"n\"") && e.contains("65536"),
        "{e}"
    );
    assert!(
        e.contains("4294967296") && e.contains("has 4 characters"),
        "{e}"
    );
}

#[test]
fn a_side_beyond_the_limit_is_refused_even_with_the_sites_to_match() {
    let n = MAX_SIDE + 1;
    let sites = "1".repeat(n * n);
    let e = Board::read_lines(&board_line(&n.to_string(), "0.5", &sites))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("field \"n\"") && e.contains(&MAX_SIDE.to_string()),
        "{e}"
    );
    // The largest side is a board.
    let sites = "0".repeat(MAX_SIDE * MAX_SIDE);
    let boards = Board::read_lines(&board_line(&MAX_SIDE.to_string(), "0.5", &sites)).unwrap();
    assert_eq!(boards[0].occupied.len(), MAX_SITES);
    // Drawing: refused by size, not by the allocator.
    let e = draw_boards(1 << 20, 0.7, 1, 0).unwrap_err().to_string();
    assert!(e.contains("limit"), "{e}");
    let e = Board::random(usize::MAX, 0.7, &mut rng(0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("limit"), "{e}");
    // A count beyond memory is not reserved up front: it fails by rejection, not abort.
    let e = draw_boards(3, 0.01, usize::MAX, 0).unwrap_err().to_string();
    assert!(e.contains("in a row"), "{e}");
}

#[test]
fn empty_boards_say_they_are_empty() {
    // Was "a board of side 0 needs 0 sites, got 0".
    let e = Board::read_lines(&board_line("0", "0.5", ""))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("field \"n\"") && e.contains("at least 1") && !e.contains("needs 0"),
        "{e}"
    );
    let e = Board::parse("").unwrap_err().to_string();
    assert!(e.contains("no rows"), "{e}");
    let e = Board::new(0, 0.5, Vec::new()).unwrap_err().to_string();
    assert!(e.contains("empty") && !e.contains("needs 0"), "{e}");
    let e = Board::new(0, 0.5, vec![true]).unwrap_err().to_string();
    assert!(e.contains("at least 1"), "{e}");
    // An empty file has no boards (the CLI says "no boards"), an empty edge list no edges.
    assert_eq!(Board::read_lines("\n \n").unwrap(), Vec::new());
    let e = GraphBoard::from_edge_list("").unwrap_err().to_string();
    assert!(e.contains("no edges"), "{e}");
}

#[test]
fn a_star_of_100k_leaves_loads_and_plays_in_memory_of_its_edges() {
    // Memory was nodes × largest degree (9.6 GB) and the hub's removal quadratic.
    let leaves = 100_000;
    let text: String = (0..leaves).map(|i| format!("hub {i}\n")).collect();
    let graph = GraphBoard::from_edge_list(&text).unwrap();
    assert_eq!((graph.len(), graph.edges()), (leaves + 1, leaves));
    assert_eq!(graph.name(0), "hub");
    assert_eq!(graph.neighbours(0).len(), leaves);
    assert_eq!(graph.neighbours(1), &[0]);
    // degree attacks the hub first; every leaf is then a cluster of one: a tie, so over.
    let played = Policy::Degree.play_game(Game::on_graph(&graph, Definition::Network));
    assert_eq!(played.moves, vec![0]);
    // A leaf at a time (random) until the hub goes: each removal costs its own degree.
    let played = Policy::Random { seed: 1 }.play_game(Game::on_graph(&graph, Definition::Network));
    assert!(!played.moves.is_empty() && played.moves.len() <= leaves);
    // noodle: a leaf lacks 99,999 of the largest degree, so the perimeter (~10¹⁰, beyond u32)
    // dwarfs 2 · size: a noodle from the start.
    assert!(Game::on_graph(&graph, Definition::Noodle { d: 2.0 }).is_over());
    // flow between two leaves: the hub is the cut.
    let graph = graph.with_terminals(&["17"], &["99999"]).unwrap();
    let mut game = Game::on_graph(
        &graph,
        Definition::Flow {
            direction: FlowDirection::Horizontal,
        },
    );
    assert_eq!(game.alive_count(), leaves + 1);
    game.attack(0).unwrap();
    assert!(game.is_over());
}

#[test]
fn a_path_of_a_million_nodes_loads() {
    // Was quadratic in hubs; a path must load in about a second (no timing asserted).
    let nodes = 1_000_000;
    let text: String = (0..nodes - 1).map(|i| format!("{i} {}\n", i + 1)).collect();
    let graph = GraphBoard::from_edge_list(&text).unwrap();
    assert_eq!((graph.len(), graph.edges()), (nodes, nodes - 1));
    assert_eq!(graph.neighbours(500_000), &[499_999, 500_001]);
    assert_eq!(graph.name(nodes - 1), (nodes - 1).to_string());
    // Cutting it in the middle leaves two halves; the game goes on.
    let mut game = Game::on_graph(&graph, Definition::Network);
    game.attack(nodes / 2).unwrap();
    assert_eq!(game.alive_count(), nodes / 2);
}

#[test]
fn a_large_lattice_is_played_by_degree_in_near_linear_time() {
    // 34 s for 500 × 500 before; the heap plays the scan's moves (checked above on small
    // boards) in well under a second.
    let board = draw_boards(300, 0.8, 1, 1).unwrap().pop().unwrap();
    let played = Policy::Degree.play(&board, Definition::Network);
    assert!(!played.moves.is_empty());
    let mut seen = vec![false; board.occupied.len()];
    for &site in &played.moves {
        assert!(board.occupied[site] && !seen[site]);
        seen[site] = true;
    }
}

#[test]
fn edge_list_semantics_are_kept() {
    // Repeats count once either way round; self-loops and odd lines are errors naming the line.
    let graph = GraphBoard::from_edge_list("a b\nb a\na,b\nb c # c d\n\n# x y\n").unwrap();
    assert_eq!((graph.len(), graph.edges()), (3, 2));
    assert_eq!(graph.edge_pairs().collect::<Vec<_>>(), vec![(0, 1), (1, 2)]);
    let e = GraphBoard::from_edge_list("a b\nc c\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 2") && e.contains("self-loop"), "{e}");
    let e = GraphBoard::from_edge_list("a b c\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 1") && e.contains("found 3"), "{e}");
    // A hostile name is shortened in the message.
    let long = "x".repeat(1 << 20);
    let e = GraphBoard::from_edge_list(&format!("{long} {long}\n"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("self-loop") && e.len() < 200, "{}", e.len());
    let graph = GraphBoard::from_edge_list("a b").unwrap();
    let e = graph
        .with_terminals(&[&long], &["a"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no node named") && e.len() < 200);
    // Topology numbers follow first appearance, neighbours ascending.
    let graph = GraphBoard::from_edge_list("z y\nx z\ny x\nw z\n").unwrap();
    let names: Vec<&str> = (0..graph.len()).map(|i| graph.name(i)).collect();
    assert_eq!(names, ["z", "y", "x", "w"]);
    let topology = graph.topology();
    assert_eq!(topology.neighbours(0), &[1, 2, 3]);
    assert_eq!(topology.max_degree(), 3);
}

#[test]
fn board_line_errors_name_the_field_at_fault() {
    for (line, want) in [
        (
            r#"{"n": "4", "p": 0.5, "sites": "0110"}"#,
            "field \"n\": expected a whole number",
        ),
        (r#"{"n": -2, "p": 0.5, "sites": "0110"}"#, "field \"n\""),
        (
            r#"{"n": 2, "p": "half", "sites": "0110"}"#,
            "field \"p\": expected a number",
        ),
        (
            r#"{"n": 2, "p": 0.5, "sites": [0, 1, 1, 0]}"#,
            "field \"sites\": expected a string",
        ),
        (r#"{"n": 2, "p": 0.5}"#, "field \"sites\": missing"),
        (
            r#"{"n": 2, "p": 0.5, "sites": "0110", "x": 1}"#,
            "unknown field \"x\"",
        ),
        (r#"[2, 0.5, "0110"]"#, "expected an object"),
        (r#"{"n": 2, "p": 0.5, "sites": "01"#, "line 1: EOF"),
        (
            r#"{"n": 2, "p": 0.5, "sites": "01109"}"#,
            "field \"sites\": \"sites\" has 5",
        ),
    ] {
        let e = Board::read_lines(line).unwrap_err().to_string();
        assert!(
            e.starts_with("board line 1") && e.contains(want),
            "{line}: {e}"
        );
    }
}
