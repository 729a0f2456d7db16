"""Artefact directories written atomically, with sha256 checksums of every file.

A fitted transform or an ANN index is a directory::

    config.json     {"type": ..., ..., "files": {"name": {"sha256": ..., "bytes": ...}}}
    <weights>       .npy / .faiss files listed under "files"

:func:`write_artifact_dir` writes everything into a temporary sibling directory and then swaps
it into place with :func:`os.replace`, so a crash leaves either the old artefact or the new
one, never a mix. :func:`read_artifact_config` verifies the checksums before anything is
deserialised, so a truncated or corrupted file is reported by name instead of crashing faiss
or numpy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ArtifactCorruptError", "write_artifact_dir", "read_artifact_config", "save_npy", "load_npy"]


class ArtifactCorruptError(ValueError):
    """A saved artefact's file is missing, truncated or fails its checksum."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` without pickling (object arrays are refused)."""
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=False)


def load_npy(path: Path) -> np.ndarray:
    """``np.load`` of a file written by :func:`save_npy` (no pickles)."""
    return np.load(path, allow_pickle=False)


def write_artifact_dir(path: str | os.PathLike, config: dict[str, Any],
                       writers: dict[str, Callable[[Path], None]]) -> Path:
    """Write an artefact directory atomically.

    Parameters
    ----------
    path:
        Destination directory; replaced if it exists.
    config:
        JSON-serialisable configuration; a ``"files"`` entry with the sha256 and size in bytes
        of every written file is added.
    writers:
        File name → function writing that file to the path it is given.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        files = {}
        for name, write in writers.items():
            write(tmp / name)
            files[name] = {"sha256": _sha256(tmp / name), "bytes": (tmp / name).stat().st_size}
        with open(tmp / "config.json", "w") as f:
            json.dump({**config, "files": files}, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def read_artifact_config(path: str | os.PathLike, expected_type: str | None = None,
                         error: type[ArtifactCorruptError] = ArtifactCorruptError) -> dict[str, Any]:
    """Read ``path/config.json`` and verify every file it lists.

    Parameters
    ----------
    path:
        Artefact directory written by :func:`write_artifact_dir`.
    expected_type:
        If given, ``config["type"]`` must equal it.
    error:
        Exception class raised for corrupt artefacts (a subclass of :class:`ArtifactCorruptError`).

    Raises
    ------
    FileNotFoundError
        If ``path/config.json`` does not exist.
    ArtifactCorruptError
        (or ``error``) naming the file that is unreadable, missing, of the wrong size or whose
        sha256 differs from the one recorded at save time.
    ValueError
        If the artefact is of another type than ``expected_type``.
    """
    path = Path(path)
    cfg_path = path / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"{path} is not a saved lmrec artefact (no config.json)")
    try:
        cfg = json.loads(cfg_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{cfg_path} is corrupt (not valid JSON: {exc}); re-create the artefact") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("files"), dict):
        raise error(f"{cfg_path} is corrupt (no 'files' checksums); re-create the artefact")
    if expected_type is not None and cfg.get("type") != expected_type:
        raise ValueError(f"{path} holds a {cfg.get('type')!r} artefact, expected {expected_type!r}")
    for name, meta in cfg["files"].items():
        f = path / name
        if not f.exists():
            raise error(f"{f} is missing; the artefact in {path} is incomplete — re-create it")
        size = f.stat().st_size
        if size != meta.get("bytes"):
            raise error(f"{f} is truncated or corrupt ({size} bytes, expected {meta.get('bytes')}); re-create it")
        if _sha256(f) != meta.get("sha256"):
            raise error(f"{f} is corrupt (sha256 differs from the one in config.json); re-create it")
    return cfg
