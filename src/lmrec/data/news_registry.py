"""Find and load a news dataset by name or folder, choosing its loader.

The news counterpart of :mod:`lmrec.data.registry`. It sits above the loaders
(:mod:`lmrec.data.loaders.mind`, :mod:`lmrec.data.loaders.nemig`,
:mod:`lmrec.data.loaders.mind_recprompt`), which import the types of :mod:`lmrec.data.news`, so
the types module imports no loader.
"""

from __future__ import annotations

import os
from pathlib import Path

from lmrec.data.news import RECPROMPT_PARTS, NewsDataset, resolve_news_folder

__all__ = ["load_news_dataset"]


def load_news_dataset(name: str, data_dir: str | os.PathLike | None = None) -> NewsDataset:
    """Load a news dataset by name or folder; the format is told by ``behaviors.tsv``'s column count
    (5 = MIND, 4 = NeMig), or by ``MIND_test.csv`` (RecPrompt's MIND sample: the names of
    :data:`~lmrec.data.news.RECPROMPT_PARTS`; a folder path gives its test part).

    Raises
    ------
    FileNotFoundError
        If the folder or its ``behaviors.tsv`` (``MIND_test.csv``) is missing.
    ValueError
        If the first line of ``behaviors.tsv`` has neither 4 nor 5 columns, or a RecPrompt CSV
        record is malformed.
    """
    from lmrec.data.loaders.mind import load_mind
    from lmrec.data.loaders.nemig import load_nemig

    folder = resolve_news_folder(name, data_dir)
    if (folder / "MIND_test.csv").is_file() and not (folder / "behaviors.tsv").is_file():
        from lmrec.data.loaders.mind_recprompt import load_mind_recprompt

        parts = RECPROMPT_PARTS.get(name, ("test",))
        return load_mind_recprompt(folder, parts, name=name if name in RECPROMPT_PARTS else None)
    beh = folder / "behaviors.tsv"
    if not beh.is_file():
        raise FileNotFoundError(f"{folder}: no behaviors.tsv (MIND/NeMig news datasets need one)")
    with open(beh, encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), "")
    n_cols = len(first.rstrip("\r\n").split("\t"))
    label = name if not Path(name).is_absolute() else folder.name
    if n_cols == 5:
        return load_mind(folder, label)
    if n_cols == 4:
        return load_nemig(folder, label)
    raise ValueError(f"{beh}:1: {n_cols} columns; expected 5 (MIND) or 4 (NeMig)")
