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

The output directory (:func:`write_ensemble`) is reloaded by :func:`load_ensemble` as one run, so
``lmrec recommend``, ``lmrec evaluate`` and the HTTP service (``lmrec serve``,
:class:`lmrec.serving.space.FusedItemSpace`) serve fused lists.
"""

from __future__ import annotations

import hashlib
import json
import os
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
    ``seed`` (the first run's), ``model`` (``{"name": "ensemble", "fusion", "members": [{"run"
    (absolute path), "model", "seed", "name", "weight", "fingerprint" (:func:`run_fingerprint`)}]}``), ``wall_s`` (seconds: weight search and evaluation), ``valid`` / ``test`` (the
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
    members = [{"run": str(Path(r.run_dir).resolve()), "model": r.config.model, "seed": r.config.seed, "name": n,
                "weight": round(float(w), 6), "fingerprint": run_fingerprint(r.run_dir)}
               for r, n, w in zip(runs, fit.ensemble.names, fit.ensemble.weights)]
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
    """Write ``out/metrics.json`` (atomically) from an :func:`ensemble_runs` result; returns its path.

    Each member also gets ``run_relative``, its run directory relative to ``out`` (``None`` where
    there is none, e.g. another drive), so that :func:`load_ensemble` finds the members when the
    ensemble and its members are moved together.
    """
    from lmrec.evaluation.results import write_metrics_json

    out_abs = Path(out).resolve()
    members = [{**m, "run_relative": _relative(Path(m["run"]).resolve(), out_abs)}
               for m in result["model"]["members"]]
    return write_metrics_json(out, dataset_stats=result["dataset"], split=result["split"],
                              protocol=result["protocol"], seed=result["seed"],
                              model_config={**result["model"], "members": members},
                              wall_s=result["wall_s"], valid=result["valid"], test=result["test"],
                              extra=result["extra"])


def run_fingerprint(run_dir: str | Path) -> str:
    """``sha256`` hex digest of a run's ``run.json`` and ``metrics.json`` (the config and the
    result of one training): it changes when the run is retrained or replaced."""
    h = hashlib.sha256()
    for name in ("run.json", "metrics.json"):
        p = Path(run_dir) / name
        h.update(name.encode() + b"\0" + (p.read_bytes() if p.is_file() else b"") + b"\0")
    return h.hexdigest()


def is_ensemble_dir(path: str | Path) -> bool:
    """Whether ``path`` looks like the output of ``lmrec ensemble`` rather than of ``lmrec train``:
    a directory with ``metrics.json`` and no ``run.json`` (:func:`load_ensemble` reads and checks it)."""
    path = Path(path)
    return path.is_dir() and not (path / "run.json").exists() and (path / "metrics.json").is_file()


def load_ensemble(ens_dir: str | Path, data_dir: str | None = None) -> LoadedRun:
    """Reload a fused model written by ``lmrec ensemble`` as a :class:`~lmrec.pipeline.LoadedRun`,
    so that ``lmrec recommend`` and ``lmrec evaluate`` use it like one trained run.

    Each member run is looked up at its path relative to ``ens_dir`` (members moved together with
    the ensemble), then at the absolute path recorded when the ensemble was made; the first place
    holding the very run that was fused (:func:`run_fingerprint`) is reloaded with
    :func:`lmrec.pipeline.load_run` (every member, weight 0 included). The members must still
    share one split (:func:`check_same_split`). The returned run's ``model`` is the
    :class:`lmrec.models.ensemble.ScoreEnsemble` with the recorded weights
    (``score(users, histories) -> float32 [b, n_items]``); its config, dataset and split are the
    first member's, its ``item_vectors`` the first member's that has any, its ``members`` the member
    runs (for the service, :class:`lmrec.serving.space.FusedItemSpace`). An item is
    ``unrecommendable`` when it is for every member with a positive weight: any such member
    that can score it makes the fused score meaningful.

    Raises
    ------
    FileNotFoundError
        If ``ens_dir`` has no ``metrics.json``, or a member run is at neither recorded place (the
        message names both; move members together with the ensemble, or rerun ``lmrec ensemble``).
    ValueError
        If ``metrics.json`` is not valid JSON or not written by ``lmrec ensemble``, its member list
        is damaged (fewer than two members, repeated names, weights that are not ≥ 0 with a positive
        sum), a member was retrained or replaced since it was fused, the members' splits now differ,
        or as :func:`lmrec.pipeline.load_run` for a member.
    """
    from lmrec.models.ensemble import ScoreEnsemble
    from lmrec.pipeline import load_run

    ens_dir = Path(ens_dir)
    path = ens_dir / "metrics.json"
    specs = _member_specs(path)
    runs = [load_run(_find_member(path, spec), data_dir) for spec in specs]
    try:
        check_same_split(runs)
    except ValueError as exc:
        raise ValueError(f"{path}: a member changed since it was fused ({exc}); rerun `lmrec ensemble`") from None
    weights = np.array([s["weight"] for s in specs], dtype=np.float64)
    # weights are stored rounded to 6 decimals: renormalise so that they sum to 1 exactly again
    ensemble = ScoreEnsemble([r.model for r in runs], weights / weights.sum(), names=[s["name"] for s in specs])
    first = runs[0]
    vectors = next((r.item_vectors for r in runs if r.item_vectors is not None), None)
    masks = [r.unrecommendable for r, w in zip(runs, weights) if w > 0]
    unrecommendable = (np.logical_and.reduce([np.asarray(m, dtype=bool) for m in masks])
                       if masks and all(m is not None for m in masks) else None)
    return LoadedRun(ens_dir, first.config, first.dataset, first.split, ensemble, vectors, unrecommendable,
                     members=runs)


def _member_specs(path: Path) -> list[dict[str, Any]]:
    """The member list of an ensemble's ``metrics.json``, checked before any member is loaded."""
    if not path.is_file():
        raise FileNotFoundError(f"{path.parent} is not an ensemble directory (no metrics.json); create one with "
                                "`lmrec ensemble --run A --run B --out DIR`")
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not a readable JSON file ({exc.__class__.__name__}: {exc}); rerun "
                         "`lmrec ensemble`") from None
    model = doc.get("model") if isinstance(doc, dict) else None
    if not isinstance(model, dict) or model.get("name") != "ensemble":
        found = ("has no 'model' block" if not isinstance(model, dict)
                 else f"names model {model.get('name')!r}, not 'ensemble'")
        raise ValueError(f"{path.parent} is neither a run of `lmrec train` (no run.json) nor the output of "
                         f"`lmrec ensemble` (its metrics.json {found}); pass a run directory of `lmrec train` "
                         "or rerun `lmrec ensemble`")
    try:
        specs = [{"run": str(m["run"]), "run_relative": m.get("run_relative"), "model": str(m["model"]),
                  "seed": int(m["seed"]), "name": str(m["name"]), "weight": float(m["weight"]),
                  "fingerprint": m.get("fingerprint")} for m in model["members"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the member list is damaged ({exc.__class__.__name__}: {exc}); rerun "
                         "`lmrec ensemble`") from None
    weights = np.array([s["weight"] for s in specs], dtype=np.float64)
    names = [s["name"] for s in specs]
    if len(specs) < 2 or len(set(names)) < len(names):
        raise ValueError(f"{path}: an ensemble needs two or more members with different names, got {names}; "
                         "rerun `lmrec ensemble`")
    if not np.isfinite(weights).all() or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"{path}: member weights {weights.tolist()} are not ≥ 0 with a positive sum; rerun "
                         "`lmrec ensemble`")
    for s in specs:
        if s["run_relative"] is None and not Path(s["run"]).is_absolute():
            raise ValueError(f"{path}: member {s['name']!r} is recorded as {s['run']!r}, a path relative to the "
                             "directory `lmrec ensemble` ran in (an older lmrec); rerun `lmrec ensemble`")
    return specs


