"""Rating prediction as one call: split, encode reviews, train, report RMSE / MAE.

:func:`run_rating_experiment` is the job behind ``lmrec users train``: the seeded random 80/10/10
split of (user, item) pairs and the review-leak check come from :mod:`lmrec.evaluation.rating`;
review and item-description vectors are made here (through the embedding cache) and handed to
the model. As in U-BERT (Qiu et al., AAAI 2021) a review-based model reads the reviews of
training pairs only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.data.dataset import RecDataset
from lmrec.evaluation.rating import (RatingSplit, assert_no_review_leak, mae, rmse, split_rating_pairs,
                                     training_review_rows)


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
