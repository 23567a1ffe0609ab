//! `tessera bench …`: speed and memory figures (printed, never pass/fail).

mod game;
mod load;
mod mammal;
mod rna;

use anyhow::Result;
use clap::Subcommand;

use crate::backend::Backend;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Cell embedding throughput (cells/s) and peak memory per batch size and sequence length.
    Rna(rna::RnaBench),
    /// MAMMAL encoder tokens/s and generated tokens/s (with and without the cache) per prompt
    /// length.
    Mammal(mammal::MammalBench),
    /// The attack game: a random attacker's moves/s and whole-game time per definition and size,
    /// and the exact flow optimum's time.
    Game(game::GameBench),
    /// Bundle load time, peak resident memory and time to the first answer, per bundle (f32,
    /// f16, bf16, q8 copies side by side).
    Load(load::LoadBench),
}

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Rna(args) => rna::run(args),
        BenchCommand::Mammal(args) => mammal::run(args),
        BenchCommand::Game(args) => game::run(args),
        BenchCommand::Load(args) => load::run(args),
    }
}

const MIB: f64 = (1 << 20) as f64;

/// The backends asked for (or every compiled one) with their devices; one that does not start
/// gets an "unavailable" row with the reason instead.
fn devices(asked: &[Backend]) -> Vec<(Backend, burn::tensor::Device)> {
    let backends = if asked.is_empty() {
        Backend::compiled()
    } else {
        asked.to_vec()
    };
    backends
        .into_iter()
        .filter_map(|backend| match backend.device() {
            Ok(device) => Some((backend, device)),
            Err(e) => {
                println!("{:<8} unavailable: {e:#}", backend.name());
                None
            }
        })
        .collect()
}

/// The median time of a pass: passes for 3 s (at least 1, at most 15), so one slow pass on a
/// shared machine does not move the figure (the browser page's benchmark does the same).
pub(super) fn median_seconds(mut pass: impl FnMut() -> Result<()>) -> Result<f64> {
    let started = std::time::Instant::now();
    let mut times = Vec::new();
    while times.is_empty() || (times.len() < 15 && started.elapsed().as_secs_f64() < 3.0) {
        let pass_started = std::time::Instant::now();
        pass()?;
        times.push(pass_started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}
