"""How the shipped annotation model answers on cells with fewer counts: the held-out sample
thinned (binomially, seeded) to 100 %–1 % of its counts, annotated by the native CLI with nothing
unassigned, and scored against the labels by how many of the model's genes a cell expresses and by
its confidence. The figures behind `tessera rna annotate`'s default `Unassigned` rule (README,
"Unassigned cells"), and what that rule does at each depth.

usage: target/pyenv/bin/python scripts/cell-qc.py [--model M] [--data D] [--seed S]
(needs anndata: `scripts/dev.sh test` installs it in target/pyenv; build target/release/tessera first)
"""
import argparse
import csv
import pathlib
import subprocess
import tempfile
import warnings

import anndata
import numpy as np
import scipy.sparse as sp

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPTHS = [1.0, 0.5, 0.25, 0.1, 0.05, 0.02, 0.01]
GENE_BINS = [0, 1, 10, 25, 50, 75, 100, 150, 250, 100_000]
CONFIDENCE_BINS = [0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01]


def annotate(model, data, out, *extra):
    subprocess.run(
        [ROOT / "target/release/tessera", "rna", "annotate", "--model", model, "--data", data,
         "--out", out, "--min-genes", "0", *extra],
        check=True, capture_output=True,
    )
    return list(csv.DictReader(open(out)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=ROOT / "www/models/rna-pbmc3k.tar")
    parser.add_argument("--data", default=ROOT / "www/samples/pbmc3k-test.h5ad")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    cells = anndata.read_h5ad(args.data)
    truth = cells.obs["cell_type"].astype(str).to_dict()
    counts = sp.csr_matrix(cells.X).astype(np.int64)
    majority = cells.obs["cell_type"].value_counts(normalize=True).max()
    rng = np.random.default_rng(args.seed)
    # Per thinned cell: model genes expressed, confidence, correct; and the default rule's call.
    seen = []
    print(f"the commonest type is {majority:.3f} of the cells")
    print("depth | median model genes | accuracy, every cell | assigned by default | accuracy of the assigned")
    with tempfile.TemporaryDirectory() as scratch:
        for depth in DEPTHS:
            thinned = counts.copy()
            thinned.data = rng.binomial(thinned.data, depth)
            thinned.eliminate_zeros()
            data = pathlib.Path(scratch, f"d{depth}.h5ad")
            anndata.AnnData(thinned.astype(np.float32), obs=cells.obs[[]], var=cells.var[[]]).write_h5ad(data)
            raw = annotate(args.model, data, pathlib.Path(scratch, "raw.csv"),
                           "--min-cell-genes", "0", "--min-confidence", "0")
            called = annotate(args.model, data, pathlib.Path(scratch, "called.csv"))
            right = np.array([r["best_type"] == truth[r["cell_id"]] for r in raw])
            genes = np.array([int(r["n_model_genes"]) for r in raw])
            assigned = np.array([r["predicted_type"] != "Unassigned" for r in called])
            seen += [(g, float(r["confidence"]), ok) for g, r, ok in zip(genes, raw, right)]
            print(f"{depth:5} | {np.median(genes):18.0f} | {right.mean():20.3f} | "
                  f"{assigned.mean():19.3f} | {right[assigned].mean() if assigned.any() else float('nan'):.3f}")
    seen = np.array(seen, dtype=float)
    print("\nall depths together")
    print("model genes expressed | cells | accuracy | mean confidence")
    for lo, hi in zip(GENE_BINS, GENE_BINS[1:]):
        m = (seen[:, 0] >= lo) & (seen[:, 0] < hi)
        if m.any():
            print(f"{lo:>6} – {hi - 1:<6}       | {m.sum():5d} | {seen[m, 2].mean():8.3f} | {seen[m, 1].mean():.3f}")
    print("confidence | cells | accuracy")
    for lo, hi in zip(CONFIDENCE_BINS, CONFIDENCE_BINS[1:]):
        m = (seen[:, 1] >= lo) & (seen[:, 1] < hi)
        if m.any():
            print(f"{lo:.1f} – {min(hi, 1.0):.1f}  | {m.sum():5d} | {seen[m, 2].mean():.3f}")


if __name__ == "__main__":
    main()
