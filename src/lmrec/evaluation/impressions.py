"""Impression-level ranking metrics of the MIND benchmark (Wu et al., ACL 2020).

For every impression the model scores the candidates shown; per impression we compute

* **AUC** — share of (click, non-click) pairs ordered correctly (ROC AUC);
* **MRR** — ``sum_i label_i / rank_i / sum_i label_i`` (MIND's definition: the mean reciprocal
  rank over the clicked candidates, not only the first one);
* **nDCG@k** (k = 5, 10) — ``DCG@k / IDCG@k`` with gain ``2^label − 1`` and discount
  ``1 / log2(rank + 1)``;

and report the mean over impressions. Impressions without any click or without any non-click
have undefined AUC and are **skipped for all four metrics** (as in MIND's scorer, which would
fail on them); they are counted in ``n_skipped_no_click`` / ``n_skipped_no_nonclick``.

Ties
----
MIND's reference scorer breaks ties by ``numpy.argsort`` order, i.e. arbitrarily. Here tied
scores are resolved by their **expectation over a uniformly random order of the tied
candidates**: in AUC a tied (click, non-click) pair counts 1/2; in MRR and nDCG a clicked
candidate in a tie group occupying ranks ``s … s+g−1`` gets the mean of ``1/r`` (resp. the
mean of ``[r ≤ k] / log2(r + 1)``) over those ranks. Because both metrics are sums over clicked
candidates this is exactly the expected value under random tie-breaking. A constant scorer
therefore gets the same numbers as the average random ranking, not an order-dependent value.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

METRICS = ("auc", "mrr", "ndcg@5", "ndcg@10")


def _tie_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First rank (1-based) and size of the tie group of each candidate, ranking by descending score."""
    uniq, inverse, counts = np.unique(-scores, return_inverse=True, return_counts=True)
    starts = np.concatenate([[1], 1 + np.cumsum(counts)[:-1]])
    return starts[inverse], counts[inverse]


def _mean_over_ranks(starts: np.ndarray, sizes: np.ndarray, fn) -> np.ndarray:
    """Mean of ``fn(r)`` over ranks ``start … start+size−1`` for each candidate."""
    return np.array([fn(np.arange(s, s + g)).mean() for s, g in zip(starts, sizes)], dtype=np.float64)


def impression_metrics(scores: Sequence[float] | np.ndarray,
                       labels: Sequence[int] | np.ndarray) -> dict[str, float] | None:
    """AUC, MRR, nDCG@5 and nDCG@10 of one impression (ties: expected value, see module doc).

    Parameters
    ----------
    scores:
        ``[n_candidates]`` float scores, higher = ranked earlier.
    labels:
        ``[n_candidates]`` 0/1 clicks.

    Returns
    -------
    dict or None
        ``{"auc", "mrr", "ndcg@5", "ndcg@10"}`` (floats in [0, 1]), or ``None`` when the impression
        has no click or no non-click (AUC undefined; skipped by :func:`evaluate_impressions`).

    Raises
    ------
    ValueError
        If the lengths differ, a label is not 0/1 or a score is not finite.

    Examples
    --------
    >>> impression_metrics([0.9, 0.1, 0.5], [0, 1, 0])["mrr"]
    0.3333333333333333
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel()
    if s.shape != y.shape:
        raise ValueError(f"{len(s)} scores for {len(y)} labels")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels must be 0/1, got {sorted(set(y.tolist()))}")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinity")
    y = y.astype(np.int64)
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == len(y):
        return None
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    auc = float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)
    starts, sizes = _tie_groups(s)
    clicked = y == 1
    rr = _mean_over_ranks(starts[clicked], sizes[clicked], lambda r: 1.0 / r)
    out = {"auc": auc, "mrr": float(rr.sum() / n_pos)}
    gains = (2.0 ** y - 1.0)
    ideal_disc = 1.0 / np.log2(np.arange(2, len(y) + 2))
    ideal_gains = np.sort(gains)[::-1]
    for k in (5, 10):
        disc = _mean_over_ranks(starts[clicked], sizes[clicked],
                                lambda r, k=k: (r <= k) / np.log2(r + 1.0))
        dcg = float((gains[clicked] * disc).sum())
        idcg = float((ideal_gains[:k] * ideal_disc[:k]).sum())
        out[f"ndcg@{k}"] = dcg / idcg
    return out


def evaluate_impressions(scores: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None,
                         what: str = "impressions") -> dict:
    """Mean impression metrics over a log.

    Parameters
    ----------
    scores:
        One ``[n_candidates_i]`` float array per impression, candidates in the order shown.
    labels:
        One ``[n_candidates_i]`` 0/1 array per impression; ``None`` for an unlabeled log.
    what:
        Name of the data, used in error messages.

    Returns
    -------
    dict
        ``{"metrics": {"auc", "mrr", "ndcg@5", "ndcg@10"}, "n_impressions",
        "n_evaluated", "n_skipped_no_click", "n_skipped_no_nonclick"}``.

    Raises
    ------
    ValueError
        If ``labels`` is ``None`` (unlabeled data: write predictions with ``predict`` instead),
        if the lengths differ (naming the impression position), or if no impression has both a
        click and a non-click.
    """
    if labels is None:
        raise ValueError(f"{what} are unlabeled (impressions list bare news ids, no '-0'/'-1' "
                         f"labels), so there is nothing to evaluate against; use `lmrec news "
                         f"predict --out prediction.txt` to write a MIND submission file instead")
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} score lists for {len(labels)} impressions")
    sums = dict.fromkeys(METRICS, 0.0)
    n_eval = no_click = no_nonclick = 0
    for i, (s, y) in enumerate(zip(scores, labels)):
        if len(s) != len(y):
            raise ValueError(f"{what}: impression #{i} has {len(y)} candidates but {len(s)} scores")
        m = impression_metrics(s, y)
        if m is None:
            if int(np.sum(y)) == 0:
                no_click += 1
            else:
                no_nonclick += 1
            continue
        n_eval += 1
        for k in METRICS:
            sums[k] += m[k]
    if n_eval == 0:
        raise ValueError(f"{what}: no impression has both a click and a non-click; metrics undefined")
    return {"metrics": {k: v / n_eval for k, v in sums.items()}, "n_impressions": len(scores),
            "n_evaluated": n_eval, "n_skipped_no_click": no_click, "n_skipped_no_nonclick": no_nonclick}


def ranks_from_scores(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """1-based rank of each candidate (in the order given) by descending score — MIND submission format.

    Ties are broken by candidate position (earlier shown = better rank), so the ranks are a
    permutation of ``1 … n``.

    Returns
    -------
    numpy.ndarray
        ``[n_candidates]`` int64.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    order = np.lexsort((np.arange(len(s)), -s))
    ranks = np.empty(len(s), dtype=np.int64)
    ranks[order] = np.arange(1, len(s) + 1)
    return ranks


def format_prediction_line(impression_id: str, scores: Sequence[float] | np.ndarray) -> str:
    """``"<impression_id> [r1,r2,...]"`` — one line of MIND's ``prediction.txt``."""
    return f"{impression_id} [{','.join(str(int(r)) for r in ranks_from_scores(scores))}]"
