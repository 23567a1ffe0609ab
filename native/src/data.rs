//! `tessera data …`: look at a cell data set and cut subsets of it as `.h5ad`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use tessera_core::data::h5ad::read_h5ad_tables;
use tessera_core::data::{VarIndex, subset_h5ad_file, write_h5ad};

use crate::bundle_io;
use crate::rna::read_counts;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Cells, genes, counts and the annotation columns of a data set.
    Info {
        /// .h5ad, a 10x folder (or its matrix.mtx[.gz]), or .csv/.tsv.
        data: PathBuf,
        /// An .h5ad layer to read instead of X (`raw` for raw/X).
        #[arg(long)]
        layer: Option<String>,
    },
    /// Write the cells whose annotation matches (`--where split=test`) as a new .h5ad; an .h5ad
    /// input is cut whole (layers, raw, obsm, obsp and every obs column kept).
    Subset {
        #[arg(long)]
        data: PathBuf,
        /// `COLUMN=VALUE`.
        #[arg(long = "where")]
        filter: String,
        /// Name the genes by this gene-table (`var`) column — Ensembl ids, say — keeping the
        /// current names as `var['feature_name']` (CELLxGENE's layout).
        #[arg(long)]
        var_index: Option<String>,
        #[arg(long)]
        out: PathBuf,
    },
    /// Cut cell files (.h5ad, 10x, CSV; any number, any size each that fits in memory) into a
    /// corpus folder of .h5ad shards over one gene list, with a manifest (`corpus.json`), for
    /// `rna train --corpus`: training then streams it, whatever its size.
    Shard {
        /// The files, in order; the first names the corpus's genes.
        #[arg(long, required = true, num_args = 1..)]
        data: Vec<PathBuf>,
        #[arg(long, default_value_t = 10_000)]
        cells_per_shard: usize,
        /// Keep only these cells: `COLUMN=VALUE` (`split=train`).
        #[arg(long = "where")]
        filter: Option<String>,
        /// Keep this annotation (`obs`) column for label heads; repeat for several.
        #[arg(long)]
        label: Vec<String>,
        /// An empty (or new) folder.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Shard {
            data,
            cells_per_shard,
            filter,
            label,
            out,
        } => {
            let filter = match &filter {
                Some(filter) => Some(
                    filter
                        .split_once('=')
                        .with_context(|| format!("--where `{filter}`: expected COLUMN=VALUE"))?,
                ),
                None => None,
            };
            let manifest = crate::corpus::shard(&crate::corpus::ShardRequest {
                inputs: &data,
                out: &out,
                cells_per_shard,
                filter,
                labels: &label,
            })?;
            eprintln!(
                "{} cells × {} genes in {} shards → {}",
                manifest.cells(),
                manifest.genes.len(),
                manifest.shards.len(),
                out.display()
            );
            Ok(())
        }
        DataCommand::Info { data, layer } => {
            let file = data.display().to_string();
            let matrix = read_counts(&data, layer.as_deref())?;
            // `+ 0.0`: an empty sum is -0.0, which would print as "-0 counts".
            let total: f64 = matrix.values.iter().map(|&v| v as f64).sum::<f64>() + 0.0;
            println!(
                "{file}: {} cells × {} genes, {} nonzero entries, {total:.0} counts",
                matrix.n_cells(),
                matrix.n_genes(),
                matrix.values.len()
            );
            for (column, values) in &matrix.annotations {
                let mut counts = std::collections::BTreeMap::<&str, usize>::new();
                for v in values {
                    *counts.entry(v.as_str()).or_default() += 1;
                }
                let shown: Vec<String> = counts
                    .iter()
                    .take(12)
                    .map(|(v, n)| format!("{v} ({n})"))
                    .collect();
                let more = counts.len().saturating_sub(12);
                println!(
                    "  {column}: {}{}",
                    shown.join(", "),
                    if more > 0 {
                        format!(", … {more} more")
                    } else {
                        String::new()
                    }
                );
            }
            Ok(())
        }
        DataCommand::Subset {
            data,
            filter,
            var_index,
            out,
        } => {
            let file = data.display().to_string();
            let Some((column, value)) = filter.split_once('=') else {
                bail!("--where `{filter}`: expected COLUMN=VALUE");
            };
            let is_h5ad = data
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("h5ad"));
            // An .h5ad is cut as it is, so only its tables are read (X may hold scaled values).
            let matrix = if is_h5ad {
                let bytes = std::fs::read(&data).with_context(|| format!("{file}: cannot read"))?;
                read_h5ad_tables(&file, bytes)?
            } else {
                read_counts(&data, None)?
            };
            let values = matrix.annotation(&file, column)?;
            let rows: Vec<usize> = (0..matrix.n_cells())
                .filter(|&i| values[i] == value)
                .collect();
            if rows.is_empty() {
                bail!("{file}: no cell has {column} = `{value}`");
            }
            let renamed = match &var_index {
                Some(column) => Some(VarIndex {
                    column: column.clone(),
                    names: matrix.gene_column(&file, column)?.to_vec(),
                    previous: matrix.genes.clone(),
                }),
                None => None,
            };
            if is_h5ad {
                // The file itself, cut: layers, raw, obsm, obsp and every obs column kept.
                match subset_h5ad_file(&data, &out, matrix.n_cells(), &rows, renamed.as_ref()) {
                    Ok(report) => {
                        for (path, why) in &report.dropped {
                            let line = format!("warning: `{path}` left out: {why}");
                            eprintln!("{}", crate::terminal::printable(&line));
                        }
                        eprintln!(
                            "{} of {} cells → {} ({} elements cut, everything else kept)",
                            rows.len(),
                            matrix.n_cells(),
                            out.display(),
                            report.cut.len()
                        );
                        return Ok(());
                    }
                    Err(e) => eprintln!(
                        "warning: {}; writing the counts and the categorical annotations only",
                        crate::terminal::printable(&e.to_string())
                    ),
                }
            }
            let matrix = if is_h5ad {
                read_counts(&data, None)?
            } else {
                matrix
            };
            let mut subset = matrix.subset(&rows);
            if let Some(renamed) = renamed {
                subset.genes = renamed.names;
                subset.gene_columns.remove(&renamed.column);
                subset
                    .gene_columns
                    .insert("feature_name".into(), renamed.previous);
            }
            let bytes = write_h5ad(&out.display().to_string(), &subset)?;
            bundle_io::write_file_atomic(&out, &bytes)?;
            eprintln!(
                "{} of {} cells → {} ({} bytes)",
                rows.len(),
                matrix.n_cells(),
                out.display(),
                bytes.len()
            );
            Ok(())
        }
    }
}
