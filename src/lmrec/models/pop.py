"""Most-popular baseline: every user gets the items with the most training interactions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lmrec.io import save_atomic_npy
from lmrec.models.base import Recommender, TrainData


class Pop(Recommender):
    """Scores each item by its number of training interactions (same list for everyone).

    Attributes
    ----------
    counts_:
        ``float32 [n_items]`` training interaction counts; cold items score 0.
    """

    name = "pop"
    history_input = "none"   # ignores histories: every case is scored the same way

    def fit(self, data: TrainData) -> "Pop":
        self.counts_ = data.split.train_item_counts.astype(np.float32)
        return self

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        return np.broadcast_to(self.counts_, (len(users), len(self.counts_))).copy()

    def _save_weights(self, path: Path) -> None:
        save_atomic_npy(path / "counts.npy", self.counts_)

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        self.counts_ = np.load(path / "counts.npy")
