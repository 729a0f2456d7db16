"""Ranking evaluation of a scorer on an :class:`~lmrec.data.evalset.EvalSet`.

One entry point, :func:`evaluate_ranking`, with two candidate protocols:

* ``protocol="full"`` (default): every catalogue item is a candidate. Sampled metrics are
  inconsistent with their full-ranking counterparts and can even reverse the order of two
  models (Krichene & Rendle, 2020), so full ranking is what lmrec reports unless asked.
* ``protocol="sampled"``: each target is ranked against ``n_negatives`` sampled negatives, the
  protocol of many older papers; the output's ``protocol`` block says so.

Ranking rules
-------------
* **Pessimistic ties.** The rank of a target is ``#(candidates scored strictly higher) +
  #(other candidates scored equally)``, so a constant scorer gets no credit (optimistic or
  "first index wins" tie-breaking rewards degenerate scorers; see Sun et al., 2020).
* **Filtered targets.** With several targets per case, each target is ranked against the
  non-target candidates only: the other targets never count against it. Those filtered ranks
  are then turned into positions in one ranked list (:func:`~lmrec.evaluation.metrics.list_positions`:
  the ``j``-th best target gets ``filtered_rank + j``) so that Recall@K and NDCG@K keep their
  list meaning (``IDCG`` over ``min(|targets|, K)``, NDCG never above 1). With one target
  per case this is the plain rank.
* **History exclusion.** ``exclude_history=True`` removes the case's history items from the
  candidates. A target that is also in the history can then not be retrieved: it counts as a
  miss (it stays in ``|targets|``) and is reported in ``n_targets_in_history``.
  ``exclude_history=False`` keeps history items as candidates, which is RecBole's full-sort
  protocol for sequential models (its ``FullSortEvalDataLoader`` builds the history mask only
  for non-sequential models).
* Duplicate targets of a case are counted once.

References
----------
W. Krichene and S. Rendle, "On Sampled Metrics for Item Recommendation", KDD 2020.
W. X. Zhao et al., "RecBole: Towards a Unified, Comprehensive and Efficient Framework for
Recommendation Algorithms", CIKM 2021 (``recbole/evaluator``, full-sort evaluation).
Z. Sun et al., "A Re-evaluation of Knowledge Graph Completion Methods", ACL 2020 (tie-breaking).
A. Bordes et al., "Translating Embeddings for Modeling Multi-relational Data", NeurIPS 2013
("filtered" ranking).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from lmrec.data.evalset import EvalSet
from lmrec.evaluation.metrics import (
    UNREACHABLE,
    hit_rate_at_k,
    list_positions,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)

__all__ = ["evaluate_ranking", "history_length_slices", "ScoreFn"]

ScoreFn = Callable[[np.ndarray, list[np.ndarray]], Any]
"""``score_fn(users int64 [b], histories: b int64 arrays) -> float [b, n_items]`` (numpy or torch)."""

_METRICS = (("recall", recall_at_k), ("ndcg", ndcg_at_k), ("mrr", mrr_at_k), ("hit", hit_rate_at_k))
_SORT_ABOVE = 32          # targets per case above which ranks come from a sort, not comparisons
_METRIC_CHUNK = 8192      # cases per padded chunk when computing metrics


def evaluate_ranking(
    score_fn: ScoreFn,
    eval_set: EvalSet,
    n_items: int,
    *,
    ks: Sequence[int] = (5, 10, 20, 50),
    exclude_history: bool = True,
    protocol: str = "full",
    n_negatives: int = 100,
    negative_sampling: str = "uniform",
    item_popularity: np.ndarray | None = None,
    seed: int = 0,
    batch_size: int = 256,
    item_slices: Mapping[str, np.ndarray] | None = None,
    case_slices: Mapping[str, np.ndarray] | None = None,
    return_per_case: bool = False,
) -> dict[str, Any]:
    """Rank every case's targets with ``score_fn`` and average Recall/NDCG/MRR/HitRate@K.

    Parameters
    ----------
    score_fn:
        ``score_fn(users, histories) -> scores`` with ``users`` ``int64 [b]``, ``histories`` a
        list of ``b`` chronological ``int64`` item-index arrays, and ``scores``
        ``float [b, n_items]`` (a numpy array or a torch tensor, any device). Higher is better.
        Called once per batch of ``batch_size`` cases, in case order.
    eval_set:
        The cases: users, histories, targets (internal item indices ``0..n_items-1``).
    n_items:
        Catalogue size; the width of the score matrix.
    ks:
        Cut-offs ``K`` (positive integers; sorted and de-duplicated in the output).
    exclude_history:
        Remove history items from the candidates (targets in the history become misses).
    protocol:
        ``"full"`` (every item is a candidate) or ``"sampled"``.
    n_negatives:
        Sampled protocol only: negatives per case, shared by the case's targets, drawn
        without replacement among items that are neither in the history nor targets.
    negative_sampling:
        Sampled protocol only: ``"uniform"`` or ``"popularity"`` (probability proportional to
        ``item_popularity``).
    item_popularity:
        ``float [n_items]``, non-negative (e.g. training interaction counts); required for
        popularity sampling.
    seed:
        Seed of the negative sampler (``numpy.random.default_rng``); the same seed gives the
        same negatives whatever ``batch_size``.
    batch_size:
        Cases scored at once; memory is ``O(batch_size * n_items)``.
    item_slices:
        ``{name: bool [n_items]}``: per slice, only targets whose item is in the slice count
        (e.g. ``"cold_items"``); cases left without a target are left out of that slice.
    case_slices:
        ``{name: bool [n_cases]}``: per slice, only the selected cases (see
        :func:`history_length_slices`).
    return_per_case:
        Also return ``"per_case"``: ``{metric: float64 [n_cases]}`` in case order (for paired
        comparisons of two models on the same cases, e.g. a bootstrap interval of the difference).

    Returns
    -------
    dict
        ``{"protocol": {"candidates", "n_negatives", "negative_sampling", "seed",
        "exclude_history", "tie_breaking": "pessimistic", "target_ranking": "filtered",
        "ks"}, "n_cases", "n_targets", "n_targets_in_history", "metrics": {"recall@K",
        "ndcg@K", "mrr@K", "hit@K", ...}, "slices": {name: {"n_cases", "n_targets",
        "metrics"}}}``. Metric values are Python floats, means over cases; an empty slice
        has ``"metrics": {}``. ``n_negatives``, ``negative_sampling`` and ``seed`` are
        ``None`` under full ranking. ``n_targets_in_history`` counts targets also present in
        their case's history (misses only when ``exclude_history``).

    Raises
    ------
    ValueError
        On an empty eval set, an item index outside ``[0, n_items)``, a score matrix of the
        wrong shape, a NaN score (naming the user index), an unknown protocol or sampling
        scheme, too few items to sample negatives from, or a slice mask of the wrong shape.

    Examples
    --------
    >>> es = EvalSet(np.array([0]), [np.array([1])], [np.array([2])])
    >>> out = evaluate_ranking(lambda u, h: np.array([[0., 1., 3., 2.]]), es, 4, ks=(1,))
    >>> out["metrics"]["recall@1"]
    1.0
    """
    n_items = _check_positive_int(n_items, "n_items")
    batch_size = _check_positive_int(batch_size, "batch_size")
    ks_list = sorted({_check_positive_int(k, "every K in ks") for k in ks})
    if not ks_list:
        raise ValueError("ks is empty; pass at least one cut-off, e.g. ks=(10,)")
    if protocol not in ("full", "sampled"):
        raise ValueError(f"protocol must be 'full' or 'sampled', got {protocol!r}")
    n_cases = len(eval_set)
    if n_cases == 0:
        raise ValueError("eval_set has no cases")
    item_slices = _check_masks(item_slices, n_items, "item_slices", "n_items")
    case_slices = _check_masks(case_slices, n_cases, "case_slices", "n_cases")
    clash = set(item_slices) & set(case_slices)
    if clash:
        raise ValueError(f"slice names used in both item_slices and case_slices: {sorted(clash)}")

    histories = [np.asarray(h, dtype=np.int64).reshape(-1) for h in eval_set.histories]
    targets = [np.unique(np.asarray(t, dtype=np.int64)) for t in eval_set.targets]
    _check_item_range(eval_set.users, histories, "history", n_items)
    _check_item_range(eval_set.users, targets, "target", n_items)

    negatives = None
    if protocol == "sampled":
        n_negatives = _check_positive_int(n_negatives, "n_negatives")
        negatives = _sample_negatives(eval_set.users, histories, targets, n_items, n_negatives,
                                      negative_sampling, item_popularity, seed)

    # --- rank every target, batch by batch -------------------------------------------------
    rank_parts: list[np.ndarray] = []
    n_in_history = 0
    for start in range(0, n_cases, batch_size):
        stop = min(start + batch_size, n_cases)
        users_b = eval_set.users[start:stop]
        hist_b = histories[start:stop]
        tgt_b = targets[start:stop]
        scores = _to_numpy_scores(score_fn(users_b, hist_b), stop - start, n_items)
        _check_nan(scores, users_b, start)
        in_hist = _targets_in_history(hist_b, tgt_b, n_items)
        n_in_history += int(in_hist.sum())
        if negatives is None:
            ranks = _full_ranks(scores, hist_b, tgt_b, exclude_history)
        else:
            ranks = _sampled_ranks(scores, tgt_b, negatives[start:stop])
        if exclude_history:
            ranks[in_hist] = UNREACHABLE
        rank_parts.append(ranks)

    flat_ranks = np.concatenate(rank_parts)
    counts = np.array([len(t) for t in targets], dtype=np.int64)
    case_of = np.repeat(np.arange(n_cases, dtype=np.int64), counts)
    flat_items = np.concatenate(targets)

    # --- metrics ------------------------------------------------------------------------------
    per_case = _per_case_metrics(flat_ranks, case_of, n_cases, ks_list)
    all_cases = np.ones(n_cases, dtype=bool)
    result: dict[str, Any] = {
        "protocol": {
            "candidates": protocol,
            "n_negatives": n_negatives if protocol == "sampled" else None,
            "negative_sampling": negative_sampling if protocol == "sampled" else None,
            "seed": int(seed) if protocol == "sampled" else None,
            "exclude_history": bool(exclude_history),
            "tie_breaking": "pessimistic",
            "target_ranking": "filtered",
            "ks": ks_list,
        },
        "n_cases": n_cases,
        "n_targets": int(counts.sum()),
        "n_targets_in_history": n_in_history,
        "metrics": _summarise(per_case, all_cases),
        "slices": {},
    }
    for name, item_mask in item_slices.items():
        keep = item_mask[flat_items]
        sub_cases = np.unique(case_of[keep])
        sub_per_case = _per_case_metrics(flat_ranks[keep], np.searchsorted(sub_cases, case_of[keep]),
                                         len(sub_cases), ks_list)
        result["slices"][name] = {
            "n_cases": int(len(sub_cases)),
            "n_targets": int(keep.sum()),
            "metrics": _summarise(sub_per_case, np.ones(len(sub_cases), dtype=bool)),
        }
    for name, case_mask in case_slices.items():
        result["slices"][name] = {
            "n_cases": int(case_mask.sum()),
            "n_targets": int(counts[case_mask].sum()),
            "metrics": _summarise(per_case, case_mask),
        }
    if return_per_case:
        result["per_case"] = per_case
    return result


def history_length_slices(eval_set: EvalSet, bins: Sequence[int] = (5, 20)) -> dict[str, np.ndarray]:
    """Case masks by history length, for ``evaluate_ranking(case_slices=...)``.

    With edges ``b0 < b1 < ... < bm`` the slices are ``len < b0`` (``"hist_len<b0"``),
    ``b0 <= len <= b1`` (``"hist_len b0-b1"``), ``b(i-1) < len <= bi`` (``"hist_len
    b(i-1)+1-bi"``), and ``len > bm`` (``"hist_len>bm"``). The default gives ``"hist_len<5"``,
    ``"hist_len 5-20"`` and ``"hist_len>20"``. With a single edge ``b0`` the slices are
    ``"hist_len<b0"`` and ``"hist_len>=b0"``. The slices partition the cases.

    Parameters
    ----------
    eval_set:
        The cases.
    bins:
        Strictly increasing positive integer edges.

    Returns
    -------
    dict[str, np.ndarray]
        ``{label: bool [n_cases]}`` in increasing length order.

    Raises
    ------
    ValueError
        If ``bins`` is empty, not strictly increasing, or holds a non-positive edge.
    """
    edges = [int(b) for b in bins]
    if not edges or any(b < 1 for b in edges) or any(b >= c for b, c in zip(edges, edges[1:])):
        raise ValueError(f"bins must be strictly increasing positive integers, got {tuple(bins)}")
    lengths = np.array([len(h) for h in eval_set.histories], dtype=np.int64)
    out = {f"hist_len<{edges[0]}": lengths < edges[0]}
    if len(edges) == 1:
        out[f"hist_len>={edges[0]}"] = lengths >= edges[0]
        return out
    lo = edges[0]
    for i, hi in enumerate(edges[1:]):
        mask = (lengths >= edges[0]) & (lengths <= hi) if i == 0 else (lengths > edges[i]) & (lengths <= hi)
        out[f"hist_len {lo}-{hi}"] = mask
        lo = hi + 1
    out[f"hist_len>{edges[-1]}"] = lengths > edges[-1]
    return out


# --------------------------------------------------------------------------- validation

def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_masks(masks: Mapping[str, np.ndarray] | None, size: int, what: str,
                 size_name: str) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, mask in (masks or {}).items():
        m = np.asarray(mask)
        if m.dtype != bool or m.shape != (size,):
            raise ValueError(f"{what}[{name!r}] must be a bool array of shape ({size},) "
                             f"({size_name}), got dtype {m.dtype} shape {m.shape}")
        out[str(name)] = m
    return out


def _check_item_range(users: np.ndarray, arrays: list[np.ndarray], what: str, n_items: int) -> None:
    for i, a in enumerate(arrays):
        if len(a) and (a.min() < 0 or a.max() >= n_items):
            bad = int(a[(a < 0) | (a >= n_items)][0])
            raise ValueError(f"case {i} (user index {int(users[i])}): {what} item {bad} is outside "
                             f"[0, {n_items}); n_items must be the catalogue size used for the "
                             f"internal item indices")


def _to_numpy_scores(scores: Any, b: int, n_items: int) -> np.ndarray:
    """Writable float32/float64 copy of ``scores``; accepts torch tensors without importing torch."""
    if type(scores).__module__.startswith("torch") and hasattr(scores, "detach"):
        t = scores.detach()
        if str(t.dtype) not in ("torch.float32", "torch.float64"):
            t = t.float()
        scores = t.cpu().numpy()
    s = np.asarray(scores)
    if s.shape != (b, n_items):
        raise ValueError(f"score_fn returned shape {s.shape}, expected ({b}, {n_items}) "
                         f"= (cases in batch, n_items)")
    dtype = s.dtype if s.dtype in (np.float32, np.float64) else np.float64
    return np.array(s, dtype=dtype, copy=True)


def _check_nan(scores: np.ndarray, users: np.ndarray, start: int) -> None:
    bad = np.isnan(scores).any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        item = int(np.flatnonzero(np.isnan(scores[i]))[0])
        raise ValueError(f"score_fn returned NaN for user index {int(users[i])} (case {start + i}), "
                         f"item {item}; fix the model (NaN scores cannot be ranked)")


# --------------------------------------------------------------------------- ranking

def _row_keys(arrays: list[np.ndarray], n_items: int) -> np.ndarray:
    """``row * n_items + item`` for every item of every row."""
    rows = np.repeat(np.arange(len(arrays), dtype=np.int64), [len(a) for a in arrays])
    cols = np.concatenate(arrays) if arrays else np.empty(0, np.int64)
    return rows * n_items + cols


def _targets_in_history(hist_b: list[np.ndarray], tgt_b: list[np.ndarray], n_items: int) -> np.ndarray:
    """``bool`` per target (flat, case order): is it also in its case's history?"""
    return np.isin(_row_keys(tgt_b, n_items), _row_keys(hist_b, n_items))


def _full_ranks(scores: np.ndarray, hist_b: list[np.ndarray], tgt_b: list[np.ndarray],
                exclude_history: bool) -> np.ndarray:
    """Filtered pessimistic rank of every target (flat, case order) among all catalogue items."""
    b, n_items = scores.shape
    counts = np.array([len(t) for t in tgt_b], dtype=np.int64)
    t_rows = np.repeat(np.arange(b), counts)
    t_cols = np.concatenate(tgt_b)
    t_scores = scores[t_rows, t_cols]
    # Non-candidates become NaN: NaN >= x is False, so they are never counted.
    cand = scores
    cand[t_rows, t_cols] = np.nan
    if exclude_history:
        h_counts = [len(h) for h in hist_b]
        cand[np.repeat(np.arange(b), h_counts), np.concatenate(hist_b)] = np.nan
    # rank = #(candidates with score >= target score): strictly higher plus ties.
    ranks = np.empty(len(t_cols), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    t_pad = np.full((b, int(counts.max())), np.nan, dtype=scores.dtype)
    t_pad[t_rows, np.arange(len(t_cols)) - offsets[t_rows]] = t_scores
    many = counts > _SORT_ABOVE
    for row in np.flatnonzero(many):   # many targets: one sort, then binary search
        c = cand[row][~np.isnan(cand[row])]
        c.sort()
        ts = t_scores[offsets[row]:offsets[row + 1]]
        ranks[offsets[row]:offsets[row + 1]] = len(c) - np.searchsorted(c, ts, side="left")
    for j in range(min(int(counts.max()), _SORT_ABOVE)):
        rows = np.flatnonzero((counts > j) & ~many)
        if len(rows) == 0:
            continue
        ranks[offsets[rows] + j] = (cand[rows] >= t_pad[rows, j, None]).sum(axis=1)
    return ranks


def _sampled_ranks(scores: np.ndarray, tgt_b: list[np.ndarray], negs: np.ndarray) -> np.ndarray:
    """Pessimistic rank of every target (flat, case order) among its case's sampled negatives."""
    counts = np.array([len(t) for t in tgt_b], dtype=np.int64)
    t_rows = np.repeat(np.arange(len(tgt_b)), counts)
    t_scores = scores[t_rows, np.concatenate(tgt_b)]
    neg_scores = np.take_along_axis(scores, negs, axis=1)            # [b, n_negatives]
    return (neg_scores[t_rows] >= t_scores[:, None]).sum(axis=1).astype(np.int64)


def _sample_negatives(users: np.ndarray, histories: list[np.ndarray], targets: list[np.ndarray],
                      n_items: int, n_negatives: int, scheme: str, popularity: np.ndarray | None,
                      seed: int) -> np.ndarray:
    """``int64 [n_cases, n_negatives]`` distinct negatives per case, outside history and targets.

    Draws with replacement from the base distribution and keeps first occurrences of allowed
    items, which is sampling without replacement proportional to the base distribution
    restricted to the allowed items. Cases are processed in order with one generator, so the
    result depends only on ``seed`` and the eval set.
    """
    if scheme == "uniform":
        cdf = None
        positive = np.ones(n_items, dtype=bool)
    elif scheme == "popularity":
        if popularity is None:
            raise ValueError("negative_sampling='popularity' needs item_popularity (float [n_items], "
                             "e.g. training interaction counts per item)")
        p = np.asarray(popularity, dtype=np.float64)
        if p.shape != (n_items,) or not np.isfinite(p).all() or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"item_popularity must be finite, non-negative, not all zero, with shape "
                             f"({n_items},); got shape {p.shape}")
        cdf = np.cumsum(p)
        cdf /= cdf[-1]          # exactly 1.0 at the end, so a draw in [0, 1) never falls off
        positive = p > 0
    else:
        raise ValueError(f"negative_sampling must be 'uniform' or 'popularity', got {scheme!r}")
    rng = np.random.default_rng(seed)
    out = np.empty((len(users), n_negatives), dtype=np.int64)
    for i, (h, t) in enumerate(zip(histories, targets)):
        banned = np.union1d(h, t)
        n_allowed = int(positive.sum() - positive[banned].sum())
        if n_allowed < n_negatives:
            raise ValueError(f"case {i} (user index {int(users[i])}): only {n_allowed} items can be "
                             f"sampled as negatives, {n_negatives} asked; lower n_negatives or use "
                             f"protocol='full'")
        chosen = np.empty(0, dtype=np.int64)
        for _ in range(20):
            need = n_negatives - len(chosen)
            if need == 0:
                break
            draw_n = 2 * need + 16
            draw = (rng.integers(0, n_items, draw_n) if cdf is None
                    else np.searchsorted(cdf, rng.random(draw_n), side="right"))
            draw = draw[~np.isin(draw, banned) & ~np.isin(draw, chosen)]
            _, first = np.unique(draw, return_index=True)
            chosen = np.concatenate([chosen, draw[np.sort(first)][:need]])
        need = n_negatives - len(chosen)
        if need:   # allowed mass is tiny: draw exactly from what is left
            allowed = np.setdiff1d(np.flatnonzero(positive), np.union1d(banned, chosen))
            w = None if cdf is None else np.asarray(popularity, dtype=np.float64)[allowed]
            chosen = np.concatenate([chosen, rng.choice(allowed, need, replace=False,
                                                        p=None if w is None else w / w.sum())])
        out[i] = chosen
    return out


# --------------------------------------------------------------------------- metrics

def _per_case_metrics(flat_ranks: np.ndarray, case_of: np.ndarray, n_cases: int,
                      ks: list[int]) -> dict[str, np.ndarray]:
    """``{"recall@K": float64 [n_cases], ...}`` from flat filtered ranks sorted by case."""
    out = {f"{name}@{k}": np.empty(n_cases, dtype=np.float64) for k in ks for name, _ in _METRICS}
    bounds = np.searchsorted(case_of, np.arange(0, n_cases + _METRIC_CHUNK, _METRIC_CHUNK))
    for c, start in enumerate(range(0, n_cases, _METRIC_CHUNK)):
        stop = min(start + _METRIC_CHUNK, n_cases)
        lo, hi = bounds[c], bounds[c + 1]
        rows = case_of[lo:hi] - start
        counts = np.bincount(rows, minlength=stop - start)
        offsets = np.concatenate([[0], np.cumsum(counts)])
        padded = np.full((stop - start, int(counts.max())), -1, dtype=np.int64)
        padded[rows, np.arange(hi - lo) - offsets[rows]] = flat_ranks[lo:hi]
        positions = list_positions(padded)
        for k in ks:
            for name, fn in _METRICS:
                out[f"{name}@{k}"][start:stop] = fn(positions, k)
    return out


def _summarise(per_case: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, float]:
    if not mask.any():
        return {}
    return {name: float(values[mask].mean()) for name, values in per_case.items()}
