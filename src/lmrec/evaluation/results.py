"""Result files: ``metrics.json`` per run, environment record, markdown tables.

Everything here is standard library only (no numpy/torch import needed to call it), so
writing results never slows a light command down.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import tempfile
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["environment_info", "write_json_atomic", "write_metrics_json", "format_table"]

_PACKAGES = ("lmrec", "torch", "transformers", "sentence-transformers", "numpy", "pandas")


def environment_info() -> dict[str, Any]:
    """Versions and machine facts to store next to results.

    Package versions come from installed distribution metadata (``importlib.metadata``), so
    nothing heavy is imported.

    Returns
    -------
    dict
        ``{"python": "3.11.9", "platform": "Linux-...", "lmrec": "0.1.0", "torch": ...,
        "transformers": ..., "sentence-transformers": ..., "numpy": ..., "pandas": ...,
        "cpu_count": int | None}``; a package that is not installed maps to ``None``.
    """
    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = None
    info["cpu_count"] = os.cpu_count()
    return info


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically.

    The JSON goes to a temporary file in the same directory, is flushed and fsynced, then
    moved over ``path`` with :func:`os.replace`, so readers see either the old file or the
    complete new one. Parent directories are created. numpy scalars and arrays, dataclasses,
    pydantic models (``model_dump``), tuples and paths are converted to plain JSON values.

    Parameters
    ----------
    path:
        Destination file.
    obj:
        JSON-serialisable value.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If a float is NaN or infinite (JSON has no such values), naming its key path,
        e.g. ``metrics.test.recall@10``.
    TypeError
        If a value cannot be converted to JSON, naming its key path.
    """
    path = Path(path)
    text = json.dumps(_plain(obj, ""), indent=2, allow_nan=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_metrics_json(
    run_dir: str | os.PathLike[str],
    *,
    dataset_stats: Mapping[str, Any],
    split: Any,
    protocol: Any,
    seed: Any,
    model_config: Any,
    wall_s: float,
    valid: Mapping[str, Any] | None,
    test: Mapping[str, Any] | None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``run_dir/metrics.json`` (atomically) describing one run.

    Parameters
    ----------
    run_dir:
        Run directory (created if missing).
    dataset_stats:
        Dataset statistics (users, items, interactions, ...).
    split:
        Split description (name and parameters).
    protocol:
        Evaluation protocol, typically ``evaluate_ranking(...)["protocol"]``.
    seed:
        The seed (or seed object) that drove the run.
    model_config:
        Model configuration: a dict, dataclass or pydantic model.
    wall_s:
        Wall-clock duration of the run in seconds.
    valid, test:
        Either the dict returned by :func:`~lmrec.evaluation.evaluate_ranking` (its
        ``"metrics"`` and ``"slices"`` are taken, and its case counts go to
        ``extra["eval_counts"]``) or a flat metric dict ``{"recall@10": ...}``; ``None`` if
        that split was not evaluated.
    extra:
        Anything else, stored under ``"extra"``.

    Returns
    -------
    Path
        The written ``metrics.json``.

    Raises
    ------
    ValueError
        If any float (a metric, ``wall_s``, ...) is NaN or infinite, naming its key.

    Notes
    -----
    Top-level keys, always present: ``dataset``, ``split``, ``protocol``, ``seed``, ``model``,
    ``versions`` (:func:`environment_info`), ``wall_s``, ``metrics`` (``{"valid": {...},
    "test": {...}}``), ``slices`` (``{"valid": {...}, "test": {...}}``) and ``extra``.
    """
    metrics: dict[str, Any] = {}
    slices: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    for name, res in (("valid", valid), ("test", test)):
        if res is None:
            metrics[name], slices[name] = None, None
        elif "metrics" in res:
            metrics[name] = dict(res["metrics"])
            slices[name] = dict(res.get("slices") or {})
            counts[name] = {k: res[k] for k in ("n_cases", "n_targets", "n_targets_in_history")
                            if k in res}
        else:
            metrics[name], slices[name] = dict(res), {}
    extra_out = dict(extra or {})
    if counts and "eval_counts" not in extra_out:
        extra_out["eval_counts"] = counts
    doc = {
        "dataset": dataset_stats,
        "split": split,
        "protocol": protocol,
        "seed": seed,
        "model": model_config,
        "versions": environment_info(),
        "wall_s": wall_s,
        "metrics": metrics,
        "slices": slices,
        "extra": extra_out,
    }
    return write_json_atomic(Path(run_dir) / "metrics.json", doc)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Render ``rows`` as a GitHub-flavoured markdown table.

    Floats print with 4 decimals, missing values and ``None`` as ``—``; a column whose values
    are all numbers is right-aligned. Cells are padded so the table also reads well in a
    terminal; ``|`` inside a cell is escaped.

    Parameters
    ----------
    rows:
        One mapping per table row.
    columns:
        Keys to show, in order (also the header).

    Returns
    -------
    str
        The table, lines joined with ``\\n``, no trailing newline.

    Raises
    ------
    ValueError
        If ``columns`` is empty.

    Examples
    --------
    >>> print(format_table([{"model": "pop", "recall@10": 0.05}], ["model", "recall@10"]))
    | model | recall@10 |
    | :---- | --------: |
    | pop   |    0.0500 |
    """
    if not columns:
        raise ValueError("format_table: columns is empty; name the keys to show")
    header = [str(c).replace("|", "\\|") for c in columns]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    numeric = [
        all(_is_number(row.get(c)) for row in rows if row.get(c) is not None)
        and any(row.get(c) is not None for row in rows)
        for c in columns
    ]
    widths = [max([len(header[j]), 3] + [len(r[j]) for r in cells]) for j in range(len(columns))]

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.rjust(w) if num else v.ljust(w)
                                 for v, w, num in zip(values, widths, numeric)) + " |"

    rule = "| " + " | ".join(("-" * (w - 1) + ":") if num else (":" + "-" * (w - 1))
                             for w, num in zip(widths, numeric)) + " |"
    head = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"
    return "\n".join([head, rule] + [line(r) for r in cells])


# --------------------------------------------------------------------------- helpers

def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) or _numpy_kind(v) in ("i", "u", "f")


def _numpy_kind(v: Any) -> str | None:
    """numpy dtype kind of a numpy scalar/array, without importing numpy."""
    dtype = getattr(v, "dtype", None)
    return getattr(dtype, "kind", None) if type(v).__module__.startswith("numpy") else None


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if _numpy_kind(v) is not None and getattr(v, "ndim", 1) == 0:
        v = v.item()
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def _plain(obj: Any, key: str) -> Any:
    """Convert ``obj`` to plain JSON values, refusing NaN/inf; ``key`` is the path for errors."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        if not math.isfinite(obj):
            raise ValueError(f"{key or 'value'} is {obj}; JSON results may not hold NaN or infinity — "
                             f"fix the computation or store null explicitly")
        return float(obj)
    if _numpy_kind(obj) is not None:
        return _plain(obj.tolist(), key)           # numpy scalar or array
    if isinstance(obj, Mapping):
        return {str(k): _plain(v, f"{key}.{k}" if key else str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v, f"{key or 'value'}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _plain(dataclasses.asdict(obj), key)
    if hasattr(obj, "model_dump"):
        return _plain(obj.model_dump(mode="json"), key)
    raise TypeError(f"{key or 'value'}: cannot store a {type(obj).__name__} in JSON; convert it to a "
                    f"dict, list, str or number first")
