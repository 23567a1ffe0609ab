//! The graph agent: its message-passing net reads a board as a graph (any node order, any batch),
//! survives its bundle, plays real networks and lattices, and trains reproducibly.
#![cfg(feature = "train")]

mod common;

use burn::tensor::Device;
use proptest::prelude::*;
use tessera_core::game::agent::{AGENT_MODEL, Agent, AgentError, AgentInfo, state};
use tessera_core::game::evaluate::{Evaluation, Player, evaluate_games};
use tessera_core::game::qnet::QNetConfig;
use tessera_core::game::random_graphs::GraphMix;
use tessera_core::game::rules::draw_boards;
use tessera_core::game::topology::Topology;
use tessera_core::game::{Architecture, Definition, FlowDirection, Game, GraphFile, Net, Policy};
use tessera_core::train::Fit;
use tessera_core::train::dqn::{DqnConfig, DqnTrainer};
use tessera_core::train::replay::{REPLAY_FILE, Replay};

const FLOW: Definition = Definition::Flow {
    direction: FlowDirection::Horizontal,
};

fn graph_agent(features: usize, depth: usize, seed: u64, definition: Definition) -> Agent {
    let info = AgentInfo {
        model: AGENT_MODEL.into(),
        architecture: Architecture::MessagePassing,
        net: QNetConfig::new(features, depth),
        definition,
        size: 6,
        mixed_sizes: Vec::new(),
        p: 0.8,
        graphs: Some(GraphMix::default()),
        steps: 0,
        validation_moves: None,
    };
    let net = Net::init(info.architecture, &info.net, seed, &Device::flex());
    Agent::new(info, net, &Device::flex())
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-5 * (1.0 + y.abs()))
}

