"""User text: what users wrote (reviews, tags), told us (profile fields) and consumed (titles).

One string per user is built from up to four optional sources, in this order:

``profile``
    Profile fields of ``RecDataset.users`` rendered as words, never codes: ``"Age 25-34.
    Gender: female. Occupation: programmer."`` Integer ages (ml-100k ``u.user``) are put into
    the age buckets of the ML-1M README (``"Under 18"``, ``"18-24"`` … ``"56+"``); ml-1m
    ``users.dat`` codes are already decoded by the loader. Zip codes are not used.
``tags``
    Free-text tags the user applied (ml-latest-small ``tags.csv``, read by
    :func:`read_user_tags`), distinct, first-use order: ``"Tags: dark comedy, twist ending."``
``reviews``
    Amazon 2018 ``summary`` + ``reviewText`` of the user's interactions
    (``interactions.summary`` / ``interactions.review_text``), chronological.
``history_titles``
    Titles of the items the user interacted with, chronological, most recent last.

Every value goes through :func:`lmrec.data.text.render_value` (the cleaning of item text:
HTML entities and tags removed, NFC, whitespace collapsed). Only rows listed in ``rows_of_user``
are read for ``reviews``/``history_titles``/``tags``, so a caller passes training rows only and
held-out interactions never leak into a user's text.

Truncation is reported, never silent: each source is capped at ``max_chars_per_source``
characters and at most ``max_items_per_source`` reviews/titles/tags (the most recent are kept);
:class:`UserTextReport` counts users truncated by either cap (token-level truncation is the
encoder's, counted by :func:`lmrec.encoders.user_text.encode_user_texts`).

Users with no text at all are *flagged* (``UserTextReport.n_fallback``, ``fallback`` mask of
:func:`lmrec.encoders.user_text.encode_user_texts`) and get a finite fallback vector (the mean
of the other users' vectors, or zeros when no user has text), so a model can tell them apart
instead of silently treating a zero vector as information. This module only builds text; it
loads no language model.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.text import CLEANING_VERSION, is_missing, render_value

SOURCES = ("profile", "tags", "reviews", "history_titles")
AGE_BUCKETS = ((18, "Under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"),
               (56, "50-55"), (10**9, "56+"))
"""Upper bounds (exclusive) and labels of the ML-1M README age groups."""


def age_bucket(age: Any) -> str:
    """Age group label for an integer age (``23`` → ``"18-24"``); labels pass through unchanged.

    Returns ``""`` for a missing age.

    Raises
    ------
    ValueError
        If ``age`` is a negative number.
    """
    if is_missing(age):
        return ""
    if isinstance(age, str) and not age.strip().isdigit():
        return age.strip()
    value = int(age)
    if value < 0:
        raise ValueError(f"age {age!r} is negative")
    return next(label for bound, label in AGE_BUCKETS if value < bound)


def render_profile(record: dict[str, Any] | pd.Series) -> str:
    """Words for one profile: ``"Age 25-34. Gender: female. Occupation: programmer."``.

    Reads the ``age``, ``gender`` and ``occupation`` keys (missing ones are skipped); ``""``
    when none is present.
    """
    parts = []
    age = age_bucket(record.get("age"))
    if age:
        parts.append(f"Age {age}.")
    for key in ("gender", "occupation"):
        text = render_value(record.get(key))
        if text:
            parts.append(f"{key.capitalize()}: {text}.")
    return " ".join(parts)


def read_user_tags(path: str | Path) -> pd.DataFrame:
    """The tag applications of a MovieLens ``tags.csv`` (``userId,movieId,tag,timestamp``).

    Returns
    -------
    pandas.DataFrame
        Columns ``user_id`` (str), ``item_id`` (str), ``tag`` (str), ``timestamp`` (float64,
        unix seconds), file order; empty tags dropped.

    Raises
    ------
    FileNotFoundError
        If ``path`` (or ``path/tags.csv`` for a folder) does not exist.
    ValueError
        If a required column is missing (the file is named).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "tags.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no tags file (MovieLens tags.csv: userId,movieId,tag,timestamp)")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("userId", "movieId", "tag") if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected userId,movieId,tag,timestamp")
    ts = pd.to_numeric(df["timestamp"], errors="coerce") if "timestamp" in df.columns else np.nan
    out = pd.DataFrame({"user_id": df["userId"], "item_id": df["movieId"], "tag": df["tag"],
                        "timestamp": np.asarray(ts, dtype="float64") if not np.isscalar(ts) else ts})
    return out[out["tag"].str.strip() != ""].reset_index(drop=True)


