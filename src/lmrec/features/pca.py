"""PCA: project item vectors onto their top-``d`` principal directions (fitted on training items).

Reference: Pearson (1901); Hotelling (1933). Computed with an SVD of the centred training
matrix (:func:`numpy.linalg.svd`), as ``sklearn.decomposition.PCA(svd_solver="full")`` does.
"""

from __future__ import annotations

import numpy as np

from lmrec.features.base import VectorTransform, check_vectors


class PCA(VectorTransform):
    """Centre and project to ``n_components`` dimensions.

    Parameters
    ----------
    n_components:
        Output dimension ``d`` (≤ min(n_train_items, dim)).

    Attributes
    ----------
    mean_:
        ``float32 [dim]`` training mean.
    components_:
        ``float32 [d, dim]`` principal directions (rows, unit norm), by decreasing variance.
    explained_variance_ratio_:
        ``float32 [d]`` share of the training variance along each direction.
    """

    name = "pca"
    _state = ("mean_", "components_", "explained_variance_ratio_")

    def __init__(self, n_components: int):
        if int(n_components) < 1:
            raise ValueError(f"PCA n_components must be ≥ 1, got {n_components}")
        super().__init__(n_components=int(n_components))

    def fit(self, x: np.ndarray) -> "PCA":
        x = check_vectors(x, "training vectors")
        n, dim = x.shape
        d = self.params["n_components"]
        if d > min(n, dim):
            raise ValueError(f"PCA to {d} dimensions needs at least {d} training items and input dimension ≥ {d}; "
                             f"got {n} items of dimension {dim}")
        x64 = x.astype(np.float64)
        mean = x64.mean(axis=0)
        _, s, vt = np.linalg.svd(x64 - mean, full_matrices=False)
        var = s ** 2
        self.mean_ = mean.astype(np.float32)
        self.components_ = vt[:d].astype(np.float32)
        self.explained_variance_ratio_ = (var[:d] / max(var.sum(), 1e-30)).astype(np.float32)
        self.dim_in_ = dim
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``float32 [n, d]`` = ``(x - mean_) @ components_.T``."""
        x = self._check_input(x)
        return ((x - self.mean_) @ self.components_.T).astype(np.float32)

    @property
    def dim_out(self) -> int:
        return self.params["n_components"]

    @property
    def bytes_per_item(self) -> float:
        return 4.0 * self.dim_out
