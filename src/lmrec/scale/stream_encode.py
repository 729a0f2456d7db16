"""Single-process streaming catalog encoding: bounded memory, atomic shards, resumable.

The catalog is read one shard (``shard_size`` rows) at a time, each shard is encoded and
written as ``part-XXXXX.parquet`` (+ checksum sidecar, see :mod:`lmrec.scale.shards`) before the
next is read, so peak memory is the model plus one shard whatever the catalog size. Killing the
process at any moment loses at most the shard being encoded: a rerun with the same arguments
skips every finished shard (checksum verified) and produces the same files as an
uninterrupted run.

Example
-------
>>> from lmrec.scale import stream_encode, read_embeddings
>>> report = stream_encode("catalog.parquet", "emb/", text_column="title")
>>> ids, vectors = read_embeddings("emb/")          # [n] str, float32 [n, 384]
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from lmrec.scale.shards import (EncodeManifest, TextSpec, checked_catalog, iter_catalog, open_output, peak_rss_mb,
                                read_shard, source_info, write_manifest, write_shard)


@dataclass
class EncodeReport:
    """Outcome of an encode.

    Attributes
    ----------
    n_items:
        Rows in the catalog.
    n_shards, n_shards_done_before, n_encoded:
        Shards in total, shards found finished at start (skipped), items encoded by this call.
    wall_s:
        Seconds for this call; ``items_per_s`` = ``n_encoded / wall_s``.
    peak_rss_mb:
        Peak resident memory of the driver process (MiB); Ray workers are reported in ``extra``.
    n_empty_text:
        Items encoded by this call whose text was empty or blank: they get an all-zero vector
        (as in the embedding cache), which scores 0 against every query.
    vocabulary:
        :class:`lmrec.encoders.vocab_fit.VocabularyFit` as a dict, over the whole catalog (shards
        finished by an earlier call are read back): unknown-token rate, mostly-unknown texts and
        distinct texts with identical vectors across all shards; also written into the
        manifest (``extra.vocabulary``). A :class:`~lmrec.encoders.vocab_fit.VocabularyFitWarning`
        is issued when it is poor.
    """

    out: str
    engine: str
    n_items: int
    n_shards: int
    n_shards_done_before: int
    n_encoded: int
    dim: int
    wall_s: float
    items_per_s: float
    peak_rss_mb: float
    extra: dict
    n_empty_text: int = 0
    vocabulary: dict | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_empty(texts: Sequence[str]) -> int:
    """Number of empty or whitespace-only texts (they encode to all-zero vectors)."""
    return sum(1 for t in texts if not str(t).strip())


def shard_vocabulary(meter: Any, out: Path, catalog: Path, spec: TextSpec, shard_size: int) -> Any:
    """:meth:`VocabularyMeter.result <lmrec.encoders.vocab_fit.VocabularyMeter.result>` for rows
    added per shard (row ``k·shard_size + i`` = row ``i`` of shard ``k``): colliding candidates'
    vectors are read back from the finished shards of ``out``, example texts from the catalog."""
    def fetch_vectors(rows: np.ndarray) -> np.ndarray:
        parts = {}
        for k in np.unique(rows // shard_size):
            parts[int(k)] = read_shard(out, int(k))[1]
        return np.stack([parts[int(r // shard_size)][int(r % shard_size)] for r in rows])

    def fetch_rows(rows: np.ndarray) -> list[tuple[str, str]]:
        wanted = {int(k) for k in rows // shard_size}
        found: dict[int, tuple[str, str]] = {}
        for k, ids, texts in iter_catalog(catalog, shard_size, spec):
            if k in wanted:
                for r in rows[rows // shard_size == k]:
                    found[int(r)] = (ids[int(r % shard_size)], texts[int(r % shard_size)])
                wanted.discard(k)
            if not wanted:
                break
        return [found[int(r)] for r in rows]

    return meter.result(fetch_vectors, fetch_rows)


def resolve_encoder(encoder: Any, pooling: str | None = None, max_length: int | None = None,
                    backend: str = "st") -> Any:
    """An encoder object as is, else :func:`lmrec.encoders.factory.load_encoder` of a name/path/``None``
    with ``backend`` (``"st"``, ``"onnx"`` or ``"onnx-int8"``; ignored for an encoder object)."""
    if encoder is not None and not isinstance(encoder, (str, os.PathLike)):
        return encoder
    from lmrec.encoders.factory import load_encoder

    kwargs: dict[str, Any] = {}
    if pooling:
        kwargs["pooling"] = pooling
    if max_length:
        kwargs["max_length"] = max_length
    if backend != "st":
        kwargs["backend"] = backend
    return load_encoder(encoder, **kwargs)


def stream_encode(catalog: str | os.PathLike, out: str | os.PathLike, *, encoder: Any = None,
                  id_column: str = "item_id", text_column: str | None = "text",
                  text_fields: Sequence[str] = (), shard_size: int = 4096, batch_size: int = 64,
                  pooling: str | None = None, max_length: int | None = None, overwrite: bool = False,
                  limit_shards: int | None = None, backend: str = "st",
                  on_shard: Callable[[int, int], None] | None = None) -> EncodeReport:
    """Encode a catalog file into Parquet embedding shards in one process.

    Parameters
    ----------
    catalog:
        ``.parquet``, ``.csv``/``.tsv`` or ``.jsonl`` file with an id column and text.
    out:
        Output folder (created; resumed when it holds a matching earlier run).
    encoder:
        A :class:`~lmrec.encoders.base.TextEncoder`, or a name/path for ``load_encoder``
        (``None``: the packaged all-MiniLM-L6-v2).
    id_column, text_column, text_fields:
        Where ids and texts are (``text_column=None`` renders ``text_fields`` with the item
        text template of :mod:`lmrec.data.text`).
    shard_size:
        Rows per shard (the unit of resumption and of memory).
    batch_size:
        Texts per forward pass.
    overwrite:
        Discard an existing output with other settings instead of refusing.
    limit_shards:
        Stop after this many shards of the catalog (for bounded benchmarks); ``None`` = all.
    backend:
        Runtime when ``encoder`` is a name/path: ``"st"`` (PyTorch), ``"onnx"`` or ``"onnx-int8"``
        (see :func:`lmrec.encoders.factory.load_encoder`); part of the encoder identity, so a
        resumed run never mixes backends.
    on_shard:
        Called with ``(shard_index, rows)`` after each written shard.

    Returns
    -------
    EncodeReport

    Raises
    ------
    ValueError
        Bad catalog columns/format, or an output folder with other settings.
    FileNotFoundError
        Missing catalog.
    """
    t0 = time.perf_counter()
    catalog, out = Path(catalog), Path(out)
    spec = TextSpec(id_column, text_column, tuple(text_fields))
    shards = checked_catalog(catalog, shard_size, spec)  # a bad file/column fails before any load or write
    enc = resolve_encoder(encoder, pooling, max_length, backend)
    manifest = EncodeManifest(encoder=enc.identity(), encoder_hash=enc.identity_hash(), source=source_info(catalog),
                              spec=asdict(spec), shard_size=shard_size, dim=enc.dim, engine="local",
                              extra={"limit_shards": limit_shards})
    done = open_output(out, manifest, overwrite)
    from lmrec.encoders.vocab_fit import VocabularyMeter

    meter = VocabularyMeter(enc)
    n_items = n_shards = n_encoded = n_empty = 0
    for k, ids, texts in shards:
        if limit_shards is not None and k >= limit_shards:
            break
        n_items += len(ids)
        n_shards = k + 1
        if k in done:
            meter.add(ids, texts, read_shard(out, k)[1], start=k * shard_size)
            continue
        vectors = enc.encode(texts, batch_size=batch_size)
        write_shard(out, k, ids, vectors)
        meter.add(ids, texts, vectors, start=k * shard_size)
        n_encoded += len(ids)
        n_empty += count_empty(texts)
        if on_shard is not None:
            on_shard(k, len(ids))
    vocabulary = shard_vocabulary(meter, out, catalog, spec, shard_size)
    manifest.n_shards = n_shards
    manifest.extra["vocabulary"] = vocabulary.to_dict()
    write_manifest(out, manifest)
    vocabulary.warn()
    wall = time.perf_counter() - t0
    return EncodeReport(out=str(out), engine="local", n_items=n_items, n_shards=n_shards,
                        n_shards_done_before=len(done & set(range(n_shards))), n_encoded=n_encoded, dim=enc.dim,
                        wall_s=round(wall, 3), items_per_s=round(n_encoded / wall, 2) if wall > 0 else 0.0,
                        peak_rss_mb=round(peak_rss_mb(), 1), extra={}, n_empty_text=n_empty,
                        vocabulary=vocabulary.to_dict())
