//! `tessera mammal …`: MAMMAL prompts and models on the command line.

mod tokenize;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum MammalCommand {
    /// Show how a prompt is tokenized (ids, tokens, sub-tokenizer, scalars), or run every case of
    /// a tokenizer case file (`--cases … --out …`).
    Tokenize(tokenize::TokenizeArgs),
}

pub fn run(command: MammalCommand) -> Result<()> {
    match command {
        MammalCommand::Tokenize(args) => tokenize::run(args),
    }
}
