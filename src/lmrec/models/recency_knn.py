"""Recency-weighted history similarity: a zero-training text baseline between mean-of-history
and last-item.

The user vector is an exponentially decayed sum of the (L2-normalised) text vectors of the
history, newest item weighted most; items are scored by cosine similarity to it:

    u = Σ_k exp(-λ k) · v_{h[-1-k]}  (k = 0 for the last item),   score_i = cos(u, v_i).

``λ = 0`` is mean-of-history (:class:`~lmrec.models.embknn.EmbeddingKNN`, the ZESRec paper's
zero-shot baseline); ``λ → ∞`` is :class:`~lmrec.models.last_item.LastItemKNN`. Exponential time
decay of past interactions is the classic recency weighting of memory-based recommenders (Ding &
Li, "Time weight collaborative filtering", CIKM 2005). No parameter is learned from the training
interactions; by default λ is the only choice made, on the validation cases.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lmrec.io import save_atomic_npy
from lmrec.models.base import Recommender, TrainData
from lmrec.models.embknn import _normalise

#: Decays tried on the validation cases when ``decay=None`` (per history position; ``inf`` = last item).
DECAY_GRID: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, math.inf)
#: Decay used when ``decay=None`` and the split has no validation case (half-life ≈ 1.4 positions).
FALLBACK_DECAY = 0.5


def recency_weights(n: int, decay: float) -> np.ndarray:
    """``float32 [n]`` weights of history positions, oldest first: ``exp(-decay · k)`` for the item
    ``k`` positions before the last (the last item weighs 1; ``decay = inf`` keeps it alone)."""
    w = np.zeros(n, dtype=np.float64)
    if n:
        w[-1] = 1.0
        if n > 1 and math.isfinite(decay):
            w[:-1] = np.exp(-decay * np.arange(n - 1, 0, -1, dtype=np.float64))
    return w.astype(np.float32)


class RecencyKNN(Recommender):
    """Cosine similarity between an exponentially recency-weighted history vector and every item.

    Parameters
    ----------
    decay:
        λ ≥ 0, per history position: the item ``k`` positions before the last weighs
        ``exp(-λ k)`` (half-life ``ln 2 / λ`` positions). ``0`` = mean of the history,
        ``float("inf")`` = last item only. ``None`` (default): chosen in :meth:`fit` from
        :data:`DECAY_GRID` by NDCG@10 on the split's validation cases under the run's protocol
        (``TrainData.exclude_history``), the smallest decay on ties; :data:`FALLBACK_DECAY` when
        the split has no validation case.

    Attributes
    ----------
    item_vectors_:
        ``float32 [n_items, dim]`` L2-normalised text vectors (zero rows stay zero).
    decay_:
        The decay in use (``float``; the given one, or the one chosen on validation).

    Raises
    ------
    ValueError
        If ``decay`` is negative, NaN or not a number.
    """

    name = "recency-knn"
    needs_item_vectors = True
    sequential = True   # recency needs an order
    history_input = "text"  # only history items with text move the user vector

    def __init__(self, decay: float | None = None):
        if decay is not None:
            try:
                decay = float(decay)
            except (TypeError, ValueError):
                raise ValueError(f"recency-knn: decay must be a number ≥ 0 (or inf), got {decay!r}") from None
            if not decay >= 0:
                raise ValueError(f"recency-knn: decay must be ≥ 0 (0 = mean of history, inf = last item), "
                                 f"got {decay!r}")
        super().__init__(decay=None if decay is None else _json_decay(decay))

    def user_vector(self, history_vectors: np.ndarray) -> np.ndarray:
        """``float32 [dim]`` user vector (not normalised) from the history's item vectors
        ``[h, dim]`` (oldest first): ``Σ_k exp(-decay_ · k) · row_{-1-k}`` over the rows that are
        not all zero (items without text carry no vector and take no position). Shared with
        serving (:mod:`lmrec.serving.space`)."""
        rows = np.asarray(history_vectors, dtype=np.float32)
        rows = rows[np.abs(rows).sum(axis=1) > 0]
        if len(rows) == 0:
            return np.zeros(np.asarray(history_vectors).shape[-1], dtype=np.float32)
        return (recency_weights(len(rows), self.decay_) @ rows).astype(np.float32)

    def fit(self, data: TrainData) -> "RecencyKNN":
        """Keep the normalised text vectors; choose the decay on validation when not given.

        Raises
        ------
        ValueError
            If ``data.item_vectors`` is ``None`` (run with a text encoder).
        """
        if data.item_vectors is None:
            raise ValueError("recency-knn needs item text vectors (run with an encoder)")
        self.item_vectors_ = _normalise(np.asarray(data.item_vectors, dtype=np.float32))
        if self.config["decay"] is not None:
            self.decay_ = float(self.config["decay"])
            self.history_ = {"decay": _json_decay(self.decay_), "decay_chosen_by": "given"}
            return self
        valid = data.split.valid
        if len(valid) == 0:
            self.decay_ = FALLBACK_DECAY
            self.history_ = {"decay": FALLBACK_DECAY, "decay_chosen_by": "fallback (no validation case)"}
            return self
        from lmrec.evaluation.ranking import evaluate_ranking

        ndcg = []
        for decay in DECAY_GRID:
            self.decay_ = decay
            out = evaluate_ranking(self.score, valid, self.item_vectors_.shape[0], ks=(10,),
                                   exclude_history=data.exclude_history, batch_size=1024)
            ndcg.append(out["metrics"]["ndcg@10"])
        best = int(np.argmax(ndcg))                 # first maximum = smallest decay on ties
        self.decay_ = DECAY_GRID[best]
        self.history_ = {"decay": _json_decay(self.decay_),
                         "decay_chosen_by": f"valid ndcg@10 ({len(valid)} cases, "
                                            f"{'history excluded' if data.exclude_history else 'history kept'})",
                         "decay_grid": [_json_decay(d) for d in DECAY_GRID],
                         "valid_ndcg@10": [round(float(v), 5) for v in ndcg]}
        return self

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``float32 [b, n_items]`` cosine of every item to each case's recency-weighted history
        vector (:meth:`user_vector`); a history without any item with text scores every item 0."""
        vecs = self.item_vectors_
        user = np.zeros((len(histories), vecs.shape[1]), dtype=np.float32)
        for row, h in enumerate(histories):
            if len(h):
                user[row] = self.user_vector(vecs[np.asarray(h, dtype=np.int64)])
        return (_normalise(user) @ vecs.T).astype(np.float32)

    def _save_weights(self, path: Path) -> None:
        save_atomic_npy(path / "decay.npy", np.array([self.decay_], dtype=np.float64))

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        if item_vectors is None:
            raise ValueError(f"{path}: recency-knn needs the item text vectors to load")
        self.item_vectors_ = _normalise(np.asarray(item_vectors, dtype=np.float32))
        saved = path / "decay.npy"
        if saved.exists():
            self.decay_ = float(np.load(saved)[0])
        elif self.config["decay"] is not None:
            self.decay_ = float(self.config["decay"])
        else:
            raise FileNotFoundError(f"{saved} is missing: the decay chosen on validation was not saved; "
                                    "re-run `lmrec train` or pass --param decay=…")


def _json_decay(decay: float) -> float | str:
    """The decay as a JSON value (``"inf"`` for infinity, which strict JSON cannot hold)."""
    return decay if math.isfinite(decay) else "inf"
