"""Reads every .h5ad file under the given folders with anndata (and h5py under it), as users
of scanpy would open what Tessera writes; exits 1 naming each file that does not open.

usage: python3 scripts/check-h5ad.py DIR_OR_FILE...
"""
import importlib.metadata
import pathlib
import sys
import warnings

import anndata


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
        except Exception as error:  # noqa: BLE001 - every failure is reported the same way
            failed.append(f"{file}: {type(error).__name__}: {error}")
    for line in failed:
        print(line, file=sys.stderr)
    version = importlib.metadata.version("anndata")
    print(f"anndata {version}: {len(files) - len(failed)} of {len(files)} .h5ad files open")
    return 1 if failed or not files else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
