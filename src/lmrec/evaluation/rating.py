"""Rating prediction protocol: random 80/10/10 split of (user, item) pairs, RMSE and MAE.

As in U-BERT (Qiu et al., "U-BERT: Pre-training User Representations for Improved
Recommendation", AAAI 2021, Sec. "Experiments") and the review-based rating literature
(DeepCoNN, NARRE): the observed (user, item) pairs are shuffled with a seed and cut into
train / valid / test (80 / 10 / 10 %); models predict the star rating of held-out pairs.

Review leakage. A review-based model may read the reviews of *training* pairs only. The
review of a valid/test pair — and any repeated review of the same pair (Amazon 5-core files
repeat some lines) — must never be among its inputs; :func:`assert_no_review_leak` checks
that and raises :class:`ReviewLeakError` otherwise. Repeated (user, item) rows are collapsed
to their first row before splitting (counted in the split report), so one pair is never on
both sides of the cut.

This module scores what it is given (splits, leak checks, RMSE/MAE); the job that encodes
reviews, trains a model and writes ``metrics.json`` is
:func:`lmrec.rating_pipeline.run_rating_experiment`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from lmrec.data.dataset import RecDataset


class ReviewLeakError(AssertionError):
    """A held-out pair's review is among a model's inputs."""


def rmse(pred: np.ndarray, target: np.ndarray) -> float:
    """Root mean squared error (rating units). Raises ``ValueError`` on empty or mismatched input."""
    pred, target = _pair(pred, target)
    return float(np.sqrt(np.mean((pred - target) ** 2)))


def mae(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute error (rating units). Raises ``ValueError`` on empty or mismatched input."""
    pred, target = _pair(pred, target)
    return float(np.mean(np.abs(pred - target)))


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    if pred.shape != target.shape or pred.size == 0:
        raise ValueError(f"need equally long non-empty arrays, got {pred.shape} and {target.shape}")
    if not np.isfinite(pred).all():
        raise ValueError(f"{int((~np.isfinite(pred)).sum())} prediction(s) are NaN or infinite")
    return pred, target


@dataclass
class RatingSplit:
    """Random split of (user, item) pairs.

    Attributes
    ----------
    rows:
        ``{"train" | "valid" | "test": int64 [n_part]}`` interaction row numbers (one row per
        pair: the first row of a repeated pair).
    users, items, ratings:
        ``int64 [n_interactions]`` user / item index and ``float64`` rating of every
        interaction row (index with ``rows[part]``).
    n_users, n_items:
        Sizes of the dataset's id maps.
    report:
        Seed, fractions, counts and the number of repeated rows dropped.
    """

    rows: dict[str, np.ndarray]
    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    n_users: int
    n_items: int
    report: dict[str, Any] = field(default_factory=dict)

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(users int64 [n], items int64 [n], ratings float32 [n])`` of ``"train" | "valid" | "test"``."""
        r = self.rows[name]
        return self.users[r], self.items[r], self.ratings[r].astype(np.float32)


def split_rating_pairs(dataset: RecDataset, seed: int = 0, fractions: Sequence[float] = (0.8, 0.1, 0.1)
                       ) -> RatingSplit:
    """Seeded random 80/10/10 split of the dataset's distinct (user, item) pairs.

    Raises
    ------
    ValueError
        If the dataset has no ratings, a rating is missing (row named), the fractions do not
        sum to 1, or there are fewer than 10 pairs.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or (fr <= 0).any() or abs(fr.sum() - 1.0) > 1e-9:
        raise ValueError(f"fractions must be three positive shares summing to 1, got {list(fractions)}")
    ratings = dataset.interactions["rating"].to_numpy(dtype=np.float64)
    if np.isnan(ratings).all():
        raise ValueError(f"dataset {dataset.name!r} has no ratings; rating prediction needs explicit ratings")
    if np.isnan(ratings).any():
        row = int(np.flatnonzero(np.isnan(ratings))[0])
        raise ValueError(f"dataset {dataset.name!r}: interaction row {row} has no rating "
                         f"({int(np.isnan(ratings).sum())} rows in all)")
    users, items = dataset.user_index, dataset.item_index
    key = users.astype(np.int64) * dataset.n_items + items
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    if len(first) < 10:
        raise ValueError(f"dataset {dataset.name!r} has only {len(first)} distinct (user, item) pairs")
    perm = np.random.default_rng(seed).permutation(first)
    n_train = int(round(fr[0] * len(perm)))
    n_valid = int(round(fr[1] * len(perm)))
    rows = {"train": np.sort(perm[:n_train]), "valid": np.sort(perm[n_train:n_train + n_valid]),
            "test": np.sort(perm[n_train + n_valid:])}
    report = {"name": "random-pairs", "seed": seed, "fractions": fr.tolist(), "n_pairs": int(len(first)),
              "n_repeated_rows_dropped": int(len(key) - len(first)),
              "repeated_pair_policy": "first row of a repeated (user, item) pair kept, the others dropped",
              **{f"n_{k}": int(len(v)) for k, v in rows.items()}}
    return RatingSplit(rows, users.astype(np.int64), items.astype(np.int64), ratings, dataset.n_users,
                       dataset.n_items, report)


