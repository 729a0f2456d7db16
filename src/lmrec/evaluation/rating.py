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
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
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


# ------------------------------------------------------------------------------- experiment

RATING_MODELS = ("global-mean", "mf", "ubert")


@dataclass
class RatingResult:
    """Return value of :func:`run_rating_experiment`."""

    metrics: dict[str, Any]
    model: Any
    split: RatingSplit


def encode_reviews(dataset: RecDataset, *, max_length: int = 128, cache_dir: str | Path | None = None,
                   show_progress: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """PLM vectors of every review (``summary. reviewText``), through the embedding cache.

    Returns
    -------
    vectors:
        ``float32 [n_interactions, dim]`` (zero rows for empty reviews).
    report:
        ``{"encoder", "n_reviews", "n_empty", "n_truncated", "max_tokens", "wall_s"}``.

    Raises
    ------
    ValueError
        If the dataset has neither ``review_text`` nor ``summary``.
    """
    from lmrec.data.user_text import review_text
    from lmrec.encoders.cache import encode_cached
    from lmrec.encoders.factory import load_encoder

    inter = dataset.interactions
    if "review_text" not in inter.columns and "summary" not in inter.columns:
        raise ValueError(f"dataset {dataset.name!r} has no review_text/summary columns (Amazon 2018 raw files have them)")
    t0 = time.perf_counter()
    summ = inter["summary"] if "summary" in inter.columns else [None] * len(inter)
    body = inter["review_text"] if "review_text" in inter.columns else [None] * len(inter)
    texts = [review_text(s, b) for s, b in zip(summ, body)]
    enc = load_encoder(None, max_length=max_length)
    vectors = encode_cached(enc, texts, Path(cache_dir) if cache_dir else None, namespace="review-v1",
                            show_progress=show_progress)
    tokens = enc.count_tokens(texts)
    return vectors, {"encoder": enc.identity(), "n_reviews": len(texts), "n_empty": int(sum(not t for t in texts)),
                     "n_truncated": int((tokens > enc.max_length).sum()), "max_tokens": int(enc.max_length),
                     "wall_s": round(time.perf_counter() - t0, 2)}


def encode_item_descriptions(dataset: RecDataset, *, max_length: int = 128, cache_dir: str | Path | None = None
                             ) -> np.ndarray:
    """``float32 [n_items, dim]`` PLM vectors of the item text (default template; zero rows when empty)."""
    from lmrec.pipeline import ExperimentConfig, encode_items

    vectors, _ = encode_items(dataset, ExperimentConfig(dataset=dataset.name, model="embknn",
                                                        max_text_tokens=max_length,
                                                        cache_dir=str(cache_dir) if cache_dir else None))
    return vectors


def run_rating_experiment(dataset: str | RecDataset, model: str, *, seed: int = 0, data_dir: str | None = None,
                          params: dict[str, Any] | None = None, pretrain_dataset: str | RecDataset | None = None,
                          out_dir: str | Path | None = None, max_review_tokens: int = 128,
                          cache_dir: str | Path | None = None, show_progress: bool = False) -> RatingResult:
    """Train one rating model on the random pair split and report valid/test RMSE and MAE.

    Parameters
    ----------
    dataset:
        Name (e.g. ``"amazon2018-raw/Gift_Cards"``) or a loaded :class:`RecDataset`.
    model:
        ``"global-mean" | "mf" | "ubert"``.
    seed:
        Seeds the split and the model.
    params:
        Model hyper-parameters (e.g. ``{"epochs": 30}``).
    pretrain_dataset:
        U-BERT only: a review-rich dataset to pre-train on (opinion-rating prediction)
        before fine-tuning on ``dataset``. ``None``: no pre-training.
    out_dir:
        Write ``metrics.json`` (and the model) there.
    max_review_tokens:
        Token cap of each review for the frozen review encoder (reported).

    Raises
    ------
    ValueError
        For an unknown model, a dataset without ratings, or U-BERT on a dataset without reviews.
    ReviewLeakError
        If a held-out review reached the model's inputs (a bug, never expected).
    """
    from lmrec.data.registry import load_dataset
    from lmrec.evaluation.results import write_metrics_json
    from lmrec.seed import seed_everything

    if model not in RATING_MODELS:
        raise ValueError(f"unknown rating model {model!r}; choose one of {', '.join(RATING_MODELS)}")
    if pretrain_dataset is not None and model != "ubert":
        raise ValueError("--pretrain-on applies to U-BERT only")
    t0 = time.perf_counter()
    seed_everything(seed)
    ds = dataset if isinstance(dataset, RecDataset) else load_dataset(dataset, data_dir)
    split = split_rating_pairs(ds, seed)
    params = dict(params or {})
    extra: dict[str, Any] = {}
    if model == "global-mean":
        from lmrec.models.mf import GlobalMean

        rec: Any = GlobalMean().fit(*split.part("train"))
    elif model == "mf":
        from lmrec.models.mf import BiasedMF

        rec = BiasedMF(**params).fit(*split.part("train"), valid=split.part("valid"), n_users=ds.n_users,
                                     n_items=ds.n_items, seed=seed)
    else:
        from lmrec.models.ubert import UBert, UBertData

        rev, rev_report = encode_reviews(ds, max_length=max_review_tokens, cache_dir=cache_dir,
                                         show_progress=show_progress)
        desc = encode_item_descriptions(ds, max_length=max_review_tokens, cache_dir=cache_dir) \
            if ds.statistics()["text_coverage"] > 0 else None  # e.g. Appliances: no metadata file
        rec = UBert(**params)
        extra["reviews"] = rev_report
        if pretrain_dataset is not None:
            src = pretrain_dataset if isinstance(pretrain_dataset, RecDataset) else load_dataset(pretrain_dataset, data_dir)
            src_vec, src_report = encode_reviews(src, max_length=max_review_tokens, cache_dir=cache_dir,
                                                 show_progress=show_progress)
            ratings = src.interactions["rating"].to_numpy(dtype=np.float32)
            keep = np.isfinite(ratings) & (np.abs(src_vec).sum(axis=1) > 0)
            rec.pretrain(src_vec[keep], ratings[keep], seed=seed)
            extra["pretraining"] = {"dataset": src.name, "n_reviews": int(keep.sum()), "reviews": src_report,
                                    **rec.pretrain_history_}
        by_user, by_item = training_review_rows(split, max_per_user=rec.config["max_user_reviews"],
                                                max_per_item=rec.config["max_item_reviews"],
                                                timestamps=ds.interactions["timestamp"].to_numpy(dtype=np.float64))
        assert_no_review_leak(split, by_user + by_item)
        data = UBertData(review_vectors=rev, user_reviews=by_user, item_reviews=by_item, item_vectors=desc,
                         n_users=ds.n_users, n_items=ds.n_items)
        rec.fit(data, *split.part("train"), valid=split.part("valid"), seed=seed)
        extra["leak_check"] = "passed: no valid/test pair's review among the user/item review inputs"
    results = {}
    for part in ("valid", "test"):
        u, i, r = split.part(part)
        pred = rec.predict(u, i)
        results[part] = {"rmse": rmse(pred, r), "mae": mae(pred, r), "n_pairs": int(len(r))}
    wall = round(time.perf_counter() - t0, 2)
    metrics = {"dataset": ds.statistics(), "split": split.report, "seed": seed,
               "model": {"name": model, **getattr(rec, "config", {})}, "wall_s": wall,
               "metrics": results, "training": getattr(rec, "history_", {}), "extra": extra}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        protocol = {"task": "rating prediction", "split": "random 80/10/10 of (user, item) pairs",
                    "metrics": ["rmse", "mae"], "review_inputs": "training pairs only (leak-checked)"}
        write_metrics_json(out, dataset_stats=metrics["dataset"], split=split.report, protocol=protocol, seed=seed,
                           model_config=metrics["model"], wall_s=wall, valid=results["valid"], test=results["test"],
                           extra={"training": metrics["training"], **extra})
        if hasattr(rec, "save"):
            rec.save(out / "model")
    return RatingResult(metrics, rec, split)
