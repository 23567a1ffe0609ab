"""Cross-study stand-ins: the 564 held-out pbmc3k cells restricted to random 1,000- and 500-gene
panels of the model's genes (all other genes dropped), thinned binomially to 25 % of their counts,
and both — and another study, scanpy's `pbmc68k_reduced` (10x PBMC 68k, 700 cells × 765 genes,
FACS-sorted labels mapped to pbmc3k's types, CD34+ left out; counts recovered from `raw.X`, see
../shared/data/README.md); each annotated by the native CLI (nothing unassigned) and scored beside
the logistic-regression baseline on the same cells — fitted on the train cells as they are (a
missing gene reads 0, as for the model) and refitted on the genes the cells have. The README's
"Other studies" table.

usage: target/pyenv/bin/python scripts/shift-test.py [--model M] [--seed S] [--pbmc68k FILE]
(needs anndata: `scripts/dev.sh test` installs it in target/pyenv; build target/release/tessera
first; FILE: `pip download --no-deps scanpy==1.11.5`, unzip scanpy/datasets/10x_pbmc68k_reduced.h5ad;
--celltypist: `pip download --no-deps celltypist==1.7.1`, unzip
celltypist/data/samples/sample_cell_by_gene.csv — its calls are printed as shares, unlabelled)
"""
import argparse
import csv
import json
import pathlib
import re
import subprocess
import tarfile
import tempfile
import warnings

import anndata
import numpy as np
import scipy.sparse as sp

ROOT = pathlib.Path(__file__).resolve().parent.parent
TESSERA = pathlib.Path(__import__("os").environ.get("TESSERA", ROOT / "target/release/tessera"))


# pbmc68k's FACS populations as pbmc3k's types (CD34+ progenitors have none).
PBMC68K_TYPES = {
    "CD14+ Monocyte": "CD14 Monocytes",
    "Dendritic": "Dendritic",
    "CD56+ NK": "NK",
    "CD19+ B": "B",
    "CD8+ Cytotoxic T": "CD8 T",
    "CD8+/CD45RA+ Naive Cytotoxic": "CD8 T",
    "CD4+/CD25 T Reg": "CD4 T",
    "CD4+/CD45RO+ Memory": "CD4 T",
    "CD4+/CD45RA+/CD25- Naive T": "CD4 T",
}


# pbmc3k's types as lineages. PBMC 68k's labels come from correlation with sorted populations and
# disagree with expression inside the myeloid cells: its "CD14+ Monocyte" cells are FCGR3A-high and
# S100A8-low (pbmc3k's FCGR3A monocytes), its "Dendritic" cells mostly classical monocytes; scored
# by lineage, those label errors do not count for or against anyone.
LINEAGES = {
    "CD4 T": "T", "CD8 T": "T",
    "CD14 Monocytes": "myeloid", "FCGR3A Monocytes": "myeloid", "Dendritic": "myeloid",
}


def pbmc68k(path):
    """The other study's cells as counts with pbmc3k's type names in `cell_type`."""
    cells = anndata.read_h5ad(path)
    logged = cells.raw.X.toarray() if sp.issparse(cells.raw.X) else np.asarray(cells.raw.X)
    # raw.X is log1p(counts · s) per cell: the smallest nonzero value is one count.
    scaled = np.expm1(logged)
    one = np.where(scaled > 0, scaled, np.inf).min(1, keepdims=True)
    counts = sp.csr_matrix(np.rint(scaled / one).astype(np.float32))
    keep = cells.obs["bulk_labels"].astype(str).isin(PBMC68K_TYPES).to_numpy()
    obs = cells.obs[[]].copy()
    obs["cell_type"] = cells.obs["bulk_labels"].astype(str).map(PBMC68K_TYPES)
    return anndata.AnnData(counts[keep], obs=obs[keep], var=cells.raw.var[[]])


def macro_f1(truth, predicted):
    scores = []
    for label in sorted(set(truth)):
        tp = sum(t == label and p == label for t, p in zip(truth, predicted))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))


def model_calls(model, data, out):
    """The model's best type for every cell (nothing left unassigned), by cell id."""
    subprocess.run(
        [TESSERA, "rna", "annotate", "--model", model, "--data", data, "--out", out,
         "--min-genes", "0", "--min-cell-genes", "0", "--min-confidence", "0"],
        check=True, capture_output=True,
    )
    return {r["cell_id"]: r["best_type"] for r in csv.DictReader(open(out))}


def baseline_calls(train, data, refit):
    """The logistic-regression baseline's call for every cell, by cell id."""
    with tempfile.TemporaryDirectory() as scratch:
        report = pathlib.Path(scratch, "report.json")
        args = [TESSERA, "rna", "baseline", "--data", train, "--test-data", data, "--report", report]
        if refit:
            args.append("--refit-on-test-genes")
        subprocess.run(args, check=True, capture_output=True)
        return {c["cell_id"]: c["predicted"] for c in json.load(open(report))["cells"]}


def scores(truth, calls, coarse=None):
    """Accuracy / macro-F1 of `calls` against `truth`, both mapped through `coarse` if given."""
    ids = sorted(calls)
    expected = [truth[i] for i in ids]
    predicted = [calls[i] for i in ids]
    if coarse:
        expected = [coarse.get(t, t) for t in expected]
        predicted = [coarse.get(p, p) for p in predicted]
    return np.mean([p == t for p, t in zip(predicted, expected)]), macro_f1(expected, predicted)


