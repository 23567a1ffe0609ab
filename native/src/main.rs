//! `tessera`: the command-line front-end over tessera-core. The commands live in the library
//! (`lib.rs`), which the Python package shares; this file parses the arguments.

// The allocator is the binary's own: mimalloc's static TLS cannot be loaded into Python.
mod memory;

use clap::{Parser, Subcommand};
use tessera::{bench, bundle, data, encoder, game, info, mammal, rna, serve, terminal};

#[derive(Parser)]
#[command(
    name = "tessera",
    version,
    about = "Biological foundation models and network-robustness agents, natively and in the browser"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the compiled backends and the devices each can use.
    Info,
    /// Speed and memory figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Inspect and pack model bundles.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// The percolation attack game: boards, baselines, the exact flow optimum.
    #[command(subcommand)]
    Game(game::GameCommand),
    /// MAMMAL: tokenize prompts, run models, check fixtures.
    #[command(subcommand)]
    Mammal(mammal::MammalCommand),
    /// Look at cell data sets and cut subsets.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Run a bare encoder bundle (hidden states in, hidden states out).
    #[command(subcommand)]
    Encoder(encoder::EncoderCommand),
    /// BMFM-RNA single-cell models.
    #[command(subcommand)]
    Rna(rna::RnaCommand),
    /// Serve the demo site (`www/`) on 127.0.0.1.
    Serve(serve::ServeArgs),
}

fn main() {
    memory::keep_freed_memory();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info => info::run(),
        Command::Bench(command) => bench::run(command),
        Command::Bundle(command) => bundle::run(command),
        Command::Data(command) => data::run(command),
        Command::Encoder(command) => encoder::run(command),
        Command::Game(command) => game::run(command),
        Command::Mammal(command) => mammal::run(command),
        Command::Rna(command) => rna::run(command),
        Command::Serve(args) => serve::run(args),
    };
    if let Err(error) = result {
        eprintln!("error: {}", terminal::printable(&format!("{error:#}")));
        std::process::exit(1);
    }
}