@dataclass
class UserTextReport:
    """What happened to the user texts (JSON-serialisable, written into results)."""

    n_users: int
    sources: list[str]
    n_with_source: dict[str, int]
    n_fallback: int
    fallback_examples: list[str]
    n_truncated_items: int
    n_truncated_chars: int
    max_items_per_source: int
    max_chars_per_source: int
    mean_chars: float = 0.0
    n_truncated_tokens: int | None = None
    max_tokens: int | None = None
    version: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class UserTextConfig:
    """Which sources to use and the caps (part of the cache namespace via :attr:`version`).

    Parameters
    ----------
    sources:
        Subset of :data:`SOURCES`, in any order (output order is always :data:`SOURCES`).
    max_items_per_source:
        Most recent reviews / titles / distinct tags kept per user.
    max_chars_per_source:
        Character cap of each source's rendered text (and of each single review).
    """

    sources: tuple[str, ...] = SOURCES
    max_items_per_source: int = 20
    max_chars_per_source: int = 2000

    def __post_init__(self) -> None:
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown or not self.sources:
            raise ValueError(f"unknown user text source(s) {unknown or self.sources}; choose from {SOURCES}")
        if self.max_items_per_source < 1 or self.max_chars_per_source < 1:
            raise ValueError("max_items_per_source and max_chars_per_source must be ≥ 1")

    @property
    def version(self) -> str:
        cfg = {**asdict(self), "sources": list(self.sources), "cleaning": CLEANING_VERSION, "user_text": "1"}
        return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]


def review_text(summary: Any, review: Any) -> str:
    """``"summary. reviewText"`` cleaned; either part may be missing (``""`` if both are)."""
    parts = [render_value(summary), render_value(review)]
    parts = [p for p in parts if p]
    if len(parts) == 2 and not parts[0].endswith(tuple(".!?")):
        return parts[0] + ". " + parts[1]
    return " ".join(parts)


