//! `tessera mammal …`: MAMMAL prompts and models on the command line.

mod baseline;
mod eval;
mod forward;
pub mod run;
mod tokenize;
mod train;

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
    /// Fine-tune a model (new at a small size, or --init) on task files; checkpoints, resume,
    /// held-out figures.
    Train(Box<train::TrainArgs>),
    /// A model's figures on task files' held-out rows (accuracy / ROC-AUC, or RMSE).
    Eval(eval::EvalArgs),
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
        MammalCommand::Train(args) => train::run(*args),
        MammalCommand::Eval(args) => eval::run(args),
    }
}
