"""Last-item text similarity: the zero-training baseline that only looks at the latest item.

Every item is scored by the cosine between its text vector and the text vector of the **last**
item of the user's history. Nothing is learned, so it runs unchanged on cold-start items and on
unseen domains. It is the one-step "item-to-item" recommender (Linden, Smith & York, "Amazon.com
recommendations: item-to-item collaborative filtering", IEEE Internet Computing 2003) with
content vectors in place of co-occurrence, and the limit ``decay → ∞`` of
:class:`~lmrec.models.recency_knn.RecencyKNN`; :class:`~lmrec.models.embknn.EmbeddingKNN` is the
other limit (mean of the whole history).

On Amazon Scientific (UniSRec files, all-MiniLM-L6-v2 vectors, full ranking) an outside check
measured R@10 0.0990 / N@10 0.0528 with history kept and 0.1016 / 0.0682 with history excluded,
above mean-of-history Embedding-KNN (0.0731): for next-item prediction the latest item carries
most of the signal (see ``bench/results/zero_training.md`` for lmrec's own rows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmrec.models.base import Recommender, TrainData
from lmrec.models.embknn import _normalise


class LastItemKNN(Recommender):
    """Cosine similarity between each item's text vector and the last history item's.

    ``score(u, h)[i] = cos(v_i, v_{h[-1]})``, where ``h[-1]`` is the last history item that has
    text (items without text have a zero vector and are skipped); a history without such an item
    scores every item 0. With the history kept among the candidates, the last item itself
    (cosine 1) and its text duplicates come first.

    Attributes
    ----------
    item_vectors_:
        ``float32 [n_items, dim]`` L2-normalised text vectors (zero rows stay zero: items with
        empty text score 0).
    """

    name = "last-item"
    needs_item_vectors = True
    sequential = True   # "last" needs an order
    history_input = "text"  # only history items with text are read

    def fit(self, data: TrainData) -> "LastItemKNN":
        """Keep the normalised item text vectors; nothing is learned.

        Raises
        ------
        ValueError
            If ``data.item_vectors`` is ``None`` (run with a text encoder).
        """
        if data.item_vectors is None:
            raise ValueError("last-item needs item text vectors (run with an encoder)")
        self.item_vectors_ = _normalise(np.asarray(data.item_vectors, dtype=np.float32))
        return self

    @staticmethod
    def user_vector(history_vectors: np.ndarray) -> np.ndarray:
        """``float32 [dim]`` user vector from the history's item vectors ``[h, dim]`` (oldest
        first): the last row that is not all zero (items without text carry no vector and are
        skipped); zeros when there is none. Shared with serving (:mod:`lmrec.serving.space`)."""
        rows = np.asarray(history_vectors, dtype=np.float32)
        nonzero = np.flatnonzero(np.abs(rows).sum(axis=1) > 0) if rows.ndim == 2 else np.zeros(0, dtype=np.int64)
        if len(nonzero) == 0:
            return np.zeros(rows.shape[-1], dtype=np.float32)
        return rows[nonzero[-1]].copy()

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``float32 [b, n_items]`` cosine of every item to each case's last history item (the last
        one with text); a history without any item with text scores every item 0."""
        vecs = self.item_vectors_
        user = np.zeros((len(histories), vecs.shape[1]), dtype=np.float32)
        for row, h in enumerate(histories):
            if len(h):
                user[row] = self.user_vector(vecs[np.asarray(h, dtype=np.int64)])
        return (user @ vecs.T).astype(np.float32)

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        if item_vectors is None:
            raise ValueError(f"{path}: last-item needs the item text vectors to load")
        self.item_vectors_ = _normalise(np.asarray(item_vectors, dtype=np.float32))
