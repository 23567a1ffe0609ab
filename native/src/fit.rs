//! Runs any core trainer ([`Fit`]) for the CLI: a progress bar, a checkpoint every N steps,
//! then the model, the last checkpoint and `history.json` under the output folder.

use std::path::Path;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use tessera_core::train::Fit;

use crate::bundle_io;

/// Steps `trainer` to its end; `unit` names what a batch holds (cells, prompts).
pub fn run(trainer: &mut impl Fit, out: &Path, checkpoint_every: usize, unit: &str) -> Result<()> {
    let (first, total) = trainer.position();
    let progress = ProgressBar::new(total as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps {per_sec} eta {eta} {msg}")
            .expect("valid template"),
    );
    progress.set_position(first as u64);
    let started = std::time::Instant::now();
    while !trainer.done() {
        let log = trainer.step()?;
        let status = trainer
            .status()
            .map(|s| format!(" · {s}"))
            .unwrap_or_default();
        progress.set_message(format!("loss {:.4} lr {:.1e}{status}", log.loss, log.lr));
        progress.inc(1);
        let (step, _) = trainer.position();
        if checkpoint_every > 0 && step % checkpoint_every == 0 && step < total {
            let dir = out.join("checkpoints").join(format!("step-{step}"));
            bundle_io::write_dir(&trainer.checkpoint()?, &dir)?;
        }
    }
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let steps = trainer.position().0 - first;
    let examples = steps * trainer.batch_size();
    bundle_io::write_dir(&trainer.bundle()?, &out.join("model"))?;
    bundle_io::write_dir(
        &trainer.checkpoint()?,
        &out.join("checkpoints").join(format!("step-{total}")),
    )?;
    bundle_io::write_file_atomic(
        &out.join("history.json"),
        &serde_json::to_vec_pretty(trainer.history())?,
    )?;
    let last: Vec<f64> = trainer
        .history()
        .iter()
        .rev()
        .take(50)
        .map(|s| s.loss)
        .collect();
    eprintln!(
        "{steps} steps in {seconds:.0} s ({:.1} {unit}/s); mean loss of the last {} steps {:.4}; model → {}",
        examples as f64 / seconds.max(1e-9),
        last.len(),
        last.iter().sum::<f64>() / last.len().max(1) as f64,
        out.join("model").display()
    );
    Ok(())
}
