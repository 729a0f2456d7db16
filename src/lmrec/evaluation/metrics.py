"""Top-K ranking metrics as free functions over 0-based ranks.

Input convention
----------------
Every metric takes ``ranks``, the **0-based positions of the relevant (target) items in one
ranked list per case**, as either

* a padded ``int [n_cases, max_targets]`` array where ``-1`` marks padding (a case with fewer
  targets than ``max_targets`` is padded on the right, or anywhere — order does not matter), or
* a 1-D ``int [n_cases]`` array, shorthand for one target per case.

A ragged ``list`` of per-case rank arrays can be turned into the padded form with
:func:`pad_ranks`. A target that cannot be retrieved at all (for instance a target that was
also in the user's history when history items are excluded) is given the rank
:data:`UNREACHABLE`, which is larger than any ``K``: it counts as a miss but still counts in
``|targets|``.

The ranks of one case are positions in *one* list, so two targets of a case cannot share a
rank below ``K`` (a :class:`ValueError` is raised if they do). When targets are ranked
"filtered" (each against the non-target candidates only, as
:func:`lmrec.evaluation.evaluate_ranking` does), convert the filtered ranks with
:func:`list_positions` first.

Every metric returns the per-case values as ``float64 [n_cases]``; average them for the usual
summary number.

Definitions (``r`` a 0-based rank, ``T`` the set of targets of a case, ``[.]`` the indicator)
---------------------------------------------------------------------------------------------
* ``Recall@K  = sum_{t in T} [r_t < K] / |T|``
* ``HitRate@K = [min_{t in T} r_t < K]``
* ``MRR@K     = 1 / (min_t r_t + 1)`` if ``min_t r_t < K`` else ``0``
* ``NDCG@K    = DCG@K / IDCG@K`` with ``DCG@K = sum_{t in T, r_t < K} 1 / log2(r_t + 2)`` and
  ``IDCG@K = sum_{i=0}^{min(|T|, K) - 1} 1 / log2(i + 2)`` (binary relevance).

With one target per case ``Recall@K == HitRate@K`` and ``NDCG@K = 1 / log2(r + 2)`` on a hit.

References
----------
K. Järvelin and J. Kekäläinen, "Cumulated gain-based evaluation of IR techniques",
ACM TOIS 20(4), 2002 (NDCG).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "UNREACHABLE",
    "pad_ranks",
    "list_positions",
    "recall_at_k",
    "ndcg_at_k",
    "mrr_at_k",
    "hit_rate_at_k",
]

#: Rank given to a target that cannot be retrieved; a miss at every ``K``.
UNREACHABLE: int = int(np.iinfo(np.int64).max // 4)


def pad_ranks(ranks: Sequence[Sequence[int] | np.ndarray]) -> np.ndarray:
    """Pad a ragged list of per-case ranks into ``int64 [n_cases, max_targets]`` with ``-1``.

    Parameters
    ----------
    ranks:
        ``n_cases`` sequences of non-negative 0-based ranks (one per target).

    Returns
    -------
    np.ndarray
        ``int64 [n_cases, max_targets]``, ``-1`` where a case has fewer targets.

    Raises
    ------
    ValueError
        If a case has no rank or a rank is negative.
    """
    rows = [np.asarray(r, dtype=np.int64).reshape(-1) for r in ranks]
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        if len(r) == 0:
            raise ValueError(f"pad_ranks: case {i} has no target rank")
        if (r < 0).any():
            raise ValueError(f"pad_ranks: case {i} has a negative rank {int(r.min())}; ranks are 0-based")
        out[i, : len(r)] = r
    return out


def list_positions(filtered_ranks: np.ndarray) -> np.ndarray:
    """Turn filtered ranks into positions in one ranked list per case.

    A *filtered* rank counts only the non-target candidates placed ahead of a target (the
    other targets of the case are left out of its candidate set). In the single list that
    holds every candidate, the target with the ``j``-th smallest filtered rank (``j`` from 0)
    also has ``j`` other targets ahead of it, so its position is ``filtered_rank + j``. Targets
    tied with each other are ordered arbitrarily, which changes no metric because all of them
    are relevant. :data:`UNREACHABLE` ranks stay :data:`UNREACHABLE`.

    Parameters
    ----------
    filtered_ranks:
        ``int [n_cases, max_targets]`` with ``-1`` padding, or ``int [n_cases]``.

    Returns
    -------
    np.ndarray
        ``int64`` of the same shape, padding kept at ``-1``.

    Examples
    --------
    >>> list_positions(np.array([[0, 0, -1], [4, 1, 2]])).tolist()
    [[0, 1, -1], [6, 1, 3]]
    """
    r = np.asarray(filtered_ranks)
    if r.ndim == 1:
        return r.astype(np.int64, copy=True)
    r = _as_padded(r)
    # Sort each row with padding last, add the index within the sorted valid part.
    key = np.where(r < 0, np.iinfo(np.int64).max, r)
    order = np.argsort(key, axis=1, kind="stable")
    sorted_r = np.take_along_axis(r, order, axis=1)
    offset = np.arange(r.shape[1], dtype=np.int64)[None, :]
    sorted_pos = np.where((sorted_r >= 0) & (sorted_r < UNREACHABLE), sorted_r + offset, sorted_r)
    out = np.empty_like(r)
    np.put_along_axis(out, order, sorted_pos, axis=1)
    return out


def recall_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Recall@K per case: ``#{targets with rank < K} / |targets|``.

    Parameters
    ----------
    ranks:
        0-based list positions, ``int [n_cases, max_targets]`` padded with ``-1`` or
        ``int [n_cases]`` (one target per case). See the module docstring.
    k:
        Cut-off, ``>= 1``.

    Returns
    -------
    np.ndarray
        ``float64 [n_cases]`` in ``[0, 1]``.

    Raises
    ------
    ValueError
        If ``k < 1``, a case has no target, or two targets of a case share a rank below ``k``.
    """
    r, valid, hits = _prepare(ranks, k)
    return hits.sum(axis=1) / valid.sum(axis=1)


