"""The canonical dataset object every loader returns and every model consumes.

A :class:`RecDataset` holds three tables:

``interactions`` (``pandas.DataFrame``, one row per event, rows in input order)
    ``user_id`` (str), ``item_id`` (str), ``timestamp`` (float64, unix seconds, NaN when the
    source has none), ``rating`` (float64, NaN when none), ``domain`` (str) and, only when the
    source fixes the split itself (RecBole atomic files, the ml-1m CoLaKG split),
    ``split`` (str: ``"train" | "valid" | "test"``). Extra columns (e.g. ``review_text``) are
    allowed and kept. Within one user, row order is the
    sequence order whenever timestamps are missing or tied.
``items`` (``pandas.DataFrame`` indexed by ``item_id`` str)
    one column per text field (title, categories, brand, description, …); missing values
    are ``None``/NaN, never the string ``"nan"``.
``users`` (``pandas.DataFrame`` indexed by ``user_id`` str, optional)
    profile fields (age, gender, occupation, …).

External ids stay strings; :attr:`RecDataset.item_map` / :attr:`RecDataset.user_map` give the
dense internal indices that models see (see :mod:`lmrec.data.idmap`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.idmap import IdMap

INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp", "rating", "domain")
SPLIT_LABELS = ("train", "valid", "test")


@dataclass
class RecDataset:
    """Interactions + item text (+ optional user profiles) of one dataset.

    Parameters
    ----------
    name:
        Dataset name, e.g. ``"ml-100k"`` or ``"amazon-lcrec/Scientific"``.
    interactions, items, users:
        Tables described in the module docstring.
    text_fields:
        Item text fields used by the default text template, in order.
    ordered:
        ``True`` when interactions carry a meaningful order (timestamps or sequence order).
        Sequential models refuse unordered data.
    notes:
        Caveats about the source that belong in every result file (e.g. "no timestamps").
    source:
        Where the data came from: ``{"format": …, "path": …}``.

    Raises
    ------
    ValueError
        If a required column is missing or a ``split`` column holds an unknown label.
    """

    name: str
    interactions: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    text_fields: list[str] = field(default_factory=list)
    ordered: bool = True
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        df = self.interactions
        for col in ("user_id", "item_id"):
            if col not in df.columns:
                raise ValueError(f"dataset {self.name!r}: interactions lack column {col!r}")
        df = df.copy()
        for col in ("user_id", "item_id"):
            missing = df[col].isna().to_numpy()
            if missing.any():
                row = int(missing.argmax())
                raise ValueError(f"dataset {self.name!r}: interaction row {row} has no {col} "
                                 f"({int(missing.sum())} rows in all); drop or fill them before loading")
        df["user_id"] = df["user_id"].astype(str)
        df["item_id"] = df["item_id"].astype(str)
        for col, default in (("timestamp", np.nan), ("rating", np.nan), ("domain", self.name)):
            if col not in df.columns:
                df[col] = default
        df["timestamp"] = df["timestamp"].astype("float64")
        df["rating"] = df["rating"].astype("float64")
        df["domain"] = df["domain"].astype(str)
        if "split" in df.columns:
            bad = sorted(map(str, set(df["split"].unique()) - set(SPLIT_LABELS)))
            if bad:
                raise ValueError(f"dataset {self.name!r}: unknown split labels {bad}")
        self.interactions = df.reset_index(drop=True)
        items = self.items.copy()
        items.index = items.index.astype(str)
        items.index.name = "item_id"
        dup = items.index.duplicated()
        if dup.any():
            raise ValueError(f"dataset {self.name!r}: item id {items.index[dup][0]!r} appears {int(dup.sum()) + 1}+ times "
                             "in the items table; the loader must deduplicate (and report) first")
        self.items = items
        if self.users is not None:
            users = self.users.copy()
            users.index = users.index.astype(str)
            users.index.name = "user_id"
            self.users = users
        if not self.text_fields:
            self.text_fields = [c for c in self.items.columns]

    # ------------------------------------------------------------------ id maps
    @cached_property
    def item_map(self) -> IdMap:
        """Items of the catalog: the ``items`` table in file order, then items seen only in interactions."""
        return IdMap.from_sequence(list(self.items.index) + list(self.interactions["item_id"]))

    @cached_property
    def user_map(self) -> IdMap:
        """Users in first-seen order of the interactions."""
        return IdMap.from_sequence(self.interactions["user_id"])

    @cached_property
    def user_index(self) -> np.ndarray:
        """``int64 [n_interactions]`` internal user index of each interaction row."""
        return self.user_map.indices(self.interactions["user_id"].tolist())

    @cached_property
    def item_index(self) -> np.ndarray:
        """``int64 [n_interactions]`` internal item index of each interaction row."""
        return self.item_map.indices(self.interactions["item_id"].tolist())

    @property
    def n_users(self) -> int:
        return len(self.user_map)

    @property
    def n_items(self) -> int:
        return len(self.item_map)

    @property
    def has_timestamps(self) -> bool:
        return bool(self.interactions["timestamp"].notna().any())

    @property
    def has_given_split(self) -> bool:
        return "split" in self.interactions.columns

    def item_titles(self) -> list[str]:
        """Human-readable label per internal item index: ``title`` if present, else the item id."""
        col = "title" if "title" in self.items.columns else None
        out = []
        for item_id in self.item_map.ids:
            value = self.items[col].get(item_id) if col else None
            out.append(str(value) if isinstance(value, str) and value.strip() else item_id)
        return out

    # ---------------------------------------------------------------- statistics
    def statistics(self) -> dict[str, Any]:
        """Counts and coverage used by ``lmrec datasets`` and written into every ``metrics.json``.

        Returns a JSON-serialisable dict: ``n_users``, ``n_items`` (catalog size),
        ``n_items_interacted``, ``n_interactions``, ``density``, ``avg_seq_len``,
        ``text_fields``, ``text_coverage`` (share of catalog items whose text is non-empty
        in at least one field), ``text_coverage_by_field``, ``has_timestamps``, ``ordered``,
        ``has_given_split``, ``domains`` and ``notes``.
        """
        from lmrec.data.text import is_missing  # local: text.py imports nothing heavy either

        inter = self.interactions
        n_int = int(len(inter))
        by_field = {}
        any_text = pd.Series(False, index=self.items.index)
        for f in self.text_fields:
            if f not in self.items.columns:
                continue
            present = ~self.items[f].map(is_missing)
            by_field[f] = round(float(present.mean()) if len(present) else 0.0, 4)
            any_text |= present
        n_with_text = int(any_text.sum())
        stats = {
            "name": self.name,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_items_interacted": int(inter["item_id"].nunique()),
            "n_interactions": n_int,
            "density": round(n_int / max(1, self.n_users * self.n_items), 6),
            "avg_seq_len": round(n_int / max(1, self.n_users), 2),
            "text_fields": list(self.text_fields),
            "text_coverage": round(n_with_text / max(1, self.n_items), 4),
            "text_coverage_by_field": by_field,
            "has_timestamps": self.has_timestamps,
            "ordered": self.ordered,
            "has_given_split": self.has_given_split,
            "domains": sorted(inter["domain"].unique().tolist()),
            "notes": list(self.notes),
        }
        if self.has_given_split:
            stats["given_split_counts"] = {k: int(v) for k, v in inter["split"].value_counts().items()}
        return stats

    def __repr__(self) -> str:
        return (f"RecDataset({self.name!r}, users={self.n_users}, items={self.n_items}, "
                f"interactions={len(self.interactions)}, text_fields={self.text_fields})")
