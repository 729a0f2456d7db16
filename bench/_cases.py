"""Per-case test metrics of benchmark rows, stored small enough to commit.

A paired interval between two models needs every test case's metric for every seed of both. Kept
only in a local cache, they vanish with the machine, and the next session can no longer add a seed
without retraining the baseline. With one target per case (leave-one-out) Recall@10 and NDCG@10
both follow from the target's rank, so a protocol costs one byte per case (about 8 KB a row on
Amazon Scientific, compressed).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def save_cases(path: Path, cases: dict[str, np.ndarray]) -> None:
    """Write one row's per-case metrics compactly and atomically.

    ``cases`` maps ``"{excl}_{metric}"`` (``excl`` 0/1, metric ``recall@10`` / ``ndcg@10``) to float
    ``[n_cases]``. With one target per case (leave-one-out) both metrics follow from the target's rank,
    so a protocol is stored as ``"{excl}_rank10"``: uint8 ``[n_cases]``, the 1-based rank when the
    target is in the top 10, else 0. Anything else (several targets per case) is stored as float32.
    An optional ``"cold"`` (bool ``[n_cases]``: the case's target had no training interaction) is
    stored as it is; splits that choose cold items per seed need it to slice a row's cases.
    """
    out: dict[str, np.ndarray] = {}
    if "cold" in cases:
        out["cold"] = np.asarray(cases["cold"], dtype=bool)
    for excl in ("0", "1"):
        rec, ndcg = cases[f"{excl}_recall@10"], cases[f"{excl}_ndcg@10"]
        hit = ndcg > 0
        rank = np.zeros(len(ndcg), dtype=np.uint8)
        rank[hit] = np.rint(2.0 ** (1.0 / ndcg[hit]) - 1.0).astype(np.uint8)
        if np.isin(rec, (0.0, 1.0)).all() and np.array_equal(hit, rec > 0) and np.allclose(
                _ndcg_from_rank(rank), ndcg, atol=1e-6):
            out[f"{excl}_rank10"] = rank
        else:
            out[f"{excl}_recall@10"], out[f"{excl}_ndcg@10"] = rec.astype(np.float32), ndcg.astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **out)
    os.replace(tmp, path)


def _ndcg_from_rank(rank: np.ndarray) -> np.ndarray:
    out = np.zeros(len(rank))
    hit = rank > 0
    out[hit] = 1.0 / np.log2(rank[hit].astype(np.float64) + 1.0)
    return out


def load_case(path: Path, key: str) -> np.ndarray:
    """One per-case vector (``key`` as in :func:`save_cases`) as float64 ``[n_cases]``.

    Raises ``FileNotFoundError`` when the row's case file is not there and ``KeyError`` when it holds
    neither ``key`` nor the rank vector of its protocol.
    """
    with np.load(path) as z:
        if key in z.files:
            return z[key].astype(np.float64)
        excl, metric = key.split("_", 1)
        rank = z[f"{excl}_rank10"]
    return (rank > 0).astype(np.float64) if metric == "recall@10" else _ndcg_from_rank(rank)
