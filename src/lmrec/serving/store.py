"""The service's item catalog: external item ids ↔ ``int64`` index ids, titles, text vectors.

The catalog is the run's items (read-only: ``item_map.json``, titles, ``item_vectors.npy``)
plus the changes made through the API, kept in an append-only journal beside the run::

    RUN_DIR/serving/journal.jsonl     one JSON record per acknowledged change

Record shapes (one line each, ``sha256`` over the canonical JSON of the other keys)::

    {"op": "header", "base": "<fingerprint of the run's catalog>", "dim": 384, "sha256": …}
    {"op": "add", "items": [{"item_id", "title", "vector": "<base64 float32 [dim]>"}, …], "sha256": …}
    {"op": "delete", "item_id": "…", "sha256": …}

A batch of new items is one record, so it is added entirely or not at all. Each record is
appended, flushed and ``fsync``-ed before the API answers, so an acknowledged change survives a
crash or restart. Reopening replays the journal:

* a **torn last line** (no trailing newline: the process died while writing it, so it was never
  acknowledged) is dropped with a warning and cut from the file;
* a **complete line whose checksum or JSON is wrong**, a header for another catalog, or a
  vector of the wrong size raises :class:`StoreCorruptError` naming the file and line — the
  service refuses to start rather than serve a catalog it cannot trust.

Index ids: the run's item ``i`` (internal index) keeps index id ``i``; added items get the next
free ids in order. A deleted id is never reused; re-adding a deleted external id gives it a
new index id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

JOURNAL = "journal.jsonl"


class StoreCorruptError(ValueError):
    """The journal of the item store is damaged (checksum, JSON or shape); the message names file and line."""


@dataclass(frozen=True)
class NewItem:
    """An item to add: external id, display title, and its text vector ``float32 [dim]``."""

    item_id: str
    title: str
    vector: np.ndarray


def _checksum(record: dict) -> str:
    body = {k: v for k, v in record.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def catalog_fingerprint(item_ids: list[str], vectors: np.ndarray | None) -> str:
    """sha256 (first 32 hex digits) of the run's item ids and text vectors.

    A journal written for one run is refused by another (its index ids would point at other items).
    """
    h = hashlib.sha256(json.dumps(item_ids).encode())
    if vectors is not None:
        h.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return h.hexdigest()[:32]


class ItemStore:
    """Catalog of servable items, persisted as the run's items + an append-only journal.

    Parameters
    ----------
    folder:
        Where ``journal.jsonl`` lives (created if missing), normally ``RUN_DIR/serving``.
    base_ids:
        External ids of the run's items, in internal index order (``[n_base]``).
    base_titles:
        Display titles, same order.
    base_vectors:
        ``float32 [n_base, dim]`` text vectors of the run's items, or ``None`` for an ID-only run
        (then items cannot be added).

    Attributes
    ----------
    ids:
        External id per index id (deleted ones included).
    titles:
        Title per index id.
    deleted:
        Index ids removed through the API.

    Raises
    ------
    StoreCorruptError
        If the journal is damaged or belongs to another run's catalog.
    """

    def __init__(self, folder: str | os.PathLike, base_ids: list[str], base_titles: list[str],
                 base_vectors: np.ndarray | None):
        if len(base_ids) != len(base_titles) or (base_vectors is not None and len(base_vectors) != len(base_ids)):
            raise ValueError(f"item store: {len(base_ids)} ids, {len(base_titles)} titles and "
                             f"{None if base_vectors is None else len(base_vectors)} vectors do not line up")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / JOURNAL
        self.n_base = len(base_ids)
        self.dim = None if base_vectors is None else int(base_vectors.shape[1])
        self.ids: list[str] = list(base_ids)
        self.titles: list[str] = list(base_titles)
        self._base_vectors = base_vectors
        self._added_vectors: list[np.ndarray] = []
        self.deleted: set[int] = set()
        self._row: dict[str, int] = {item_id: i for i, item_id in enumerate(self.ids)}
        self._lock = threading.Lock()
        self.fingerprint = catalog_fingerprint(list(base_ids), base_vectors)
        self._replay()

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        """Number of live (not deleted) items."""
        return len(self.ids) - len(self.deleted)

    @property
    def n_rows(self) -> int:
        """Index ids handed out so far (``max index id + 1``)."""
        return len(self.ids)

    def row(self, item_id: str) -> int:
        """Index id of a live external id.

        Raises
        ------
        KeyError
            If the id is unknown or deleted (the message says which).
        """
        r = self._row.get(item_id)
        if r is None:
            raise KeyError(f"unknown item id {item_id!r}")
        if r in self.deleted:
            raise KeyError(f"item id {item_id!r} was deleted from this service; "
                           "add it again with POST /items to serve it")
        return r

    def __contains__(self, item_id: object) -> bool:
        r = self._row.get(item_id)  # type: ignore[arg-type]
        return r is not None and r not in self.deleted

    def text_vectors(self, rows: np.ndarray | list[int]) -> np.ndarray:
        """``float32 [len(rows), dim]`` text vectors of index ids ``rows``."""
        if self.dim is None:
            raise ValueError("this run has no item text vectors (ID-only model)")
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        base = rows < self.n_base
        if base.any():
            out[base] = self._base_vectors[rows[base]]
        for j in np.flatnonzero(~base):
            out[j] = self._added_vectors[rows[j] - self.n_base]
        return out

    def added_rows(self) -> np.ndarray:
        """``int64`` index ids of items added through the API (deleted ones included)."""
        return np.arange(self.n_base, self.n_rows, dtype=np.int64)

    # ------------------------------------------------------------------ writing
    def add(self, items: list[NewItem]) -> list[int]:
        """Append ``items`` (one journal record, fsynced) and return their index ids.

        Raises
        ------
        ValueError
            For an ID-only run, a vector of the wrong size or non-finite values, or an id
            repeated within ``items``.
        KeyError
            If an id already exists (live); the message names it.
        """
        if self.dim is None:
            raise ValueError("this run's model reads no item text, so new items cannot be added; "
                             "serve a text model (embknn, sasrec-text, sasrec-text-id)")
        seen: set[str] = set()
        for it in items:
            if it.item_id in seen:
                raise ValueError(f"item id {it.item_id!r} appears twice in the batch")
            seen.add(it.item_id)
            v = np.asarray(it.vector)
            if v.shape != (self.dim,) or not np.isfinite(v).all():
                raise ValueError(f"item {it.item_id!r}: vector must be {self.dim} finite floats, got shape {v.shape}")
        with self._lock:
            clash = [it.item_id for it in items if it.item_id in self]
            if clash:
                raise KeyError(f"item id {clash[0]!r} already exists; delete it first or use another id")
            record = {"op": "add", "items": [
                {"item_id": it.item_id, "title": it.title,
                 "vector": base64.b64encode(np.asarray(it.vector, dtype="<f4").tobytes()).decode()}
                for it in items]}
            self._append(record)
            return [self._apply_add(it.item_id, it.title, np.asarray(it.vector, dtype=np.float32)) for it in items]

    def delete(self, item_id: str) -> int:
        """Remove a live item (journaled, fsynced); returns its index id.

        Raises
        ------
        KeyError
            If the id is unknown or already deleted.
        """
        with self._lock:
            r = self.row(item_id)
            self._append({"op": "delete", "item_id": item_id})
            self.deleted.add(r)
            return r

    # ------------------------------------------------------------------ journal
    def _apply_add(self, item_id: str, title: str, vector: np.ndarray) -> int:
        r = len(self.ids)
        self.ids.append(item_id)
        self.titles.append(title)
        self._added_vectors.append(vector)
        self._row[item_id] = r
        return r

    def _append(self, record: dict) -> None:
        record = dict(record)
        record["sha256"] = _checksum(record)
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def _replay(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._append({"op": "header", "base": self.fingerprint, "dim": self.dim})
            return
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        if lines[-1]:  # torn last record: never acknowledged, drop it
            warnings.warn(f"{self.path}: dropping an incomplete last record ({len(lines[-1])} bytes) "
                          "left by an interrupted write", stacklevel=3)
            with open(self.path, "r+b") as f:
                f.truncate(len(raw) - len(lines[-1]))
                os.fsync(f.fileno())
        for n, line in enumerate(lines[:-1], start=1):
            where = f"{self.path} line {n}"
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise StoreCorruptError(f"{where} is not valid JSON ({exc}); the item store is damaged — "
                                        "restore the file or delete it to start from the run's catalog") from None
            if not isinstance(rec, dict) or rec.get("sha256") != _checksum(rec):
                raise StoreCorruptError(f"{where}: checksum mismatch; the item store is damaged — restore the "
                                        "file or delete it to start from the run's catalog")
            op = rec.get("op")
            if n == 1:
                if op != "header" or rec.get("base") != self.fingerprint:
                    raise StoreCorruptError(f"{where}: journal belongs to another catalog (fingerprint "
                                            f"{rec.get('base')!r}, this run {self.fingerprint!r}); remove "
                                            f"{self.path} or serve the run it was written for")
                continue
            if op == "add":
                for it in rec["items"]:
                    v = np.frombuffer(base64.b64decode(it["vector"]), dtype="<f4").astype(np.float32)
                    if v.shape != (self.dim,):
                        raise StoreCorruptError(f"{where}: item {it['item_id']!r} has {v.size} dims, expected {self.dim}")
                    self._apply_add(it["item_id"], it["title"], v)
            elif op == "delete":
                r = self._row.get(rec["item_id"])
                if r is None:
                    raise StoreCorruptError(f"{where}: deletes unknown item {rec['item_id']!r}")
                self.deleted.add(r)
            else:
                raise StoreCorruptError(f"{where}: unknown record type {op!r}")
