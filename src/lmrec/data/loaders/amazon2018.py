"""Amazon Review Data (2018), raw files of one category (McAuley lab, UCSD).

Source: https://nijianmo.github.io/amazon/ — cite J. Ni, J. Li and J. McAuley, "Justifying
recommendations using distantly-labeled reviews and fine-grained aspects", EMNLP 2019.

Files (gzipped JSON lines, UTF-8; plain ``.json`` is accepted too):

``{Category}_5.json.gz`` — 5-core reviews, one object per line
    ``reviewerID``, ``asin``, ``overall`` (1–5), ``unixReviewTime`` (s), ``reviewText``,
    ``summary``, ``verified``, ``reviewTime``, ``style``, ``vote``, ``image``, …
``meta_{Category}.json.gz`` — product metadata (optional)
    ``asin``, ``title``, ``category`` (list), ``brand``, ``description`` (list), ``feature``
    (list), ``price`` (str like ``"$10.00"``), ``also_buy``, ``rank``, ``details``, … The official
    files repeat some ASINs; the first line of each ASIN is kept.

Interactions: ``user_id`` = reviewerID, ``item_id`` = asin, ``timestamp`` = unixReviewTime,
``rating`` = overall, plus ``review_text`` and ``summary`` (str or missing) in file order.
Items: ``title``, ``brand``, ``categories``, ``description``, ``feature``, ``price``; empty
strings and lists become ``None``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.loaders._common import iter_json_lines, none_if_empty

REVIEW_SUFFIX = "_5.json"
ITEM_FIELDS = ("title", "brand", "categories", "description", "feature", "price")
TEXT_FIELDS = ["title", "brand", "categories", "description"]


def amazon2018_categories(path: Path) -> list[str]:
    """Categories with a 5-core review file (``{Category}_5.json[.gz]``) in ``path``, sorted."""
    out = set()
    for child in Path(path).iterdir():
        for suffix in (REVIEW_SUFFIX + ".gz", REVIEW_SUFFIX):
            if child.name.endswith(suffix) and child.is_file():
                out.add(child.name[: -len(suffix)])
    return sorted(out)


def _find(path: Path, stem: str) -> Path | None:
    for candidate in (path / f"{stem}.json.gz", path / f"{stem}.json"):
        if candidate.is_file():
            return candidate
    return None


def _read_reviews(review_file: Path) -> pd.DataFrame:
    users, items, times, ratings, texts, summaries = [], [], [], [], [], []
    for lineno, rec in iter_json_lines(review_file):
        user, asin = rec.get("reviewerID"), rec.get("asin")
        if not user or not asin:
            raise ValueError(f"{review_file}, line {lineno}: review without reviewerID or asin "
                             f"(reviewerID={user!r}, asin={asin!r}) — is this a review file?")
        users.append(str(user))
        items.append(str(asin))
        times.append(rec.get("unixReviewTime", np.nan))
        ratings.append(rec.get("overall", np.nan))
        texts.append(none_if_empty(rec.get("reviewText")))
        summaries.append(none_if_empty(rec.get("summary")))
    return pd.DataFrame({"user_id": users, "item_id": items,
                         "timestamp": np.asarray(times, dtype="float64"),
                         "rating": np.asarray(ratings, dtype="float64"),
                         "review_text": texts, "summary": summaries})


def _item_record(rec: dict) -> dict:
    return {"title": none_if_empty(rec.get("title")), "brand": none_if_empty(rec.get("brand")),
            "categories": none_if_empty(rec.get("category")),
            "description": none_if_empty(rec.get("description")),
            "feature": none_if_empty(rec.get("feature")), "price": none_if_empty(rec.get("price"))}


def _read_metadata(meta_file: Path) -> tuple[dict[str, dict], str | None]:
    """``{asin: item record}`` keeping the first line per ASIN, and a note on duplicates."""
    first: dict[str, dict] = {}
    kept: dict[str, dict] = {}
    n_dup = n_diff = 0
    for lineno, rec in iter_json_lines(meta_file):
        asin = rec.get("asin")
        if not asin:
            raise ValueError(f"{meta_file}, line {lineno}: metadata line without 'asin'")
        asin = str(asin)
        if asin in first:
            n_dup += 1
            n_diff += rec != first[asin]
            continue
        first[asin] = rec
        kept[asin] = _item_record(rec)
    note = None
    if n_dup:
        note = (f"{meta_file.name}: {n_dup} duplicate ASIN line(s) dropped (first line kept); "
                f"{n_diff} of them differed in content from the kept line")
    return kept, note


def load_amazon2018(path: Path, name: str | None = None, *, category: str | None = None,
                    include_unreviewed: bool = False) -> RecDataset:
    """Load one category of the raw Amazon Review Data (2018).

    Parameters
    ----------
    path:
        Folder holding ``{Category}_5.json.gz`` and optionally ``meta_{Category}.json.gz``.
    name:
        Dataset name; default ``"<folder>/<Category>"``.
    category:
        Category to load, e.g. ``"Gift_Cards"``; may be omitted if the folder holds one.
    include_unreviewed:
        Also put metadata items without any review into the catalog (the metadata covers the
        whole category, far more than the 5-core). Default: catalog = reviewed items.

    Raises
    ------
    FileNotFoundError
        If the review file of ``category`` is missing (available categories are listed).
    ValueError
        On a line that is not valid JSON or lacks ``reviewerID``/``asin`` (file and line named).
    """
    path = Path(path)
    available = amazon2018_categories(path) if path.is_dir() else []
    if category is None:
        if len(available) != 1:
            raise ValueError(f"{path}: pass category=… — the folder holds categories {available}")
        category = available[0]
    review_file = _find(path, f"{category}_5")
    if review_file is None:
        raise FileNotFoundError(f"{path}: no {category}_5.json.gz — available categories: "
                                f"{available}; download with `lmrec download amazon2018/{category}`")
    inter = _read_reviews(review_file)
    reviewed = list(dict.fromkeys(inter["item_id"]))
    notes = []
    n_pairs_dup = int(inter.duplicated(["user_id", "item_id"]).sum())
    if n_pairs_dup:
        notes.append(f"{n_pairs_dup} repeated (user, item) review(s) kept as separate interactions")
    meta_file = _find(path, f"meta_{category}")
    meta: dict[str, dict] = {}
    if meta_file is None:
        notes.append(f"no metadata file meta_{category}.json.gz: items have no text "
                     f"(only review text is available)")
    else:
        meta, dup_note = _read_metadata(meta_file)
        notes += [dup_note] if dup_note else []
        n_without = sum(a not in meta for a in reviewed)
        if n_without:
            notes.append(f"{n_without} of {len(reviewed)} reviewed items have no metadata (no text)")
        seen = set(reviewed)
        unreviewed = [a for a in meta if a not in seen]
        if unreviewed and include_unreviewed:
            reviewed += unreviewed
            notes.append(f"catalog includes {len(unreviewed)} metadata items without reviews")
    empty = dict.fromkeys(ITEM_FIELDS)
    items = pd.DataFrame([meta.get(a, empty) for a in reviewed], columns=list(ITEM_FIELDS),
                         index=pd.Index(reviewed, name="item_id"))
    return RecDataset(name=name or f"{path.name}/{category}", interactions=inter, items=items,
                      text_fields=list(TEXT_FIELDS), ordered=True, notes=notes,
                      source={"format": "amazon2018", "path": str(path), "category": category})
