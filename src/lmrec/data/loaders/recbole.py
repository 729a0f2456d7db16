"""RecBole atomic files as released with UniSRec's downstream datasets.

Source: Y. Hou, S. Mu, W. X. Zhao, Y. Li, B. Ding and J.-R. Wen, "Towards Universal Sequence
Representation Learning for Recommender Systems", KDD 2022 (UniSRec), whose
``process_amazon.py`` produced e.g. ``Scientific`` from Amazon Review Data (2018). File layout
(tab separated, UTF-8, prefix ``X`` = dataset name):

``X.text``
    header ``item_id:token<TAB>text:token_seq``, then ``ASIN<TAB>text`` (title + category
    path + brand in one string).
``X.item2index`` / ``X.user2index``
    ``external_id<TAB>index`` (ASIN / reviewerID → 0-based index), no header.
``X.train.inter`` / ``X.valid.inter`` / ``X.test.inter``
    header ``user_id:token<TAB>item_id_list:token_seq<TAB>item_id:token``; each row = user
    index, space-separated history of item indices (the last ≤ 50 items), target item index.
    Train rows are every prefix of a user's training sequence; valid/test hold one row per user
    (second-last / last item: leave-one-out by time).

The loader keeps the data exactly as given: each user's full sequence is rebuilt from the train
rows (chaining each row's history to the next target, which also recovers items hidden by the
50-item truncation), followed by the valid and test targets; valid/test histories must be
suffixes of that sequence. Result: interactions with ``user_id`` = reviewerID, ``item_id`` =
ASIN, ``timestamp`` NaN, sequence order, and a ``split`` column; items with one field ``text``.
Without ``X.item2index``/``X.user2index`` the index tokens themselves are the ids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.loaders._common import none_if_empty, read_fields

SPLITS = ("train", "valid", "test")


def recbole_datasets(path: Path) -> list[str]:
    """Prefixes ``X`` with an ``X.train.inter`` file in ``path``, sorted."""
    suffix = ".train.inter"
    return sorted(p.name[: -len(suffix)] for p in Path(path).glob(f"*{suffix}") if p.is_file())


def _read_index(path: Path) -> dict[str, str]:
    """``external<TAB>index`` lines as ``{index token: external id}``, in file order."""
    out: dict[str, str] = {}
    for lineno, (external, index) in read_fields(path, "\t", 2):
        if index in out:
            raise ValueError(f"{path}, line {lineno}: index {index!r} is used twice "
                             f"({out[index]!r} and {external!r})")
        out[index] = external
    return out


def _read_inter(path: Path) -> list[tuple[int, str, tuple[str, ...], str]]:
    """Rows ``(line, user token, history tokens, target token)`` of one ``.inter`` file."""
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().rstrip("\r\n").split("\t")
    names = [h.split(":")[0] for h in header]
    wanted = ["user_id", "item_id_list", "item_id"]
    if any(w not in names for w in wanted):
        raise ValueError(f"{path}, line 1: header {header} lacks one of the fields {wanted} — "
                         f"expected user_id:token, item_id_list:token_seq, item_id:token")
    cols = [names.index(w) for w in wanted]
    rows = []
    for lineno, fields in read_fields(path, "\t", len(header), skip_header=True):
        user, hist, target = (fields[c] for c in cols)
        rows.append((lineno, user, tuple(hist.split()), target))
    return rows


def _rebuild(user: str, rows: dict[str, list], files: dict[str, Path], max_len: int):
    """Full sequence ``[(item token, split)]`` of one user, checked against every row."""
    train = rows["train"]
    start = min(train, key=lambda r: len(r[2]))[2] if train else (
        rows["valid"] or rows["test"])[0][2]
    seq = [(tok, "train") for tok in start]
    pool: dict[tuple[str, ...], list[tuple[int, str]]] = {}
    for lineno, _, hist, target in train:
        pool.setdefault(hist, []).append((lineno, target))
    while True:
        key = tuple(t for t, _ in seq[-max_len:])
        bucket = pool.get(key)
        if not bucket:
            break
        seq.append((bucket.pop(0)[1], "train"))
        if not bucket:
            del pool[key]
    if pool:
        lineno = min(entry[0] for bucket in pool.values() for entry in bucket)
        raise ValueError(f"{files['train']}, line {lineno}: the history of user {user!r} does not "
                         f"continue the sequence rebuilt from the user's other train rows — the "
                         f"atomic files are inconsistent; re-create them or use the original release")
    for split in ("valid", "test"):
        if len(rows[split]) > 1:
            raise ValueError(f"{files[split]}, line {rows[split][1][0]}: user {user!r} has more "
                             f"than one row (expected one {split} row per user)")
        for lineno, _, hist, target in rows[split]:
            expected = tuple(t for t, _ in seq[-max_len:])
            if hist != expected:
                raise ValueError(f"{files[split]}, line {lineno}: history of user {user!r} is not "
                                 f"the end of the user's train sequence (expected "
                                 f"{' '.join(expected[-5:])!r} at its end) — the split files do "
                                 f"not belong together")
            seq.append((target, split))
    return seq


def load_recbole(path: Path, name: str | None = None, *, dataset: str | None = None) -> RecDataset:
    """Load UniSRec/RecBole atomic files ``X.{text,item2index,user2index,train/valid/test.inter}``.

    Parameters
    ----------
    path:
        Folder holding the files.
    name:
        Dataset name; default the folder name.
    dataset:
        The prefix ``X``; may be omitted if the folder holds one set.

    Raises
    ------
    ValueError
        If the files disagree (a history that is not a prefix/suffix of the rebuilt sequence, an
        index not in ``X.item2index``), naming file, line and id.
    """
    path = Path(path)
    available = recbole_datasets(path)
    if dataset is None:
        if len(available) != 1:
            raise ValueError(f"{path}: pass dataset=… — the folder holds atomic file sets {available}")
        dataset = available[0]
    files = {s: path / f"{dataset}.{s}.inter" for s in SPLITS}
    for f in files.values():
        if not f.is_file():
            raise FileNotFoundError(f"{f}: file not found — a RecBole/UniSRec dataset needs "
                                    f"{dataset}.train.inter, .valid.inter and .test.inter")
    per_user: dict[str, dict[str, list]] = {}
    max_len = 0
    for split, f in files.items():
        for row in _read_inter(f):
            per_user.setdefault(row[1], {s: [] for s in SPLITS})[split].append(row)
            max_len = max(max_len, len(row[2]))
    item_file, user_file = path / f"{dataset}.item2index", path / f"{dataset}.user2index"
    item_ids = _read_index(item_file) if item_file.is_file() else None
    user_ids = _read_index(user_file) if user_file.is_file() else None
    order = sorted(per_user, key=lambda u: int(u)) if all(u.isdigit() for u in per_user) else list(per_user)

    users, items, splits = [], [], []
    n_hidden, n_truncated = 0, 0
    for u in order:
        seq = _rebuild(u, per_user[u], files, max_len)
        if user_ids is not None and u not in user_ids:
            raise ValueError(f"{files['train']}: user index {u!r} is not in {user_file.name}")
        external_user = user_ids[u] if user_ids is not None else u
        for tok, split in seq:
            if item_ids is not None and tok not in item_ids:
                raise ValueError(f"{path}: item index {tok!r} of user {u!r} is not in "
                                 f"{item_file.name} — the files do not belong together")
            users.append(external_user)
            items.append(item_ids[tok] if item_ids is not None else tok)
            splits.append(split)
        last = per_user[u]["test"] or per_user[u]["valid"]
        visible = len(last[0][2]) + 1 if last else len(seq)
        if len(seq) > visible:
            n_truncated += 1
            n_hidden += len(seq) - visible
    n = len(users)
    inter = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": np.full(n, np.nan),
                          "rating": np.full(n, np.nan), "split": splits})

    texts: dict[str, str | None] = {}
    text_file = path / f"{dataset}.text"
    notes = ["split as given in the RecBole atomic files (leave-one-out by time)"]
    if text_file.is_file():
        for _, (item, text) in _read_text(text_file):
            texts[item] = none_if_empty(text)
    else:
        notes.append(f"no {dataset}.text file: items have no text")
    if item_ids is None:
        catalog = list(dict.fromkeys(items))
    else:  # index order (file order if the indices are not numbers)
        keys = sorted(item_ids, key=int) if all(k.isdigit() for k in item_ids) else list(item_ids)
        catalog = [item_ids[k] for k in keys]
    item_table = pd.DataFrame({"text": [texts.get(i) for i in catalog]},
                              index=pd.Index(catalog, name="item_id"))
    if n_truncated:
        notes.append(f"histories in the .inter files are truncated to the last {max_len} items; "
                     f"the full sequences of {n_truncated} user(s) ({n_hidden} interactions "
                     f"beyond the truncation) were rebuilt from the train rows")
    return RecDataset(name=name or path.name, interactions=inter, items=item_table,
                      text_fields=["text"], ordered=True, notes=notes,
                      source={"format": "recbole", "path": str(path), "dataset": dataset})


def _read_text(path: Path):
    """``(line, (item, text))`` of an ``X.text`` file; the text may itself contain tabs."""
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if lineno == 1 and line.startswith("item_id"):
                continue
            if not line.strip():
                continue
            item, sep, text = line.partition("\t")
            if not sep:
                raise ValueError(f"{path}, line {lineno}: expected 'item_id<TAB>text', found "
                                 f"{line[:80]!r}")
            yield lineno, (item, text)
