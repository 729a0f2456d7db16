"""Embedding-KNN: the zero-training text baseline.

The user vector is the mean of the (L2-normalised) text vectors of the items in the
history; items are scored by cosine similarity to it. No parameter is learned, so it works
unchanged on cold-start items and unseen domains (the zero-shot baseline of ZESRec,
Ding et al., "Zero-Shot Recommender Systems", 2021).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmrec.models.base import Recommender, TrainData


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


class EmbeddingKNN(Recommender):
    """Cosine similarity between the mean history text vector and every item's text vector.

    Parameters
    ----------
    last_n:
        Use only the last ``last_n`` history items (``0`` = all).

    Attributes
    ----------
    item_vectors_:
        ``float32 [n_items, dim]`` L2-normalised text vectors (zero rows stay zero: items with
        empty text score 0).
    """

    name = "embknn"
    needs_item_vectors = True
    history_input = "text"

    def __init__(self, last_n: int = 0):
        super().__init__(last_n=last_n)

    def fit(self, data: TrainData) -> "EmbeddingKNN":
        if data.item_vectors is None:
            raise ValueError("embknn needs item text vectors (run with an encoder)")
        self.item_vectors_ = _normalise(np.asarray(data.item_vectors, dtype=np.float32))
        return self

    def user_vector(self, history_vectors: np.ndarray) -> np.ndarray:
        """``float32 [dim]`` user vector (not normalised) from the history's item vectors
        ``[h, dim]`` (oldest first): the mean of the last ``last_n`` rows (all when 0); zeros for
        an empty history. Used by serving (:mod:`lmrec.serving.space`); same direction as
        :meth:`score`'s user vector."""
        rows = np.asarray(history_vectors, dtype=np.float32).reshape(-1, self.item_vectors_.shape[1])
        n = self.config["last_n"]
        rows = rows[-n:] if n else rows
        return rows.mean(axis=0) if len(rows) else np.zeros(rows.shape[1], dtype=np.float32)

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        n = self.config["last_n"]
        user_vecs = np.stack([
            self.item_vectors_[h[-n:] if n else h].mean(axis=0) if len(h) else
            np.zeros(self.item_vectors_.shape[1], dtype=np.float32)
            for h in histories
        ])
        return _normalise(user_vecs) @ self.item_vectors_.T

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        if item_vectors is None:
            raise ValueError(f"{path}: embknn needs the item text vectors to load")
        self.item_vectors_ = _normalise(np.asarray(item_vectors, dtype=np.float32))
