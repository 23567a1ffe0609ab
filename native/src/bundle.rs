//! `tessera bundle …`: look inside a bundle, and pack one into the browser's single archive.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;

use crate::bundle_io;

#[derive(Subcommand)]
pub enum BundleCommand {
    /// Print a bundle's config and tensor table.
    Inspect {
        /// Bundle folder or .tar archive.
        bundle: PathBuf,
    },
    /// Pack a bundle folder into one .tar archive (what the browser fetches).
    Pack {
        bundle: PathBuf,
        /// Output archive.
        output: PathBuf,
    },
    /// Unpack a bundle archive into a folder (replacing a bundle already there, atomically).
    Unpack {
        archive: PathBuf,
        /// Output folder.
        output: PathBuf,
    },
}

pub fn run(command: BundleCommand) -> Result<()> {
    match command {
        BundleCommand::Inspect { bundle } => inspect(&bundle),
        BundleCommand::Pack { bundle, output } => {
            let tar = bundle_io::read(&bundle)?.to_tar()?;
            bundle_io::write_file_atomic(&output, &tar)?;
            println!("{} ({} bytes)", output.display(), tar.len());
            Ok(())
        }
        BundleCommand::Unpack { archive, output } => {
            let bundle = bundle_io::read(&archive)?;
            bundle_io::write_dir(&bundle, &output)?;
            println!(
                "{} ({} files)",
                output.display(),
                bundle.files().iter().count()
            );
            Ok(())
        }
    }
}

fn inspect(path: &Path) -> Result<()> {
    let bundle = bundle_io::read(path)?;
    println!("bundle {}\n", path.display());
    println!("config.json");
    println!(
        "{}\n",
        serde_json::to_string_pretty(&bundle.config_json()?)?
    );
    let tensors = bundle.tensors()?;
    let width = tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(6);
    println!(
        "{:<width$}  {:<5}  {:<16}  {:>10}",
        "tensor", "dtype", "shape", "params"
    );
    let mut total = 0usize;
    for tensor in &tensors {
        let count: usize = tensor.shape.iter().product();
        total += count;
        let shape = format!("{:?}", tensor.shape);
        println!(
            "{:<width$}  {:<5}  {:<16}  {:>10}",
            tensor.name, tensor.dtype, shape, count
        );
    }
    println!("\n{} tensors, {} parameters", tensors.len(), total);
    let others: Vec<_> = bundle
        .files()
        .iter()
        .filter(|(name, _)| !matches!(*name, "config.json" | "model.safetensors"))
        .map(|(name, bytes)| format!("{name} ({} bytes)", bytes.len()))
        .collect();
    if !others.is_empty() {
        println!("other files: {}", others.join(", "));
    }
    Ok(())
}
