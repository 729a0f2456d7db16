"""Late fusion of fitted recommenders: a weighted sum of their log-probabilities.

Text+ID models that add a text vector and an ID vector per item (``sasrec-text-id``,
``fusion``) generalise to item pairs never seen in training but give up part of what an
ID-only model memorises about the pairs it has seen (``bench/results/text_vs_id.md``, seen vs
unseen transitions). A late fusion keeps both: an ID-only model and a text model are trained
apart and their scores are combined per case,

``score(u, i) = Σ_m w_m · log_softmax_i(s_m(u, ·))``   with ``w_m ≥ 0``, ``Σ_m w_m = 1``,

i.e. a weighted product of the members' next-item distributions (a "product of experts",
Hinton 2002, *Training products of experts by minimizing contrastive divergence*). Taking the
log-softmax first puts members trained with a softmax loss over all items on one scale, so the
weights mean the same thing whatever each member's logit range. The weights are chosen on the
validation cases by :func:`tune_ensemble_weights`, never on test: a grid search over the simplex
``{w : w_m ≥ 0, Σ w_m = 1}`` that maximises a validation metric (NDCG@10 by default, the metric every
trained model early-stops on). Each member scores the validation cases once; the grid then re-ranks
the cached log-probabilities, so a search costs one validation pass per member plus one ranking pass
per grid point.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from lmrec.models.fallback import as_numpy_scores


def log_softmax_scores(scores: Any) -> np.ndarray:
    """Row-wise log-softmax of ``scores`` (``float [b, n_items]``, numpy or torch) as
    ``float32 [b, n_items]``, computed in float64 for stability.

    Raises
    ------
    ValueError
        If ``scores`` is not two-dimensional or holds a NaN or an infinity.
    """
    s = as_numpy_scores(scores).astype(np.float64)
    if s.ndim != 2:
        raise ValueError(f"scores must be [b, n_items], got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores hold NaN or infinite values; a member model returned non-finite scores")
    s = s - s.max(axis=1, keepdims=True)
    return (s - np.log(np.exp(s).sum(axis=1, keepdims=True))).astype(np.float32)


class ScoreEnsemble:
    """Weighted sum of fitted members' log-softmax scores (see the module docstring).

    Callable like a recommender's ``score`` (``score(users, histories)``), so
    :func:`lmrec.evaluation.ranking.evaluate_ranking` and the bench use it unchanged.

    Parameters
    ----------
    members:
        Two or more fitted :class:`~lmrec.models.base.Recommender` over the same catalogue
        (same internal item indices).
    weights:
        One non-negative weight per member, summing to 1 (a weight of 0 drops that member's
        scores but the member is still called).
    names:
        Optional display names of the members, all different (default: each member's ``name``,
        numbered ``name[i]`` when two members share one).

    Raises
    ------
    ValueError
        Fewer than two members, a weight count that differs from the member count, a
        negative or non-finite weight, weights that do not sum to 1 (±1e-6), or repeated names.
    """

    name = "ensemble"

    def __init__(self, members: Sequence[Any], weights: Sequence[float], names: Sequence[str] | None = None):
        members = list(members)
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least two member models, got {len(members)}")
        w = np.asarray(list(weights), dtype=np.float64)
        if w.shape != (len(members),):
            raise ValueError(f"{len(members)} members but {w.size} weights; give one weight per member")
        if not np.isfinite(w).all() or (w < 0).any() or abs(w.sum() - 1.0) > 1e-6:
            raise ValueError(f"ensemble weights must be ≥ 0 and sum to 1, got {w.tolist()}")
        self.members = members
        self.weights = w
        if names is None:
            names = [getattr(m, "name", type(m).__name__) for m in members]
            if len(set(names)) < len(names):    # e.g. two "sasrec" runs: number them in member order
                names = [f"{n}[{i}]" for i, n in enumerate(names)]
        self.names = list(names)
        if len(self.names) != len(members):
            raise ValueError(f"{len(members)} members but {len(self.names)} names")
        if len(set(self.names)) < len(self.names):
            raise ValueError(f"member names must differ, got {self.names}")

    def member_scores(self, users: np.ndarray, histories: list[np.ndarray]) -> list[np.ndarray]:
        """Each member's log-softmax scores: a list of ``float32 [b, n_items]``.

        Raises
        ------
        ValueError
            If the members' score widths (catalogue sizes) differ.
        """
        out = [log_softmax_scores(m.score(users, histories)) for m in self.members]
        widths = {s.shape[1] for s in out}
        if len(widths) > 1:
            raise ValueError(f"member models score different catalogue sizes {sorted(widths)}; "
                             "all members must be trained on the same dataset")
        return out

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``float32 [b, n_items]``: ``Σ_m w_m · log_softmax(member_m.score(users, histories))``."""
        return combine(self.member_scores(users, histories), self.weights)

    def has_usable_input(self, users: np.ndarray, histories: list[np.ndarray],
                         item_has_text: np.ndarray | None = None) -> np.ndarray:
        """``bool [b]``: cases that at least one member can score from its input."""
        usable = np.zeros(len(histories), dtype=bool)
        for m in self.members:
            usable |= np.asarray(m.has_usable_input(users, histories, item_has_text), dtype=bool)
        return usable

    def describe(self) -> dict[str, float]:
        """``{member name: weight}`` for result files."""
        return {n: round(float(w), 6) for n, w in zip(self.names, self.weights)}


