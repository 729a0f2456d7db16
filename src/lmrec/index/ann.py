"""Top-k retrieval over item vectors with faiss: exact inner product, HNSW and IVF-PQ.

One class, :class:`AnnIndex`, hides the three faiss index families behind the same
``build / search / add / remove / reconstruct / save / load`` interface, so a recommender or the
HTTP service never special-cases the kind of index.

* ``"flat"`` — exact search (``IndexIDMap2(IndexFlatIP)``).
* ``"hnsw"`` — graph search (Malkov & Yashunin, "Efficient and robust approximate nearest
  neighbor search using Hierarchical Navigable Small World graphs", TPAMI 2018) with
  ``IndexIDMap2(IndexHNSWFlat)``. faiss cannot delete nodes from an HNSW graph, so
  :meth:`AnnIndex.remove` *tombstones* the ids: they stay in the graph (still used for routing,
  which keeps recall intact) and are filtered out inside faiss during the search with an
  ``IDSelector``. When tombstones outnumber live vectors, or a tombstoned id is added again,
  the graph is rebuilt from the live vectors (exact copies are kept by ``IndexHNSWFlat``).
* ``"ivfpq"`` — inverted file with product-quantized residuals (Jégou, Douze & Schmid,
  "Product quantization for nearest neighbor search", TPAMI 2011), trained on (a sample of)
  the build vectors; ids live in the inverted lists, removal is native.

Metric: ``"ip"`` ranks by inner product; ``"cosine"`` L2-normalises the stored vectors and
every query, then ranks by inner product; the metric is stored with the index, so a loaded
index normalises queries the same way.

Guarantees of :meth:`AnnIndex.search`: exactly ``min(k, len(index))`` results per query, no
``-1`` (missing) ids — rows where an approximate search comes back short are re-searched
exhaustively (IVF: all lists; HNSW: exact scan of the live vectors).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.features._artifact import ArtifactCorruptError, load_npy, read_artifact_config, save_npy, write_artifact_dir

__all__ = ["AnnIndex", "IndexCorruptError", "KINDS", "METRICS"]

KINDS = ("flat", "hnsw", "ivfpq")
METRICS = ("ip", "cosine")
_FORMAT_VERSION = 1
_DEFAULTS: dict[str, dict[str, Any]] = {
    "flat": {},
    "hnsw": {"M": 32, "ef_construction": 128, "ef_search": 64},
    "ivfpq": {"nlist": None, "m": None, "nbits": 8, "nprobe": 16, "train_size": 100_000, "seed": 0},
}


class IndexCorruptError(ArtifactCorruptError):
    """A saved index file is missing, truncated or fails its sha256 checksum."""


def _faiss():
    try:
        import faiss
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("ANN retrieval needs faiss: pip install 'lmrec[ann]' (faiss-cpu)") from None
    return faiss


def _check_vectors(x: np.ndarray, what: str, dim: int | None = None) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array [n, dim], got shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise ValueError(f"{what} have dimension {x.shape[1]}, the index has dimension {dim}")
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{what} must be numeric, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"{what} row {int(rows[0])} contains NaN or inf ({len(rows)} bad row(s) in all)")
    return x


def _check_ids(ids: np.ndarray, n: int) -> np.ndarray:
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) != n:
        raise ValueError(f"ids must be a 1-D array of {n} integers (one per vector), got shape {ids.shape}")
    if len(ids) and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if len(ids) and ids.min() < 0:
        raise ValueError(f"ids must be ≥ 0 (faiss reserves -1), got {int(ids.min())}")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"duplicate id {int(uniq[counts > 1][0])} in ids")
    return ids


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def _default_m(dim: int) -> int:
    """Largest divisor of ``dim`` that is ≤ 32 (sub-quantizers of the PQ)."""
    return max(m for m in range(1, min(dim, 32) + 1) if dim % m == 0)


class AnnIndex:
    """Top-k inner-product / cosine search over vectors with caller-chosen int64 ids.

    Create with :meth:`build` or :meth:`load`, not with the constructor.

    Examples
    --------
    >>> index = AnnIndex.build(item_vectors, np.arange(len(item_vectors)), kind="hnsw", metric="cosine")
    >>> scores, ids = index.search(query_vectors, k=10)      # [q, 10] float32, [q, 10] int64
    >>> index.save("runs/items.index"); index = AnnIndex.load("runs/items.index")
    """

    def __init__(self, faiss_index: Any, kind: str, metric: str, dim: int, params: dict[str, Any],
                 ids: np.ndarray, tombstones: np.ndarray | None = None):
        self._index = faiss_index
        self._kind = kind
        self._metric = metric
        self._dim = int(dim)
        self._params = dict(params)
        self._ids = np.asarray(ids, dtype=np.int64)           # every id stored in faiss (incl. tombstoned)
        self._dead = np.asarray(tombstones if tombstones is not None else [], dtype=np.int64)
        self._apply_search_params()

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, vectors: np.ndarray, ids: np.ndarray, *, kind: str = "flat", metric: str = "cosine",
              **params: Any) -> "AnnIndex":
        """Build an index over ``vectors``.

        Parameters
        ----------
        vectors:
            ``float32 [n, dim]`` finite vectors.
        ids:
            ``int64 [n]`` unique, non-negative ids returned by :meth:`search`.
        kind:
            ``"flat"`` (exact), ``"hnsw"`` or ``"ivfpq"``.
        metric:
            ``"ip"`` (inner product) or ``"cosine"`` (both sides L2-normalised).
        **params:
            HNSW: ``M`` (graph degree, 32), ``ef_construction`` (128), ``ef_search`` (64; at
            least ``k`` is used). IVF-PQ: ``nlist`` (coarse cells; default ``4·√n`` capped so
            every cell gets ≥ 39 training vectors), ``m`` (sub-quantizers; default the largest
            divisor of ``dim`` ≤ 32), ``nbits`` (bits per code, 8), ``nprobe`` (cells visited,
            16), ``train_size`` (training sample, 100 000), ``seed`` (0).

        Raises
        ------
        ValueError
            For an unknown kind/metric/parameter, non-finite vectors (the row is named),
            duplicate or negative ids, ``dim`` not divisible by ``m``, or too few vectors to
            train IVF-PQ (needs ≥ ``max(nlist, 2**nbits)``).
        """
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(KINDS)}")
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")
        unknown = set(params) - set(_DEFAULTS[kind])
        if unknown:
            raise ValueError(f"index kind {kind!r} has no parameter(s) {sorted(unknown)}; "
                             f"known: {sorted(_DEFAULTS[kind]) or 'none'}")
        x = _check_vectors(vectors, "vectors")
        ids = _check_ids(ids, len(x))
        if metric == "cosine":
            x = _normalise(x)
        n, dim = x.shape
        if dim < 1:
            raise ValueError("vectors must have at least one dimension")
        p = {**_DEFAULTS[kind], **params}
        faiss = _faiss()
        if kind == "flat":
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        elif kind == "hnsw":
            hnsw = faiss.IndexHNSWFlat(dim, int(p["M"]), faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = int(p["ef_construction"])
            index = faiss.IndexIDMap2(hnsw)
        else:
            index, p = cls._train_ivfpq(x, p)
        self = cls(index, kind, metric, dim, p, np.zeros(0, dtype=np.int64))
        self._add_normalised(x, ids)
        return self

    @staticmethod
    def _train_ivfpq(x: np.ndarray, p: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        faiss = _faiss()
        n, dim = x.shape
        nbits = int(p["nbits"])
        m = int(p["m"]) if p["m"] else _default_m(dim)
        if dim % m:
            raise ValueError(f"ivfpq: dim {dim} is not divisible by m={m} sub-quantizers")
        n_train = min(n, int(p["train_size"]))
        nlist = int(p["nlist"]) if p["nlist"] else max(1, min(int(4 * np.sqrt(n)), n_train // 39))
        need = max(nlist, 2 ** nbits)
        if n_train < need:
            raise ValueError(f"ivfpq needs at least {need} training vectors (nlist={nlist} cells, "
                             f"{2 ** nbits} codewords per sub-quantizer at nbits={nbits}), got {n_train}; "
                             "use kind='flat' or 'hnsw' for a catalog this small, or lower nlist/nbits")
        rng = np.random.default_rng(int(p["seed"]))
        train = x if n_train == n else x[np.sort(rng.choice(n, n_train, replace=False))]
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, m, nbits, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = int(p["seed"])
        index.pq.cp.seed = int(p["seed"])
        if n_train < 39 * 2 ** nbits:  # faiss would print one warning per sub-quantizer; say it once
            warnings.warn(f"ivfpq: training on {n_train} vectors, fewer than the {39 * 2 ** nbits} faiss recommends "
                          f"for {2 ** nbits} codewords; recall may suffer", stacklevel=3)
            index.pq.cp.min_points_per_centroid = 1
            index.cp.min_points_per_centroid = 1
        index.train(train)
        index.set_direct_map_type(faiss.DirectMap.Hashtable)   # reconstruct / remove by id
        return index, {**p, "nlist": nlist, "m": m, "nbits": nbits}

    # ------------------------------------------------------------------ properties
    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def kind(self) -> str:
        """``"flat" | "hnsw" | "ivfpq"``."""
        return self._kind

    @property
    def metric(self) -> str:
        """``"ip" | "cosine"``."""
        return self._metric

    @property
    def params(self) -> dict[str, Any]:
        """Build and search parameters (JSON-serialisable)."""
        return dict(self._params)

    @property
    def ids(self) -> np.ndarray:
        """``int64 [len(self)]`` ids of the live (searchable) vectors, in insertion order."""
        if not len(self._dead):
            return self._ids.copy()
        return self._ids[~np.isin(self._ids, self._dead)]

    def __len__(self) -> int:
        return int(len(self._ids) - len(self._dead))

    def __contains__(self, id: int) -> bool:
        return bool((self._ids == id).any()) and not bool((self._dead == id).any())

    def __repr__(self) -> str:
        return f"AnnIndex(kind={self._kind!r}, metric={self._metric!r}, dim={self._dim}, n={len(self)})"

    @property
    def bytes_per_vector(self) -> float:
        """Approximate memory per stored vector in bytes (codes or floats, graph links excluded)."""
        if self._kind == "ivfpq":
            return float(self._params["m"] * self._params["nbits"] / 8)
        return float(4 * self._dim)

    def set_search_params(self, *, ef_search: int | None = None, nprobe: int | None = None) -> None:
        """Change the speed/recall trade-off of HNSW (``ef_search``) or IVF-PQ (``nprobe``)."""
        if ef_search is not None:
            if self._kind != "hnsw":
                raise ValueError(f"ef_search applies to hnsw indexes, this one is {self._kind!r}")
            self._params["ef_search"] = int(ef_search)
        if nprobe is not None:
            if self._kind != "ivfpq":
                raise ValueError(f"nprobe applies to ivfpq indexes, this one is {self._kind!r}")
            self._params["nprobe"] = int(nprobe)
        self._apply_search_params()

    def _apply_search_params(self) -> None:
        if self._kind == "ivfpq":
            self._index.nprobe = min(int(self._params["nprobe"]), int(self._params["nlist"]))

    # ------------------------------------------------------------------ search
    def _prepare_queries(self, queries: np.ndarray) -> np.ndarray:
        q = np.asarray(queries)
        if q.ndim == 1:
            q = q[None, :]
        q = _check_vectors(q, "queries", self._dim)
        return _normalise(q) if self._metric == "cosine" else q

    def _search_params(self, k: int, exhaustive: bool = False):
        faiss = _faiss()
        sel = None
        if len(self._dead):  # both selectors are returned so they outlive the search (faiss keeps raw pointers)
            batch = faiss.IDSelectorBatch(self._dead)
            sel = (faiss.IDSelectorNot(batch), batch)
        if self._kind == "hnsw":
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(int(self._params["ef_search"]), k)
        elif self._kind == "ivfpq":
            params = faiss.SearchParametersIVF()
            params.nprobe = int(self._params["nlist"]) if exhaustive else min(int(self._params["nprobe"]),
                                                                                int(self._params["nlist"]))
        else:
            params = faiss.SearchParameters()
        if sel is not None:
            params.sel = sel[0]
        return params, sel

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` stored vectors for each query by inner product (cosine for ``metric="cosine"``).

        Parameters
        ----------
        queries:
            ``float32 [q, dim]`` or a single ``[dim]`` vector.
        k:
            Number of neighbours (≥ 1); more than ``len(self)`` returns ``len(self)``.

        Returns
        -------
        scores:
            ``float32 [q, min(k, len(self))]``, best first (approximate for ``ivfpq``).
        ids:
            ``int64 [q, min(k, len(self))]`` — never ``-1``.

        Raises
        ------
        ValueError
            If ``k < 1``, the dimension differs from the index's, or a query row contains NaN or
            inf (the row is named).
        """
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        q = self._prepare_queries(queries)
        kk = min(int(k), len(self))
        if kk == 0 or len(q) == 0:
            return np.zeros((len(q), kk), np.float32), np.zeros((len(q), kk), np.int64)
        params, _sel = self._search_params(kk)
        scores, labels = self._index.search(q, kk, params=params)
        short = (labels < 0).any(axis=1)
        if short.any():
            scores[short], labels[short] = self._search_exhaustive(q[short], kk)
        return scores.astype(np.float32, copy=False), labels.astype(np.int64, copy=False)

    def _search_exhaustive(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows an approximate search returned short: every live vector is a candidate."""
        if self._kind == "ivfpq":
            params, _sel = self._search_params(k, exhaustive=True)
            return self._index.search(q, k, params=params)
        live = self.ids
        x = self._reconstruct_many(live)
        scores = q @ x.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(scores, top, 1), live[top]

    # ------------------------------------------------------------------ updates
    def _add_normalised(self, x: np.ndarray, ids: np.ndarray) -> None:
        if len(x):
            self._index.add_with_ids(x, ids)
        self._ids = np.concatenate([self._ids, ids])

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        """Add vectors under new ids (IVF-PQ encodes them with the trained codebooks).

        Parameters
        ----------
        vectors:
            ``float32 [n, dim]``.
        ids:
            ``int64 [n]`` ids not already in the index.

        Raises
        ------
        ValueError
            For an id already present (named), wrong dimension or non-finite rows.
        """
        x = _check_vectors(vectors, "vectors", self._dim)
        ids = _check_ids(ids, len(x))
        present = ids[np.isin(ids, self._ids) & ~np.isin(ids, self._dead)]
        if len(present):
            raise ValueError(f"id {int(present[0])} is already in the index ({len(present)} duplicate id(s)); "
                             "remove it first to replace its vector")
        if self._metric == "cosine":
            x = _normalise(x)
        if len(self._dead) and np.isin(ids, self._dead).any():   # a tombstoned id comes back: compact first
            self._compact()
        self._add_normalised(x, ids)

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids from the index; unknown ids are ignored.

        Returns
        -------
        int
            How many vectors were removed.
        """
        ids = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        live = ids[np.isin(ids, self._ids) & ~np.isin(ids, self._dead)]
        if not len(live):
            return 0
        if self._kind == "hnsw":
            self._dead = np.union1d(self._dead, live)
            if len(self._dead) > len(self._ids) - len(self._dead):
                self._compact()
        else:
            faiss = _faiss()
            sel = faiss.IDSelectorArray(live) if self._kind == "ivfpq" else faiss.IDSelectorBatch(live)
            removed = int(self._index.remove_ids(sel))
            if removed != len(live):  # pragma: no cover - faiss invariant
                raise RuntimeError(f"faiss removed {removed} of {len(live)} ids")
            self._ids = self._ids[~np.isin(self._ids, live)]
        return int(len(live))

    def _compact(self) -> None:
        """Rebuild the HNSW graph from the live vectors (drops tombstones)."""
        live = self.ids
        x = self._reconstruct_many(live)
        fresh = AnnIndex.build(x, live, kind="hnsw", metric="ip",
                               **{k: self._params[k] for k in _DEFAULTS["hnsw"]})
        self._index, self._ids, self._dead = fresh._index, fresh._ids, np.zeros(0, np.int64)

    # ------------------------------------------------------------------ vectors back
    def reconstruct(self, id: int) -> np.ndarray:
        """The stored vector of ``id``: ``float32 [dim]``, L2-normalised for ``metric="cosine"``
        (decoded from its PQ code for ``ivfpq``, hence approximate).

        Raises
        ------
        KeyError
            If ``id`` is not in the index (or was removed).
        """
        if id not in self:
            raise KeyError(f"id {id} is not in the index")
        return np.asarray(self._index.reconstruct(int(id)), dtype=np.float32)

    def _reconstruct_many(self, ids: np.ndarray) -> np.ndarray:
        if not len(ids):
            return np.zeros((0, self._dim), np.float32)
        if self._kind == "ivfpq":
            return np.stack([self._index.reconstruct(int(i)) for i in ids]).astype(np.float32)
        faiss = _faiss()
        storage = faiss.downcast_index(self._index.index)
        if self._kind == "hnsw":
            storage = faiss.downcast_index(storage.storage)
        all_x = faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * self._dim).reshape(storage.ntotal, self._dim)
        id_map = faiss.vector_to_array(self._index.id_map)
        order = np.argsort(id_map, kind="stable")
        pos = order[np.searchsorted(id_map, ids, sorter=order)]
        return np.array(all_x[pos], dtype=np.float32)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write ``config.json`` (kind, metric, dim, params, sha256 of each file), ``index.faiss``,
        ``ids.npy`` (``int64`` ids stored in faiss) and ``tombstones.npy`` (removed HNSW ids still
        in the graph) into directory ``path``, atomically (temp directory + ``os.replace``)."""
        faiss = _faiss()
        config = {"type": "lmrec.AnnIndex", "format_version": _FORMAT_VERSION, "kind": self._kind,
                  "metric": self._metric, "dim": self._dim, "n": len(self), "params": self._params,
                  "faiss_version": faiss.__version__}
        write_artifact_dir(path, config, {
            "index.faiss": lambda p: faiss.write_index(self._index, str(p)),
            "ids.npy": lambda p: save_npy(p, self._ids),
            "tombstones.npy": lambda p: save_npy(p, self._dead),
        })

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AnnIndex":
        """Load an index written by :meth:`save`.

        Raises
        ------
        FileNotFoundError
            If ``path`` holds no ``config.json``.
        IndexCorruptError
            Naming the file that is missing, truncated, fails its checksum or cannot be parsed.
        """
        path = Path(path)
        cfg = read_artifact_config(path, "lmrec.AnnIndex", error=IndexCorruptError)
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path / "index.faiss"))
        except RuntimeError as exc:
            raise IndexCorruptError(f"{path / 'index.faiss'} cannot be read by faiss: {exc}") from None
        try:
            ids = load_npy(path / "ids.npy")
            dead = load_npy(path / "tombstones.npy")
        except ValueError as exc:
            raise IndexCorruptError(f"{path}: ids.npy / tombstones.npy unreadable: {exc}") from None
        if index.ntotal != len(ids) or index.d != cfg["dim"]:
            raise IndexCorruptError(f"{path / 'index.faiss'} holds {index.ntotal} vectors of dim {index.d}, "
                                    f"but ids.npy has {len(ids)} ids and config.json dim {cfg['dim']}")
        return cls(index, cfg["kind"], cfg["metric"], cfg["dim"], cfg["params"], ids, dead)
