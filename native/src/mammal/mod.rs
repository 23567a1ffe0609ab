//! `tessera mammal …`: MAMMAL prompts and models on the command line.

mod baseline;
mod forward;
mod run;
mod tokenize;

use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum MammalCommand {
    /// Show how a prompt is tokenized (ids, tokens, sub-tokenizer, scalars), or run every case of
    /// a tokenizer case file (`--cases … --out …`).
    Tokenize(tokenize::TokenizeArgs),
    /// Run prompts through a model: generated text, class probabilities or a regression value.
    Run(run::RunArgs),
    /// The simple baseline of a task file on its held-out rows (SMILES n-grams + logistic or
    /// ridge regression).
    Baseline(baseline::BaselineArgs),
    /// Run every case of a model fixture (`cases.json`) and write each output tensor under the
    /// fixture's names.
    Forward(forward::ForwardArgs),
}

pub fn run(command: MammalCommand) -> Result<()> {
    match command {
        MammalCommand::Tokenize(args) => tokenize::run(args),
        MammalCommand::Run(args) => run::run(args),
        MammalCommand::Forward(args) => forward::run(args),
        MammalCommand::Baseline(args) => baseline::run(args),
    }
}
