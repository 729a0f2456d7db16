"""News recommendation data: a news catalogue with text plus impression logs (MIND task).

An *impression* is one page view: the user's click history before it and the slate of
candidate news shown, each labeled click (1) / no click (0), or unlabeled in test files. Models
rank the candidates of each impression (see :mod:`lmrec.evaluation.impressions`).

:class:`NewsDataset` is filled by :func:`lmrec.data.loaders.mind.load_mind`,
:func:`lmrec.data.loaders.nemig.load_nemig` or
:func:`lmrec.data.loaders.mind_recprompt.load_mind_recprompt`;
:func:`lmrec.data.news_registry.load_news_dataset` finds one by name (it sits above the loaders,
which import the types defined here).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

#: Dataset names → folder under the data directory.
NEWS_DATASETS = {"nemig-en": "nemig/en", "nemig-de": "nemig/de", "mind-small-subset": "mind-small-subset",
                 "mind-recprompt": "mind-recprompt", "mind-recprompt-valid": "mind-recprompt",
                 "mind-recprompt-case": "mind-recprompt", "mind-recprompt-valid+case": "mind-recprompt"}

#: RecPrompt MIND sample names → the CSV parts whose impressions they hold (see
#: :mod:`lmrec.data.loaders.mind_recprompt`); ``mind-recprompt`` is the 400-impression test file.
RECPROMPT_PARTS = {"mind-recprompt": ("test",), "mind-recprompt-valid": ("valid",),
                   "mind-recprompt-case": ("case",), "mind-recprompt-valid+case": ("valid", "case")}

#: Default minimum share of referenced news with a title before evaluation is allowed.
MIN_TEXT_COVERAGE = 0.9


class InsufficientTextError(ValueError):
    """Too many news referenced by the impressions have no text to encode."""


@dataclass
class Impressions:
    """Impression log, one entry per impression (parallel lists).

    Attributes
    ----------
    impression_ids, user_ids, times:
        ``list[str]`` of length ``n``; ``times`` holds ``""`` where the format has no time.
    histories:
        ``list[list[str]]`` clicked news ids before the impression, oldest first (may be empty).
    candidates:
        ``list[list[str]]`` candidate news ids in the order shown.
    labels:
        ``list[np.ndarray[int8]]`` aligned with ``candidates`` (1 = click), or ``None`` for an
        unlabeled (test) log.
    """

    impression_ids: list[str]
    user_ids: list[str]
    times: list[str]
    histories: list[list[str]]
    candidates: list[list[str]]
    labels: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.impression_ids)

    @property
    def labeled(self) -> bool:
        return self.labels is not None

    def subset(self, rows: Sequence[int] | np.ndarray) -> "Impressions":
        """The impressions at positions ``rows`` (in that order)."""
        rows = [int(r) for r in rows]
        pick = lambda xs: [xs[r] for r in rows]  # noqa: E731
        return Impressions(pick(self.impression_ids), pick(self.user_ids), pick(self.times),
                           pick(self.histories), pick(self.candidates),
                           None if self.labels is None else pick(self.labels))


@dataclass
class NewsDataset:
    """A news catalogue and its impression log.

    Attributes
    ----------
    name:
        Dataset name, e.g. ``"nemig-en"``.
    news:
        ``pandas.DataFrame`` indexed by news id (str) with at least ``title``, ``abstract``,
        ``category``, ``subcategory`` (str, ``""`` where missing).
    impressions:
        The :class:`Impressions`.
    source_format:
        ``"mind"``, ``"nemig"`` or ``"mind-recprompt"``.
    language:
        ``"en"``/``"de"`` where known, else ``None``.
    split:
        Description of how this part was cut from a larger dataset (see :func:`split_by_user`).
    """

    name: str
    news: pd.DataFrame
    impressions: Impressions
    source_format: str = "mind"
    language: str | None = None
    split: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ text coverage
    def referenced_news(self) -> list[str]:
        """Every news id in a history or a slate, in first-seen order."""
        seen: dict[str, None] = {}
        for h, c in zip(self.impressions.histories, self.impressions.candidates):
            for n in h:
                seen.setdefault(n, None)
            for n in c:
                seen.setdefault(n, None)
        return list(seen)

    def text_coverage(self) -> dict[str, Any]:
        """Share of referenced news (ids, history clicks, impression entries) that have a title.

        Returns
        -------
        dict
            ``referenced_news``, ``news_with_text``, ``coverage_news`` (0–1),
            ``coverage_history_clicks``, ``coverage_impression_entries``,
            ``missing_share`` (= 1 − ``coverage_news``) and ``missing_examples`` (≤ 5 ids).
        """
        has_text = set(self.news.index[self.news["title"].fillna("").str.strip() != ""])
        ref = self.referenced_news()
        with_text = [n for n in ref if n in has_text]
        hist = [n for h in self.impressions.histories for n in h]
        cand = [n for c in self.impressions.candidates for n in c]
        share = lambda xs: (sum(n in has_text for n in xs) / len(xs)) if xs else 1.0  # noqa: E731
        cov = len(with_text) / len(ref) if ref else 1.0
        return {"referenced_news": len(ref), "news_with_text": len(with_text),
                "coverage_news": cov, "coverage_history_clicks": share(hist),
                "coverage_impression_entries": share(cand), "missing_share": 1.0 - cov,
                "missing_examples": [n for n in ref if n not in has_text][:5]}

    def check_text_coverage(self, min_coverage: float = MIN_TEXT_COVERAGE,
                            allow_missing_text: bool = False) -> dict[str, Any]:
        """Refuse to go on when fewer than ``min_coverage`` of the referenced news have text.

        Returns
        -------
        dict
            :meth:`text_coverage` (also when ``allow_missing_text`` lets a low coverage pass).

        Raises
        ------
        InsufficientTextError
            (a ``ValueError``) If the coverage of referenced news ids is below
            ``min_coverage`` and ``allow_missing_text`` is false. News without text would be
            encoded from an empty string, so results would say little about text models.
        """
        cov = self.text_coverage()
        if cov["coverage_news"] < min_coverage and not allow_missing_text:
            raise InsufficientTextError(
                f"{self.name}: only {cov['news_with_text']:,} of {cov['referenced_news']:,} news ids "
                f"referenced by the impressions have a title ({cov['coverage_news']:.1%}; "
                f"{cov['missing_share']:.1%} missing, e.g. {', '.join(cov['missing_examples'][:3])}); "
                f"the minimum is {min_coverage:.0%}. Use a consistent dataset (nemig-en), or pass "
                f"allow_missing_text=True (--allow-missing-text) to encode missing news as empty text")
        return cov

    # ------------------------------------------------------------------ text
    def texts(self, news_ids: Sequence[str], fields: Sequence[str] = ("title",)) -> list[str]:
        """Text of each news id: the ``fields`` joined with ``" . "``; ``""`` for unknown ids."""
        cols = [f for f in fields if f in self.news.columns]
        unknown = [f for f in fields if f not in self.news.columns]
        if unknown:
            raise ValueError(f"{self.name}: news has no field(s) {unknown}; available: "
                             f"{', '.join(self.news.columns)}")
        table = self.news[cols].fillna("")
        out = []
        for n in news_ids:
            if n in table.index:
                parts = [str(v).strip() for v in table.loc[n].tolist()]
                out.append(" . ".join(p for p in parts if p))
            else:
                out.append("")
        return out

    # ------------------------------------------------------------------ statistics
    def statistics(self) -> dict[str, Any]:
        """Counts describing the dataset (users, impressions, clicks, skipped impressions, …)."""
        imp = self.impressions
        n_entries = sum(len(c) for c in imp.candidates)
        stats: dict[str, Any] = {
            "name": self.name, "format": self.source_format, "language": self.language,
            "n_news": int(len(self.news)), "n_users": len(set(imp.user_ids)),
            "n_impressions": len(imp), "n_history_clicks": sum(len(h) for h in imp.histories),
            "n_empty_histories": sum(1 for h in imp.histories if not h),
            "n_impression_entries": n_entries, "labeled": imp.labeled,
        }
        if imp.labeled:
            clicks = [int(lab.sum()) for lab in imp.labels]
            stats["n_clicks"] = sum(clicks)
            stats["n_no_click"] = sum(1 for c in clicks if c == 0)
            stats["n_all_click"] = sum(1 for c, lab in zip(clicks, imp.labels) if c == len(lab))
        if self.split:
            stats["split"] = self.split
        return stats

    def subset(self, rows: Sequence[int] | np.ndarray, part: str, **info: Any) -> "NewsDataset":
        """The impressions at ``rows`` with the same news table, tagged ``split={"part": part, …}``."""
        return NewsDataset(self.name, self.news, self.impressions.subset(rows), self.source_format,
                           self.language, {"part": part, **info})


def split_by_user(data: NewsDataset, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                  seed: int = 0) -> dict[str, NewsDataset]:
    """User-level split: every user's impressions go to exactly one of train/valid/test.

    Users are shuffled with ``numpy.random.default_rng(seed)`` (sorted by id first, so the
    split does not depend on file order) and cut at the cumulative ``fractions``; test users
    are therefore never seen in training. Each impression keeps its history as given in the
    log (the user's prior clicks).

    Returns
    -------
    dict
        ``{"train", "valid", "test"}`` → :class:`NewsDataset` sharing the news table.

    Raises
    ------
    ValueError
        If the fractions are negative or do not sum to 1.
    """
    if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"split fractions must be ≥ 0 and sum to 1, got {fractions}")
    users = np.array(sorted(set(data.impressions.user_ids)))
    rng = np.random.default_rng(seed)
    users = users[rng.permutation(len(users))]
    cuts = np.round(np.cumsum(fractions) * len(users)).astype(int)
    part_of = {}
    for part, lo, hi in zip(("train", "valid", "test"), [0, *cuts[:2]], cuts):
        for u in users[lo:hi]:
            part_of[u] = part
    rows: dict[str, list[int]] = {"train": [], "valid": [], "test": []}
    for i, u in enumerate(data.impressions.user_ids):
        rows[part_of[u]].append(i)
    info = {"kind": "user", "fractions": list(fractions), "seed": seed}
    return {p: data.subset(r, p, n_users=int(len(set(data.impressions.user_ids[i] for i in r))), **info)
            for p, r in rows.items()}


def resolve_news_folder(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Folder of a news dataset: a known name (``nemig-en``, ``nemig-de``, ``mind-small-subset``,
    ``mind-recprompt[-valid|-case|-valid+case]``),
    a path relative to the data folder (``nemig/en``) or an absolute folder.

    Raises
    ------
    FileNotFoundError
        If no such folder exists.
    """
    from lmrec.data.registry import resolve_data_dir

    direct = Path(name).expanduser()
    if direct.is_absolute():
        if not direct.is_dir():
            raise FileNotFoundError(f"news dataset folder {direct} does not exist")
        return direct
    root = resolve_data_dir(data_dir)
    folder = root / NEWS_DATASETS.get(name, name)
    if not folder.is_dir():
        raise FileNotFoundError(f"no news dataset {name!r} in {root}; known names: "
                                f"{', '.join(NEWS_DATASETS)} (or pass a folder path)")
    return folder
