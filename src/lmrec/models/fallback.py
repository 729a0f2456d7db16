"""The one cold-user policy: what a user without usable history is recommended.

A case has **no usable history** when the model cannot learn anything about the user from it
(:meth:`lmrec.models.base.Recommender.has_usable_input`): the history is empty, or — for
models that read items only through their text — every history item has an empty text (a
zero vector). Scoring such a case with the model gives an arbitrary answer (SASRec's state
for a padding-only sequence, Embedding-KNN's all-zero user vector that ranks the first
catalog rows). Instead every entry point gives the same documented fallback:

* **training popularity** — items ranked by their number of training interactions (the
  ``pop`` baseline; ties broken by catalog order), flagged ``"fallback": "popularity"``;
* **profile text** when the caller gives one (``POST /recommend {"text": ...}``): the text is
  encoded and scored by the model like a history item, so no fallback is needed.

Models with other knowledge of a user (LightGCN's graph representation of a user with training
edges, a two-tower user text vector) override ``has_usable_input`` and are not overridden
here. Popularity itself (``pop``) ignores histories and never falls back.

:class:`PopularityFallback` applies the policy for ``lmrec recommend``
(:func:`lmrec.pipeline.recommend_for_user`), evaluation (:func:`lmrec.pipeline.evaluate_model`,
``lmrec evaluate``) and the service (:mod:`lmrec.serving.service` calls :meth:`usable_items`
and :func:`popularity_order`). Evaluation keeps its protocol: cases whose history is empty are
still dropped by the split (``split.report["n_cases_dropped_empty_history"]``); the cases
scored by the fallback are counted in ``metrics.json`` under ``extra.cold_users``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The flag written in outputs for a case answered by training popularity.
POPULARITY = "popularity"


def item_has_text(item_vectors: np.ndarray | None) -> np.ndarray | None:
    """``bool [n_items]``: rows of ``item_vectors`` (``float [n_items, dim]``) that are not all
    zero (empty texts are encoded as zero rows); ``None`` when there are no vectors."""
    if item_vectors is None:
        return None
    return np.abs(np.asarray(item_vectors)).sum(axis=1) > 0


def popularity_order(popularity: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
    """Item indices by decreasing ``popularity`` (``float [n]``), ties by increasing index.

    ``candidates`` (``int64 [m]``) restricts the order to those indices.
    """
    pop = np.asarray(popularity, dtype=np.float64)
    idx = np.arange(len(pop), dtype=np.int64) if candidates is None else np.asarray(candidates, dtype=np.int64)
    return idx[np.lexsort((idx, -pop[idx]))]


def as_numpy_scores(scores: Any) -> np.ndarray:
    """``float32`` numpy copy of a model's scores (a numpy array or a torch tensor on any device),
    without importing torch."""
    if type(scores).__module__.startswith("torch") and hasattr(scores, "detach"):
        scores = scores.detach().float().cpu().numpy()
    return np.asarray(scores, dtype=np.float32)


class PopularityFallback:
    """A model's scorer with the cold-user policy applied (see the module docstring).

    Callable as ``score_fn(users, histories)`` for
    :func:`lmrec.evaluation.ranking.evaluate_ranking`; :attr:`n_cases` and :attr:`n_fallback`
    count what it scored.

    Parameters
    ----------
    model:
        A fitted :class:`~lmrec.models.base.Recommender`.
    item_popularity:
        ``float [n_items]`` training interaction counts (``split.train_item_counts``).
    item_vectors:
        ``float32 [n_items, dim]`` the run's item text vectors (zero rows = empty text), or
        ``None`` for ID-only models.

    Raises
    ------
    ValueError
        If ``item_popularity`` is not a finite non-negative vector, or its length differs from
        the item vectors'.
    """

    policy = POPULARITY

    def __init__(self, model: Any, item_popularity: np.ndarray, item_vectors: np.ndarray | None = None):
        pop = np.asarray(item_popularity, dtype=np.float32)
        if pop.ndim != 1 or not np.isfinite(pop).all() or (pop < 0).any():
            raise ValueError(f"item_popularity must be a finite non-negative [n_items] vector, got shape {pop.shape}")
        self.model = model
        self.popularity = pop
        self.item_has_text = item_has_text(item_vectors)
        if self.item_has_text is not None and len(self.item_has_text) != len(pop):
            raise ValueError(f"{len(self.item_has_text)} item vectors for {len(pop)} items of item_popularity")
        self.n_cases = 0
        self.n_fallback = 0

    def needs_fallback(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``bool [b]``: cases without usable input for the model."""
        users = np.asarray(users, dtype=np.int64)
        return ~np.asarray(self.model.has_usable_input(users, histories, self.item_has_text), dtype=bool)

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Scores and flags for a batch.

        Returns
        -------
        scores:
            ``float32 [b, n_items]``: the model's scores, or for fallback cases the training
            interaction counts.
        fallback:
            ``bool [b]``: cases answered by popularity.
        """
        users = np.asarray(users, dtype=np.int64)
        fallback = self.needs_fallback(users, histories)
        out = np.empty((len(users), len(self.popularity)), dtype=np.float32)
        keep = np.flatnonzero(~fallback)
        if len(keep):
            scored = as_numpy_scores(self.model.score(users[keep], [histories[i] for i in keep]))
            if scored.shape != (len(keep), len(self.popularity)):
                raise ValueError(f"{self.model.name}: score returned shape {scored.shape}, expected "
                                 f"({len(keep)}, {len(self.popularity)})")
            out[keep] = scored
        out[fallback] = self.popularity
        self.n_cases += len(users)
        self.n_fallback += int(fallback.sum())
        return out, fallback

    def __call__(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        return self.score(users, histories)[0]

    def report(self) -> dict[str, Any]:
        """``{"policy": "popularity", "n_cases", "n_cases_fallback"}`` for result files."""
        return {"policy": self.policy, "n_cases": self.n_cases, "n_cases_fallback": self.n_fallback}
