"""RecPrompt's MIND samples: ``MIND_test.csv`` / ``MIND_valid.csv`` / ``MIND_case.csv`` (Liu et al.,
"RecPrompt: A Self-tuning Prompting Framework for News Recommendation Using Large Language
Models", 2023/24; impressions of MIND-small dev, Wu et al., ACL 2020).

Each file is a CSV (comma separated, header, double-quoted **multi-line** fields; read with
:mod:`csv`, never line by line) with one impression per record::

    impression_id, history, candidate, label,
    history_news_id, history_title, history_category, history_subvert, history_abstract,
    candidate_news_id, candidate_title, candidate_category, candidate_subvert, candidate_abstract

The list-valued fields hold one entry per line, in the same order (parallel lists):
``history`` = ``H<i>: <title>``, ``candidate`` = ``C<j>: <title>``, and the ``*_news_id`` /
``*_title`` / ``*_category`` / ``*_subvert`` / ``*_abstract`` fields. ``label`` names the clicked
candidate(s), ``C<j>`` (1-based), several separated by commas (``MIND_case.csv`` has a few).

All three files share **one news table** (the news ids are MIND ids). It is always built from
all the files present, in the fixed order test → valid → case, whichever part is loaded, so a
news id has the same text in every part. ``MIND_case.csv`` reuses 13 ids of the other files for
*different* articles (checked on the released files: other title, category and abstract): an id
whose text differs from the one already in the table is renamed ``<id>@<part>`` in that file
(e.g. ``N27352@case``) and listed in ``NewsDataset.split["renamed_news"]``, so no article is
scored with another one's text. Within one file, the same id with two texts is an error.

There are no user ids: each impression is its own user (``user_id`` = ``impression_id``), so a
user-level split is an impression-level split. There are no times either (``""``).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from lmrec.data.news import Impressions, NewsDataset

#: Part name → file name, in the order the news table is built.
PARTS = {"test": "MIND_test.csv", "valid": "MIND_valid.csv", "case": "MIND_case.csv"}

COLUMNS = ("impression_id", "history", "candidate", "label",
           "history_news_id", "history_title", "history_category", "history_subvert", "history_abstract",
           "candidate_news_id", "candidate_title", "candidate_category", "candidate_subvert",
           "candidate_abstract")
#: CSV field suffix → news table column.
NEWS_FIELDS = {"title": "title", "abstract": "abstract", "category": "category", "subvert": "subcategory"}

_LABEL = re.compile(r"C(\d+)")


class RecPromptFormatError(ValueError):
    """A malformed record in a RecPrompt CSV (the message names file, impression and field)."""


def _lines(value: str, n_expected: int | None = None) -> list[str]:
    """One entry per line (``"\\r\\n"`` tolerated). An empty field is an empty list, except
    where one entry is expected: then it is that one (empty) entry, e.g. a missing abstract."""
    value = value.replace("\r\n", "\n")
    if value == "":
        return [""] if n_expected == 1 else []
    return value.split("\n")


def read_recprompt_csv(path: str | Path) -> tuple[list[dict], dict[str, tuple[str, ...]]]:
    """Parse one RecPrompt CSV.

    Returns
    -------
    (records, news)
        ``records``: one dict per impression with ``impression_id`` (str), ``history`` and
        ``candidates`` (``list[str]`` news ids, in the order given) and ``labels``
        (``np.ndarray[int8]`` ``[n_candidates]``, 1 = click). ``news``: news id →
        ``(title, abstract, category, subcategory)`` as given in this file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    RecPromptFormatError
        (a ``ValueError``) On a missing column, an empty or repeated impression id, parallel
        lists of different lengths, a ``candidate``/``history`` line not numbered
        ``C<j>:``/``H<i>:`` in order, a label that is not ``C<j>`` of an existing candidate, an
        impression without candidates, or a news id given two different texts in the file —
        naming the file, the CSV record (1-based, header not counted), the impression id and
        the field.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist (RecPrompt MIND sample: MIND_test.csv, "
                                f"MIND_valid.csv, MIND_case.csv)")
    records: list[dict] = []
    news: dict[str, tuple[str, ...]] = {}
    seen_imp: set[str] = set()
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RecPromptFormatError(f"{path}: header lacks column(s) {', '.join(missing)}; expected "
                                       f"the RecPrompt layout ({', '.join(COLUMNS)})")
        for rec_no, row in enumerate(reader, 1):
            imp = (row.get("impression_id") or "").strip()
            where = f"{path}: record {rec_no} (impression {imp or '?'})"
            if None in row or any(row.get(c) is None for c in COLUMNS):
                raise RecPromptFormatError(f"{where}: {len(reader.fieldnames)} columns expected; the "
                                           f"record has more or fewer (an unbalanced quote?)")
            if not imp:
                raise RecPromptFormatError(f"{where}: empty impression_id")
            if imp in seen_imp:
                raise RecPromptFormatError(f"{where}: impression_id {imp} appears twice in the file")
            seen_imp.add(imp)
            sides = {}
            for side, tag in (("history", "H"), ("candidate", "C")):
                ids = [i.strip() for i in _lines(row[f"{side}_news_id"])]
                cols = {k: _lines(row[f"{side}_{k}"], len(ids)) for k in NEWS_FIELDS}
                listed = _lines(row[side], len(ids))
                for name, vals in [(side, listed), *((f"{side}_{k}", v) for k, v in cols.items())]:
                    if len(vals) != len(ids):
                        raise RecPromptFormatError(
                            f"{where}: {name} has {len(vals)} lines but {side}_news_id has {len(ids)}; "
                            f"the list fields must be parallel (one entry per line)")
                for j, text in enumerate(listed, 1):
                    if not text.startswith(f"{tag}{j}:"):
                        raise RecPromptFormatError(f"{where}: line {j} of {side} is {text[:40]!r}; "
                                                   f"expected it to start with '{tag}{j}:'")
                for j, n in enumerate(ids):
                    if not n:
                        raise RecPromptFormatError(f"{where}: line {j + 1} of {side}_news_id is empty")
                    text = tuple(cols[k][j].strip() for k in NEWS_FIELDS)
                    old = news.setdefault(n, text)
                    if old != text:
                        raise RecPromptFormatError(
                            f"{where}: news {n} ({side} line {j + 1}) has title {text[0][:50]!r} but "
                            f"{old[0][:50]!r} earlier in the same file; one id must be one article")
                sides[side] = ids
            cands = sides["candidate"]
            if not cands:
                raise RecPromptFormatError(f"{where}: no candidates")
            labels = np.zeros(len(cands), dtype=np.int8)
            tokens = [t.strip() for t in row["label"].split(",") if t.strip()]
            if not tokens:
                raise RecPromptFormatError(f"{where}: empty label; expected the clicked candidate as C<j>")
            for t in tokens:
                m = _LABEL.fullmatch(t)
                if m is None or not 1 <= int(m.group(1)) <= len(cands):
                    raise RecPromptFormatError(f"{where}: label {t!r} is not C1 … C{len(cands)} (one of "
                                               f"the {len(cands)} candidates)")
                labels[int(m.group(1)) - 1] = 1
            records.append({"impression_id": imp, "history": sides["history"], "candidates": cands,
                            "labels": labels})
    return records, news


