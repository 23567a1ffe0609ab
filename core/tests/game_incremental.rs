//! The agent's incremental host evaluator: after any sequence of attacks (clusters dying at once
//! included) its Q-values equal a from-scratch evaluation exactly and the forward pass to float
//! rounding; the agent's moves on the CPU equal a full recomputation's at every size and the
//! forward pass's on these boards — for the shipped agents of all three definitions and fresh
//! nets of other shapes.

mod common;

use burn::tensor::Device;
use proptest::prelude::*;
use tessera_core::bundle::Bundle;
use tessera_core::game::agent::{AGENT_MODEL, Agent, AgentInfo};
use tessera_core::game::board::{rng, unit};
use tessera_core::game::incremental::{HostNetError, Incremental, computes_on_host};
use tessera_core::game::qnet::{QNet, QNetConfig, masked_argmax};
use tessera_core::game::rules::draw_boards;
use tessera_core::game::{Board, Definition, FlowDirection, Game, Net, Site};

const DEFINITIONS: [Definition; 3] = [
    Definition::Network,
    Definition::Flow {
        direction: FlowDirection::Horizontal,
    },
    Definition::Noodle { d: 2.0 },
];

/// The shipped agent of `definition` (`www/models`), on the CPU.
fn shipped(definition: Definition) -> Agent {
    let path = format!(
        "{}/../www/models/game-agent-{}.tar",
        env!("CARGO_MANIFEST_DIR"),
        definition.name()
    );
    let tar = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    Agent::from_bundle(&Bundle::from_tar(&tar).unwrap(), &Device::flex()).unwrap()
}

/// The agent's convolutional net (every agent here is one).
fn conv(agent: &Agent) -> &QNet {
    agent.net.convolutional().expect("a convolutional agent")
}

fn fresh(features: usize, depth: usize, seed: u64, definition: Definition) -> Agent {
    let info = AgentInfo {
        model: AGENT_MODEL.into(),
        architecture: Default::default(),
        graphs: None,
        net: QNetConfig::new(features, depth),
        definition,
        size: 8,
        mixed_sizes: Vec::new(),
        p: 0.8,
        steps: 0,
        validation_moves: None,
    };
    let net = Net::Convolutional(info.net.init(seed, &Device::flex()));
    Agent::new(info, net, &Device::flex())
}

fn forward(net: &QNet, game: &Game) -> Vec<f32> {
    net.q_values(&[game.sites()], game.n(), &Device::flex())
        .pop()
        .unwrap()
}

/// Host values against the forward pass: within 1e-5 of the computation's magnitude (the sum of
/// the absolute terms of the last layer, which is what rounding scales with) and of the largest
/// |Q| — the worst ratio is returned so tests can report it.
fn assert_near_forward(what: &str, host: &[f32], full: &[f32], magnitude: f32) -> f32 {
    assert_eq!(host.len(), full.len(), "{what}: length");
    let largest = full.iter().fold(0f32, |m, v| m.max(v.abs()));
    let scale = magnitude.max(f32::MIN_POSITIVE);
    let mut worst = 0f32;
    for (i, (a, b)) in host.iter().zip(full).enumerate() {
        let error = (a - b).abs();
        assert!(
            error <= 1e-5 * scale && error <= 1e-4 * largest.max(1e-30) + 1e-9 * scale,
            "{what}: site {i} is {a} on the host, {b} in the forward pass (magnitude {magnitude})"
        );
        worst = worst.max(error / scale);
    }
    worst
}

/// Plays `game` to the end by `pick`, checking after every attack that the incremental values
/// equal a fresh host evaluation bit for bit and the forward pass to rounding.
fn check_game(
    what: &str,
    net: &QNet,
    mut game: Game,
    mut pick: impl FnMut(&Game, &[f32]) -> usize,
) -> f32 {
    let n = game.n();
    let mut incremental = Incremental::of(net).unwrap();
    let mut worst = 0f32;
    loop {
        let q = incremental.evaluate(game.sites(), n).unwrap().to_vec();
        let mut scratch = Incremental::of(net).unwrap();
        assert_eq!(
            scratch.evaluate(game.sites(), n).unwrap(),
            &q[..],
            "{what}, move {}: incremental = from scratch",
            game.moves()
        );
        worst = worst.max(assert_near_forward(
            &format!("{what}, move {}", game.moves()),
            &q,
            &forward(net, &game),
            incremental.magnitude(),
        ));
        if game.is_over() {
            break;
        }
        let site = pick(&game, &q);
        game.attack(site).unwrap();
    }
    let stats = incremental.stats();
    assert!(stats.full >= 1 && stats.evaluations == game.moves() + 1);
    worst
}

