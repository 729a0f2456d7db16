"""How close two domains are in item-text space, and what transfer gained (pure numpy).

A transferability report (``lmrec transfer-report``) sets, for every (source, target) pair of
domains, the gain that pre-training on the source brought on the target beside similarity
scores computed from the two catalogues' item text vectors alone:

:func:`centroid_cosine`
    cosine of the two mean L2-normalised item vectors (1: same average direction);
:func:`mmd_rbf`
    unbiased squared maximum mean discrepancy with a Gaussian (RBF) kernel whose bandwidth is
    the median pairwise distance (Gretton et al., "A Kernel Two-Sample Test", JMLR 13, 2012,
    Lemma 6 and Sec. 8) — 0 for identical distributions, on a seeded subsample of at most 2,000
    items per side so it stays cheap;
:func:`nearest_source_cosine`
    for every target item, the cosine of its nearest source item (faiss exact inner-product
    search when ``faiss-cpu`` is installed, the optional ``ann`` extra; chunked numpy otherwise),
    summarised by :func:`domain_similarity` as the share of target items whose nearest source
    item is at least ``threshold`` close (``nn_close_share``) and the mean nearest cosine.

Items whose vector is all zeros (empty item text, see :func:`lmrec.pipeline.encode_items`) say
nothing about a domain and are left out of every score; the counts say how many.

:func:`gains_from_results` reads transfer gains from a results document shaped like
``bench/results/*.json``.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

#: Default cosine above which a target item counts as having a close source item.
NN_THRESHOLD = 0.8
#: Default cap on items per side for the MMD estimate.
MMD_MAX_ITEMS = 2000


# ------------------------------------------------------------------------------ inputs
def _check(vectors: np.ndarray, side: str, min_rows: int = 1) -> np.ndarray:
    """``float64 [n_nonzero, d]`` L2-normalised non-zero rows of ``vectors``.

    Raises
    ------
    ValueError
        If ``vectors`` is not 2-D, has non-finite values, or fewer than ``min_rows`` non-zero rows.
    """
    x = np.asarray(vectors)
    if x.ndim != 2:
        raise ValueError(f"{side} vectors must be a 2-D array [n_items, dim], got shape {x.shape}")
    x = x.astype(np.float64, copy=False)
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise ValueError(f"{side} vectors: row {bad} has NaN or infinite values; re-encode the items")
    norms = np.linalg.norm(x, axis=1)
    keep = norms > 0
    if int(keep.sum()) < min_rows:
        raise ValueError(f"{side} vectors: {int(keep.sum())} non-zero rows of {len(x)}, need at least {min_rows} "
                         "(all-zero rows are items with empty text); check the item text fields")
    return x[keep] / norms[keep, None]


def _pair(src: np.ndarray, tgt: np.ndarray, min_rows: int = 1) -> tuple[np.ndarray, np.ndarray]:
    s, t = _check(src, "source", min_rows), _check(tgt, "target", min_rows)
    if s.shape[1] != t.shape[1]:
        raise ValueError(f"source vectors have dim {s.shape[1]}, target vectors dim {t.shape[1]}: encode both "
                         "domains with the same text encoder")
    return s, t


# ------------------------------------------------------------------------------ scores
def centroid_cosine(src_vectors: np.ndarray, tgt_vectors: np.ndarray) -> float:
    """Cosine between the means of the L2-normalised non-zero rows of each side.

    Parameters
    ----------
    src_vectors, tgt_vectors:
        ``float [n_s, d]`` and ``float [n_t, d]`` item text vectors (any scale; rows are
        normalised here, all-zero rows skipped).

    Returns
    -------
    float in ``[-1, 1]``; 0.0 when a mean vector is zero.

    Raises
    ------
    ValueError
        For non-2-D or non-finite input, mismatched dims, or a side without a non-zero row.
    """
    s, t = _pair(src_vectors, tgt_vectors)
    a, b = s.mean(axis=0), t.mean(axis=0)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / denom) if denom > 0 else 0.0


def _subsample(x: np.ndarray, max_items: int, rng: np.random.Generator) -> np.ndarray:
    if len(x) <= max_items:
        return x
    return x[np.sort(rng.choice(len(x), size=max_items, replace=False))]


def mmd_rbf(src_vectors: np.ndarray, tgt_vectors: np.ndarray, *, max_items: int = MMD_MAX_ITEMS,
            seed: int = 0) -> dict[str, float]:
    """Unbiased MMD² between the two sides with a Gaussian kernel (Gretton et al., JMLR 2012).

    ``MMD²_u = 1/(m(m−1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n−1)) Σ_{i≠j} k(y_i, y_j)
    − 2/(mn) Σ_{i,j} k(x_i, y_j)``
    with ``k(x, y) = exp(−‖x − y‖² / (2σ²))`` and ``σ`` the median distance between distinct
    points of the pooled sample (median heuristic, Sec. 8 of the paper). Rows are
    L2-normalised first (all-zero rows skipped), so distances are those of cosine geometry.
    Being unbiased, the estimate can be slightly negative when the distributions are equal.

    Parameters
    ----------
    src_vectors, tgt_vectors:
        ``float [n_s, d]``, ``float [n_t, d]``.
    max_items:
        At most this many rows per side, drawn without replacement with ``seed`` (the pooled
        kernel matrix is ``[≤ 2·max_items, ≤ 2·max_items]``).
    seed:
        Seed of the subsample.

    Returns
    -------
    ``{"mmd2": float, "bandwidth": σ, "n_source": m, "n_target": n}`` (``m``, ``n`` after subsampling).

    Raises
    ------
    ValueError
        For bad input (see :func:`centroid_cosine`), fewer than 2 non-zero rows on a side, or
        ``max_items < 2``.
    """
    if max_items < 2:
        raise ValueError(f"max_items must be ≥ 2 for the unbiased MMD estimate, got {max_items}")
    s, t = _pair(src_vectors, tgt_vectors, min_rows=2)
    rng = np.random.default_rng(seed)
    x, y = _subsample(s, max_items, rng), _subsample(t, max_items, rng)
    z = np.concatenate([x, y]).astype(np.float32)
    sq = np.einsum("ij,ij->i", z, z)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (z @ z.T), 0.0)
    m, n = len(x), len(y)
    off = d2[np.triu_indices(m + n, k=1)]
    sigma = float(np.sqrt(np.median(off)))
    if sigma == 0.0:
        positive = off[off > 0]
        sigma = float(np.sqrt(positive.mean())) if positive.size else 1.0
    k = np.exp(-d2.astype(np.float64) / (2.0 * sigma ** 2))
    kxx, kyy, kxy = k[:m, :m], k[m:, m:], k[:m, m:]
    mmd2 = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
            - 2.0 * kxy.mean())
    return {"mmd2": float(mmd2), "bandwidth": sigma, "n_source": m, "n_target": n}


def _faiss():
    try:
        import faiss  # noqa: F401
    except ImportError:
        return None
    return faiss


def nearest_source_cosine(src_vectors: np.ndarray, tgt_vectors: np.ndarray, *, backend: str = "auto",
                          chunk_size: int = 2048) -> tuple[np.ndarray, str]:
    """Cosine of each (non-zero) target item to its nearest (non-zero) source item, exact.

    Parameters
    ----------
    src_vectors, tgt_vectors:
        ``float [n_s, d]``, ``float [n_t, d]``.
    backend:
        ``"faiss"`` (``IndexFlatIP``, exact), ``"numpy"`` (chunked ``[chunk_size, n_s]`` matmuls)
        or ``"auto"`` (faiss when installed).
    chunk_size:
        Target rows per numpy chunk (memory ``chunk_size · n_s · 4`` bytes).

    Returns
    -------
    ``(float32 [n_t_nonzero], backend used)``; values in ``[-1, 1]``.

    Raises
    ------
    ValueError
        For bad input (see :func:`centroid_cosine`) or an unknown ``backend``.
    ImportError
        For ``backend="faiss"`` without faiss installed (``pip install 'lmrec[ann]'``).
    """
    if backend not in ("auto", "faiss", "numpy"):
        raise ValueError(f"backend must be auto, faiss or numpy, got {backend!r}")
    s, t = _pair(src_vectors, tgt_vectors)
    s32, t32 = np.ascontiguousarray(s, dtype=np.float32), np.ascontiguousarray(t, dtype=np.float32)
    faiss = _faiss() if backend in ("auto", "faiss") else None
    if backend == "faiss" and faiss is None:
        raise ImportError("backend='faiss' needs faiss: pip install 'lmrec[ann]' (faiss-cpu), or use backend='numpy'")
    if faiss is not None:
        index = faiss.IndexFlatIP(s32.shape[1])
        index.add(s32)
        sims, _ = index.search(t32, 1)
        return np.clip(sims[:, 0], -1.0, 1.0), "faiss"
    out = np.empty(len(t32), dtype=np.float32)
    for i in range(0, len(t32), chunk_size):
        out[i:i + chunk_size] = (t32[i:i + chunk_size] @ s32.T).max(axis=1)
    return np.clip(out, -1.0, 1.0), "numpy"


def domain_similarity(src_vectors: np.ndarray, tgt_vectors: np.ndarray, *, threshold: float = NN_THRESHOLD,
                      max_mmd_items: int = MMD_MAX_ITEMS, seed: int = 0, backend: str = "auto") -> dict[str, Any]:
    """All similarity scores of one (source, target) pair of item-vector sets.

    Parameters
    ----------
    src_vectors:
        ``float [n_s, d]`` item text vectors of the source domain.
    tgt_vectors:
        ``float [n_t, d]`` item text vectors of the target domain (same encoder).
    threshold:
        Cosine at or above which a target item's nearest source item counts as close.
    max_mmd_items, seed:
        Subsample cap per side and its seed for :func:`mmd_rbf`.
    backend:
        Nearest-neighbour backend of :func:`nearest_source_cosine`.

    Returns
    -------
    ``{"centroid_cosine", "mmd_rbf", "mmd_bandwidth", "mmd_n_source", "mmd_n_target",
    "nn_close_share", "nn_mean_cosine", "nn_threshold", "nn_backend", "n_source", "n_target",
    "n_source_empty", "n_target_empty"}`` — ``n_*`` count the non-zero rows used, ``n_*_empty``
    the all-zero rows skipped. Not symmetric: the nearest-neighbour scores look from the target.

    Raises
    ------
    ValueError
        For bad input, fewer than 2 non-zero rows on a side, or ``threshold`` outside ``[-1, 1]``.
    """
    if not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold is a cosine and must be in [-1, 1], got {threshold}")
    s, t = _pair(src_vectors, tgt_vectors, min_rows=2)
    mmd = mmd_rbf(s, t, max_items=max_mmd_items, seed=seed)
    nn, used = nearest_source_cosine(s, t, backend=backend)
    return {"centroid_cosine": centroid_cosine(s, t), "mmd_rbf": mmd["mmd2"], "mmd_bandwidth": mmd["bandwidth"],
            "mmd_n_source": mmd["n_source"], "mmd_n_target": mmd["n_target"],
            "nn_close_share": float((nn >= threshold).mean()), "nn_mean_cosine": float(nn.mean()),
            "nn_threshold": float(threshold), "nn_backend": used,
            "n_source": len(s), "n_target": len(t),
            "n_source_empty": len(src_vectors) - len(s), "n_target_empty": len(tgt_vectors) - len(t)}


# ------------------------------------------------------------------------------ gains
def _row_sources(row: dict[str, Any]) -> tuple[str, ...] | None:
    value = row.get("sources", row.get("source"))
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def gains_from_results(doc: dict[str, Any], targets: Iterable[str], *, metric: str = "ndcg@10",
                       baseline_model: str | None = None, where: str = "results") -> dict[str, Any]:
    """Transfer gains of a results document (``{"rows": [{"dataset", "model", "protocol", "seed",
    "metrics", …}]}``, the shape of ``bench/results/*.json``).

    A **transfer row** has ``dataset`` in ``targets`` and a ``source`` (a name, or several
    comma-separated) or ``sources`` (a list) key naming the domains it was pre-trained on. Its
    **baseline rows** are rows of the same ``dataset`` and ``protocol`` without such a key (a
    model trained from scratch, or zero-shot Embedding-KNN), of model ``baseline_model`` — which
    may be omitted when only one model qualifies. Values are averaged over seeds, per
    ``(sources, target, model, protocol)``; the gain is ``transfer − baseline`` of ``metric``
    and the relative gain ``gain / baseline``.

    Parameters
    ----------
    doc:
        The parsed JSON document.
    targets:
        Target dataset names to look for.
    metric:
        Key of ``row["metrics"]`` compared (lower case, e.g. ``"ndcg@10"``).
    baseline_model:
        ``model`` of the baseline rows.
    where:
        Name of the document (file path) for messages.

    Returns
    -------
    ``{"metric", "baseline_model", "entries": [{"sources": [..], "target", "model", "protocol",
    "transfer", "baseline", "gain", "relative_gain", "seeds", "baseline_seeds"}], "note"}`` —
    ``entries`` empty and ``note`` saying why when no transfer row or no baseline is found.

    Raises
    ------
    ValueError
        If ``doc`` has no ``rows`` list, a transfer row lacks ``metric``, or several baseline
        models qualify and ``baseline_model`` is not given (the message lists them).
    """
    rows = doc.get("rows") if isinstance(doc, dict) else None
    if not isinstance(rows, list):
        raise ValueError(f"{where}: not a results document (no 'rows' list)")
    targets = set(targets)
    transfer = [r for r in rows if r.get("dataset") in targets and _row_sources(r)]
    out: dict[str, Any] = {"metric": metric, "baseline_model": baseline_model, "entries": [], "note": None}
    if not transfer:
        out["note"] = (f"{where}: no row for targets {sorted(targets)} names a 'source'/'sources' key, so no "
                       "row says which domain it transferred from; gain column left empty")
        return out
    groups: dict[tuple, list[dict]] = {}
    for i, r in enumerate(transfer):
        if metric not in (r.get("metrics") or {}):
            raise ValueError(f"{where}: row {r.get('dataset')!r} / {r.get('model')!r} has no metric {metric!r}; "
                             f"it has {sorted(r.get('metrics') or {})}; pass another --gain-metric")
        groups.setdefault((_row_sources(r), r["dataset"], r.get("model"), r.get("protocol")), []).append(r)
    missing = []
    for (sources, target, model, protocol), grp in groups.items():
        base = [r for r in rows if r.get("dataset") == target and r.get("protocol") == protocol
                and not _row_sources(r) and metric in (r.get("metrics") or {})]
        models = sorted({str(r.get("model")) for r in base})
        if baseline_model is None and len(models) > 1:
            raise ValueError(f"{where}: several baseline models for {target!r} ({protocol}): {models}; "
                             "choose one with --baseline-model")
        chosen = baseline_model if baseline_model is not None else (models[0] if models else None)
        base = [r for r in base if str(r.get("model")) == chosen]
        if not base:
            missing.append(f"{target} ({protocol})")
            continue
        t_val = float(np.mean([r["metrics"][metric] for r in grp]))
        b_val = float(np.mean([r["metrics"][metric] for r in base]))
        out["entries"].append({"sources": list(sources), "target": target, "model": model, "protocol": protocol,
                               "baseline_model": chosen, "transfer": t_val, "baseline": b_val,
                               "gain": t_val - b_val, "relative_gain": (t_val - b_val) / b_val if b_val else None,
                               "seeds": sorted({r.get("seed") for r in grp}, key=str),
                               "baseline_seeds": sorted({r.get("seed") for r in base}, key=str)})
    if missing:
        out["note"] = (f"{where}: no baseline row (same dataset and protocol, no source key"
                       + (f", model {baseline_model!r}" if baseline_model else "") + f") for {missing}")
    return out


def gain_matrix(gains: dict[str, Any], targets: list[str], sources: list[str]) -> list[list[float | None]]:
    """``[len(targets)][len(sources)]`` mean gain of the single-source entries of
    :func:`gains_from_results` (``None`` where no entry; entries pre-trained on several sources
    belong to no single cell and are listed, not placed)."""
    cells: dict[tuple[str, str], list[float]] = {}
    for e in gains.get("entries", []):
        if len(e["sources"]) == 1:
            cells.setdefault((e["target"], e["sources"][0]), []).append(e["gain"])
    return [[float(np.mean(cells[(t, s)])) if (t, s) in cells else None for s in sources] for t in targets]
