//! `tessera bench game`: moves/s and whole-game time of a random attacker per definition and
//! board size, the exact flow optimum's time (the spec's goal: a random game at n = 128 in
//! under 50 ms for every definition), and the agent's inference moves/s per backend: one board at
//! a time with a full forward pass per move and with the host's incremental evaluator (the CPU's
//! play), side by side, and boards batched per forward pass.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use burn::tensor::Device;
use tessera_core::game::agent::{AGENT_MODEL, Agent, AgentInfo, state};
use tessera_core::game::optimal::flow_optimum;
use tessera_core::game::qnet::{QNetConfig, masked_argmax};
use tessera_core::game::rules::draw_boards;
use tessera_core::game::{Architecture, Definition, Game, Net, Policy};

use super::{devices, median_seconds};
use crate::backend::Backend;
use crate::bundle_io;

#[derive(clap::Args)]
pub struct GameBench {
    /// Board sides.
    #[arg(long, value_delimiter = ',', default_value = "16,64,128")]
    pub size: Vec<usize>,
    #[arg(long, default_value_t = 0.8)]
    pub p: f64,
    /// Boards per size (each game timed; the median is printed).
    #[arg(long, default_value_t = 5)]
    pub boards: usize,
    /// The agent to time (default: the shipped `network` agent).
    #[arg(long)]
    pub agent: Option<PathBuf>,
    /// Boards scored together in the batched agent figure.
    #[arg(long, default_value_t = 32)]
    pub agent_batch: usize,
    /// Backends for the agent's figures (default: every compiled one).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub backend: Vec<Backend>,
}

pub fn run(args: GameBench) -> Result<()> {
    println!(
        "{:<10} {:>5} {:>8} {:>12} {:>12}",
        "definition", "n", "moves", "game ms", "moves/s"
    );
    for name in Definition::NAMES {
        let definition = Definition::parse(name).map_err(anyhow::Error::msg)?;
        for &n in &args.size {
            let boards = draw_boards(n, args.p, args.boards, 1)?;
            let mut moves = 0;
            let mut seconds = Vec::new();
            for (i, board) in boards.iter().enumerate() {
                let policy = Policy::Random { seed: i as u64 };
                let s = median_seconds(|| {
                    moves = policy.play(board, definition).moves.len();
                    Ok(())
                })?;
                seconds.push((s, moves));
            }
            seconds.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (s, m) = seconds[seconds.len() / 2];
            println!(
                "{:<10} {:>5} {:>8} {:>12.3} {:>12.0}",
                name,
                n,
                m,
                s * 1e3,
                m as f64 / s
            );
        }
    }
    let n = *args.size.iter().max().unwrap_or(&128);
    let board = &draw_boards(n, args.p, 1, 1)?[0];
    let game = Game::new(
        board,
        Definition::parse("flow").map_err(anyhow::Error::msg)?,
    );
    let mut optimum = 0;
    let s = median_seconds(|| {
        optimum = flow_optimum(&game).map_or(0, |(k, _)| k);
        Ok(())
    })?;
    println!(
        "flow optimum at n = {n}: {optimum} moves, {:.3} ms (0-1 BFS on the dual lattice)",
        s * 1e3
    );
    println!(
        "Random attacker, p = {}; median game of {} boards per size, each the median of repeated plays.",
        args.p, args.boards
    );
    println!();
    agent(&args)
}