def hit_rate_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """HitRate@K per case: ``1.0`` if any target has rank ``< K`` else ``0.0``.

    Parameters and errors as in :func:`recall_at_k`; returns ``float64 [n_cases]`` of 0/1.
    """
    _, _, hits = _prepare(ranks, k)
    return hits.any(axis=1).astype(np.float64)


def mrr_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Reciprocal rank of the first hit per case: ``1 / (min rank + 1)`` if ``< K`` else ``0``.

    Parameters and errors as in :func:`recall_at_k`; returns ``float64 [n_cases]`` in ``[0, 1]``.
    """
    r, _, hits = _prepare(ranks, k)
    first = np.where(hits, r, k).min(axis=1)
    return np.where(first < k, 1.0 / (first + 1.0), 0.0)


def ndcg_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """NDCG@K per case with binary relevance.

    ``DCG@K = sum over targets with rank r < K of 1 / log2(r + 2)``;
    ``IDCG@K = sum_{i < min(|targets|, K)} 1 / log2(i + 2)``; ``NDCG@K = DCG@K / IDCG@K``.

    Parameters and errors as in :func:`recall_at_k`; returns ``float64 [n_cases]`` in ``[0, 1]``.
    """
    r, valid, hits = _prepare(ranks, k)
    gains = np.where(hits, 1.0 / np.log2(np.where(hits, r, 0) + 2.0), 0.0)
    dcg = gains.sum(axis=1)
    n_ideal = np.minimum(valid.sum(axis=1), k)
    discounts = 1.0 / np.log2(np.arange(min(k, r.shape[1]), dtype=np.float64) + 2.0)
    idcg = np.concatenate([[0.0], np.cumsum(discounts)])[n_ideal]
    return dcg / idcg


# --------------------------------------------------------------------------- helpers

def _as_padded(ranks: np.ndarray) -> np.ndarray:
    r = np.asarray(ranks)
    if r.dtype == object or not np.issubdtype(r.dtype, np.integer):
        raise ValueError(
            f"ranks must be an integer array [n_cases] or [n_cases, max_targets] padded with -1, "
            f"got dtype {r.dtype}; use pad_ranks() for a ragged list")
    if r.ndim == 1:
        r = r[:, None]
    if r.ndim != 2:
        raise ValueError(f"ranks must be 1-D or 2-D, got shape {r.shape}")
    r = r.astype(np.int64, copy=False)
    if (r < -1).any():
        i = int(np.argwhere(r < -1)[0, 0])
        raise ValueError(f"ranks: case {i} has a rank below -1; ranks are 0-based and -1 is padding")
    return r


def _prepare(ranks: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate and return (ranks [n, T] int64, valid mask, hit mask at k)."""
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    r = _as_padded(ranks)
    valid = r >= 0
    if r.shape[0] and r.shape[1] == 0:
        raise ValueError("ranks: case 0 has no target (every entry is -1 padding)")
    empty = ~valid.any(axis=1)
    if empty.any():
        raise ValueError(f"ranks: case {int(np.flatnonzero(empty)[0])} has no target "
                         f"(every entry is -1 padding)")
    hits = valid & (r < k)
    if r.shape[1] > 1:
        # Within a case, hits must sit at distinct positions of one list.
        tagged = np.where(hits, r, -1 - np.arange(r.shape[1], dtype=np.int64)[None, :])
        s = np.sort(tagged, axis=1)
        dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
        if dup.any():
            i, j = np.argwhere(dup)[0]
            raise ValueError(
                f"ranks: case {int(i)} has two targets at rank {int(s[i, j + 1])}; ranks are "
                f"positions in one list — convert filtered ranks with list_positions() first")
    return r, valid, hits
