"""LC-Rec / LETTER / TIGER-style JSON files of generative-recommendation papers.

Source format of LC-Rec (B. Zheng, Y. Hou, H. Lu, Y. Chen, W. X. Zhao, M. Chen and J.-R. Wen,
"Adapting Large Language Models by Integrating Collaborative Semantics for Recommendation",
ICDE 2024), built from Amazon Review Data (McAuley lab). Files (UTF-8 JSON, prefix ``X``):

``X.item.json``
    ``{"<item_idx>": {"title": str, "description": str, "brand": str, "categories": str}}`` with
    0-based string keys; ``categories`` is one comma-joined string; ``description`` may be empty.
``X.inter.json``
    ``{"<user_idx>": [item_idx, …]}``, each list chronological.

There are no ASINs, user ids, ratings or timestamps: ids are the index strings (``"0"`` is an
ordinary id), order is the list order, and no split is given (lmrec's leave-one-out splitter
applies the conventional one: last item test, second-last valid).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.loaders._common import none_if_empty

ITEM_FIELDS = ("title", "description", "brand", "categories")
TEXT_FIELDS = ["title", "brand", "categories", "description"]


def lcrec_datasets(path: Path) -> list[str]:
    """Prefixes ``X`` with both ``X.item.json`` and ``X.inter.json`` in ``path``, sorted."""
    path = Path(path)
    suffix = ".inter.json"
    return sorted(p.name[: -len(suffix)] for p in path.glob(f"*{suffix}")
                  if (path / (p.name[: -len(suffix)] + ".item.json")).is_file())


def _read_json(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}) — the file may "
                         f"be truncated; copy it again") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object keyed by index, found {type(data).__name__}")
    return data


def load_lcrec(path: Path, name: str | None = None, *, dataset: str | None = None) -> RecDataset:
    """Load ``X.item.json`` + ``X.inter.json`` from ``path``.

    Items: ``title``, ``description``, ``brand``, ``categories`` (str, ``None`` when empty), in
    file order. Interactions: one row per list entry, users in file order, ``ordered=True``.

    Raises
    ------
    ValueError
        If a file is not valid JSON, an item record is not an object, or a user's history is
        not a list (file and id named).
    """
    path = Path(path)
    available = lcrec_datasets(path)
    if dataset is None:
        if len(available) != 1:
            raise ValueError(f"{path}: pass dataset=… — the folder holds LC-Rec sets {available}")
        dataset = available[0]
    item_file, inter_file = path / f"{dataset}.item.json", path / f"{dataset}.inter.json"
    for f in (item_file, inter_file):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: file not found — an LC-Rec dataset needs "
                                    f"{dataset}.item.json and {dataset}.inter.json")
    records, ids = [], []
    for item_id, rec in _read_json(item_file).items():
        if not isinstance(rec, dict):
            raise ValueError(f"{item_file}: item {item_id!r} is a {type(rec).__name__}, "
                             f"expected an object with {list(ITEM_FIELDS)}")
        ids.append(str(item_id))
        records.append({f: none_if_empty(rec.get(f)) for f in ITEM_FIELDS})
    items = pd.DataFrame(records, columns=list(ITEM_FIELDS), index=pd.Index(ids, name="item_id"))
    users, seq_items = [], []
    for user_id, history in _read_json(inter_file).items():
        if not isinstance(history, list):
            raise ValueError(f"{inter_file}: history of user {user_id!r} is a "
                             f"{type(history).__name__}, expected a list of item indices")
        users.extend([str(user_id)] * len(history))
        seq_items.extend(str(i) for i in history)
    n = len(users)
    inter = pd.DataFrame({"user_id": users, "item_id": seq_items, "timestamp": np.full(n, np.nan),
                          "rating": np.full(n, np.nan)})
    notes = ["no timestamps: order is the list order of the LC-Rec inter.json"]
    unknown = sorted(set(seq_items) - set(ids))
    if unknown:
        notes.append(f"{len(unknown)} interacted item(s) are missing from {item_file.name} "
                     f"(no text), e.g. {unknown[:3]}")
    return RecDataset(name=name or path.name, interactions=inter, items=items,
                      text_fields=list(TEXT_FIELDS), ordered=True, notes=notes,
                      source={"format": "lcrec", "path": str(path), "dataset": dataset})
