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
