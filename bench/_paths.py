"""Repository-relative paths in committed result files.

Result files record where a row's inputs came from (a tuned encoder, a pre-trained checkpoint).
Written as absolute paths, they name the machine that ran the bench (``/home/alice/lmrec/.cache/...``)
and mean nothing in another clone; relative to the repository root, they read the same everywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: The repository root (``bench/`` is one level below it).
REPO = Path(__file__).resolve().parent.parent


def repo_relative(obj: Any, root: Path = REPO) -> Any:
    """Copy of ``obj`` with every string that is an absolute path below ``root`` made relative to it.

    Walks dicts, lists and tuples (tuples come back as lists, as JSON would write them); other values
    are returned unchanged, and so are absolute paths outside ``root`` (a dataset directory elsewhere)
    and strings that only start like ``root`` (``/repo-old/x`` is not below ``/repo``).

    Parameters
    ----------
    obj:
        A JSON-like value: a result document, a row or one of its fields.
    root:
        Directory the paths are made relative to; the repository root by default.

    Returns
    -------
    Any
        The converted copy; ``obj`` itself is not modified.
    """
    prefix = str(root.resolve()).rstrip(os.sep) + os.sep
    if isinstance(obj, dict):
        return {k: repo_relative(v, root) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [repo_relative(v, root) for v in obj]
    if isinstance(obj, str) and obj.startswith(prefix):
        return os.path.relpath(obj, prefix)
    return obj
