"""Reads every .h5ad file under the given folders with anndata (and h5py under it), as users
of scanpy would open what Tessera writes; files `tessera rna annotate --out-h5ad` wrote are also
checked for what it adds (obs tessera_*, obsm X_tessera / tessera_probabilities / X_umap, uns
tessera_classes), consistent with each other. Exits 1 naming each file that fails.

usage: python3 scripts/check-h5ad.py DIR_OR_FILE...
"""
import importlib.metadata
import pathlib
import sys
import warnings

import anndata


def check_annotated(adata):
    """What `rna annotate --out-h5ad` adds, as scanpy users read it."""
    import numpy as np

    n, obs = adata.n_obs, adata.obs
    classes = list(adata.uns["tessera_classes"])
    probabilities = np.asarray(adata.obsm["tessera_probabilities"])
    assert probabilities.shape == (n, len(classes)), f"tessera_probabilities {probabilities.shape}"
    assert np.allclose(probabilities.sum(1), 1, atol=1e-3), "probabilities do not sum to 1"
    assert np.asarray(adata.obsm["X_tessera"]).shape[0] == n, "X_tessera rows"
    assert np.asarray(adata.obsm["X_umap"]).shape == (n, 2), "X_umap shape"
    assert np.isfinite(adata.obsm["X_umap"]).all(), "X_umap is not finite"
    best = [classes[i] for i in probabilities.argmax(1)]
    assert list(obs["tessera_best_type"].astype(str)) == best, "tessera_best_type is not the argmax"
    assert np.allclose(obs["tessera_confidence"], probabilities.max(1), atol=1e-5), "tessera_confidence"
    unassigned = obs["tessera_unassigned_reason"].notna().to_numpy()
    called = obs["tessera_cell_type"].astype(str).to_numpy()
    assert (called[unassigned] == "Unassigned").all(), "an unassigned cell has a type"
    assert (called[~unassigned] == np.asarray(best)[~unassigned]).all(), "an assigned cell's type"
    assert (obs["tessera_n_model_genes"] <= obs["tessera_n_genes"]).all(), "QC"


def main(paths):
    files = []
    for path in map(pathlib.Path, paths):
        files += [path] if path.is_file() else sorted(path.rglob("*.h5ad"))
    failed = []
    for file in files:
        # Files the tests write on purpose to be refused are named so.
        if any(word in file.name for word in ("broken", "corrupt", "truncated", "hostile")):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                adata = anndata.read_h5ad(file)
            adata.X[:1]  # touch the matrix, not only its header
            if "tessera_cell_type" in adata.obs:
                check_annotated(adata)
        except Exception as error:  # noqa: BLE001 - every failure is reported the same way
            failed.append(f"{file}: {type(error).__name__}: {error}")
    for line in failed:
        print(line, file=sys.stderr)
    version = importlib.metadata.version("anndata")
    print(f"anndata {version}: {len(files) - len(failed)} of {len(files)} .h5ad files open")
    return 1 if failed or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