#[test]
fn incremental_values_equal_the_forward_pass_after_attacks() {
    let mut worst = 0f32;
    for definition in DEFINITIONS {
        let agent = shipped(definition);
        for (n, seed) in [(3, 1), (9, 2), (24, 3)] {
            let board = &draw_boards(n, 0.8, 1, seed).unwrap()[0];
            // The agent's own moves, then random ones (other parts of the board change).
            let what = format!("{} agent, n = {n}", definition.name());
            worst = worst.max(check_game(
                &what,
                conv(&agent),
                Game::new(board, definition),
                |game, q| masked_argmax(q, game.sites()).unwrap(),
            ));
            let mut r = rng(seed);
            worst = worst.max(check_game(
                &format!("{what}, random moves"),
                conv(&agent),
                Game::new(board, definition),
                |game, _| {
                    let alive = game.alive_sites();
                    alive[(unit(&mut r) * alive.len() as f64) as usize % alive.len()] as usize
                },
            ));
        }
    }
    // Other shapes: wider and deeper (the receptive field spans small boards), and depth 0.
    for (features, depth) in [(8, 0), (24, 6), (5, 2)] {
        let agent = fresh(features, depth, 3, Definition::Network);
        for definition in DEFINITIONS {
            let board = &draw_boards(13, 0.75, 1, 4).unwrap()[0];
            worst = worst.max(check_game(
                &format!("F = {features}, depth {depth}, {}", definition.name()),
                conv(&agent),
                Game::new(board, definition),
                |game, q| masked_argmax(q, game.sites()).unwrap(),
            ));
        }
    }
    println!("worst host − forward difference: {worst:e} of the magnitude");
}

/// The moves of greedy play on `board` choosing from `q(game)` each move.
fn greedy(
    board: &Board,
    definition: Definition,
    limit: usize,
    mut q: impl FnMut(&Game) -> Vec<f32>,
) -> Vec<usize> {
    let mut game = Game::new(board, definition);
    let mut moves = Vec::new();
    while moves.len() < limit
        && let Some(site) = masked_argmax(&q(&game), game.sites())
    {
        game.attack(site).unwrap();
        moves.push(site);
    }
    moves
}

#[test]
fn the_agents_moves_on_the_cpu_equal_the_full_forward_pass() {
    for definition in DEFINITIONS {
        let agent = shipped(definition);
        for (n, seed) in [(6, 5), (16, 6), (40, 7)] {
            let board = &draw_boards(n, 0.8, 1, seed).unwrap()[0];
            let expected = greedy(board, definition, usize::MAX, |game| {
                forward(conv(&agent), game)
            });
            let mut game = Game::new(board, definition);
            let mut moves = Vec::new();
            while !game.is_over() {
                let site = agent.choose(&game).unwrap();
                game.attack(site).unwrap();
                moves.push(site);
            }
            assert_eq!(moves, expected, "{} agent, n = {n}", definition.name());
            let played = agent.play_all(std::slice::from_ref(board), definition);
            assert_eq!(played[0].moves, expected, "play_all, n = {n}");
            assert_eq!(played[0].robustness, game.robustness());
        }
        let stats = agent
            .host_stats()
            .expect("the CPU agent scores on the host");
        assert!(stats.evaluations > 0 && stats.full >= 3, "{stats:?}");
        println!("{}: {stats:?}", definition.name());
    }
}

#[test]
fn incremental_play_equals_full_recomputation_on_big_boards() {
    // Whole games at 64 and 128 on the incremental values; every `stride`-th position (and the
    // last) is also scored from scratch, which must give the same bits (so the same move).
    for definition in DEFINITIONS {
        let agent = shipped(definition);
        for (n, stride) in [(64, 40), (128, 200)] {
            let board = &draw_boards(n, 0.8, 1, 8).unwrap()[0];
            let mut incremental = Incremental::of(conv(&agent)).unwrap();
            let mut game = Game::new(board, definition);
            let mut checked = 0;
            loop {
                let q = incremental.evaluate(game.sites(), n).unwrap();
                let site = masked_argmax(q, game.sites());
                if game.moves().is_multiple_of(stride) || site.is_none() {
                    let mut scratch = Incremental::of(conv(&agent)).unwrap();
                    assert_eq!(
                        scratch.evaluate(game.sites(), n).unwrap(),
                        q,
                        "{} agent, n = {n}, move {}",
                        definition.name(),
                        game.moves()
                    );
                    checked += 1;
                }
                let Some(site) = site else { break };
                game.attack(site).unwrap();
            }
            let stats = incremental.stats();
            assert!(checked >= 2 && stats.evaluations == game.moves() + 1);
            // Most moves touch a neighbourhood: far fewer site updates than recomputing all.
            assert!(
                stats.site_layers * 4 < stats.evaluations * n * n * (agent.info.net.depth + 1),
                "{stats:?}"
            );
            println!(
                "{} n = {n}: {} moves, {stats:?}",
                definition.name(),
                game.moves()
            );
        }
    }
}

