"""How well the UMAP `tessera rna annotate --out-h5ad` writes separates the known cell types, beside
the first two principal components of the same embeddings and umap-learn's UMAP of them: the
silhouette of the true types in each 2-D map (-1…1, higher is better). The README's UMAP figures.

usage: python scripts/umap-check.py [ANNOTATED.h5ad] [--label cell_type]
(default: annotates the shipped sample into a temporary file first; needs anndata and
scikit-learn, and umap-learn for its column: pip install anndata scikit-learn umap-learn)
"""
import argparse
import pathlib
import subprocess
import tempfile
import warnings

import anndata
import numpy as np
from sklearn.metrics import silhouette_score

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("annotated", nargs="?")
    parser.add_argument("--label", default="cell_type")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as scratch:
        path = args.annotated
        if path is None:
            path = pathlib.Path(scratch, "sample.h5ad")
            run = subprocess.run(
                [ROOT / "target/release/tessera", "rna", "annotate", "--model", ROOT / "www/models/rna-pbmc3k.tar",
                 "--data", ROOT / "www/samples/pbmc3k-test.h5ad", "--out-h5ad", path],
                check=True, capture_output=True, text=True,
            )
            print(next(line for line in run.stderr.splitlines() if line.startswith("UMAP of")))
        cells = anndata.read_h5ad(path)
    labels = cells.obs[args.label].astype(str).to_numpy()
    embedding = np.asarray(cells.obsm["X_tessera"], dtype=np.float64)
    centred = embedding - embedding.mean(0)
    pcs = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    print(f"silhouette of the true types: tessera UMAP {silhouette_score(cells.obsm['X_umap'], labels):.2f}, "
          f"first two PCs {silhouette_score(pcs, labels):.2f}", end="")
    try:
        import umap
    except ImportError:
        print(" (umap-learn not installed)")
        return
    reference = umap.UMAP(random_state=0).fit_transform(embedding)
    print(f", umap-learn {silhouette_score(reference, labels):.2f}")


if __name__ == "__main__":
    main()
