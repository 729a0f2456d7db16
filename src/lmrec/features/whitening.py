"""BERT-whitening: centre the item vectors and decorrelate them to unit variance, optionally
keeping the top-``k`` directions.

Reference: Su, Cao, Liu & Ou, "Whitening Sentence Representations for Better Semantics and
Faster Retrieval", arXiv:2103.15316 (2021): ``x̃ = (x − μ) W`` with ``U Λ Uᵀ = SVD(Σ)``,
``W = U Λ^{-1/2}``, and ``W[:, :k]`` for dimensionality reduction.
"""

from __future__ import annotations

import numpy as np

from lmrec.features.base import VectorTransform, check_vectors


class Whitening(VectorTransform):
    """BERT-whitening fitted on training items.

    Parameters
    ----------
    n_components:
        Keep the first ``k`` whitened directions (``None``: all ``dim``).
    eps:
        Added to the eigenvalues before ``Λ^{-1/2}``, so directions without variance (e.g. a
        constant dimension) do not blow up.

    Attributes
    ----------
    mean_:
        ``float32 [dim]`` training mean ``μ``.
    kernel_:
        ``float32 [dim, k]`` whitening matrix ``W = U Λ^{-1/2}`` (first ``k`` columns).
    """

    name = "whiten"
    _state = ("mean_", "kernel_")

    def __init__(self, n_components: int | None = None, eps: float = 1e-6):
        if n_components is not None and int(n_components) < 1:
            raise ValueError(f"Whitening n_components must be ≥ 1 or None, got {n_components}")
        super().__init__(n_components=None if n_components is None else int(n_components), eps=float(eps))

    def fit(self, x: np.ndarray) -> "Whitening":
        x = check_vectors(x, "training vectors")
        n, dim = x.shape
        k = self.params["n_components"] or dim
        if k > dim or n < 2:
            raise ValueError(f"whitening to {k} dimensions needs input dimension ≥ {k} and ≥ 2 training items; "
                             f"got {n} items of dimension {dim}")
        x64 = x.astype(np.float64)
        mu = x64.mean(axis=0)
        cov = np.cov(x64 - mu, rowvar=False)
        u, s, _ = np.linalg.svd(cov)
        w = u / np.sqrt(s + self.params["eps"])
        self.mean_ = mu.astype(np.float32)
        self.kernel_ = w[:, :k].astype(np.float32)
        self.dim_in_ = dim
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``float32 [n, k]`` = ``(x − mean_) @ kernel_``."""
        x = self._check_input(x)
        return ((x - self.mean_) @ self.kernel_).astype(np.float32)

    @property
    def dim_out(self) -> int:
        return int(self.kernel_.shape[1]) if hasattr(self, "kernel_") else (self.params["n_components"] or 0)

    @property
    def bytes_per_item(self) -> float:
        return 4.0 * self.dim_out