#[test]
fn any_change_of_board_is_followed() {
    // Unrelated boards in a row, of the same and of other sizes, equal fresh evaluations: the
    // evaluator diffs against what it last scored, whatever happened in between.
    let agent = shipped(Definition::Network);
    let mut incremental = Incremental::of(conv(&agent)).unwrap();
    let mut r = rng(9);
    for round in 0..12 {
        let n = [7, 7, 12, 7, 30, 30][round % 6];
        let board = Board::random(n, 0.5 + 0.45 * unit(&mut r), &mut r).unwrap();
        let mut game = Game::new(&board, DEFINITIONS[round % 3]);
        for _ in 0..round % 4 {
            if let Some(&site) = game.alive_sites().first() {
                game.attack(site as usize).unwrap();
            }
        }
        let q = incremental.evaluate(game.sites(), n).unwrap().to_vec();
        let fresh = Incremental::of(conv(&agent))
            .unwrap()
            .evaluate(game.sites(), n)
            .unwrap()
            .to_vec();
        assert_eq!(q, fresh, "round {round}");
        assert_near_forward(
            "unrelated boards",
            &q,
            &forward(conv(&agent), &game),
            incremental.magnitude(),
        );
    }
    // A whole cluster dying at once (a cut-off part of a flow board) is one evaluation.
    let board = Board::parse(
        "#####
         #####
         ..#..
         #####
         #####",
    )
    .unwrap();
    let mut game = Game::new(&board, DEFINITIONS[1]);
    let mut incremental = Incremental::of(conv(&agent)).unwrap();
    incremental.evaluate(game.sites(), 5).unwrap();
    // The bridge, then the top half's middle column: its two halves touch one side each.
    for (site, died) in [(12, 0), (2, 0), (7, 8)] {
        assert_eq!(game.attack(site).unwrap(), died, "attacking {site}");
        let q = incremental.evaluate(game.sites(), 5).unwrap().to_vec();
        let fresh = Incremental::of(conv(&agent))
            .unwrap()
            .evaluate(game.sites(), 5)
            .unwrap()
            .to_vec();
        assert_eq!(q, fresh, "after attacking {site}");
    }
}

#[test]
fn the_host_evaluator_refuses_what_it_cannot_score() {
    let agent = shipped(Definition::Network);
    let mut incremental = Incremental::of(conv(&agent)).unwrap();
    assert_eq!(
        incremental.evaluate(&[Site::Alive; 5], 2),
        Err(HostNetError::Board { sites: 5, n: 2 })
    );
    // 4096² sites × 16 features × 6 layers: refused by size before anything is allocated.
    let side = 4096;
    let error = incremental
        .evaluate(&vec![Site::Wall; side * side], side)
        .unwrap_err();
    assert!(
        matches!(error, HostNetError::TooLarge { n: 4096, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("forward pass"), "{error}");
    assert!(incremental.evaluate(&[], 0).unwrap().is_empty());
    assert!(
        computes_on_host(&Device::flex()),
        "the CPU device is recognised"
    );
}

#[test]
fn exact_ties_go_to_the_smallest_index() {
    // Two full rows far enough from the edges (and each other) for their receptive fields
    // ((2·depth + 1)² sites: 17×17 for the flow agent's 8 blocks) to look the same: their sites
    // tie exactly on the host.
    let flow = DEFINITIONS[1];
    let agent = shipped(flow);
    let depth = agent.info.net.depth;
    let side = 4 * depth + 8;
    let (upper, lower) = (depth + 1, side - depth - 2);
    let mut rows = vec![vec!['.'; side]; side];
    rows[upper] = vec!['#'; side];
    rows[lower] = vec!['#'; side];
    let picture: Vec<String> = rows.iter().map(|r| r.iter().collect()).collect();
    let board = Board::parse(&picture.join("\n")).unwrap();
    let game = Game::new(&board, flow);
    let q = agent.q_values(&game).unwrap();
    for c in 0..side {
        assert_eq!(q[upper * side + c], q[lower * side + c], "column {c}");
    }
    let chosen = agent.choose(&game).unwrap();
    assert!(
        chosen < (upper + 1) * side,
        "the upper row's site, not the lower's: {chosen}"
    );
    assert_eq!(Some(chosen), masked_argmax(&q, game.sites()));
}

proptest! {
    #![proptest_config(common::fuzz_config())]

    #[test]
    fn random_attacks_keep_incremental_values_exact(
        n in 1usize..20,
        p in 0.3f64..1.0,
        seed in any::<u64>(),
        definition in 0usize..3,
        shape in 0usize..3,
        attacks in 1usize..30,
    ) {
        let (features, depth) = [(16, 4), (6, 1), (10, 3)][shape];
        let net = QNetConfig::new(features, depth).init(seed % 7, &Device::flex());
        let mut r = rng(seed);
        let board = Board::random(n, p, &mut r).unwrap();
        let mut game = Game::new(&board, DEFINITIONS[definition]);
        let mut incremental = Incremental::of(&net).unwrap();
        for _ in 0..=attacks {
            let q = incremental.evaluate(game.sites(), n).unwrap().to_vec();
            let fresh = Incremental::of(&net).unwrap().evaluate(game.sites(), n).unwrap().to_vec();
            prop_assert_eq!(&q, &fresh);
            assert_near_forward("random attacks", &q, &forward(&net, &game), incremental.magnitude());
            let alive = game.alive_sites();
            if alive.is_empty() {
                break;
            }
            let site = alive[(unit(&mut r) * alive.len() as f64) as usize % alive.len()];
            game.attack(site as usize).unwrap();
        }
    }
}
