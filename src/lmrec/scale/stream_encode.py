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

from lmrec.scale.shards import (EncodeManifest, TextSpec, checked_catalog, open_output, peak_rss_mb, source_info,
                                write_manifest, write_shard)


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_empty(texts: Sequence[str]) -> int:
    """Number of empty or whitespace-only texts (they encode to all-zero vectors)."""
    return sum(1 for t in texts if not str(t).strip())


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
    n_items = n_shards = n_encoded = n_empty = 0
    for k, ids, texts in shards:
        if limit_shards is not None and k >= limit_shards:
            break
        n_items += len(ids)
        n_shards = k + 1
        if k in done:
            continue
        vectors = enc.encode(texts, batch_size=batch_size)
        write_shard(out, k, ids, vectors)
        n_encoded += len(ids)
        n_empty += count_empty(texts)
        if on_shard is not None:
            on_shard(k, len(ids))
    manifest.n_shards = n_shards
    write_manifest(out, manifest)
    wall = time.perf_counter() - t0
    return EncodeReport(out=str(out), engine="local", n_items=n_items, n_shards=n_shards,
                        n_shards_done_before=len(done & set(range(n_shards))), n_encoded=n_encoded, dim=enc.dim,
                        wall_s=round(wall, 3), items_per_s=round(n_encoded / wall, 2) if wall > 0 else 0.0,
                        peak_rss_mb=round(peak_rss_mb(), 1), extra={}, n_empty_text=n_empty)