def load_mind_recprompt(folder: str | Path, parts: Sequence[str] = ("test",),
                        name: str | None = None) -> NewsDataset:
    """Load RecPrompt's MIND impressions as a labeled :class:`NewsDataset`.

    Parameters
    ----------
    folder:
        Folder with ``MIND_test.csv`` (and normally ``MIND_valid.csv``, ``MIND_case.csv``).
    parts:
        Which files give the impressions: any of ``"test"`` (400 impressions, the set the
        RecPrompt paper reports on), ``"valid"`` (100), ``"case"`` (100), in the order given.
    name:
        Dataset name (default ``"mind-recprompt"`` for the test part, else
        ``"mind-recprompt-<parts>"``).

    Returns
    -------
    NewsDataset
        ``news``: every article of every file present (columns ``title``, ``abstract``,
        ``category``, ``subcategory``, ``source``, all str); ``impressions``: one per record of
        the chosen parts (``user_id`` = ``impression_id``; ``times`` empty), labels int8;
        ``source_format="mind-recprompt"``, ``language="en"``; ``split`` = ``{"part": "+".join(parts),
        "renamed_news": {part: [ids]}}``.

    Raises
    ------
    FileNotFoundError
        If the folder or a requested part's file is missing.
    ValueError
        Unknown part, an impression id in two requested parts, or a malformed record
        (:class:`RecPromptFormatError`).
    """
    folder = Path(folder)
    parts = list(parts)
    bad = [p for p in parts if p not in PARTS]
    if bad or not parts:
        raise ValueError(f"unknown RecPrompt part(s) {bad or parts}; choose from {', '.join(PARTS)}")
    for p in parts:
        if not (folder / PARTS[p]).is_file():
            raise FileNotFoundError(f"{folder}: no {PARTS[p]} (RecPrompt MIND sample, part {p!r})")
    table: dict[str, tuple[str, ...]] = {}
    source: dict[str, str] = {}
    renamed: dict[str, list[str]] = {}
    per_part: dict[str, list[dict]] = {}
    for part, fname in PARTS.items():
        if not (folder / fname).is_file():
            continue
        records, news = read_recprompt_csv(folder / fname)
        alias = {}
        for n, text in news.items():
            if n in table and table[n] != text:
                alias[n] = f"{n}@{part}"
            key = alias.get(n, n)
            if key not in table:
                table[key], source[key] = text, part
        if alias:
            renamed[part] = sorted(alias)
            for r in records:
                r["history"] = [alias.get(n, n) for n in r["history"]]
                r["candidates"] = [alias.get(n, n) for n in r["candidates"]]
        per_part[part] = records
    chosen = [r for p in parts for r in per_part[p]]
    ids = [r["impression_id"] for r in chosen]
    if len(set(ids)) != len(ids):
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
        raise ValueError(f"{folder}: impression id {dup} appears in more than one of the parts {parts}")
    imps = Impressions(impression_ids=ids, user_ids=list(ids), times=[""] * len(ids),
                       histories=[r["history"] for r in chosen],
                       candidates=[r["candidates"] for r in chosen],
                       labels=[r["labels"] for r in chosen])
    news_df = pd.DataFrame.from_dict(table, orient="index", columns=list(NEWS_FIELDS.values()), dtype=str)
    news_df["source"] = pd.Series(source)
    news_df.index.name = "news_id"
    label = "+".join(parts)
    default = "mind-recprompt" if parts == ["test"] else f"mind-recprompt-{label}"
    return NewsDataset(name=name or default, news=news_df, impressions=imps,
                       source_format="mind-recprompt", language="en",
                       split={"part": label, "renamed_news": renamed})
