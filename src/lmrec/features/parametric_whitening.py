"""Parametric whitening as in UniSRec: a learned affine map ``x̃ = (x − b) W``.

Reference: Hou, Mu, Zhao, Li, Ding & Wen, "Towards Universal Sequence Representation Learning
for Recommender Systems", KDD 2022, §3.1 (eq. 2). In UniSRec, ``b`` and ``W`` are trained
end-to-end with the recommender (inside its MoE adaptor), because a fixed whitening computed
on one domain transfers poorly to others.

This class does *not* invent a stand-alone training objective. :meth:`fit` initialises ``b``
and ``W`` from training items — either with the closed-form BERT-whitening solution
(``init="whitening"``, so before any training the layer equals :class:`~lmrec.features.whitening.Whitening`)
or as UniSRec does (``init="unisrec"``: ``b = 0``, ``W ~ N(0, 0.02²)``). :meth:`as_module`
returns a ``torch.nn.Module`` a model trains with its own loss, and :meth:`load_module` copies
the trained parameters back so the transform can be saved and applied to new items.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lmrec.features.base import VectorTransform, check_vectors
from lmrec.features.whitening import Whitening

_INITS = ("whitening", "unisrec")


class ParametricWhitening(VectorTransform):
    """Learnable whitening layer ``(x − bias_) @ weight_``.

    Parameters
    ----------
    n_components:
        Output dimension (``None``: the input dimension).
    init:
        ``"whitening"`` (closed-form BERT-whitening of the training items) or ``"unisrec"``
        (zero bias, ``N(0, 0.02²)`` weights, as the UniSRec code initialises its PW layer).
    seed:
        Seed of the random initialisation (``init="unisrec"``).

    Attributes
    ----------
    bias_:
        ``float32 [dim]``.
    weight_:
        ``float32 [dim, n_components]``.
    """

    name = "param-whiten"
    _state = ("bias_", "weight_")

    def __init__(self, n_components: int | None = None, init: str = "whitening", seed: int = 0):
        if init not in _INITS:
            raise ValueError(f"parametric whitening init must be one of {_INITS}, got {init!r}")
        super().__init__(n_components=None if n_components is None else int(n_components), init=init,
                         seed=int(seed))

    def fit(self, x: np.ndarray) -> "ParametricWhitening":
        x = check_vectors(x, "training vectors")
        dim = x.shape[1]
        k = self.params["n_components"] or dim
        if self.params["init"] == "whitening":
            w = Whitening(k).fit(x)
            self.bias_, self.weight_ = w.mean_, w.kernel_
        else:
            if k > dim:
                raise ValueError(f"cannot map {dim}-d vectors to {k} dimensions")
            rng = np.random.default_rng(self.params["seed"])
            self.bias_ = np.zeros(dim, np.float32)
            self.weight_ = (0.02 * rng.standard_normal((dim, k))).astype(np.float32)
        self.dim_in_ = dim
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``float32 [n, n_components]`` = ``(x − bias_) @ weight_``."""
        x = self._check_input(x)
        return ((x - self.bias_) @ self.weight_).astype(np.float32)

    def as_module(self) -> Any:
        """A ``torch.nn.Module`` computing the same map with trainable ``bias`` and ``weight``
        (input ``[..., dim]`` → output ``[..., n_components]``)."""
        import torch
        from torch import nn

        self._check_fitted()

        class PWLayer(nn.Module):
            def __init__(self, bias: np.ndarray, weight: np.ndarray):
                super().__init__()
                self.bias = nn.Parameter(torch.from_numpy(np.array(bias)))
                self.weight = nn.Parameter(torch.from_numpy(np.array(weight)))

            def forward(self, x: "torch.Tensor") -> "torch.Tensor":
                return (x - self.bias) @ self.weight

        return PWLayer(self.bias_, self.weight_)

    def load_module(self, module: Any) -> "ParametricWhitening":
        """Copy trained ``bias`` / ``weight`` from a module made by :meth:`as_module`; returns ``self``."""
        bias = module.bias.detach().cpu().numpy().astype(np.float32)
        weight = module.weight.detach().cpu().numpy().astype(np.float32)
        if bias.shape != self.bias_.shape or weight.shape != self.weight_.shape:
            raise ValueError(f"module shapes {bias.shape}, {weight.shape} differ from the transform's "
                             f"{self.bias_.shape}, {self.weight_.shape}")
        self.bias_, self.weight_ = bias, weight
        return self

    @property
    def dim_out(self) -> int:
        return int(self.weight_.shape[1]) if hasattr(self, "weight_") else (self.params["n_components"] or 0)

    @property
    def bytes_per_item(self) -> float:
        return 4.0 * self.dim_out
