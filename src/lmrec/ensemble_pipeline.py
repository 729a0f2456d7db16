"""Late fusion of saved runs (``lmrec ensemble``): fit the weights on validation, rank test.

Two or more ``lmrec train`` runs of one dataset and split (e.g. SASRec-ID and SASRec-text,
trained and early-stopped apart) are combined per case as a weighted sum of their log-softmax
scores (:class:`lmrec.models.ensemble.ScoreEnsemble`); the weights are chosen on the
validation cases under the runs' own validation protocol
(:func:`lmrec.models.ensemble.tune_ensemble_weights`), never on test, and the fused model is
then evaluated like any run (:func:`lmrec.pipeline.evaluate_model`: full ranking, cold/warm
item slices; a case falls back to popularity only when no member can score it, so with an ID
member none does). On the Scientific files of ``bench/results/text_vs_id.md`` SASRec-ID fused
with SASRec-text (MLP adaptor, cosine scores) gives +17-19 % R@10 over SASRec-ID, about what the
text model gives alone (the fusion adds +0.0006 to +0.0024); on Food it stays level with the ID model and
above text alone (3 seeds each). It is a tool for checking that on your own data, not a default.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lmrec.pipeline import LoadedRun, cold_user_report, evaluate_model


def check_same_split(runs: Sequence[LoadedRun]) -> None:
    """Refuse runs that cannot be fused: another dataset, catalogue, split or protocol.

    The validation cases (users, targets), the test cases (users, targets, histories), the
    warm-item mask and the evaluation protocol (``exclude_history``) must be the same for every
    run. Seeds may differ where the split does not depend on them (leave-one-out by time, given
    splits with validation rows); the cold-start split and a given split without validation
    rows are drawn per seed, and the check refuses them then.

    Raises
    ------
    ValueError
        Fewer than two runs, the same run directory twice, or a run that differs from the first
        one (the message names both run directories and what differs).
    """
    if len(runs) < 2:
        raise ValueError(f"late fusion needs at least two runs, got {len(runs)}")
    dirs = [Path(r.run_dir).resolve() for r in runs]
    if len(set(dirs)) < len(dirs):
        raise ValueError(f"the same run is given twice ({[str(r.run_dir) for r in runs]}); fuse different runs")
    first = runs[0]
    ref = first.split
    for run in runs[1:]:
        s = run.split
        where = f"run {run.run_dir} and run {first.run_dir}"
        if run.config.dataset != first.config.dataset or s.n_items != ref.n_items:
            raise ValueError(f"{where} are on different datasets ({run.config.dataset!r}, {s.n_items} items vs "
                             f"{first.config.dataset!r}, {ref.n_items} items); fuse runs of one dataset")
        if not (_same_cases(s.valid, ref.valid) and _same_cases(s.test, ref.test, histories=True)
                and np.array_equal(s.warm_items, ref.warm_items)):
            a, b = run.config, first.config
            hint = ("the split is drawn per seed here, so train the members with the same seed"
                    if a.seed != b.seed and a.split == b.split and a.cold_frac == b.cold_frac
                    else "train the members with the same --split, --cold-frac, --seed and data")
            raise ValueError(f"{where} have different splits (split {s.name!r}, cold_frac {a.cold_frac}, seed "
                             f"{a.seed} vs split {ref.name!r}, cold_frac {b.cold_frac}, seed {b.seed}); {hint}")
        if run.config.exclude_history != first.config.exclude_history:
            raise ValueError(f"{where} were validated and evaluated under different protocols (history items "
                             f"excluded from the candidates: {run.config.exclude_history} vs "
                             f"{first.config.exclude_history}; `lmrec train --include-history` keeps them); retrain "
                             "one of them with the other's setting")


def _same_cases(a: Any, b: Any, *, histories: bool = False) -> bool:
    """Whether two :class:`~lmrec.data.evalset.EvalSet` hold the same cases (users, targets and,
    with ``histories``, the same histories)."""
    def same(x: Sequence[np.ndarray], y: Sequence[np.ndarray]) -> bool:
        return len(x) == len(y) and all(np.array_equal(u, v) for u, v in zip(x, y))

    return (np.array_equal(a.users, b.users) and same(a.targets, b.targets)
            and (not histories or same(a.histories, b.histories)))


def ensemble_runs(runs: Sequence[LoadedRun], *, step: float = 0.1, metric: str = "ndcg@10",
                  names: Sequence[str] | None = None) -> dict[str, Any]:
    """Fuse ``runs`` (see the module docstring) and evaluate the fused model on valid and test.

    Parameters
    ----------
    runs:
        Two or more runs loaded with :func:`lmrec.pipeline.load_run` (same dataset and split).
    step:
        Resolution of the weight grid on the simplex (0.1: 11 points for two runs).
    metric:
        Validation metric the weights maximise (``"ndcg@10"``, the early-stopping metric of
        every trained model; or ``recall@K``, ``mrr@K``, ``hit@K``).
    names:
        Display names of the members (default: each run directory's name).

    Returns
    -------
    A ``metrics.json``-shaped dict: ``dataset``, ``split``, ``protocol`` (test),
    ``seed`` (the first run's), ``model`` (``{"name": "ensemble", "fusion", "members": [{"run",
    "model", "seed", "name", "weight"}]}``), ``wall_s`` (seconds: weight search and evaluation), ``valid`` / ``test`` (the
    :func:`lmrec.evaluation.ranking.evaluate_ranking` results) and ``extra`` (the weight grid,
    each member's own test metrics from its ``metrics.json`` where present, cold users).

    Raises
    ------
    ValueError
        As :func:`check_same_split`, :func:`lmrec.models.ensemble.tune_ensemble_weights`
        (unknown metric, a step that does not divide 1, no validation cases) and
        :class:`lmrec.models.ensemble.ScoreEnsemble` (repeated names).
    """
    from lmrec.models.ensemble import tune_ensemble_weights

    check_same_split(runs)
    t0 = time.perf_counter()
    first = runs[0]
    split, cfg = first.split, first.config
    names = list(names) if names is not None else _member_names(runs)
    fit = tune_ensemble_weights([r.model for r in runs], split.valid, split.n_items,
                                exclude_history=cfg.exclude_history, names=names, step=step, metric=metric)
    vectors = next((r.item_vectors for r in runs if r.item_vectors is not None), None)
    results = evaluate_model(fit.ensemble, split, cfg, vectors)
    members = [{"run": str(r.run_dir), "model": r.config.model, "seed": r.config.seed, "name": n,
                "weight": round(float(w), 6)} for r, n, w in zip(runs, fit.ensemble.names, fit.ensemble.weights)]
    return {
        "dataset": first.dataset.statistics(), "split": split.describe(),
        "protocol": dict(results["test"]["protocol"]), "seed": cfg.seed,
        "model": {"name": "ensemble", "fusion": "weighted sum of log-softmax scores", "members": members},
        "wall_s": round(time.perf_counter() - t0, 2),
        "valid": results["valid"], "test": results["test"],
        "extra": {"weights": {"metric": fit.metric, "best_valid": fit.best, "step": step, "grid": fit.grid},
                  "members_test": {n: _member_test_metrics(r) for r, n in zip(runs, fit.ensemble.names)},
                  "cold_users": cold_user_report(results, split)},
    }


def write_ensemble(result: dict[str, Any], out: str | Path) -> Path:
    """Write ``out/metrics.json`` (atomically) from an :func:`ensemble_runs` result; returns its path."""
    from lmrec.evaluation.results import write_metrics_json

    return write_metrics_json(out, dataset_stats=result["dataset"], split=result["split"],
                              protocol=result["protocol"], seed=result["seed"], model_config=result["model"],
                              wall_s=result["wall_s"], valid=result["valid"], test=result["test"],
                              extra=result["extra"])


def _member_names(runs: Sequence[LoadedRun]) -> list[str]:
    """Run directory names, or ``parent/name`` where two directories share a name."""
    dirs = [Path(r.run_dir).resolve() for r in runs]
    names = [d.name for d in dirs]
    if len(set(names)) < len(names):
        names = [f"{d.parent.name}/{d.name}" for d in dirs]
    if len(set(names)) < len(names):
        names = [f"{n}[{i}]" for i, n in enumerate(names)]
    return names


def _member_test_metrics(run: LoadedRun) -> dict[str, float] | None:
    """The run's own test metrics from its ``metrics.json`` (``None`` if absent or unreadable)."""
    import json

    try:
        return json.loads((run.run_dir / "metrics.json").read_text())["metrics"]["test"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
