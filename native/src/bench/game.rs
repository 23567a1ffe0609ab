//! `tessera bench game`: moves/s and whole-game time of a random attacker per definition and
//! board size, the exact flow optimum's time (the spec's goal: a random game at n = 128 in
//! under 50 ms for every definition), and the agent's inference moves/s per backend.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use burn::tensor::Device;
use tessera_core::game::agent::{AGENT_MODEL, Agent, AgentInfo};
use tessera_core::game::optimal::flow_optimum;
use tessera_core::game::qnet::QNetConfig;
use tessera_core::game::rules::draw_boards;
use tessera_core::game::{Definition, Game, Policy, Site};

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

/// The agent's moves/s: one board at a time (a move = a forward pass, a read-back and the
/// move), and `agent_batch` boards per forward pass.
fn agent(args: &GameBench) -> Result<()> {
    let (bundle, what) = match &args.agent {
        Some(path) => (bundle_io::read(path)?, path.display().to_string()),
        None => match crate::game::shipped_agent(Definition::Network) {
            Ok(path) => (bundle_io::read(&path)?, path.display().to_string()),
            Err(_) => {
                // No shipped agent in this tree: time the shipped shape with fresh weights.
                let info = AgentInfo {
                    model: AGENT_MODEL.into(),
                    net: QNetConfig::new(16, 4),
                    definition: Definition::Network,
                    size: 10,
                    p: 0.8,
                    steps: 0,
                    validation_moves: None,
                };
                let net = info.net.init(0, &Device::flex());
                (
                    Agent::new(info, net, &Device::flex()).to_bundle()?,
                    "fresh weights, F = 16, depth 4".into(),
                )
            }
        },
    };
    println!(
        "{:<8} {:>5} {:>16} {:>18}",
        "backend",
        "n",
        "moves/s (1 board)",
        format!("moves/s ({} boards)", args.agent_batch)
    );
    for (backend, device) in devices(&args.backend) {
        let agent = Agent::from_bundle(&bundle, &device)?;
        for &n in &args.size {
            let (single, batched) = agent_speed(&agent, n, args, &device)?;
            println!(
                "{:<8} {:>5} {:>16.1} {:>18.1}",
                backend.name(),
                n,
                single,
                batched
            );
        }
    }
    let info: AgentInfo = bundle.config()?;
    println!(
        "Agent: {what} ({} definition); greedy moves on a board at p = {}, for up to 2 s a size.",
        info.definition.name(),
        args.p
    );
    Ok(())
}

fn agent_speed(agent: &Agent, n: usize, args: &GameBench, device: &Device) -> Result<(f64, f64)> {
    let board = &draw_boards(n, args.p, 1, 1)?[0];
    let mut game = Game::new(board, agent.info.definition);
    agent.choose(&game)?; // warm-up (kernels, allocations)
    let started = Instant::now();
    let mut moves = 0;
    while !game.is_over() && (moves < 3 || started.elapsed().as_secs_f64() < 2.0) {
        game.attack(agent.choose(&game)?)?;
        moves += 1;
    }
    let single = moves as f64 / started.elapsed().as_secs_f64();
    let fresh = Game::new(board, agent.info.definition);
    let states: Vec<&[Site]> = vec![fresh.sites(); args.agent_batch.max(1)];
    let s = median_seconds(|| {
        agent.net.q_values(&states, n, device);
        Ok(())
    })?;
    Ok((single, states.len() as f64 / s))
}
