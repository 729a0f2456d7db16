"""Stable mapping between external string ids and dense internal indices.

External ids (user ids, item ids) are kept as strings exactly as they appear in the source
files; "0" is an ordinary id. Internal indices are ``0 .. n-1`` in first-seen order.
Models reserve their own padding index *outside* this range (see ``models/sasrec.py``:
embedding row ``index + 1``), so padding can never collide with a real item.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np


class IdMap:
    """Bidirectional external-id ↔ index map.

    Parameters
    ----------
    ids:
        External ids in index order; must be unique strings.

    Raises
    ------
    ValueError
        If ``ids`` contains duplicates (the first duplicate is named).
    """

    def __init__(self, ids: Iterable[str] = ()):
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        for raw in ids:
            key = str(raw)
            if key in self._index:
                raise ValueError(f"IdMap: duplicate id {key!r}")
            self._index[key] = len(self._ids)
            self._ids.append(key)

    @classmethod
    def from_sequence(cls, values: Iterable[object]) -> "IdMap":
        """Build a map in first-seen order from a sequence that may repeat ids."""
        seen: dict[str, None] = {}
        for v in values:
            seen.setdefault(str(v), None)
        return cls(seen.keys())

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return str(key) in self._index

    @property
    def ids(self) -> list[str]:
        """External ids in index order (a copy)."""
        return list(self._ids)

    def index(self, key: object) -> int:
        """Index of one external id.

        Raises
        ------
        KeyError
            With the id and the size of the map, if the id is unknown.
        """
        try:
            return self._index[str(key)]
        except KeyError:
            raise KeyError(f"unknown id {str(key)!r} (map has {len(self)} ids)") from None

    def indices(self, keys: Sequence[object]) -> np.ndarray:
        """Indices of many external ids, ``int64 [len(keys)]``; raises ``KeyError`` on the first unknown."""
        return np.fromiter((self.index(k) for k in keys), dtype=np.int64, count=len(keys))

    def external(self, index: int) -> str:
        """External id at ``index``."""
        return self._ids[int(index)]

    def add(self, key: object) -> int:
        """Index of ``key``, appending it at the end if new (existing indices never move)."""
        key = str(key)
        if key not in self._index:
            self._index[key] = len(self._ids)
            self._ids.append(key)
        return self._index[key]

    def save(self, path: str | os.PathLike) -> None:
        """Write the map as a JSON list (atomic: temp file then rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self._ids, ensure_ascii=False))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "IdMap":
        """Read a map written by :meth:`save`."""
        return cls(json.loads(Path(path).read_text()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._ids == other._ids

    def __repr__(self) -> str:
        head = ", ".join(repr(i) for i in self._ids[:3])
        return f"IdMap(n={len(self)}, ids=[{head}{', …' if len(self) > 3 else ''}])"
