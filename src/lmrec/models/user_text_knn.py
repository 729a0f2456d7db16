"""User-text KNN: recommend to a user what the users with the most similar text consumed.

The cold-start-user baseline that needs no training: user-based collaborative filtering
(Herlocker et al., SIGIR 1999) where the neighbourhood comes from cosine similarity of the
users' *text* vectors (profile words, tags; :mod:`lmrec.data.user_text`) instead of their
ratings, so it works for users with no interaction at all. Users flagged as having no text
are never neighbours; a user without text (or without any neighbour) gets popularity.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmrec.io import save_atomic_npy
from lmrec.models.base import Recommender, TrainData


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


class UserTextKNN(Recommender):
    """Score = Σ over the ``neighbours`` most similar warm users of ``sim⁺ × [item in their train]``,
    plus ``1e-6 ×`` item popularity as tie-breaker.

    Parameters
    ----------
    neighbours:
        Neighbourhood size.

    Attributes
    ----------
    user_vectors_:
        ``float32 [n_users, dim]`` L2-normalised text vectors (set with :meth:`set_user_vectors`).
    """

    name = "user-text-knn"
    has_user_state = True    # a text vector per user index
    history_input = "none"   # scores from the user's text (popularity when it has none)

    def __init__(self, neighbours: int = 50):
        if neighbours < 1:
            raise ValueError(f"neighbours must be ≥ 1, got {neighbours}")
        super().__init__(neighbours=neighbours)
        self.user_vectors_: np.ndarray | None = None
        self.user_fallback_: np.ndarray | None = None

    def set_user_vectors(self, vectors: np.ndarray, fallback: np.ndarray | None = None) -> "UserTextKNN":
        """``float32 [n_users, dim]`` user text vectors and ``bool [n_users]`` no-text flags."""
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2 or not np.isfinite(v).all():
            raise ValueError("user vectors must be a finite [n_users, dim] matrix")
        self.user_vectors_ = _normalise(v)
        self.user_fallback_ = np.zeros(len(v), bool) if fallback is None else np.asarray(fallback, bool)
        return self

    def fit(self, data: TrainData) -> "UserTextKNN":
        if self.user_vectors_ is None:
            raise ValueError("user-text-knn needs user text vectors: call set_user_vectors() before fit()")
        split = data.split
        if len(self.user_vectors_) != split.n_users:
            raise ValueError(f"user vectors have {len(self.user_vectors_)} rows for {split.n_users} users")
        self.pop_ = split.train_item_counts.astype(np.float32)
        self.neighbour_pool_ = np.flatnonzero(np.array([len(t) > 0 for t in split.train]) & ~self.user_fallback_)
        n_items = split.n_items
        self.user_items_ = np.zeros((len(self.neighbour_pool_), n_items), dtype=np.float32)
        for row, u in enumerate(self.neighbour_pool_):
            self.user_items_[row, np.unique(split.train[u])] = 1.0
        return self

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        out = np.broadcast_to(1e-6 * self.pop_ / max(1.0, float(self.pop_.max())),
                              (len(users), len(self.pop_))).copy()
        if len(self.neighbour_pool_) == 0:
            return out
        sims = self.user_vectors_[users] @ self.user_vectors_[self.neighbour_pool_].T       # [b, n_pool]
        sims[self.neighbour_pool_[None, :] == users[:, None]] = -np.inf                   # never oneself
        k = min(self.config["neighbours"], sims.shape[1])
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.maximum(np.take_along_axis(sims, top, axis=1), 0.0)
        w[self.user_fallback_[users]] = 0.0                                                  # no text → popularity
        for r in range(len(users)):
            out[r] += w[r] @ self.user_items_[top[r]]
        return out

    def _save_weights(self, path: Path) -> None:
        save_atomic_npy(path / "user_vectors.npy", self.user_vectors_)
        save_atomic_npy(path / "user_fallback.npy", self.user_fallback_)
