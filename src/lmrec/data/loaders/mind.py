"""MIND format: ``news.tsv`` + ``behaviors.tsv`` (Wu et al., "MIND: A Large-scale Dataset for
News Recommendation", ACL 2020).

``news.tsv`` (tab separated, no header)::

    news_id  category  subcategory  title  abstract  url  title_entities  abstract_entities

``behaviors.tsv`` (tab separated, no header)::

    impression_id  user_id  time  history  impressions

``history`` is a space-separated list of clicked news ids (may be empty); ``impressions`` is a
space-separated list of ``newsid-label`` (label 1 = click, 0 = no click) — or of bare news ids
in unlabeled (test) files. One file is either labeled or unlabeled throughout.

The entity columns are kept as raw JSON strings (no entity embeddings are used here).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from lmrec.data.news import Impressions, NewsDataset

NEWS_COLUMNS = ["news_id", "category", "subcategory", "title", "abstract", "url",
                "title_entities", "abstract_entities"]
TEXT_FIELDS = ("title", "abstract", "category", "subcategory")


def read_mind_news(path: str | Path) -> pd.DataFrame:
    """Read a MIND ``news.tsv``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``news_id`` (str) with the columns of :data:`NEWS_COLUMNS` (all str, empty
        string where missing). Rows with fewer than 8 fields (older MIND dumps end at the title
        entities) are padded with empty strings.

    Raises
    ------
    ValueError
        If a row has fewer than 4 fields (no title) or an id repeats, naming the file and line.
    """
    path = Path(path)
    rows = []
    seen: set[str] = set()
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, fields in enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
            if not fields or fields == [""]:
                continue
            if len(fields) < 4 or len(fields) > len(NEWS_COLUMNS):
                raise ValueError(f"{path}:{line_no}: expected 4–8 tab-separated fields "
                                 f"(news_id, category, subcategory, title, …), got {len(fields)}")
            fields = fields + [""] * (len(NEWS_COLUMNS) - len(fields))
            if fields[0] in seen:
                raise ValueError(f"{path}:{line_no}: news id {fields[0]!r} appears twice")
            seen.add(fields[0])
            rows.append(fields)
    df = pd.DataFrame(rows, columns=NEWS_COLUMNS, dtype=str)
    return df.set_index("news_id")


def parse_impression_list(text: str, where: str) -> tuple[list[str], np.ndarray | None]:
    """Parse ``"N1-1 N2-0"`` → (``["N1", "N2"]``, ``array([1, 0], int8)``); ``"N1 N2"`` → labels ``None``.

    Raises
    ------
    ValueError
        On a mix of labeled and unlabeled entries, a label other than 0/1, or an empty list;
        ``where`` (file:line) is named.
    """
    tokens = text.split()
    if not tokens:
        raise ValueError(f"{where}: impression has no candidates")
    ids, labels = [], []
    for tok in tokens:
        news_id, sep, label = tok.rpartition("-")
        if sep and label in ("0", "1"):
            ids.append(news_id)
            labels.append(int(label))
        elif sep and news_id and not label.isalnum():
            raise ValueError(f"{where}: bad candidate {tok!r}; expected NEWSID-0 or NEWSID-1")
        else:
            ids.append(tok)
            labels.append(None)
    given = [lab is not None for lab in labels]
    if any(given) and not all(given):
        raise ValueError(f"{where}: impression mixes labeled and unlabeled candidates ({text[:80]!r})")
    return ids, (np.asarray(labels, dtype=np.int8) if all(given) else None)


def read_behaviors(path: str | Path, with_time: bool = True) -> Impressions:
    """Read a MIND ``behaviors.tsv`` (``with_time=True``, 5 columns) or a NeMig one (4 columns).

    Returns
    -------
    Impressions
        One row per line; ``labels`` is ``None`` when the file is unlabeled.

    Raises
    ------
    ValueError
        On a wrong number of columns, a repeated impression id, or a file mixing labeled and
        unlabeled impressions, naming the file and line.
    """
    path = Path(path)
    n_cols = 5 if with_time else 4
    ids, users, times, histories, cands, labels = [], [], [], [], [], []
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != n_cols:
                raise ValueError(f"{path}:{line_no}: expected {n_cols} tab-separated columns "
                                 f"({'MIND' if with_time else 'NeMig'} behaviors.tsv), got {len(fields)}")
            where = f"{path}:{line_no}"
            imp_id, user = fields[0], fields[1]
            hist, imps = fields[-2], fields[-1]
            c, lab = parse_impression_list(imps, where)
            if labels and (labels[-1] is None) != (lab is None):
                raise ValueError(f"{where}: file mixes labeled and unlabeled impressions")
            ids.append(imp_id)
            users.append(user)
            times.append(fields[2] if with_time else "")
            histories.append(hist.split())
            cands.append(c)
            labels.append(lab)
    if len(set(ids)) != len(ids):
        dup = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
        raise ValueError(f"{path}: impression id {dup!r} appears more than once")
    return Impressions(impression_ids=ids, user_ids=users, times=times, histories=histories,
                       candidates=cands, labels=None if labels and labels[0] is None else labels)


def load_mind(folder: str | Path, name: str | None = None) -> NewsDataset:
    """Load a MIND-format folder (``news.tsv`` + ``behaviors.tsv``) as a :class:`NewsDataset`.

    Raises
    ------
    FileNotFoundError
        If either file is missing.
    """
    folder = Path(folder)
    for f in ("news.tsv", "behaviors.tsv"):
        if not (folder / f).is_file():
            raise FileNotFoundError(f"{folder}: no {f} (MIND format needs news.tsv and behaviors.tsv)")
    news = read_mind_news(folder / "news.tsv")
    imps = read_behaviors(folder / "behaviors.tsv", with_time=True)
    return NewsDataset(name=name or folder.name, news=news, impressions=imps, source_format="mind")
