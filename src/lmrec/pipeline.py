"""The main job as one library call: data → item text → LM vectors (cached) → split → model →
full-ranking evaluation → run directory with ``metrics.json``.

The CLI (``lmrec train``, ``lmrec quickstart``) and the benchmarks call :func:`run_experiment`;
``lmrec evaluate`` / ``lmrec recommend`` call :func:`load_run`. A run directory holds::

    run.json            the ExperimentConfig + encoder identity + text report
    model/              config.json + weights of the recommender
    item_map.json       internal item index → external item id
    user_map.json       internal user index → external user id
    item_vectors.npy    float32 [n_items, dim] text vectors (text models only)
    metrics.json        results (see lmrec.evaluation.results.write_metrics_json)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.data.dataset import RecDataset
from lmrec.data.splits import Split, make_split
from lmrec.data.text import TextTemplate, build_item_texts

DEFAULT_KS = (5, 10, 20, 50)


@dataclass
class ExperimentConfig:
    """Everything that determines a run (written to ``run.json``).

    Parameters
    ----------
    dataset:
        Dataset name under the data directory (``ml-100k``, ``amazon-lcrec/Scientific`` …).
    model:
        ``pop | embknn | sasrec-id | sasrec-text | sasrec-text-id``.
    data_dir:
        Data directory (``None``: ``LMREC_DATA_DIR``).
    split:
        ``auto | leave-one-out | temporal | cold-start-items | given`` (auto: the source's own
        split when it has one, else leave-one-out).
    seed:
        The one seed for the split, the model and sampling.
    encoder:
        Text encoder name or path (``None``: the packaged all-MiniLM-L6-v2).
    pooling:
        Pooling for Hugging Face ``AutoModel`` encoders (``cls | mean | last_token``).
    backend:
        Encoder runtime for sentence-transformers models: ``st`` (PyTorch), ``onnx`` or
        ``onnx-int8`` (see :func:`lmrec.encoders.factory.load_encoder`).
    text_fields:
        Item fields of the text template (``None``: the dataset's default fields).
    exclude_history:
        Remove the user's history items from the ranked candidates (``False`` = RecBole's
        full-sort protocol for sequential models).
    cold_frac:
        Share of items made cold by the ``cold-start-items`` split.
    model_params:
        Hyper-parameter overrides for the model (e.g. ``{"epochs": 20}``).
    """

    dataset: str
    model: str
    data_dir: str | None = None
    split: str = "auto"
    seed: int = 0
    encoder: str | None = None
    pooling: str | None = None
    backend: str = "st"
    text_fields: list[str] | None = None
    with_field_names: bool = False
    exclude_history: bool = True
    ks: tuple[int, ...] = DEFAULT_KS
    cold_frac: float = 0.1
    max_text_tokens: int | None = None
    model_params: dict[str, Any] = field(default_factory=dict)
    cache_dir: str | None = None
    batch_size: int = 64

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ks"] = list(self.ks)
        return d


@dataclass
class RunResult:
    """Return value of :func:`run_experiment`: the ``metrics.json`` payload and where it lives."""

    run_dir: Path | None
    metrics: dict[str, Any]
    model: Any
    dataset: RecDataset
    split: Split
    item_vectors: np.ndarray | None


def item_template(dataset: RecDataset, cfg: ExperimentConfig) -> TextTemplate:
    """Text template for ``dataset`` under ``cfg`` (unknown field names raise ``ValueError``)."""
    fields = list(cfg.text_fields or dataset.text_fields)
    unknown = [f for f in fields if f not in dataset.items.columns]
    if unknown:
        raise ValueError(f"dataset {dataset.name!r} has no item field(s) {unknown}; "
                         f"available: {list(dataset.items.columns)}")
    return TextTemplate(tuple(fields), with_field_names=cfg.with_field_names)


def encode_items(dataset: RecDataset, cfg: ExperimentConfig, *, show_progress: bool = False
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """Text vectors of every catalog item, through the embedding cache.

    Returns
    -------
    vectors:
        ``float32 [n_items, dim]`` in internal item order; items with empty text get a zero row.
    report:
        ``{"encoder": identity, "template": {...}, "text": TextReport, "wall_s": …}``.
    """
    from lmrec.encoders.cache import encode_cached
    from lmrec.encoders.factory import load_encoder

    t0 = time.perf_counter()
    template = item_template(dataset, cfg)
    texts, text_report = build_item_texts(dataset.items, dataset.item_map.ids, template)
    kwargs: dict[str, Any] = {}
    if cfg.pooling:
        kwargs["pooling"] = cfg.pooling
    if cfg.max_text_tokens:
        kwargs["max_length"] = cfg.max_text_tokens
    if cfg.backend != "st":
        kwargs["backend"] = cfg.backend
        kwargs["cache_root"] = cfg.cache_dir        # the ONNX export lives beside the embedding cache
    encoder = load_encoder(cfg.encoder, **kwargs)
    if texts and text_report.n_empty == len(texts):
        raise ValueError(f"dataset {dataset.name!r}: every item text is empty for fields {list(template.fields)} "
                         f"(e.g. item {text_report.empty_examples[0]!r}); a text model has nothing to read — "
                         "choose other --text-fields or an ID model (pop, sasrec-id)")
    if text_report.n_empty > 0.5 * len(texts):
        import warnings

        warnings.warn(f"dataset {dataset.name!r}: {text_report.n_empty} of {len(texts)} items have empty text "
                      "(zero vectors); text models will barely tell them apart", stacklevel=2)
    tokens = encoder.count_tokens(texts)
    text_report.n_truncated = int((tokens > encoder.max_length).sum())
    text_report.max_tokens = int(encoder.max_length)
    cache = Path(cfg.cache_dir) if cfg.cache_dir else None
    vectors = encode_cached(encoder, texts, cache, namespace=template.version, batch_size=cfg.batch_size,
                            show_progress=show_progress)
    report = {
        "encoder": encoder.identity(),
        "template": {"fields": list(template.fields), "with_field_names": template.with_field_names,
                     "version": template.version},
        "text": text_report.to_dict(),
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    return vectors, report


def evaluate_model(model: Any, split: Split, cfg: ExperimentConfig) -> dict[str, Any]:
    """Full-ranking evaluation of ``model`` on valid and test, with cold/warm item slices and
    history-length user slices. Returns ``{"valid": result, "test": result}`` as produced by
    :func:`lmrec.evaluation.ranking.evaluate_ranking`."""
    from lmrec.evaluation.ranking import evaluate_ranking, history_length_slices

    out = {}
    for part in ("valid", "test"):
        cases = getattr(split, part)
        out[part] = evaluate_ranking(model.score, cases, split.n_items, ks=cfg.ks,
                                     exclude_history=cfg.exclude_history, item_slices=split.item_slices(),
                                     case_slices=history_length_slices(cases), seed=cfg.seed)
    return out


def run_experiment(cfg: ExperimentConfig, run_dir: str | os.PathLike | None = None, *,
                   show_progress: bool = False, dataset: RecDataset | None = None,
                   item_vectors: np.ndarray | None = None, encode_report: dict | None = None) -> RunResult:
    """Train and evaluate one model; write the run directory when ``run_dir`` is given.

    ``dataset`` / ``item_vectors`` may be passed in to share them between several runs (the
    quickstart and the benchmarks do); otherwise they are loaded and encoded here.

    Raises
    ------
    ValueError
        For unknown datasets, models, splits or text fields, and for sequential models on
        unordered data.
    """
    from lmrec.data.registry import load_dataset, resolve_data_dir
    from lmrec.evaluation.results import write_json_atomic, write_metrics_json
    from lmrec.models import TrainData, create_model
    from lmrec.models.base import save_atomic_npy
    from lmrec.seed import seed_everything

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    if cfg.data_dir or os.environ.get("LMREC_DATA_DIR"):  # run.json keeps an absolute path
        cfg = replace(cfg, data_dir=str(resolve_data_dir(cfg.data_dir).resolve()))
    ds = dataset if dataset is not None else load_dataset(cfg.dataset, cfg.data_dir)
    model = create_model(cfg.model, **cfg.model_params)
    if getattr(model, "sequential", False) and not ds.ordered:
        raise ValueError(f"{cfg.model} is a sequential model but dataset {ds.name!r} has no timestamps or "
                         "sequence order; use pop or embknn")
    split = make_split(ds, cfg.split, seed=cfg.seed, cold_frac=cfg.cold_frac)
    vectors, report = item_vectors, encode_report
    if model.needs_item_vectors and vectors is None:
        vectors, report = encode_items(ds, cfg, show_progress=show_progress)
    from lmrec.training.distributed import context

    # Under torchrun every rank trains; only rank 0 writes the run directory.
    out = Path(run_dir) if run_dir is not None and context().is_main else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    ratings = None
    if getattr(model, "needs_ratings", False) and ds.interactions["rating"].notna().any():
        from lmrec.models.multitask import split_ratings

        ratings = split_ratings(ds, split)
    seed_everything(cfg.seed)
    model.fit(TrainData(split=split, item_vectors=vectors if model.needs_item_vectors else None, seed=cfg.seed,
                        run_dir=out, exclude_history=cfg.exclude_history, show_progress=show_progress,
                        ratings=ratings))
    results = evaluate_model(model, split, cfg)
    wall = time.perf_counter() - t0
    protocol = dict(results["test"]["protocol"])
    payload_extra = {"training": model.history_, "encoding": report if model.needs_item_vectors else None,
                     "n_targets_in_history": {p: results[p]["n_targets_in_history"] for p in results}}
    metrics = {
        "dataset": ds.statistics(), "split": split.describe(), "protocol": protocol, "seed": cfg.seed,
        "model": {"name": cfg.model, **model.config}, "wall_s": round(wall, 2),
        "metrics": {p: results[p]["metrics"] for p in results},
        "slices": {p: results[p]["slices"] for p in results}, "extra": payload_extra,
    }
    if out is not None:
        model.save(out / "model")
        ds.item_map.save(out / "item_map.json")
        ds.user_map.save(out / "user_map.json")
        if model.needs_item_vectors:
            save_atomic_npy(out / "item_vectors.npy", vectors)
        write_json_atomic(out / "run.json", {"config": cfg.to_dict(), "encoding": report})
        write_metrics_json(out, dataset_stats=metrics["dataset"], split=metrics["split"], protocol=protocol,
                           seed=cfg.seed, model_config=metrics["model"], wall_s=metrics["wall_s"],
                           valid=results["valid"], test=results["test"], extra=payload_extra)
    return RunResult(out, metrics, model, ds, split, vectors)


@dataclass
class LoadedRun:
    """A run directory loaded back: config, dataset, split and model."""

    run_dir: Path
    config: ExperimentConfig
    dataset: RecDataset
    split: Split
    model: Any
    item_vectors: np.ndarray | None


def load_run(run_dir: str | os.PathLike, data_dir: str | None = None) -> LoadedRun:
    """Reload a run written by :func:`run_experiment` (dataset re-read, split re-made with the
    run's seed, model weights loaded).

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` has no ``run.json`` (not a run directory).
    ValueError
        If the dataset's item ids no longer match the run's ``item_map.json``.
    """
    from lmrec.data.idmap import IdMap
    from lmrec.data.registry import load_dataset
    from lmrec.models import load_recommender

    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists():
        raise FileNotFoundError(f"{run_dir} is not a run directory (no run.json); create one with `lmrec train --out`")
    try:
        run_info = json.loads((run_dir / "run.json").read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{run_dir / 'run.json'} is not valid JSON ({exc}); the run directory is damaged") from None
    if "config" not in run_info:
        raise ValueError(f"{run_dir} was not written by `lmrec train` (run.json has no 'config'); news runs are "
                         "read by `lmrec news evaluate|predict`")
    raw = dict(run_info["config"])
    raw["ks"] = tuple(raw["ks"])
    cfg = ExperimentConfig(**raw)
    ds = load_dataset(cfg.dataset, data_dir or cfg.data_dir)
    try:
        run_items = IdMap.load(run_dir / "item_map.json")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{run_dir / 'item_map.json'} is not valid JSON ({exc}); the run directory is damaged") from None
    if run_items != ds.item_map:
        raise ValueError(f"dataset {cfg.dataset!r} changed since run {run_dir} was trained "
                         "(item ids differ from item_map.json); retrain")
    split = make_split(ds, cfg.split, seed=cfg.seed, cold_frac=cfg.cold_frac)
    vec_path = run_dir / "item_vectors.npy"
    vectors = None
    if vec_path.exists():
        try:
            vectors = np.load(vec_path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{vec_path} is not a readable numeric .npy file ({exc.__class__.__name__}); "
                             "re-create the run") from None
        if vectors.ndim != 2 or len(vectors) != ds.n_items:
            raise ValueError(f"{vec_path} has shape {vectors.shape}, expected [{ds.n_items}, dim] "
                             "(one row per item of item_map.json); re-create the run")
    model = load_recommender(run_dir / "model", vectors)
    return LoadedRun(run_dir, cfg, ds, split, model, vectors)


def recommend_for_user(run: LoadedRun, user_id: str, k: int = 10, *, exclude_history: bool = True
                       ) -> list[dict[str, Any]]:
    """Top-``k`` items for an external user id, using all the user's known interactions as history.

    Returns a list of ``{"rank", "item_id", "title", "score", "cold"}`` dicts.

    Raises
    ------
    KeyError
        If the user id is unknown (the message gives a few valid ids).
    """
    from lmrec.data.splits import user_sequences

    ds = run.dataset
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    if user_id not in ds.user_map:
        raise KeyError(f"unknown user {user_id!r} in {ds.name}; e.g. {ds.user_map.ids[:5]}")
    u = ds.user_map.index(user_id)
    seqs, _ = user_sequences(ds)
    hist = seqs[u]
    scores = np.asarray(run.model.score(np.array([u]), [hist]), dtype=np.float64)[0]
    if np.isnan(scores).any():
        raise ValueError(f"the model in {run.run_dir} returns NaN scores (corrupt or diverged weights); retrain it")
    if exclude_history and len(hist):
        scores[hist] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    top = np.argsort(-scores, kind="stable")[:k]
    titles = ds.item_titles()
    warm = run.split.warm_items
    return [{"rank": r + 1, "item_id": ds.item_map.external(i), "title": titles[i], "score": float(scores[i]),
             "cold": bool(not warm[i])} for r, i in enumerate(top)]
