//! `tessera mammal tokenize`: a prompt's tokens for a person, or a case file's encodings for a
//! script (the fixture format of `../shared/fixtures/mammal-tokenizer-cases.json`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use tessera_core::tokenize::mammal::{EncodeOptions, MAX_PADDED_LEN, ModularTokenizer};

use crate::bundle_io;

#[derive(clap::Args)]
pub struct TokenizeArgs {
    /// A tokenizer folder (config.yaml + sub-tokenizer JSON files), or a model bundle holding one
    /// in `tokenizer/` (folder or .tar).
    #[arg(long)]
    pub tokenizer: PathBuf,
    /// The prompt, e.g. '<@TOKENIZER-TYPE=AA><MASK>ACDEF<EOS>'.
    #[arg(long, conflicts_with = "cases", required_unless_present = "cases")]
    pub prompt: Option<String>,
    /// Right-truncate and pad to this many tokens (at most 65536: padding allocates every
    /// position, and MAMMAL models take a few thousand tokens at most).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Accept a prompt that does not end with <EOS> (label strings).
    #[arg(long)]
    pub no_eos_check: bool,
    /// A case file: `{"cases": [{"name", "prompt", "max_seq_len", "validate_ends_with_eos"}]}`.
    #[arg(long, requires = "out")]
    pub cases: Option<PathBuf>,
    /// Where `--cases` writes its JSON array (one object per case, in order).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Loads a tokenizer folder, or the one inside a model bundle.
pub fn load(path: &Path) -> Result<ModularTokenizer> {
    let files = bundle_io::read_files(path)?;
    ModularTokenizer::from_folder(&files).with_context(|| format!("tokenizer {}", path.display()))
}

pub fn run(args: TokenizeArgs) -> Result<()> {
    let tokenizer = load(&args.tokenizer)?;
    if let (Some(cases), Some(out)) = (&args.cases, &args.out) {
        return run_cases(&tokenizer, cases, out);
    }
    let prompt = args.prompt.as_deref().unwrap_or_default();
    if let Some(n) = args.max_len
        && n > MAX_PADDED_LEN
    {
        bail!(
            "--max-len {n} is over the limit of {MAX_PADDED_LEN} tokens a prompt may be padded to"
        );
    }
    let options = EncodeOptions {
        max_len: args.max_len,
        validate_ends_with_eos: !args.no_eos_check,
    };
    let encoding = tokenizer.encode(prompt, options)?;
    for warning in &encoding.warnings {
        eprintln!("warning: {warning}");
    }
    println!(
        "{:>5} {:>6}  {:<16} {:<32} {:>8}",
        "pos", "id", "tokenizer", "token", "scalar"
    );
    for i in 0..encoding.len() {
        let scalar = if encoding.scalars_valid_mask[i] {
            format!("{}", encoding.scalars_values[i])
        } else {
            String::new()
        };
        let pad = if encoding.attention_mask[i] == 0 {
            " (padding)"
        } else {
            ""
        };
        println!(
            "{i:>5} {:>6}  {:<16} {:<32} {scalar:>8}{pad}",
            encoding.ids[i], encoding.sources[i], encoding.tokens[i]
        );
    }
    println!("{} tokens", encoding.len());
    Ok(())
}

fn run_cases(tokenizer: &ModularTokenizer, cases: &Path, out: &Path) -> Result<()> {
    let bytes =
        std::fs::read(cases).with_context(|| format!("{}: cannot read", cases.display()))?;
    let file: Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", cases.display()))?;
    let Some(list) = file["cases"].as_array() else {
        bail!("{}: no \"cases\" array", cases.display());
    };
    let mut results = Vec::with_capacity(list.len());
    for (i, case) in list.iter().enumerate() {
        let name = case["name"]
            .as_str()
            .map_or_else(|| format!("case{i}"), str::to_owned);
        let Some(prompt) = case["prompt"].as_str() else {
            bail!(
                "{}: cases[{i}] ({name}) has no \"prompt\" string",
                cases.display()
            );
        };
        let max_len = max_seq_len(&case["max_seq_len"])
            .with_context(|| format!("{}: cases[{i}] ({name}): max_seq_len", cases.display()))?;
        let options = EncodeOptions {
            max_len,
            validate_ends_with_eos: case["validate_ends_with_eos"].as_bool().unwrap_or(true),
        };
        results.push(match tokenizer.encode(prompt, options) {
            Ok(e) => json!({
                "name": name,
                "ids": e.ids,
                "tokens": e.tokens,
                "attention_mask": e.attention_mask,
                "scalars_values": e.scalars_values,
                "scalars_valid_mask": e.scalars_valid_mask.iter().map(|&v| u8::from(v)).collect::<Vec<_>>(),
                "sources": e.sources,
                "warnings": e.warnings,
            }),
            Err(error) => json!({ "name": name, "error": error.to_string() }),
        });
    }
    let text = serde_json::to_string_pretty(&Value::Array(results))?;
    bundle_io::write_file_atomic(out, text.as_bytes())?;
    eprintln!("{} cases → {}", list.len(), out.display());
    Ok(())
}

/// A case's `max_seq_len`: absent or null, or a whole number of tokens up to [`MAX_PADDED_LEN`]
/// (`2e8` is a whole number too, and refused for its size).
fn max_seq_len(value: &Value) -> Result<Option<usize>> {
    let n = match value {
        Value::Null => return Ok(None),
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|v| v.fract() == 0.0 && *v >= 0.0 && *v < u64::MAX as f64)
                    .map(|v| v as u64)
            })
            .with_context(|| format!("{n} is not a whole number of tokens"))?,
        other => bail!("{other} is not a whole number of tokens"),
    };
    match usize::try_from(n) {
        Ok(n) if n <= MAX_PADDED_LEN => Ok(Some(n)),
        _ => bail!("{n} is over the limit of {MAX_PADDED_LEN} tokens a prompt may be padded to"),
    }
}
