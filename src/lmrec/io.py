"""Small file helpers shared by every layer (encoders, models, pipelines, serving).

Writes are atomic: the data goes to a temporary file beside the destination and is moved over
it with :func:`os.replace`, so a reader (or a crash) sees either the old file or the complete
new one, never a half-written file. This module imports nothing from lmrec, so any layer may
use it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["CACHE_ENV", "default_cache_root", "save_atomic_npy"]

#: Environment variable naming the cache root (embeddings, exported models, fingerprints).
CACHE_ENV = "LMREC_CACHE_DIR"


def default_cache_root() -> Path:
    """``$LMREC_CACHE_DIR`` if set, else ``~/.cache/lmrec`` (not created here)."""
    env = os.environ.get(CACHE_ENV, "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lmrec"


def save_atomic_npy(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """``np.save`` ``array`` (any shape and dtype) to ``path`` atomically.

    The array is written to ``<path>.tmp.npy`` in the same directory, then renamed over
    ``path``. The parent directory must exist.

    Raises
    ------
    OSError
        If the directory is missing or not writable (the temporary file names the place).
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)
