"""Scalar quantization of every dimension: ``float16`` (2 bytes) or ``int8`` (1 byte).

``int8`` maps each dimension's training range ``[min_j, max_j]`` linearly onto the 256 codes
(the ``QT_8bit`` / ``RS_minmax`` scheme of faiss's ``ScalarQuantizer``; values of new items
outside the training range are clipped). ``float16`` needs no fitting beyond the dimension.
"""

from __future__ import annotations

import numpy as np

from lmrec.features.base import VectorTransform, check_vectors

_DTYPES = ("int8", "fp16")
_FP16_MAX = 65504.0


class ScalarQuantizer(VectorTransform):
    """Per-dimension scalar quantization.

    Parameters
    ----------
    dtype:
        ``"int8"`` or ``"fp16"``.

    Attributes
    ----------
    min_, scale_:
        ``float32 [dim]`` (``int8`` only): code ``c ∈ [-128, 127]`` decodes to
        ``min_ + (c + 128 + 0.5) · scale_`` with ``scale_ = (max − min) / 256``.
    """

    name = "scalar"
    _state = ("min_", "scale_")

    def __init__(self, dtype: str = "int8"):
        if dtype not in _DTYPES:
            raise ValueError(f"scalar quantization dtype must be one of {_DTYPES}, got {dtype!r}")
        super().__init__(dtype=dtype)

    def fit(self, x: np.ndarray) -> "ScalarQuantizer":
        x = check_vectors(x, "training vectors")
        if not len(x):
            raise ValueError("scalar quantization needs at least one training vector")
        lo, hi = x.min(axis=0), x.max(axis=0)
        self.min_ = lo.astype(np.float32)
        self.scale_ = (np.maximum(hi - lo, 1e-12) / 256.0).astype(np.float32)
        self.dim_in_ = x.shape[1]
        return self

    def encode(self, x: np.ndarray) -> np.ndarray:
        """``int8 [n, dim]`` or ``float16 [n, dim]`` codes.

        Raises
        ------
        ValueError
            For ``fp16``, if a row has a value beyond ±65504 (the row is named).
        """
        x = self._check_input(x)
        if self.params["dtype"] == "fp16":
            big = np.abs(x).max(axis=1) > _FP16_MAX
            if big.any():
                raise ValueError(f"vectors row {int(np.flatnonzero(big)[0])} has values beyond the float16 range "
                                 f"(±{_FP16_MAX}); rescale the vectors or use int8")
            return x.astype(np.float16)
        c = np.floor((x - self.min_) / self.scale_)
        return (np.clip(c, 0, 255) - 128).astype(np.int8)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """``float32 [n, dim]`` from the codes of :meth:`encode`."""
        self._check_fitted()
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != self.dim_in_:
            raise ValueError(f"codes must have shape [n, {self.dim_in_}], got {codes.shape}")
        if self.params["dtype"] == "fp16":
            return codes.astype(np.float32)
        if codes.dtype != np.int8:
            raise ValueError(f"int8 codes expected, got dtype {codes.dtype}")
        return (self.min_ + (codes.astype(np.float32) + 128.5) * self.scale_).astype(np.float32)

    @property
    def dim_out(self) -> int:
        return int(self.dim_in_)

    @property
    def bytes_per_item(self) -> float:
        return float(self.dim_in_ * (2 if self.params["dtype"] == "fp16" else 1))
