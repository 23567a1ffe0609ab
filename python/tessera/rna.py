"""BMFM-RNA on AnnData: :func:`annotate` writes each cell's type, confidence, QC, embedding and
a UMAP into ``obs`` / ``obsm`` / ``uns`` in place (the columns ``tessera rna annotate
--out-h5ad`` writes); :func:`embed` writes the embeddings only."""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

import numpy as np

from . import _native
from ._native import RnaModel, TesseraError

log = logging.getLogger("tessera")


def load_rna(
    path: str | os.PathLike,
    device: str = "cpu",
    precision: str = "f32",
    pooling: str | None = None,
) -> RnaModel:
    """Loads a BMFM-RNA bundle (folder or ``.tar``, memory-mapped) once, for several calls.

    ``device``: ``cpu``, ``wgpu``, ``vulkan`` (or ``cuda`` where built); ``pooling`` overrides
    the bundle's (``first_token``, ``mean_pooling``, …)."""
    return RnaModel(os.fspath(path), device, precision, pooling)


def annotate(
    adata: Any,
    model: str | os.PathLike | RnaModel,
    layer: str | None = None,
    gene_symbols: str | None = None,
    *,
    batch_size: int = 32,
    min_genes: int | None = None,
    min_cell_genes: int | None = None,
    min_confidence: float | None = None,
    umap: bool = True,
    device: str = "cpu",
    progress: bool = True,
) -> None:
    """Predicts each cell's type and writes it into ``adata`` in place.

    Adds ``obs``: ``tessera_cell_type`` (a type, or ``Unassigned``), ``tessera_best_type``,
    ``tessera_confidence``, ``tessera_unassigned_reason`` (``too_few_genes`` /
    ``low_confidence``, missing where assigned), ``tessera_total_counts``,
    ``tessera_n_genes``, ``tessera_n_model_genes``; ``obsm``: ``X_tessera`` (embeddings),
    ``tessera_probabilities`` (columns in ``uns['tessera_classes']``) and, with ``umap``,
    ``X_umap`` (seed 0).

    ``layer``: ``None`` reads ``X`` when it holds raw counts, else the first of
    ``layers['counts' | 'raw_counts' | 'umi_counts']`` and ``raw.X`` that does; ``"X"``,
    ``"raw"`` or a layer name read that matrix. ``gene_symbols``: the ``var`` column whose names
    to match against the model's genes (default: the index or a known symbol column).
    ``min_genes``: the fewest of the model's genes the data must hold (default: half of them, at
    most 1,000; 0: no minimum) — fewer are refused, since the answers would be confident and
    wrong. Cells expressing fewer than ``min_cell_genes`` of them, or whose best type is less
    likely than ``min_confidence``, are ``Unassigned``.
    """
    run = _run(adata, model, layer, gene_symbols, batch_size, min_genes, device, progress)
    if min_cell_genes is None:
        min_cell_genes = _native.DEFAULT_MIN_CELL_GENES
    if min_confidence is None:
        min_confidence = _native.DEFAULT_MIN_CONFIDENCE
    tables = run.annotations(int(min_cell_genes), float(min_confidence), umap)
    import pandas as pd

    obs = {}
    for name, kind, values in tables["obs"]:
        if kind == "categorical":
            obs[name] = pd.Categorical(values)
        else:
            obs[name] = np.frombuffer(values, dtype=np.dtype(kind).newbyteorder("<"))
    for name, values in obs.items():
        adata.obs[name] = values
    for name, (rows, columns, values) in tables["obsm"]:
        adata.obsm[name] = np.frombuffer(values, dtype="<f4").reshape(rows, columns)
    for name, values in tables["uns"]:
        adata.uns[name] = np.array(values, dtype=object)


def embed(
    adata: Any,
    model: str | os.PathLike | RnaModel,
    layer: str | None = None,
    gene_symbols: str | None = None,
    *,
    key_added: str | None = "X_tessera",
    batch_size: int = 32,
    min_genes: int | None = None,
    device: str = "cpu",
    progress: bool = True,
) -> np.ndarray:
    """Each cell's embedding (``cells × dim``, float32), also written to ``adata.obsm[key_added]``
    unless ``key_added`` is ``None``. Arguments as in :func:`annotate`."""
    run = _run(adata, model, layer, gene_symbols, batch_size, min_genes, device, progress)
    rows, columns, values = run.embeddings()
    embedding = np.frombuffer(values, dtype="<f4").reshape(rows, columns)
    if key_added is not None:
        adata.obsm[key_added] = embedding
    return embedding


