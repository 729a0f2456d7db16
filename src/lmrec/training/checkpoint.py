"""Atomic checkpoints: weights as safetensors, metadata as JSON, written temp-then-rename.

A crash while writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def save_state(path: str | os.PathLike, state: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
    """Write ``state`` (``str -> torch.Tensor``) to ``path`` (``.safetensors``) and ``meta`` to ``path + .json``."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, str(tmp))
    os.replace(tmp, path)
    if meta is not None:
        mtmp = path.with_name(path.name + ".json.tmp")
        mtmp.write_text(json.dumps(meta, indent=2))
        os.replace(mtmp, path.with_name(path.name + ".json"))


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    """Read a state dict written by :func:`save_state`.

    Raises
    ------
    FileNotFoundError
        Naming the path, when there is no checkpoint.
    ValueError
        When the file is corrupt or truncated.
    """
    from safetensors.torch import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises several error types on corrupt files
        raise ValueError(f"checkpoint {path} is corrupt or truncated ({exc}); retrain or restore it") from exc


def save_training_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> None:
    """Write a resumable training checkpoint with ``torch.save``, atomically.

    ``payload`` holds tensors, state dicts and plain Python values (it must load with
    ``torch.load(weights_only=True)``: no numpy arrays). The file is written to
    ``path + ".tmp"``, flushed to disk, then renamed over ``path`` (``os.replace``), so a
    process killed while writing leaves the previous checkpoint intact.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_training_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_training_checkpoint` (``weights_only=True``).

    Raises
    ------
    FileNotFoundError
        Naming the path, when there is no checkpoint.
    ValueError
        When the file is corrupt, truncated or not such a checkpoint (names the file and the fix).
    """
    import torch

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors differ by torch version
        raise ValueError(f"checkpoint {path} is corrupt or truncated ({exc}); delete it to start afresh") from exc
    if not isinstance(payload, dict):
        raise ValueError(f"{path} is not an lmrec training checkpoint; delete it or pass another path")
    return payload


def check_checkpoint_key(path: str | os.PathLike, found: dict[str, Any], expected: dict[str, Any], *,
                         what: str, run: str, remedy: str) -> None:
    """Refuse a resumable checkpoint written by another run.

    ``found`` / ``expected`` are the saved and the current run's keys (plain JSON values: model,
    settings, data digests). Keys are compared ``"model"`` first, then in sorted order; where a
    value is a dict (a whole config), the message names only the settings that differ.

    Raises
    ------
    ValueError
        ``"{what} {path} belongs to another {run}: {key} is {saved} there but {current} here; {remedy}"``
        for the first differing key.
    """
    for k in ["model", *sorted((set(found) | set(expected)) - {"model"})]:
        a, b = found.get(k), expected.get(k)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):  # name the differing settings, not whole configs
            names = sorted(x for x in set(a) | set(b) if a.get(x) != b.get(x))
            k = f"{k}.{{{', '.join(names)}}}"
            a, b = {x: a.get(x) for x in names}, {x: b.get(x) for x in names}
        raise ValueError(f"{what} {path} belongs to another {run}: {k} is {a!r} there but {b!r} here; {remedy}")
