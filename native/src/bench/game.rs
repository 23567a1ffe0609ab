//! `tessera bench game`: moves/s and whole-game time of a random attacker per definition and
//! board size, and the exact flow optimum's time (the spec's goal: a random game at n = 128 in
//! under 50 ms for every definition).

use anyhow::Result;
use tessera_core::game::optimal::flow_optimum;
use tessera_core::game::rules::draw_boards;
use tessera_core::game::{Definition, Game, Policy};

use super::median_seconds;

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
        "Random attacker, p = {}; median game of {} boards per size, each the median of repeated plays. Agent inference: no agent yet.",
        args.p, args.boards
    );
    Ok(())
}