def build_user_texts(dataset: RecDataset, config: UserTextConfig | None = None, *,
                     rows_of_user: Sequence[np.ndarray] | None = None,
                     tags: pd.DataFrame | None = None) -> tuple[list[str], UserTextReport]:
    """One text per internal user index of ``dataset``.

    Parameters
    ----------
    dataset:
        The dataset; ``users`` gives profiles, ``interactions`` reviews and item ids,
        ``items.title`` the titles.
    config:
        Sources and caps (default: every source, 20 items, 2,000 characters per source).
    rows_of_user:
        ``n_users`` ``int64`` arrays of interaction row numbers (chronological) that may be
        read for ``reviews`` and ``history_titles`` — pass the *training* rows only. ``None``:
        all of the user's rows (only safe when nothing is held out).
    tags:
        Tag applications as returned by :func:`read_user_tags`; ``None`` = no tag source. When
        ``rows_of_user`` is given, only tags on items of those rows are used.

    Returns
    -------
    texts:
        ``list[str]`` of length ``dataset.n_users``; ``""`` for users without any text.
    report:
        :class:`UserTextReport`.

    Raises
    ------
    ValueError
        If ``rows_of_user`` does not have one entry per user, or a row number is out of range.
    """
    from lmrec.data.splits import user_rows

    cfg = config or UserTextConfig()
    n_users = dataset.n_users
    inter = dataset.interactions
    restrict_tags = rows_of_user is not None
    if rows_of_user is None:
        rows_of_user, _ = user_rows(dataset)
    if len(rows_of_user) != n_users:
        raise ValueError(f"rows_of_user has {len(rows_of_user)} entries for {n_users} users of {dataset.name!r}")
    for u, r in enumerate(rows_of_user):
        if len(r) and (int(np.max(r)) >= len(inter) or int(np.min(r)) < 0):
            raise ValueError(f"rows_of_user[{u}] holds row numbers outside 0..{len(inter) - 1}")
    notes: list[str] = []
    profiles: dict[str, dict] = {}
    if "profile" in cfg.sources:
        if dataset.users is None:
            notes.append(f"dataset {dataset.name!r} has no user profiles; profile source empty")
        else:
            profiles = dataset.users.to_dict(orient="index")
    has_reviews = "review_text" in inter.columns or "summary" in inter.columns
    if "reviews" in cfg.sources and not has_reviews:
        notes.append(f"dataset {dataset.name!r} has no review_text/summary columns; review source empty")
    tags_by_user: dict[str, list[tuple[str, str]]] = {}
    if "tags" in cfg.sources:
        if tags is None:
            notes.append("no tags given; tag source empty")
        else:
            ordered = tags.sort_values("timestamp", kind="stable") if "timestamp" in tags else tags
            for uid, iid, tag in zip(ordered["user_id"].astype(str), ordered["item_id"].astype(str), ordered["tag"]):
                tags_by_user.setdefault(uid, []).append((iid, str(tag)))
    titles = dataset.item_titles() if "history_titles" in cfg.sources else []
    item_idx = dataset.item_index
    summaries = inter["summary"].to_numpy(dtype=object) if "summary" in inter.columns else None
    reviews = inter["review_text"].to_numpy(dtype=object) if "review_text" in inter.columns else None

    texts: list[str] = []
    with_source = {s: 0 for s in cfg.sources}
    n_item_cut = n_char_cut = 0
    fallback: list[str] = []
    for u, uid in enumerate(dataset.user_map.ids):
        rows = np.asarray(rows_of_user[u], dtype=np.int64)
        chunks: dict[str, list[str]] = {}
        if "profile" in cfg.sources and uid in profiles:
            p = render_profile(profiles[uid])
            chunks["profile"] = [p] if p else []
        if "tags" in cfg.sources and uid in tags_by_user:
            allowed = {dataset.item_map.ids[i] for i in item_idx[rows]} if restrict_tags else None
            seen = dict.fromkeys(render_value(t) for i, t in tags_by_user[uid] if allowed is None or i in allowed)
            chunks["tags"] = [t for t in seen if t]
        if "reviews" in cfg.sources and has_reviews:
            chunks["reviews"] = [t for t in (review_text(summaries[r] if summaries is not None else None,
                                                         reviews[r] if reviews is not None else None)
                                             for r in rows) if t]
        if "history_titles" in cfg.sources:
            chunks["history_titles"] = [titles[i] for i in item_idx[rows]]
        parts, item_cut, char_cut = [], False, False
        for source in SOURCES:
            pieces = chunks.get(source) or []
            if not pieces:
                continue
            with_source[source] += 1
            if len(pieces) > cfg.max_items_per_source:
                item_cut = True
                pieces = pieces[-cfg.max_items_per_source:]
            body = {"profile": lambda p: " ".join(p), "tags": lambda p: "Tags: " + ", ".join(p) + ".",
                    "reviews": lambda p: "Reviews: " + " ".join(x if x.endswith(tuple(".!?")) else x + "."
                                                                for x in p),
                    "history_titles": lambda p: "Watched or bought: " + "; ".join(p) + "."}[source](pieces)
            if len(body) > cfg.max_chars_per_source:
                char_cut = True
                body = body[: cfg.max_chars_per_source].rstrip()
            parts.append(body)
        n_item_cut += item_cut
        n_char_cut += char_cut
        text = " ".join(parts)
        if not text:
            fallback.append(uid)
        texts.append(text)
    mean_chars = sum(map(len, texts)) / max(1, len(texts))
    report = UserTextReport(n_users=n_users, sources=[s for s in SOURCES if s in cfg.sources],
                            n_with_source=with_source, n_fallback=len(fallback), fallback_examples=fallback[:10],
                            n_truncated_items=n_item_cut, n_truncated_chars=n_char_cut,
                            max_items_per_source=cfg.max_items_per_source,
                            max_chars_per_source=cfg.max_chars_per_source, mean_chars=round(mean_chars, 1),
                            version=cfg.version, notes=notes)
    return texts, report


def fallback_vectors(vectors: np.ndarray, empty: np.ndarray) -> np.ndarray:
    """Replace the rows of users without text by a finite fallback vector.

    Parameters
    ----------
    vectors:
        ``float32 [n_users, dim]`` encoded user texts (rows of empty texts are zero).
    empty:
        ``bool [n_users]``: users without any text.

    Returns
    -------
    numpy.ndarray
        ``float32 [n_users, dim]``: a copy where flagged rows hold the mean of the unflagged
        rows (all zeros when every user is flagged). Always finite.
    """
    out = np.array(vectors, dtype=np.float32, copy=True)
    empty = np.asarray(empty, dtype=bool)
    if empty.shape != (len(out),):
        raise ValueError(f"empty mask has shape {empty.shape}, expected ({len(out)},)")
    if empty.any():
        fill = out[~empty].mean(axis=0) if (~empty).any() else np.zeros(out.shape[1], dtype=np.float32)
        out[empty] = fill
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
