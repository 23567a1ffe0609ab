"""Tessera for Python: BMFM-RNA cell annotation and embeddings on AnnData objects, MAMMAL
prompts and the percolation attack game, through the ``tessera`` CLI's own code.

>>> import anndata, tessera
>>> adata = anndata.read_h5ad("cells.h5ad")
>>> tessera.annotate(adata, "rna-pbmc3k.tar")   # adds obs tessera_cell_type, …, obsm X_tessera, X_umap
"""

from ._native import VERSION as __version__
from ._native import TesseraError
from . import game
from .mammal import Mammal, mammal
from .rna import RnaModel, annotate, embed, load_rna

__all__ = [
    "Mammal",
    "RnaModel",
    "TesseraError",
    "annotate",
    "embed",
    "game",
    "load_rna",
    "mammal",
    "__version__",
]
