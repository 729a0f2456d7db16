"""The recommendation service without HTTP: a trained run + item store + ANN index.

:class:`RecommendationService` is what the FastAPI app (:mod:`lmrec.serving.app`) calls; a
notebook can use it directly. Retrieval follows :mod:`lmrec.serving.space` (user vector · item
vector, inner product).

Index updates are atomic for readers. The searchable state is one immutable
:class:`_Snapshot` — a *main* index over the catalog at start-up (or at the last compaction),
a small exact *delta* index over items added since, and the set of deleted index ids still
inside the main index (filtered out of results). A write (add/delete) takes the writer lock,
appends to the journal, builds the new delta index (or, past a size threshold, a new main
index) off to the side, and replaces the snapshot reference in one assignment; a request that
started before keeps searching the snapshot it read, so no reader ever sees a half-built index
(the "main + delta segment" layout of log-structured indexes).

The main index is cached in ``RUN_DIR/serving/index-<kind>/`` through
:meth:`lmrec.index.ann.AnnIndex.save` (sha256 checksums) with a fingerprint of the vectors it
holds; a cache that fails its checksums (``IndexCorruptError``) or belongs to other vectors is
reported with a warning and rebuilt from the item store, never served.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.data.text import is_uninformative_text
from lmrec.models.fallback import POPULARITY, item_has_text, popularity_order
from lmrec.serving.space import FusedItemSpace, ItemSpace
from lmrec.serving.store import ItemStore, NewItem

#: Rebuild the main index when this many items were added or deleted since the last build.
COMPACT_AFTER = 4096


@dataclass(frozen=True)
class _Snapshot:
    main: Any                      # AnnIndex over the catalog at the last (re)build
    main_rows: frozenset           # index ids inside ``main``
    delta: Any                     # flat AnnIndex over rows added since (None when empty)
    delta_rows: tuple              # index ids inside ``delta``
    hidden: frozenset              # index ids in ``main`` that were deleted since
    item_vectors: np.ndarray       # float32 [n_rows, dim] item vectors (this space) of all index ids
    n_live: int


@dataclass
class Recommendation:
    """One result row: ``rank`` (1-based), external ``item_id``, ``title``, ``score`` (inner product)."""

    rank: int
    item_id: str
    title: str
    score: float


class RecommendationList(list):
    """The rows of one answer (a ``list`` of :class:`Recommendation`) plus :attr:`fallback`:
    ``"popularity"`` when the request had no usable history and no profile text (see
    :mod:`lmrec.models.fallback`; the scores are then training interaction counts), else ``None``."""

    def __init__(self, rows=(), fallback: str | None = None):
        super().__init__(rows)
        self.fallback = fallback


@dataclass
class ServiceInfo:
    """What ``/healthz`` reports."""

    run_dir: str
    model: str
    n_items: int
    dim: int
    index_kind: str
    accepts_new_items: bool
    text_fields: list[str] = field(default_factory=list)
    ef_search: int | None = None
    n_unrecommendable: int = 0      # catalog items left out of every result (no usable text, nothing else known)


class _RowBuffer:
    """Append-only ``float32 [n, dim]`` rows with spare capacity.

    :meth:`append` writes new rows past the end of the rows any snapshot can see and returns a
    longer view, so existing snapshots are never modified (a full buffer is copied into a new
    one twice as large; old snapshots keep the old one).
    """

    def __init__(self, rows: np.ndarray):
        self._buf = np.ascontiguousarray(rows, dtype=np.float32)
        self._n = len(rows)

    def view(self) -> np.ndarray:
        return self._buf[:self._n]

    def append(self, rows: np.ndarray) -> np.ndarray:
        m = len(rows)
        if self._n + m > len(self._buf):
            grown = np.empty((max(2 * len(self._buf), self._n + m, 16), self._buf.shape[1]), dtype=np.float32)
            grown[:self._n] = self._buf[:self._n]
            self._buf = grown
        self._buf[self._n:self._n + m] = rows
        self._n += m
        return self.view()


def _fingerprint(vectors: np.ndarray, rows: np.ndarray, kind: str) -> str:
    h = hashlib.sha256(kind.encode())
    h.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return h.hexdigest()[:32]


class RecommendationService:
    """Top-k recommendation, similar items, item ingestion and deletion over one trained run or
    one late fusion (``lmrec ensemble``).

    Parameters
    ----------
    run_dir:
        A run directory written by :func:`lmrec.pipeline.run_experiment`, or the output of
        ``lmrec ensemble`` (:func:`lmrec.ensemble_pipeline.load_ensemble`): a late fusion is served
        through :class:`~lmrec.serving.space.FusedItemSpace` with the same lists as ``lmrec recommend``
        (new items and profile text only when every member reads the same item text).
    index_kind:
        ANN index kind (``flat`` exact, ``hnsw``, ``ivfpq`` compressed; see :mod:`lmrec.index.ann`).
    encoder:
        Text encoder for new items and profile text; ``None`` loads the run's encoder (must be
        the one the run was trained with: the identity is checked against ``run.json``).
    state_dir:
        Where the journal and index cache live (default ``RUN_DIR/serving``).
    data_dir:
        Data directory for re-reading the run's dataset (default: the run's own).
    load_text_encoder:
        Load the encoder at start-up (``False``: on first use).
    ef_search:
        HNSW only: candidate list size per query (default that of :mod:`lmrec.index.ann`, 64);
        larger is slower and closer to exact. Never below the number of results asked for.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a run directory.
    ValueError
        If the model cannot be served, the encoder differs from the run's, or the item store is
        corrupt (:class:`lmrec.serving.store.StoreCorruptError`).
    """

    def __init__(self, run_dir: str | os.PathLike, *, index_kind: str = "flat", encoder: Any = None,
                 state_dir: str | os.PathLike | None = None, data_dir: str | None = None,
                 load_text_encoder: bool = True, ef_search: int | None = None):
        from lmrec.data.splits import user_sequences
        from lmrec.ensemble_pipeline import is_ensemble_dir, load_ensemble
        from lmrec.pipeline import item_template, load_run

        fused = is_ensemble_dir(run_dir)
        self.run = load_ensemble(run_dir, data_dir) if fused else load_run(run_dir, data_dir)
        self.run_dir = Path(run_dir)
        self.index_kind = index_kind
        if ef_search is not None and (index_kind != "hnsw" or int(ef_search) < 1):
            raise ValueError(f"ef_search applies to an hnsw index and must be ≥ 1 (index {index_kind!r}, "
                             f"ef_search {ef_search!r})")
        self.ef_search = ef_search
        self.state_dir = Path(state_dir) if state_dir is not None else self.run_dir / "serving"
        ds = self.run.dataset
        if fused:
            members = self.run.members
            self.space = FusedItemSpace([(r.model, r.item_vectors) for r in members], self.run.model.weights,
                                        self.run.model.names)
            # the run whose encoder and template represent new items and profile text
            kept = [members[i] for i in self.space.kept]          # weight-0 members are left out
            self._text_run = next((r for r in kept if r.item_vectors is not None), kept[0])
        else:
            self.space = ItemSpace(self.run.model, self.run.item_vectors)
            self._text_run = self.run
        self.store = ItemStore(self.state_dir, ds.item_map.ids, ds.item_titles(),
                               self._text_run.item_vectors if self.space.reads_text else None)
        self._sequences, _ = user_sequences(ds)
        # empty/placeholder-text policy (lmrec.pipeline.unrecommendable_items): never in a result
        self._unrecommendable = frozenset(np.flatnonzero(self.run.unrecommendable).tolist()
                                          if self.run.unrecommendable is not None else [])
        self.template = item_template(ds, self._text_run.config)
        self._encoder = encoder
        self._encoder_lock = threading.Lock()
        if self._encoder is not None:
            self._check_encoder(self._encoder)
        elif load_text_encoder and self.space.reads_text:
            self.encoder()
        self._write_lock = threading.Lock()
        self._snap = self._build_snapshot()

    # ------------------------------------------------------------------ encoder
    def _run_identity(self) -> dict | None:
        raw = json.loads((Path(self._text_run.run_dir) / "run.json").read_text())
        enc = raw.get("encoding") or {}
        return enc.get("encoder")

    def _check_encoder(self, encoder: Any) -> None:
        ident = self._run_identity()
        if ident is None:
            return
        blob = json.dumps(ident, sort_keys=True, separators=(",", ":"), default=str)
        if hashlib.sha256(blob.encode()).hexdigest()[:16] != encoder.identity_hash():
            raise ValueError(f"the text encoder ({encoder.identity().get('model')}) is not the one run "
                             f"{self._text_run.run_dir} was trained with ({ident.get('model')}); new items would "
                             "land in another vector space")

    def encoder(self) -> Any:
        """The run's text encoder (loaded once, identity checked)."""
        if self._encoder is None:
            with self._encoder_lock:
                if self._encoder is None:
                    from lmrec.encoders.factory import load_encoder

                    cfg = self._text_run.config
                    kwargs: dict[str, Any] = {}
                    if cfg.pooling:
                        kwargs["pooling"] = cfg.pooling
                    if cfg.max_text_tokens:
                        kwargs["max_length"] = cfg.max_text_tokens
                    enc = load_encoder(cfg.encoder, **kwargs)
                    self._check_encoder(enc)
                    self._encoder = enc
        return self._encoder

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.encoder().encode(texts)
        if not np.isfinite(vectors).all():
            raise FloatingPointError("the encoder returned non-finite values")
        return vectors

    # ------------------------------------------------------------------ index
    def _item_vectors_all(self) -> np.ndarray:
        base = self.space.base_item_vectors(self.run.item_vectors)
        added = self.store.added_rows()
        if len(added) == 0:
            return base
        return np.concatenate([base, self.space.item_vectors_from_text(self.store.text_vectors(added))])

    def _build_main(self, vectors: np.ndarray, rows: np.ndarray) -> Any:
        from lmrec.index.ann import AnnIndex, IndexCorruptError

        cache = self.state_dir / f"index-{self.index_kind}"
        meta_path = self.state_dir / f"index-{self.index_kind}.json"
        points = self.space.index_vectors(vectors[rows])
        fp = _fingerprint(points, rows, self.index_kind)
        if cache.exists():
            try:
                meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
                if meta.get("fingerprint") == fp:
                    index = AnnIndex.load(cache)
                    if len(index) == len(rows):
                        return self._tuned(index)
                    warnings.warn(f"{cache}: holds {len(index)} items, expected {len(rows)}; rebuilding",
                                  stacklevel=2)
            except (IndexCorruptError, ValueError, OSError) as exc:
                warnings.warn(f"index cache {cache} is unusable ({exc}); rebuilding it from the item store",
                              stacklevel=2)
        index = AnnIndex.build(points, rows.astype(np.int64), kind=self.index_kind, metric="ip")
        try:
            index.save(cache)
            tmp = meta_path.with_name(meta_path.name + ".tmp")
            tmp.write_text(json.dumps({"fingerprint": fp, "n": int(len(rows)), "kind": self.index_kind}))
            os.replace(tmp, meta_path)
        except OSError as exc:  # a read-only run directory still serves, without the cache
            warnings.warn(f"could not cache the index in {cache}: {exc}", stacklevel=2)
        return self._tuned(index)

    def _tuned(self, index: Any) -> Any:
        if self.ef_search is not None:
            index.set_search_params(ef_search=self.ef_search)
        return index

    def _build_snapshot(self) -> _Snapshot:
        self._rows_buffer = _RowBuffer(self._item_vectors_all())
        vectors = self._rows_buffer.view()
        live = np.array([r for r in range(self.store.n_rows) if r not in self.store.deleted], dtype=np.int64)
        main = self._build_main(vectors, live)
        return _Snapshot(main=main, main_rows=frozenset(live.tolist()), delta=None, delta_rows=(),
                         hidden=frozenset(), item_vectors=vectors, n_live=len(live))

    def _with_changes(self, snap: _Snapshot, vectors: np.ndarray, delta_rows: tuple, hidden: frozenset
                      ) -> _Snapshot:
        from lmrec.index.ann import AnnIndex

        n_live = len(snap.main_rows) - len(hidden) + len(delta_rows)
        if len(delta_rows) + len(hidden) > COMPACT_AFTER:  # compaction: one new main index
            live = np.array(sorted((snap.main_rows - hidden) | set(delta_rows)), dtype=np.int64)
            main = self._build_main(vectors, live)
            return _Snapshot(main, frozenset(live.tolist()), None, (), frozenset(), vectors, n_live)
        delta = None
        if delta_rows:
            rows = np.array(delta_rows, dtype=np.int64)
            delta = AnnIndex.build(self.space.index_vectors(vectors[rows]), rows, kind="flat", metric="ip")
        return _Snapshot(snap.main, snap.main_rows, delta, delta_rows, hidden, vectors, n_live)

    # ------------------------------------------------------------------ reading
    def info(self) -> ServiceInfo:
        """Model, size and index facts (for ``/healthz``)."""
        model = "ensemble" if isinstance(self.space, FusedItemSpace) else self.run.config.model
        return ServiceInfo(run_dir=str(self.run_dir), model=model, n_items=self._snap.n_live,
                           dim=self.space.dim, index_kind=self.index_kind, accepts_new_items=self.space.reads_text,
                           text_fields=list(self.template.fields),
                           ef_search=self._snap.main.params.get("ef_search") if self.index_kind == "hnsw" else None,
                           n_unrecommendable=len(self._unrecommendable))

    def _search(self, snap: _Snapshot, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[int, float]]:
        if not np.isfinite(query).all():
            raise FloatingPointError("the user vector is not finite")
        exclude = exclude | self._unrecommendable
        want = k + len(exclude & snap.main_rows) + len(snap.hidden)
        hits: list[tuple[int, float]] = []
        scores, ids = snap.main.search(query.reshape(1, -1), min(want, len(snap.main_rows)))
        hits += [(int(i), float(s)) for s, i in zip(scores[0], ids[0])
                 if int(i) not in snap.hidden and int(i) not in exclude]
        if snap.delta is not None:
            scores, ids = snap.delta.search(query.reshape(1, -1), min(k + len(exclude), len(snap.delta_rows)))
            hits += [(int(i), float(s)) for s, i in zip(scores[0], ids[0]) if int(i) not in exclude]
        hits = [h for h in hits if np.isfinite(h[1])]
        hits.sort(key=lambda h: (-h[1], h[0]))
        return hits[:k]

    def _rows(self, item_ids: list[str]) -> list[int]:
        return [self.store.row(i) for i in item_ids]

    def _result(self, hits: list[tuple[int, float]]) -> list[Recommendation]:
        return [Recommendation(rank=r + 1, item_id=self.store.ids[i], title=self.store.titles[i], score=s)
                for r, (i, s) in enumerate(hits)]

    def recommend(self, *, user_id: str | None = None, history: list[str] | None = None,
                  text: str | None = None, k: int = 10, exclude_history: bool = True) -> RecommendationList:
        """Top-``k`` live items for a known user, or an ad-hoc history and/or profile text.

        Cold-user policy (:mod:`lmrec.models.fallback`): a request without usable history
        (empty, or only items without text for a text-only model) is answered from the profile
        text when given, else with the live items most popular in training (added items count
        0), and the answer's ``fallback`` is ``"popularity"``.

        Parameters
        ----------
        user_id:
            External user id of the run's dataset; all the user's interactions form the history
            (as :func:`lmrec.pipeline.recommend_for_user`). Exclusive with ``history``/``text``.
        history:
            External item ids, oldest first (items added through the API included).
        text:
            Free profile text, encoded and treated as the latest history item.
        k:
            Items to return (fewer when the catalog has fewer candidates).
        exclude_history:
            Leave the history's items out of the results.

        Returns
        -------
        :class:`RecommendationList` (``fallback`` set when the popularity fallback answered).

        Raises
        ------
        KeyError
            Unknown user id or item id (message names it; deleted items count as unknown).
        ValueError
            Profile text on a model without text input.
        """
        snap = self._snap
        user = -1
        if user_id is not None:
            ds = self.run.dataset
            if user_id not in ds.user_map:
                raise KeyError(f"unknown user id {user_id!r}")
            user = ds.user_map.index(user_id)
            rows = [int(r) for r in self._sequences[user]]
        else:
            rows = self._rows(history or [])
        profile = None
        if text is not None:
            if not self.space.reads_text:
                raise ValueError(self._no_text_reason("reads no text; recommend from a user id or history"))
            profile = self.space.item_vectors_from_text(self._encode([text]))[0]
        exclude = set(rows) if exclude_history else set()
        usable = bool(len(rows)) and bool(self.run.model.has_usable_input(
            np.array([user], dtype=np.int64), [np.asarray(rows, dtype=np.int64)], self._rows_with_text())[0])
        if not usable and profile is None:
            return RecommendationList(self._result(self._popular(snap, k, exclude)), fallback=POPULARITY)
        query = self.space.user_vector(snap.item_vectors[rows if usable else []], profile)
        return RecommendationList(self._result(self._search(snap, query, k, exclude)))

    def _rows_with_text(self) -> np.ndarray | None:
        """``bool [n_rows]``: rows whose item has a non-empty text (added items always do);
        ``None`` for ID-only runs."""
        base = item_has_text(self._text_run.item_vectors)
        if base is None:
            return None
        return np.concatenate([base, np.ones(self.store.n_rows - len(base), dtype=bool)])

    def _popular(self, snap: _Snapshot, k: int, exclude: set[int]) -> list[tuple[int, float]]:
        """The cold-user fallback: the ``k`` live rows with most training interactions (score =
        that count; rows added through the API count 0), ties by row."""
        counts = self.run.split.train_item_counts.astype(np.float64)
        exclude = exclude | self._unrecommendable
        live = np.array(sorted((set(snap.main_rows) - snap.hidden - exclude) | (set(snap.delta_rows) - exclude)),
                        dtype=np.int64)
        pop = np.zeros(max(self.store.n_rows, len(counts)), dtype=np.float64)
        pop[:len(counts)] = counts
        return [(int(r), float(pop[r])) for r in popularity_order(pop, live)[:k]]

    def similar(self, item_id: str, k: int = 10) -> list[Recommendation]:
        """The ``k`` live items whose index vectors have the largest inner product with ``item_id``'s
        (cosine for a cosine-score SASRec, :meth:`ItemSpace.index_vectors`).

        Raises
        ------
        KeyError
            If the item is unknown or deleted.
        """
        snap = self._snap
        r = self.store.row(item_id)
        query = self.space.similar_query(self.space.index_vectors(snap.item_vectors[r:r + 1])[0])
        return self._result(self._search(snap, query, k, {r}))

    def _no_text_reason(self, what: str) -> str:
        """Why this run takes no new items or profile text (the fused space says which member)."""
        return getattr(self.space, "no_text_reason", None) or f"the run's model ({self.run.config.model}) {what}"

    def item(self, item_id: str) -> dict[str, Any]:
        """``{"item_id", "title", "index_id", "added"}`` of a live item (``KeyError`` if unknown)."""
        r = self.store.row(item_id)
        return {"item_id": item_id, "title": self.store.titles[r], "index_id": r, "added": r >= self.store.n_base}

    # ------------------------------------------------------------------ writing
    def add_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Encode, journal and index new items; they are servable when this returns.

        Parameters
        ----------
        items:
            ``[{"item_id": str, "title": str | None, "text": str | None, "fields": dict | None}]``;
            the text is ``text`` or, when absent, ``fields`` rendered with the run's text
            template (so new items are encoded like the catalog).

        Returns
        -------
        ``[{"item_id", "index_id", "warning"}]``; ``warning`` is ``None``, or says that the
        item's text is mostly unknown tokens to the encoder or that its vector is identical to
        another live item's (:mod:`lmrec.encoders.vocab_fit`), with the fix.

        Raises
        ------
        ValueError
            For a model without text input, an empty text, or an id repeated in the batch.
        KeyError
            If an item id already exists.
        """
        if not self.space.reads_text:
            raise ValueError(self._no_text_reason(
                "reads no item text, so new items cannot be represented without retraining; serve a text model "
                "(embknn, sasrec-text, sasrec-text-id)"))
        texts = []
        for it in items:
            text = shown = it.get("text")
            if text is None:      # fields: rendered like the catalog (placeholder fields dropped)
                text, shown = self.template.render_checked(it.get("fields") or {})
                shown = shown or text
            if is_uninformative_text(text):
                raise ValueError(f"item {it['item_id']!r}: {'placeholder' if shown.strip() else 'empty'} text "
                                 f"{shown[:40]!r} carries no information (give 'text' or 'fields' that describe it)")
            texts.append(text)
        clash = [it["item_id"] for it in items if it["item_id"] in self.store]
        if clash:
            raise KeyError(f"item id {clash[0]!r} already exists; delete it first or use another id")
        text_vectors = self._encode(texts)
        new_vectors = self.space.item_vectors_from_text(text_vectors)
        notes = self._ingest_warnings(items, texts, text_vectors)
        with self._write_lock:
            rows = self.store.add([NewItem(it["item_id"], it.get("title") or (it.get("fields") or {}).get("title")
                                           or it["item_id"], v) for it, v in zip(items, text_vectors)])
            snap = self._snap
            vectors = self._rows_buffer.append(new_vectors)
            self._snap = self._with_changes(snap, vectors, snap.delta_rows + tuple(rows), snap.hidden)
        return [{"item_id": it["item_id"], "index_id": r, "warning": w} for it, r, w in zip(items, rows, notes)]

    def _ingest_warnings(self, items: list[dict[str, Any]], texts: list[str], text_vectors: np.ndarray
                         ) -> list[str | None]:
        """Per new item: mostly-unknown text or a vector identical to a live item's (see
        :func:`lmrec.encoders.vocab_fit.new_item_warnings`); ``None`` when fine."""
        from lmrec.encoders.vocab_fit import new_item_warnings

        store = self.store
        added = store.added_rows()
        existing = [(self._text_run.item_vectors, store.ids[:store.n_base],
                     [r for r in store.deleted if r < store.n_base])]
        if len(added):
            existing.append((store.text_vectors(added), store.ids[store.n_base:],
                             [r - store.n_base for r in store.deleted if r >= store.n_base]))
        return new_item_warnings(self.encoder(), [it["item_id"] for it in items], texts, text_vectors, existing)

    def delete_item(self, item_id: str) -> int:
        """Remove an item from the catalog (journaled) and from results; returns its index id.

        Raises
        ------
        KeyError
            If the item is unknown or already deleted.
        """
        with self._write_lock:
            r = self.store.delete(item_id)
            snap = self._snap
            if r in snap.main_rows:
                self._snap = self._with_changes(snap, snap.item_vectors, snap.delta_rows, snap.hidden | {r})
            else:
                self._snap = self._with_changes(snap, snap.item_vectors,
                                                tuple(x for x in snap.delta_rows if x != r), snap.hidden)
            return r


def remove_state(run_dir: str | os.PathLike) -> None:
    """Delete ``RUN_DIR/serving`` (journal and index cache): the service restarts from the run's catalog."""
    shutil.rmtree(Path(run_dir) / "serving", ignore_errors=True)