def _find_member(path: Path, spec: dict[str, Any]) -> Path:
    """The run directory of one member: the first recorded place holding the run that was fused."""
    places = ([Path(os.path.normpath(path.parent / spec["run_relative"]))] if spec["run_relative"] else [])
    places = list(dict.fromkeys(places + [Path(spec["run"])]))   # the two records often name one place
    found = [p for p in places if (p / "run.json").is_file()]
    if not found:
        raise FileNotFoundError(f"{path}: member {spec['name']!r} is at none of {[str(p) for p in places]}; keep "
                                "the member runs where they were (or move them together with the ensemble "
                                "directory), or rerun `lmrec ensemble`")
    for place in found:
        if spec["fingerprint"] is not None and run_fingerprint(place) == spec["fingerprint"]:
            return place
        if spec["fingerprint"] is None and _model_and_seed(place) == (spec["model"], spec["seed"]):
            return place
    raise ValueError(f"{path}: member {spec['name']!r} ({spec['model']!r}, seed {spec['seed']}) was retrained or "
                     f"replaced since it was fused (run at {', '.join(str(p) for p in found)} differs); rerun "
                     "`lmrec ensemble` on the current runs")


def _model_and_seed(run_dir: Path) -> tuple[str, int] | None:
    """``(model, seed)`` from a run's ``run.json`` (``None`` if unreadable)."""
    try:
        cfg = json.loads((run_dir / "run.json").read_text())["config"]
        return str(cfg["model"]), int(cfg["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _relative(target: Path, start: Path) -> str | None:
    """``target`` relative to ``start``, or ``None`` where there is no relative path (another drive)."""
    try:
        return os.path.relpath(target, start)
    except ValueError:
        return None


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
    try:
        return json.loads((run.run_dir / "metrics.json").read_text())["metrics"]["test"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