def combine(log_probs: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """``float32 [b, n_items]``: ``Σ_m weights[m] · log_probs[m]`` (members' log-softmax scores)."""
    out = np.zeros_like(log_probs[0], dtype=np.float32)
    for lp, w in zip(log_probs, weights):
        if w:
            out += np.float32(w) * lp
    return out


@dataclass
class EnsembleFit:
    """Result of :func:`tune_ensemble_weights`.

    Attributes
    ----------
    ensemble:
        The :class:`ScoreEnsemble` with the chosen weights.
    metric:
        The validation metric maximised (e.g. ``"ndcg@10"``).
    best:
        Its value at the chosen weights.
    grid:
        One ``{"weights": [...], metric: value}`` per grid point, in grid order.
    """

    ensemble: ScoreEnsemble
    metric: str
    best: float
    grid: list[dict[str, Any]] = field(default_factory=list)


def weight_grid(n_members: int, step: float) -> np.ndarray:
    """``float64 [n_points, n_members]``: every weight vector on the simplex whose entries are
    multiples of ``step`` (``1/step`` must be a whole number), e.g. 11 points for two members
    and ``step=0.1``; the single-member corners are included.

    Raises
    ------
    ValueError
        If ``n_members < 2`` or ``1/step`` is not a positive whole number.
    """
    if n_members < 2:
        raise ValueError(f"a weight grid needs at least two members, got {n_members}")
    n = round(1.0 / step) if step > 0 else 0
    if n < 1 or abs(n * step - 1.0) > 1e-9:
        raise ValueError(f"step must divide 1 into whole parts (0.1, 0.05, 0.25, ...), got {step}")
    points = [c for c in itertools.product(range(n + 1), repeat=n_members - 1) if sum(c) <= n]
    return np.array([[*c, n - sum(c)] for c in points], dtype=np.float64) / n


#: Metric names :func:`lmrec.evaluation.ranking.evaluate_ranking` reports (``"<name>@K"``).
METRICS = ("recall", "ndcg", "mrr", "hit")


def metric_cutoff(metric: str) -> int:
    """The cut-off ``K`` of a validation metric name ``"<name>@K"`` (``name`` in :data:`METRICS`).

    Raises
    ------
    ValueError
        If ``metric`` is not of that form (e.g. ``"ndcg"``, ``"ndcg@x"``, ``"auc@10"``, ``"ndcg@0"``).
    """
    name, _, k = metric.partition("@")
    if name not in METRICS or not k.isdigit() or int(k) < 1:
        raise ValueError(f"unknown validation metric {metric!r}; give one of {', '.join(m + '@K' for m in METRICS)} "
                         "with a positive K, e.g. ndcg@10")
    return int(k)


def tune_ensemble_weights(members: Sequence[Any], eval_set: Any, n_items: int, *, exclude_history: bool,
                          names: Sequence[str] | None = None, step: float = 0.1, metric: str = "ndcg@10",
                          batch_size: int = 256) -> EnsembleFit:
    """Fit the fusion weights of ``members`` on ``eval_set`` (the validation cases).

    Parameters
    ----------
    members:
        Two or more fitted recommenders over the same ``n_items`` catalogue.
    eval_set:
        :class:`~lmrec.data.evalset.EvalSet` of validation cases (``split.valid``).
    n_items:
        Catalogue size.
    exclude_history:
        The validation protocol the members early-stopped with (history items removed from the
        candidates or kept).
    names:
        Display names of the members for the result (default: each member's ``name``).
    step:
        Grid resolution on the simplex (:func:`weight_grid`).
    metric:
        ``"recall@K"``, ``"ndcg@K"``, ``"mrr@K"`` or ``"hit@K"`` (:func:`metric_cutoff`).
    batch_size:
        Cases scored per call of each member.

    Returns
    -------
    :class:`EnsembleFit`. Ties on the metric go to the weights with the fewest members (a member
    that validation cannot tell from absent gets weight 0, so a served fusion leaves it out, e.g.
    an ID member that would block new items), then to those closest to uniform, then to the first
    in grid order.

    Memory: the members' validation log-probabilities are held at once,
    ``len(members) × len(eval_set) × n_items × 4`` bytes.

    Raises
    ------
    ValueError
        As :class:`ScoreEnsemble` and :func:`weight_grid`; if ``eval_set`` is empty; if
        ``metric`` is not one the evaluation reports.
    """
    from lmrec.evaluation.ranking import evaluate_ranking

    if len(eval_set) == 0:
        raise ValueError("no validation cases to fit the ensemble weights on")
    grid = weight_grid(len(members), step)          # checked before the members score anything
    k = metric_cutoff(metric)
    probe = ScoreEnsemble(members, np.full(len(members), 1.0 / len(members)), names)
    cached: list[list[np.ndarray]] = [[] for _ in members]
    for start in range(0, len(eval_set), batch_size):
        sl = slice(start, start + batch_size)
        for m, lp in enumerate(probe.member_scores(eval_set.users[sl], eval_set.histories[sl])):
            cached[m].append(lp)
    log_probs = [np.concatenate(c) for c in cached]
    rows: list[dict[str, Any]] = []
    for w in grid:
        cursor = [0]

        def score_fn(users: np.ndarray, histories: list[np.ndarray], w=w) -> np.ndarray:
            lo = cursor[0]
            cursor[0] += len(users)
            return combine([lp[lo:cursor[0]] for lp in log_probs], w)

        ev = evaluate_ranking(score_fn, eval_set, n_items, ks=(k,), exclude_history=exclude_history,
                              batch_size=batch_size)
        rows.append({"weights": [round(float(x), 6) for x in w], metric: float(ev["metrics"][metric])})
    values = np.array([r[metric] for r in rows])
    spread = np.abs(grid - 1.0 / len(members)).sum(axis=1)
    used = (grid > 0).sum(axis=1)
    best = int(np.lexsort((np.arange(len(rows)), spread, used, -values))[0])
    return EnsembleFit(ScoreEnsemble(members, grid[best], probe.names), metric, float(values[best]), rows)