def training_review_rows(split: RatingSplit, *, max_per_user: int = 16, max_per_item: int = 32,
                         timestamps: np.ndarray | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Rows whose reviews a model may read: each user's and each item's *training* reviews.

    Parameters
    ----------
    split:
        The pair split.
    max_per_user, max_per_item:
        Caps (the most recent rows by ``timestamps``, else by row order, are kept).
    timestamps:
        ``float64 [n_interactions]`` review times (NaN = unknown, sorted first).

    Returns
    -------
    by_user, by_item:
        ``n_users`` / ``n_items`` ``int64`` arrays of training row numbers, oldest first.
    """
    train = split.rows["train"]
    t = np.zeros(len(split.users)) if timestamps is None else np.nan_to_num(timestamps, nan=-np.inf)
    order = train[np.lexsort((train, t[train]))]
    by_user: list[list[int]] = [[] for _ in range(split.n_users)]
    by_item: list[list[int]] = [[] for _ in range(split.n_items)]
    for r in order:
        by_user[split.users[r]].append(int(r))
        by_item[split.items[r]].append(int(r))
    return ([np.asarray(x[-max_per_user:], dtype=np.int64) for x in by_user],
            [np.asarray(x[-max_per_item:], dtype=np.int64) for x in by_item])


def assert_no_review_leak(split: RatingSplit, input_rows: Sequence[np.ndarray], parts: Sequence[str] = ("valid", "test"),
                          all_users: np.ndarray | None = None, all_items: np.ndarray | None = None) -> None:
    """Check that no valid/test pair's review is among the model inputs.

    Parameters
    ----------
    split:
        The pair split.
    input_rows:
        Arrays of interaction row numbers whose reviews are fed to the model (e.g. both lists
        of :func:`training_review_rows`).
    parts:
        Held-out parts to check.
    all_users, all_items:
        ``int64 [n_interactions]`` user/item index of *every* interaction row including the
        dropped repeats (default: the split's own arrays), so a repeated copy of a held-out
        pair is caught too.

    Raises
    ------
    ReviewLeakError
        Naming the first leaking row and its (user, item) indices.
    """
    users = split.users if all_users is None else all_users
    items = split.items if all_items is None else all_items
    n_items = split.n_items
    used = np.unique(np.concatenate([np.asarray(r, dtype=np.int64) for r in input_rows] or [np.zeros(0, np.int64)]))
    used_keys = users[used] * n_items + items[used]
    for part in parts:
        held = split.rows[part]
        held_keys = users[held] * n_items + items[held]
        same_row = np.intersect1d(used, held)
        same_pair = np.isin(used_keys, held_keys)
        if same_row.size or same_pair.any():
            r = int(same_row[0]) if same_row.size else int(used[np.flatnonzero(same_pair)[0]])
            raise ReviewLeakError(f"review of {part} pair (user {users[r]}, item {items[r]}) at interaction row {r} "
                                  f"is among the model inputs; only training reviews may be read")
