"""How the shipped annotation model answers when a data set holds only some of its genes: the
held-out sample restricted to random subsets of the model's genes, annotated by the native CLI
with no minimum, scored against the labels (accuracy, mean confidence). The figures behind the
default `--min-genes` (README, "The `tessera` CLI").

usage: target/pyenv/bin/python scripts/panel-shift.py [--model M] [--data D] [--seed S]
(needs anndata: `scripts/dev.sh test` installs it in target/pyenv; build target/release/tessera first)
"""
import argparse
import csv
import json
import pathlib
import subprocess
import tarfile
import tempfile
import warnings

import anndata
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=ROOT / "www/models/rna-pbmc3k.tar")
    parser.add_argument("--data", default=ROOT / "www/samples/pbmc3k-test.h5ad")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sizes", default="10,25,50,100,200,400,800,1200,1600,1900")
    args = parser.parse_args()
    with tarfile.open(args.model) as tar:
        vocab = json.load(tar.extractfile("tokenizers/genes/vocab.json"))
    warnings.simplefilter("ignore")
    cells = anndata.read_h5ad(args.data)
    truth = cells.obs["cell_type"].astype(str).to_dict()
    model = [g for g in cells.var_names if g in vocab and not g.startswith("[")]
    majority = cells.obs["cell_type"].value_counts(normalize=True).max()
    print(f"{len(model)} of the model's genes in {args.data}; the commonest type is {majority:.3f} of the cells")
    print("model genes kept | accuracy | mean confidence")
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        for k in [int(x) for x in args.sizes.split(",")]:
            keep = list(rng.choice(model, size=min(k, len(model)), replace=False))
            data, out = pathlib.Path(scratch, f"k{k}.h5ad"), pathlib.Path(scratch, f"k{k}.csv")
            cells[:, keep].copy().write_h5ad(data)
            subprocess.run(
                [ROOT / "target/release/tessera", "rna", "annotate", "--model", args.model,
                 "--data", data, "--out", out, "--min-genes", "0"],
                check=True, capture_output=True,
            )
            rows = list(csv.DictReader(open(out)))
            accuracy = np.mean([r["predicted_type"] == truth[r["cell_id"]] for r in rows])
            confidence = np.mean([float(r["confidence"]) for r in rows])
            print(f"{len(keep):16d} | {accuracy:8.3f} | {confidence:.3f}")


if __name__ == "__main__":
    main()
