"""News recommendation runs: train on a user-level split, evaluate, write MIND predictions.

One function per CLI command (``lmrec news train|evaluate|predict``), so notebooks get the
same behaviour. A run directory holds ``run.json`` (dataset, split, model name and
parameters), ``model/`` (:meth:`NewsModel.save`) and ``metrics.json``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lmrec.data.news import MIN_TEXT_COVERAGE, NewsDataset, split_by_user
from lmrec.data.news_registry import load_news_dataset
from lmrec.evaluation.impressions import evaluate_impressions, format_prediction_line

SPLIT_FRACTIONS = (0.8, 0.1, 0.1)


def _parts(data: NewsDataset, split_seed: int) -> dict[str, NewsDataset]:
    if not data.impressions.labeled:
        raise ValueError(f"{data.name}: impressions are unlabeled; training needs a labeled log")
    return split_by_user(data, SPLIT_FRACTIONS, seed=split_seed)


def train_news_run(dataset: str, model: str, out: str | os.PathLike, *, data_dir: str | None = None,
                   params: dict[str, Any] | None = None, split_seed: int = 0,
                   allow_missing_text: bool = False, min_text_coverage: float = MIN_TEXT_COVERAGE,
                   log: Callable[[str], None] | None = None) -> dict:
    """Train ``model`` on the train users of ``dataset`` and evaluate on its test users.

    Split: users shuffled with ``split_seed`` and cut 80/10/10 (train/valid/test), so test users
    are unseen in training; each impression keeps its logged history.

    Returns
    -------
    dict
        The ``metrics.json`` document written to ``out``.

    Raises
    ------
    InsufficientTextError
        (``ValueError``) If text coverage is below ``min_coverage`` and not allowed.
    ValueError
        Unknown model / parameter, unlabeled data.
    """
    from lmrec.evaluation.results import write_json_atomic, write_metrics_json
    from lmrec.models.news_base import create_news_model

    t0 = time.perf_counter()
    data = load_news_dataset(dataset, data_dir)
    coverage = data.check_text_coverage(min_text_coverage, allow_missing_text)
    parts = _parts(data, split_seed)
    params = dict(params or {})
    m = create_news_model(model, **params)
    t1 = time.perf_counter()
    m.fit(parts["train"], log=log)
    train_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    res = evaluate_impressions(m.score(parts["test"]), parts["test"].impressions.labels, "test impressions")
    infer_s = time.perf_counter() - t2
    out = Path(out)
    m.save(out / "model")
    run = {"dataset": dataset, "data_dir": data_dir, "model": model, "params": m.config,
           "split": {"kind": "user", "fractions": list(SPLIT_FRACTIONS), "seed": split_seed},
           "allow_missing_text": allow_missing_text, "min_text_coverage": min_text_coverage}
    write_json_atomic(out / "run.json", run)
    path = write_metrics_json(
        out, dataset_stats={**data.statistics(), "text_coverage": coverage},
        split={p: d.statistics()["split"] | {"n_impressions": len(d.impressions)} for p, d in parts.items()},
        protocol="impressions: rank each impression's candidates; per-impression AUC/MRR/nDCG (MIND), "
                 "mean over test impressions with ≥1 click and ≥1 non-click",
        seed=params.get("seed", m.config.get("seed")), model_config={"name": model, **m.config},
        wall_s=time.perf_counter() - t0, valid=None, test=res["metrics"],
        extra={"train_s": train_s, "infer_s": infer_s,
               "infer_ms_per_impression": 1000 * infer_s / max(len(parts["test"].impressions), 1),
               "counts": {k: v for k, v in res.items() if k != "metrics"}, "fit": m.fit_info_})
    import json

    return json.loads(path.read_text())


def _load_run(run_dir: str | os.PathLike):
    import json

    from lmrec.models.news_base import load_news_model

    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a news run (no run.json); create one with "
                                f"`lmrec news train --out {run_dir}`")
    run = json.loads((run_dir / "run.json").read_text())
    return run, load_news_model(run_dir / "model")


def _target(run: dict, dataset: str | None, part: str, data_dir: str | None,
            allow_missing_text: bool = False) -> NewsDataset:
    """The data to score: a whole other dataset, or one part of the run's own split."""
    if dataset is not None:
        data = load_news_dataset(dataset, data_dir)
        data.check_text_coverage(run.get("min_text_coverage", MIN_TEXT_COVERAGE),
                                 allow_missing_text or run.get("allow_missing_text", False))
        return data
    if part not in ("train", "valid", "test"):
        raise ValueError(f"part must be train, valid or test, got {part!r}")
    data = load_news_dataset(run["dataset"], data_dir or run.get("data_dir"))
    return _parts(data, run["split"]["seed"])[part]


def evaluate_news_run(run_dir: str | os.PathLike, *, dataset: str | None = None, part: str = "test",
                      data_dir: str | None = None, allow_missing_text: bool = False) -> dict:
    """Metrics of a saved run on its ``part`` (default test users) or on all of ``dataset``.

    Raises
    ------
    ValueError
        If the impressions are unlabeled (message points to ``predict``).
    """
    run, model = _load_run(run_dir)
    data = _target(run, dataset, part, data_dir, allow_missing_text)
    if not data.impressions.labeled:
        raise ValueError(f"{data.name}: impressions are unlabeled (bare news ids, no -0/-1 labels); "
                         f"nothing to evaluate against — use `lmrec news predict --run {run_dir} "
                         f"--out prediction.txt` to write a MIND submission file")
    return evaluate_impressions(model.score(data), data.impressions.labels, f"{data.name} impressions")


def predict_news_run(run_dir: str | os.PathLike, out: str | os.PathLike, *, dataset: str | None = None,
                     part: str = "test", data_dir: str | None = None,
                     allow_missing_text: bool = False) -> Path:
    """Write MIND ``prediction.txt``: one line ``<impression_id> [r1,r2,…]`` per impression, the
    rank of each candidate in the order given (1 = best; ties broken by position). Labels, if
    any, are ignored. Written atomically.

    Returns
    -------
    Path
        ``out``.
    """
    import tempfile

    run, model = _load_run(run_dir)
    data = _target(run, dataset, part, data_dir, allow_missing_text)
    scores = model.score(data)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for imp_id, s in zip(data.impressions.impression_ids, scores):
                f.write(format_prediction_line(imp_id, np.asarray(s)) + "\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out