/// The agent's moves/s: one board at a time (a move = a forward pass, a read-back and the move;
/// or, on the CPU, the incremental evaluator's update and the move), and `agent_batch` boards
/// per forward pass.
fn agent(args: &GameBench) -> Result<()> {
    let (bundle, what) = match &args.agent {
        Some(path) => (bundle_io::read(path)?, path.display().to_string()),
        None => {
            match crate::game::shipped_agent(Definition::Network, Architecture::Convolutional) {
                Ok(path) => (bundle_io::read(&path)?, path.display().to_string()),
                Err(_) => {
                    // No shipped agent in this tree: time the shipped shape with fresh weights.
                    let info = AgentInfo {
                        model: AGENT_MODEL.into(),
                        architecture: Architecture::Convolutional,
                        graphs: None,
                        net: QNetConfig::new(16, 4),
                        definition: Definition::Network,
                        size: 10,
                        mixed_sizes: Vec::new(),
                        p: 0.8,
                        steps: 0,
                        validation_moves: None,
                    };
                    let net = Net::Convolutional(info.net.init(0, &Device::flex()));
                    (
                        Agent::new(info, net, &Device::flex()).to_bundle()?,
                        "fresh weights, F = 16, depth 4".into(),
                    )
                }
            }
        }
    };
    println!(
        "{:<8} {:>5} {:>13} {:>13} {:>7} {:>19}",
        "backend",
        "n",
        "full moves/s",
        "incr. moves/s",
        "ratio",
        format!("moves/s ({} boards)", args.agent_batch),
    );
    // (Rows hold numbers only, for scripts; the move comparisons follow the table.)
    let mut comparisons = Vec::new();
    for (backend, device) in devices(&args.backend) {
        let agent = Agent::from_bundle(&bundle, &device)?;
        for &n in &args.size {
            let speed = agent_speed(&agent, n, args, &device)?;
            let (incremental, ratio) = match speed.incremental {
                Some(moves_per_s) => (
                    format!("{moves_per_s:.1}"),
                    format!("{:.1}", moves_per_s / speed.full),
                ),
                None => ("-".into(), "-".into()),
            };
            println!(
                "{:<8} {:>5} {:>13.1} {:>13} {:>7} {:>19.1}",
                backend.name(),
                n,
                speed.full,
                incremental,
                ratio,
                speed.batched,
            );
            if let Some(same) = speed.same_moves {
                comparisons.push(format!("  {} n = {n}: {same}", backend.name()));
            }
        }
    }
    let info: AgentInfo = bundle.config()?;
    println!(
        "Agent: {what} ({} definition); greedy moves on a board at p = {}, for up to 2 s a size.",
        info.definition.name(),
        args.p
    );
    println!(
        "full: a forward pass over the whole board per move; incr.: the agent's own play (on the \
         CPU the host's incremental evaluator); ratio: incr. / full."
    );
    if !comparisons.is_empty() {
        println!(
            "Same moves (full vs incr., over the moves both runs made; where they part, how far \
             apart the forward pass put the two sites' Q):"
        );
        for line in comparisons {
            println!("{line}");
        }
    }
    Ok(())
}

/// One size's agent figures.
struct AgentSpeed {
    /// One board at a time, every move a forward pass over the whole board.
    full: f64,
    /// One board at a time through `Agent::choose` (the host's incremental evaluator on the
    /// CPU); `None` where the device is not the host.
    incremental: Option<f64>,
    /// Boards per second through one batched forward pass.
    batched: f64,
    /// How the two one-board runs' moves compare (`None` where there is one run).
    same_moves: Option<String>,
}

/// Greedy moves on one board for up to 2 s (at least 3), each chosen by `choose`: moves/s and
/// the moves.
fn timed_game(
    game: &Game,
    mut choose: impl FnMut(&Game) -> Result<usize>,
) -> Result<(f64, Vec<usize>)> {
    let mut game = game.clone();
    choose(&game)?; // warm-up (kernels, allocations, the host evaluator's first full pass)
    let started = Instant::now();
    let mut moves = Vec::new();
    while !game.is_over() && (moves.len() < 3 || started.elapsed().as_secs_f64() < 2.0) {
        let site = choose(&game)?;
        game.attack(site)?;
        moves.push(site);
    }
    Ok((moves.len() as f64 / started.elapsed().as_secs_f64(), moves))
}

fn agent_speed(agent: &Agent, n: usize, args: &GameBench, device: &Device) -> Result<AgentSpeed> {
    let board = &draw_boards(n, args.p, 1, 1)?[0];
    let game = Game::new(board, agent.info.definition);
    let definition = agent.info.definition;
    let forward = |game: &Game| {
        agent
            .net
            .q_values(&[state(game)], definition, device)
            .remove(0)
    };
    let (full, full_moves) = timed_game(&game, |game| {
        masked_argmax(&forward(game), game.sites()).context("the game is over")
    })?;
    let mut same_moves = None;
    let mut incremental = None;
    if agent.host_stats().is_some() {
        let (speed, moves) = timed_game(&game, |game| Ok(agent.choose(game)?))?;
        incremental = Some(speed);
        let common = moves.len().min(full_moves.len());
        same_moves = Some(match (0..common).find(|&i| moves[i] != full_moves[i]) {
            None => format!("all {common}"),
            Some(first) => {
                let mut at = game.clone();
                for &site in &full_moves[..first] {
                    at.attack(site)?;
                }
                let q = forward(&at);
                let (a, b) = (q[full_moves[first]], q[moves[first]]);
                let ulp = f32::from_bits(a.abs().to_bits() + 1) - a.abs();
                format!(
                    "the first {first} of {common}, then a near-tie: {:.0} ulp apart",
                    (a - b).abs() / ulp
                )
            }
        });
    }
    let fresh = Game::new(board, agent.info.definition);
    let states = vec![state(&fresh); args.agent_batch.max(1)];
    let s = median_seconds(|| {
        agent.net.q_values(&states, definition, device);
        Ok(())
    })?;
    Ok(AgentSpeed {
        full,
        incremental,
        batched: states.len() as f64 / s,
        same_moves,
    })
}
