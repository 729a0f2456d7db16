"""Matryoshka-style truncation: keep the first ``d`` dimensions and L2-renormalise.

Reference: Kusupati et al., "Matryoshka Representation Learning", NeurIPS 2022. Only models
*trained* with the Matryoshka loss pack most information into the leading dimensions; the
default all-MiniLM-L6-v2 was not, so truncating it is a plain (and lossy) baseline — the
compression table shows how much it costs next to PCA.
"""

from __future__ import annotations

import numpy as np

from lmrec.features.base import VectorTransform, check_vectors


class Truncate(VectorTransform):
    """``x[:, :d] / ‖x[:, :d]‖`` (no learned state beyond the input dimension).

    Parameters
    ----------
    dim:
        Number of leading dimensions kept.
    renormalize:
        L2-normalise the truncated vectors (zero rows stay zero).
    """

    name = "truncate"

    def __init__(self, dim: int, renormalize: bool = True):
        if int(dim) < 1:
            raise ValueError(f"Truncate dim must be ≥ 1, got {dim}")
        super().__init__(dim=int(dim), renormalize=bool(renormalize))

    def fit(self, x: np.ndarray) -> "Truncate":
        x = check_vectors(x, "training vectors")
        if self.params["dim"] > x.shape[1]:
            raise ValueError(f"cannot truncate {x.shape[1]}-d vectors to {self.params['dim']} dimensions")
        self.dim_in_ = x.shape[1]
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``float32 [n, dim]`` leading dimensions (renormalised)."""
        x = self._check_input(x)[:, : self.params["dim"]]
        if self.params["renormalize"]:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        return np.ascontiguousarray(x, dtype=np.float32)

    @property
    def dim_out(self) -> int:
        return self.params["dim"]

    @property
    def bytes_per_item(self) -> float:
        return 4.0 * self.dim_out
