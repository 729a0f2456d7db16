"""Transform names used by the CLI and the benchmarks, loading a saved transform, and compressing a
vector table in one call."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.features._artifact import read_artifact_config
from lmrec.features.base import VectorTransform, check_vectors
from lmrec.features.parametric_whitening import ParametricWhitening
from lmrec.features.pca import PCA
from lmrec.features.pq import ProductQuantizer
from lmrec.features.scalar_quant import ScalarQuantizer
from lmrec.features.truncate import Truncate
from lmrec.features.whitening import Whitening

#: ``lmrec compress --method`` names.
METHODS = ("pca", "whiten", "param-whiten", "pq", "truncate", "int8", "fp16")


def create_transform(method: str, *, dim: int | None = None, n_bytes: int | None = None,
                     **params: Any) -> VectorTransform:
    """Instantiate a transform by method name.

    Parameters
    ----------
    method:
        One of :data:`METHODS`.
    dim:
        Output dimension (``pca``, ``truncate``; optional for ``whiten`` / ``param-whiten``).
    n_bytes:
        Bytes per item for ``pq`` (= sub-quantizers at 8 bits; default 32).
    **params:
        Other hyper-parameters of the transform class (e.g. ``opq=False``).

    Raises
    ------
    ValueError
        For an unknown method, or a missing/irrelevant ``dim`` / ``n_bytes``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown compression method {method!r}; choose one of {', '.join(METHODS)}")
    if n_bytes is not None and method != "pq":
        raise ValueError(f"--bytes applies to pq only; {method!r} takes --dim" if method in
                         ("pca", "whiten", "param-whiten", "truncate") else f"{method!r} takes neither --dim nor --bytes")
    if dim is not None and method in ("pq", "int8", "fp16"):
        raise ValueError(f"{method!r} keeps the input dimension; " +
                         ("use --bytes" if method == "pq" else "do not pass --dim"))
    if method in ("pca", "truncate") and dim is None:
        raise ValueError(f"{method!r} needs --dim (the output dimension)")
    if method == "pca":
        return PCA(dim, **params)
    if method == "whiten":
        return Whitening(dim, **params)
    if method == "param-whiten":
        return ParametricWhitening(dim, **params)
    if method == "truncate":
        return Truncate(dim, **params)
    if method == "pq":
        nbits = int(params.pop("nbits", 8))
        n_bytes = 32 if n_bytes is None else int(n_bytes)
        if (n_bytes * 8) % nbits:
            raise ValueError(f"{n_bytes} bytes is not a whole number of {nbits}-bit codes")
        return ProductQuantizer(n_bytes * 8 // nbits, nbits=nbits, **params)
    return ScalarQuantizer(method, **params)


def compress_vectors(vectors: np.ndarray, method: str, *, dim: int | None = None, n_bytes: int | None = None,
                     fit_rows: np.ndarray | None = None, out_dir: str | os.PathLike | None = None,
                     **params: Any) -> tuple[VectorTransform, np.ndarray, dict[str, Any]]:
    """Fit a transform on the training rows of ``vectors``, encode every row, optionally save.

    Parameters
    ----------
    vectors:
        ``float32 [n_items, dim]`` item vectors.
    method, dim, n_bytes, **params:
        As in :func:`create_transform`.
    fit_rows:
        ``bool [n_items]`` mask or integer indices of the *training* items the transform is
        fitted on (``None``: all rows).
    out_dir:
        If given, writes ``out_dir/transform/`` (the fitted transform) and ``out_dir/codes.npy``
        (the encoded table, dtype of :meth:`VectorTransform.encode`).

    Returns
    -------
    transform, codes, report:
        The fitted transform, the encoded ``[n_items, …]`` table and a summary dict
        (``method``, ``n_items``, ``n_fit``, ``dim_in``, ``dim_out``, ``bytes_per_item``,
        ``bytes_total``, and ``mean_cosine_to_input`` for quantizers that keep the dimension).
    """
    from lmrec.features._artifact import save_npy

    x = check_vectors(vectors, "item vectors")
    rows = np.arange(len(x)) if fit_rows is None else np.asarray(fit_rows)
    if rows.dtype == bool:
        if rows.shape != (len(x),):
            raise ValueError(f"fit_rows mask has shape {rows.shape}, expected ({len(x)},)")
        rows = np.flatnonzero(rows)
    transform = create_transform(method, dim=dim, n_bytes=n_bytes, **params).fit(x[rows])
    codes = transform.encode(x)
    report: dict[str, Any] = {"method": method, "transform": repr(transform), "n_items": int(len(x)),
                              "n_fit": int(len(rows)), "dim_in": int(x.shape[1]), "dim_out": int(transform.dim_out),
                              "bytes_per_item": transform.bytes_per_item,
                              "bytes_total": int(transform.bytes_per_item * len(x))}
    if transform.dim_out == x.shape[1] and method in ("pq", "int8", "fp16"):
        y = transform.decode(codes)
        num = (x * y).sum(1)
        den = np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)
        ok = den > 0
        report["mean_cosine_to_input"] = float(np.mean(num[ok] / den[ok])) if ok.any() else None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        transform.save(out / "transform")
        tmp = out / "codes.npy.tmp"
        save_npy(tmp, codes)
        os.replace(tmp, out / "codes.npy")
    return transform, codes, report


def load_transform(path: str | os.PathLike) -> VectorTransform:
    """Load any transform saved with :meth:`VectorTransform.save` (every transform class is
    imported above, so each is registered).

    Raises
    ------
    FileNotFoundError
        If ``path/config.json`` is missing.
    ArtifactCorruptError
        If a file is missing, truncated or fails its checksum (the file is named).
    ValueError
        If ``path`` holds something other than a saved lmrec transform.
    """
    path = Path(path)
    cfg = read_artifact_config(path)
    cls = VectorTransform._registry.get(cfg.get("name"))
    if cls is None or cfg.get("type") != f"lmrec.features.{cfg.get('name')}":
        raise ValueError(f"{path}: not a saved lmrec transform (type {cfg.get('type')!r})")
    self = cls(**cfg["params"])
    self.dim_in_ = int(cfg["dim_in"])
    self._load_state(path, cfg)
    return self