fn shipped_graph(name: &str) -> GraphFile {
    let path = format!("{}/../www/graphs/{name}.json", env!("CARGO_MANIFEST_DIR"));
    GraphFile::parse(&path, &std::fs::read(&path).unwrap()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Renumbering a graph's nodes renumbers its Q-values and nothing else, and a board's values
    /// do not depend on the boards it shares a forward pass with.
    #[test]
    fn the_graph_net_is_blind_to_node_order_and_to_its_batch_mates(
        seed in 0u64..1000,
        moves in 0usize..6,
        swaps in proptest::collection::vec((0usize..200, 0usize..200), 1..40),
    ) {
        let device = Device::flex();
        let agent = graph_agent(8, 3, seed, FLOW);
        let mix = GraphMix { min_nodes: 12, max_nodes: 40, ..GraphMix::default() };
        let starts = mix.draw(5, 0.8, 4, FLOW, seed).unwrap();
        let start = &starts[1 + seed as usize % 3];
        let mut game = start.game(FLOW);
        for _ in 0..moves {
            if game.is_over() {
                break;
            }
            let site = game.alive_sites().iter().copied().min().unwrap() as usize;
            game.attack(site).unwrap();
        }
        let nodes = game.sites().len();
        // A permutation from the swaps: new node `order[v]` is old node v.
        let mut order: Vec<usize> = (0..nodes).collect();
        for (a, b) in swaps {
            order.swap(a % nodes, b % nodes);
        }
        let top = game.topology();
        let mut neighbours = vec![Vec::new(); nodes];
        let (mut source, mut sink) = (Vec::new(), Vec::new());
        for v in 0..nodes {
            neighbours[order[v]] = top.neighbours(v).iter().map(|&u| order[u as usize] as u32).collect();
            if top.sides(v) & 1 != 0 { source.push(order[v]); }
            if top.sides(v) & 2 != 0 { sink.push(order[v]); }
        }
        let renumbered = Topology::graph(&neighbours, &source, &sink);
        let mut sites = game.sites().to_vec();
        for v in 0..nodes {
            sites[order[v]] = game.sites()[v];
        }
        let view = tessera_core::game::gnn::GraphState { sites: &sites, topology: &renumbered };
        let alone = agent.q_values(&game).unwrap();
        let other = starts[0].game(FLOW);
        let rows = agent.net.q_values(&[state(&other), view, state(&game)], FLOW, &device);
        let back: Vec<f32> = (0..nodes).map(|v| rows[1][order[v]]).collect();
        prop_assert!(close(&back, &alone), "renumbered {back:?} vs {alone:?}");
        prop_assert!(close(&rows[2], &alone), "in a batch of three");
    }
}

#[test]
fn a_graph_agent_survives_its_bundle_and_plays_networks_and_lattices() {
    let device = Device::flex();
    let agent = graph_agent(8, 2, 3, Definition::Network);
    let back = Agent::from_bundle(&agent.to_bundle().unwrap(), &device).unwrap();
    assert_eq!(back.info, agent.info);
    assert_eq!(back.net.architecture(), Architecture::MessagePassing);
    let file = shipped_graph("germany50");
    let graph = file.board_between("germany50", &[], &[]).unwrap();
    let game = Game::on_graph(&graph, Definition::Network);
    assert!(close(
        &back.q_values(&game).unwrap(),
        &agent.q_values(&game).unwrap()
    ));
    let heat = agent.moves_left(&game).unwrap();
    assert_eq!(heat.len(), 50);
    assert!(
        heat.iter().all(Option::is_some),
        "every node is Alive at the start"
    );

    // A whole game on the network ends it, each move on an Alive node, and is the agent's
    // choice at every step.
    let played = agent.play_games(vec![game.clone()]).unwrap().remove(0);
    let mut replay = game.clone();
    for &site in &played.moves {
        assert_eq!(agent.choose(&replay).unwrap(), site);
        replay.attack(site).unwrap();
    }
    assert!(replay.is_over());
    assert_eq!(agent.choose(&replay), Err(AgentError::Over));

    // Lattices too: batched play equals one board at a time.
    let boards = draw_boards(6, 0.8, 5, 2).unwrap();
    let together = agent.play_all(&boards, Definition::Network);
    for (board, played) in boards.iter().zip(&together) {
        let alone = agent.play_all(std::slice::from_ref(board), Definition::Network);
        assert_eq!(alone[0].moves, played.moves);
    }

    // The lattice agent refuses the network and says which agent plays it.
    let info = AgentInfo {
        architecture: Architecture::Convolutional,
        graphs: None,
        ..agent.info.clone()
    };
    let conv = Agent::new(
        info.clone(),
        Net::init(info.architecture, &info.net, 0, &device),
        &device,
    );
    let refusal = conv.play_games(vec![game]).unwrap_err().to_string();
    assert!(
        refusal.contains("graph of 50 nodes") && refusal.contains("a graph agent"),
        "{refusal}"
    );
}

fn tiny(definition: Definition, steps: usize) -> DqnConfig {
    let mut config = DqnConfig::cpu(definition).with_steps(steps);
    config.size = 5;
    config.graphs = Some(GraphMix {
        min_nodes: 10,
        max_nodes: 24,
        ..GraphMix::default()
    });
    config.net = QNetConfig::new(8, 2);
    config.batch = 16;
    config.train_boards = 60;
    config.validation_boards = 12;
    config.validate_every = 10;
    config.round_steps = 10;
    config.round_games = 2;
    config.burn_in_games = 8;
    config.target_every = 10;
    config.seed = 9;
    config
}

#[test]
fn graph_training_is_seeded_and_resumes_to_the_same_weights() {
    let device = Device::flex();
    let config = tiny(Definition::Noodle { d: 2.0 }, 30);
    let (straight, resumed) = common::straight_and_resumed(&config, 20, &device);
    let losses = |t: &DqnTrainer| {
        t.history()
            .iter()
            .map(|s| s.loss as f32)
            .collect::<Vec<_>>()
    };
    assert!(close(&losses(&resumed), &losses(&straight)));
    let file = shipped_graph("abilene");
    let graph = file.board_between("abilene", &[], &[]).unwrap();
    let game = Game::on_graph(&graph, Definition::Noodle { d: 2.0 });
    let q = |t: &DqnTrainer| {
        let agent = Agent::from_bundle(&t.checkpoint().unwrap(), &device).unwrap();
        assert_eq!(agent.info.architecture, Architecture::MessagePassing);
        agent.q_values(&game).unwrap()
    };
    assert!(close(&q(&resumed), &q(&straight)));
    let fresh = DqnTrainer::new(config.clone(), None, &device).unwrap();
    assert!(
        !close(&q(&fresh), &q(&straight)),
        "training changed the weights"
    );

    // A checkpoint whose memory names a board this run does not have is refused by file.
    let mut replay =
        Replay::from_bytes(straight.checkpoint().unwrap().file(REPLAY_FILE).unwrap()).unwrap();
    let mut stray = replay.get(0).clone();
    stray.board = config.train_boards as u32;
    replay.push(stray);
    let corrupt = straight
        .checkpoint()
        .unwrap()
        .with_file(REPLAY_FILE, replay.to_bytes());
    let Err(error) = DqnTrainer::resume(&corrupt, &device) else {
        panic!("a replay memory naming a board past the run's was resumed");
    };
    assert!(
        error.to_string().contains(REPLAY_FILE) && error.to_string().contains("board 60"),
        "{error}"
    );

    // A hot start must be the same kind of net.
    let lattice = DqnConfig {
        graphs: None,
        ..config
    };
    let Err(error) = DqnTrainer::new(lattice, Some(&straight.bundle().unwrap()), &device) else {
        panic!("a graph agent hot-started a lattice agent");
    };
    assert!(error.to_string().contains("message-passing"), "{error}");
}

#[test]
fn a_trained_graph_agent_beats_degree_on_flow_between_sides_of_random_graphs() {
    // Flow on small random graphs and 5×5 lattices (a few seconds): cut the few nodes every path
    // between the two sides crosses, which the agent must find from the graph alone.
    let device = Device::flex();
    let mut config = tiny(FLOW, 3000);
    config.batch = 32;
    config.validate_every = 100;
    config.temperature.decay = 200.0;
    let mut trainer = DqnTrainer::new(config.clone(), None, &device).unwrap();
    while !trainer.done() {
        trainer.step().unwrap();
    }
    let agent = Agent::from_bundle(&trainer.bundle().unwrap(), &device).unwrap();
    let mix = config.graphs.clone().unwrap();
    let held_out = mix.draw(5, 0.8, 120, FLOW, 4242).unwrap();
    let games = || held_out.iter().map(|s| s.game(FLOW));
    let mean = |e: Evaluation| e.mean_steps().unwrap();
    let trained = mean(Evaluation::from_played(
        agent.play_games(games().collect()).unwrap(),
    ));
    let score = |player: Player| mean(evaluate_games(games(), player));
    let degree = score(Player::Policy(Policy::Degree));
    let optimal = score(Player::Optimal);
    // Measured: agent 2.72, optimum 2.10, degree 4.08; untrained (20 steps) 10.20.
    assert!(
        trained < degree,
        "agent {trained:.2} moves vs degree {degree:.2}, optimum {optimal:.2} on held-out graphs"
    );
}
