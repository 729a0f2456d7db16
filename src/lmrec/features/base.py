"""The interface of every item-vector transform (scikit-learn style).

``__init__`` only stores hyper-parameters; :meth:`VectorTransform.fit` learns from the vectors of
*training items* and returns ``self``; learned state ends in ``_``; :meth:`transform` maps any
vectors (training, cold or new items) with the learned state only, so transforming new items
never changes the vectors of the training items.

Three views of the same transform:

* :meth:`encode` — what is stored per item (``float32`` projections, ``float16`` / ``int8``
  scalars, ``uint8`` PQ codes); :attr:`bytes_per_item` is the size of one encoded row;
* :meth:`decode` — ``float32`` vectors a model consumes, from the stored codes;
* :meth:`transform` — ``decode(encode(x))``.

A fitted transform saves itself to a directory (``config.json`` with checksums + one ``.npy``
per learned array, or a faiss file) and is loaded back with
:func:`lmrec.features.registry.load_transform` (also ``lmrec.features.load_transform``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from lmrec.features._artifact import load_npy, save_npy, write_artifact_dir

__all__ = ["VectorTransform", "check_vectors"]


def check_vectors(x: np.ndarray, what: str = "vectors", dim: int | None = None) -> np.ndarray:
    """Validate ``[n, dim]`` finite vectors and return them as contiguous ``float32``.

    Raises
    ------
    ValueError
        If ``x`` is not 2-D, has the wrong dimension, or a row holds NaN/inf (the row is named).
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array [n, dim], got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{what} have dimension {x.shape[1]}, the transform was fitted on dimension {dim}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise ValueError(f"{what} row {int(np.flatnonzero(bad)[0])} contains NaN or inf")
    return x


class VectorTransform:
    """Base class. Subclasses set :attr:`name`, list their learned arrays in :attr:`_state` and
    implement :meth:`fit`, :meth:`encode`, :attr:`dim_out` and (for quantizers) :meth:`decode`.

    Attributes
    ----------
    dim_in_:
        Dimension of the vectors seen by :meth:`fit`.
    """

    name: ClassVar[str]
    _state: ClassVar[tuple[str, ...]] = ()
    _registry: ClassVar[dict[str, type["VectorTransform"]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            VectorTransform._registry[cls.name] = cls

    def __init__(self, **params: Any):
        self.params: dict[str, Any] = dict(params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # ------------------------------------------------------------------ API
    def fit(self, x: np.ndarray) -> "VectorTransform":
        """Learn from ``float32 [n_train_items, dim]`` training-item vectors; returns ``self``."""
        raise NotImplementedError

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Stored representation of ``float32 [n, dim_in_]`` vectors: ``[n, …]``."""
        raise NotImplementedError

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """``float32 [n, dim_out]`` vectors from stored codes (identity for float projections)."""
        self._check_fitted()
        return np.asarray(codes, dtype=np.float32)

    def transform(self, x: np.ndarray) -> np.ndarray:
        """``float32 [n, dim_out]``: ``decode(encode(x))``, using the fitted state only."""
        return self.decode(self.encode(x))

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        return self.fit(x).transform(x)

    @property
    def dim_out(self) -> int:
        """Dimension of :meth:`transform`'s output."""
        raise NotImplementedError

    @property
    def bytes_per_item(self) -> float:
        """Bytes of one encoded row (what a catalog stores per item)."""
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "dim_in_"):
            raise ValueError(f"{type(self).__name__} is not fitted; call fit(train_vectors) first")

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return check_vectors(x, "vectors", self.dim_in_)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write ``config.json`` (+ sha256 of each file) and the learned arrays into directory
        ``path`` atomically."""
        self._check_fitted()
        config = {"type": f"lmrec.features.{self.name}", "name": self.name, "params": self.params,
                  "dim_in": int(self.dim_in_), "dim_out": int(self.dim_out),
                  "bytes_per_item": self.bytes_per_item, **self._extra_config()}
        write_artifact_dir(path, config, self._writers())

    def _extra_config(self) -> dict[str, Any]:
        return {}

    def _writers(self) -> dict[str, Any]:
        return {f"{k}.npy": (lambda p, a=getattr(self, k): save_npy(p, np.asarray(a))) for k in self._state}

    def _load_state(self, path: Path, config: dict[str, Any]) -> None:
        for k in self._state:
            setattr(self, k, load_npy(path / f"{k}.npy"))