def confusion(truth, calls):
    """Where each true type's cells went: the kind of error matters as much as the count."""
    for label in sorted(set(truth[i] for i in calls)):
        got = [c for i, c in calls.items() if truth[i] == label]
        top = sorted(set(got), key=lambda c: -got.count(c))[:3]
        print(f"  {label} ({len(got)}) → " + ", ".join(f"{c} {got.count(c)}" for c in top))


def cell(scores):
    return "—" if scores is None else f"{scores[0]:.3f} / {scores[1]:.3f}"


def celltypist_calls(model, sample):
    """Another lab's unlabelled PBMCs (celltypist's sample CSV): what share of them the model
    calls each type — no accuracy, but a distribution a biologist can judge (FCGR3A monocytes
    are a minority of blood monocytes)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = pathlib.Path(scratch, "calls.csv")
        run = subprocess.run(
            [TESSERA, "rna", "annotate", "--model", model, "--data", sample, "--out", out],
            check=True, capture_output=True, text=True,
        )
        found = next((l for l in run.stderr.splitlines() if "genes found" in l), "")
        calls = [r["predicted_type"] for r in csv.DictReader(open(out))]
    share = {t: calls.count(t) for t in sorted(set(calls))}
    print(f"celltypist sample, {len(calls)} cells ({found.split(': ', 1)[-1]}):")
    print("  " + ", ".join(f"{t} {n} ({n / len(calls):.0%})" for t, n in share.items()))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=ROOT / "www/models/rna-pbmc3k.tar")
    parser.add_argument("--data", default=ROOT / "www/samples/pbmc3k-test.h5ad")
    parser.add_argument("--train", default=ROOT.parent / "shared/data/pbmc3k/pbmc3k_counts_labeled.h5ad")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pbmc68k", default=ROOT / "target/pbmc68k/pbmc68k_reduced.h5ad")
    parser.add_argument("--no-baseline", action="store_true", help="score the model only (faster)")
    parser.add_argument("--celltypist", default=ROOT / "target/celltypist/sample_cell_by_gene.csv",
                        help="celltypist 1.7.1's celltypist/data/samples/sample_cell_by_gene.csv")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tarfile.open(args.model) as tar:
        vocab = json.load(tar.extractfile("tokenizers/genes/vocab.json"))
    cells = anndata.read_h5ad(args.data)
    truth = cells.obs["cell_type"].astype(str).to_dict()
    model_genes = [g for g in cells.var_names if g in vocab and not g.startswith("[")]
    rng = np.random.default_rng(args.seed)
    panels = {k: sorted(rng.choice(model_genes, size=k, replace=False)) for k in (1000, 500)}
    counts = sp.csr_matrix(cells.X).astype(np.int64)
    thinned = counts.copy()
    thinned.data = rng.binomial(thinned.data, 0.25)
    thinned.eliminate_zeros()
    shifts = [
        ("held-out cells as they are", counts, None),
        ("1,000-gene panel", counts, panels[1000]),
        ("500-gene panel", counts, panels[500]),
        ("25 % depth", thinned, None),
        ("1,000-gene panel, 25 % depth", thinned, panels[1000]),
        ("500-gene panel, 25 % depth", thinned, panels[500]),
    ]
    if pathlib.Path(args.celltypist).exists():
        celltypist_calls(args.model, args.celltypist)
    other = pbmc68k(args.pbmc68k) if pathlib.Path(args.pbmc68k).exists() else None
    print(f"model {args.model}, seed {args.seed}; accuracy / macro-F1 (pbmc3k: {cells.n_obs} cells)")
    print("| shifted cells | model | baseline as trained (missing genes 0) | baseline refitted on the panel |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for i, (name, matrix, panel) in enumerate(shifts):
            shifted = anndata.AnnData(matrix.astype(np.float32), obs=cells.obs[["cell_type"]], var=cells.var[[]])
            if panel is not None:
                shifted = shifted[:, panel].copy()
            data = pathlib.Path(scratch, f"shift{i}.h5ad")
            shifted.write_h5ad(data)
            model = scores(truth, model_calls(args.model, data, pathlib.Path(scratch, f"shift{i}.csv")))
            fixed = None if args.no_baseline else scores(truth, baseline_calls(args.train, data, False))
            refit = scores(truth, baseline_calls(args.train, data, True)) if panel is not None and fixed else fixed
            print(f"| {name} | {cell(model)} | {cell(fixed)} | {cell(refit)} |", flush=True)
        if other is None:
            print(f"(no {args.pbmc68k}: the other study's row is left out)")
            return
        data = pathlib.Path(scratch, "pbmc68k.h5ad")
        other.write_h5ad(data)
        truth68k = other.obs["cell_type"].to_dict()
        calls = {"model": model_calls(args.model, data, pathlib.Path(scratch, "pbmc68k.csv"))}
        if not args.no_baseline:
            calls["fixed"] = baseline_calls(args.train, data, False)
            calls["refit"] = baseline_calls(args.train, data, True)
        shared = sum(g in vocab for g in other.var_names)
        name = f"another study: 10x PBMC 68k, {other.n_obs} cells, {shared} of the model's genes"
        for label, coarse in [("types as labelled", None), ("lineages", LINEAGES)]:
            row = [cell(scores(truth68k, calls[k], coarse)) if k in calls else "—"
                   for k in ("model", "fixed", "refit")]
            print(f"| {name}, {label} | " + " | ".join(row) + " |", flush=True)
        for who, got in calls.items():
            print(f"PBMC 68k, {who}: true type → calls")
            confusion(truth68k, got)

if __name__ == "__main__":
    main()