def _run(adata, model, layer, gene_symbols, batch_size, min_genes, device, progress):
    if not isinstance(model, RnaModel):
        model = load_rna(model, device=device)
    name, (indptr, indices, data), var = _counts(adata, layer)
    genes = [str(g) for g in var.index]
    bar, update = _progress(adata.n_obs, progress)
    try:
        run = model.run(
            name,
            [str(c) for c in adata.obs_names],
            genes,
            _text_columns(var),
            indptr,
            indices,
            data,
            gene_symbols,
            min_genes,
            int(batch_size),
            update,
        )
    finally:
        if bar is not None:
            bar.close()
    log.info(
        "%s: %d of the model's genes found among its %d (matched by %s)",
        name,
        run.genes_matched,
        len(genes),
        run.gene_source,
    )
    return run


def _counts(adata, layer):
    """``(name, CSR arrays, var)`` of the counts to read, chosen as the CLI chooses them in an
    ``.h5ad``."""
    if layer == "X":
        return "adata.X", _csr("adata.X", adata.X), adata.var
    if layer == "raw":
        if adata.raw is None:
            raise TesseraError("layer 'raw': adata has no raw")
        return "adata.raw.X", _csr("adata.raw.X", adata.raw.X), adata.raw.var
    if layer is not None:
        if layer not in adata.layers:
            known = ", ".join(adata.layers.keys()) or "none"
            raise TesseraError(f"layer {layer!r}: adata has no such layer (it has: {known}, X, raw)")
        name = f"adata.layers[{layer!r}]"
        return name, _csr(name, adata.layers[layer]), adata.var
    candidates = [("adata.X", adata.X, adata.var)]
    candidates += [
        (f"adata.layers[{name!r}]", adata.layers[name], adata.var)
        for name in _native.COUNT_LAYERS
        if name in adata.layers
    ]
    if adata.raw is not None:
        candidates.append(("adata.raw.X", adata.raw.X, adata.raw.var))
    x = None
    for name, matrix, var in candidates:
        if matrix is None:
            continue
        arrays = _csr(name, matrix)
        x = x or (name, arrays, var)
        if _native.are_count_values(arrays[2]):
            if name != "adata.X":
                log.info("adata.X holds normalised values; the raw counts were read from %s", name)
            return name, arrays, var
    if x is None:
        raise TesseraError("adata.X: no matrix")
    # X, for the model's counts check to refuse by name.
    return x


def _csr(name, matrix):
    """``(indptr int64, indices int32, data float32)`` of ``matrix`` as CSR: scipy's own arrays
    when they already have these types, else converted once."""
    import scipy.sparse as sp

    if matrix is None:
        raise TesseraError(f"{name}: no matrix")
    if hasattr(matrix, "to_memory"):  # a backed sparse dataset
        matrix = matrix.to_memory()
    if sp.issparse(matrix):
        csr = matrix.tocsr()
    else:
        csr = sp.csr_matrix(np.asarray(matrix))
    return (
        np.ascontiguousarray(csr.indptr, dtype=np.int64),
        np.ascontiguousarray(csr.indices, dtype=np.int32),
        np.ascontiguousarray(csr.data, dtype=np.float32),
    )


def _text_columns(var) -> dict[str, list[str]]:
    """``var``'s text columns (strings or categories of strings): other names of the genes."""
    columns = {}
    for column in var.columns:
        values = var[column]
        if values.dtype == object or str(values.dtype) in ("category", "string"):
            if all(isinstance(v, str) for v in values):
                columns[str(column)] = [str(v) for v in values]
    return columns


def _progress(total: int, show: bool) -> tuple[Any, Callable[[int], None] | None]:
    """A tqdm bar (where tqdm is installed and ``show``) and the callback that moves it."""
    if not show:
        return None, None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    bar = tqdm(total=total, unit="cells", desc="tessera")
    return bar, lambda done: bar.update(done - bar.n)
