"""Catalog files in, embedding shards out: what the streaming and the Ray encoders share.

**Input**: one catalog file, ``.parquet``/``.pq``, ``.csv``/``.tsv`` (optionally ``.gz``) or JSON
lines (``.jsonl``/``.json``), with an item-id column and either a text column or fields rendered
by a :class:`lmrec.data.text.TextTemplate`. :func:`iter_catalog` reads it ``shard_size`` rows at
a time (never the whole file), so shard ``k`` is always rows ``[k·shard_size, (k+1)·shard_size)``
— the same cut for both engines, so a run started with one engine can be resumed with the other.

**Output** folder::

    manifest.json           encoder identity, source file, text spec, shard size (checked on resume)
    part-00000.parquet      item_id: string, vector: list<float32>[dim]   (rows of shard 0)
    part-00000.json         {"rows", "dim", "sha256" (of the parquet bytes), "first_id", "last_id"}
    …

A shard is written to a temporary file, fsynced and renamed into place, then its sidecar is
written the same way; a shard counts as finished only when its sidecar exists and the parquet
bytes match the sidecar's sha256. A shard that fails the check is reported, renamed to
``*.corrupt`` and encoded again; :func:`read_embeddings` refuses to return damaged shards.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

MANIFEST = "manifest.json"


class ShardCorruptError(ValueError):
    """An embedding shard does not match its checksum or shape (file named in the message)."""


@dataclass(frozen=True)
class TextSpec:
    """Where an item's text comes from.

    Attributes
    ----------
    id_column:
        Column of external item ids (read as strings).
    text_column:
        Column holding the text, or ``None`` to render ``fields`` with a :class:`TextTemplate`.
    fields:
        Fields rendered when ``text_column`` is ``None`` (``"title. genres"`` style).
    """

    id_column: str = "item_id"
    text_column: str | None = "text"
    fields: tuple[str, ...] = ()

    def texts(self, chunk) -> tuple[list[str], list[str]]:
        """``(ids, texts)`` of a pandas chunk.

        Raises
        ------
        ValueError
            If a needed column is missing (columns listed) or an id is empty.
        """
        import pandas as pd

        from lmrec.data.text import TextTemplate, item_text

        need = [self.id_column] + ([self.text_column] if self.text_column else list(self.fields))
        missing = [c for c in need if c not in chunk.columns]
        if missing:
            raise ValueError(f"catalog has no column(s) {missing}; columns: {list(chunk.columns)} "
                             "(set the id column and --text-column or --text-fields)")
        ids = [None if pd.isna(v) else str(v) for v in chunk[self.id_column]]
        if any(i is None or i == "" for i in ids):
            row = next(r for r, i in enumerate(ids) if not i)
            raise ValueError(f"catalog row {int(chunk.index[row])}: empty item id in column {self.id_column!r}")
        if self.text_column:
            texts = [item_text(v) for v in chunk[self.text_column]]   # placeholder text → ""
        else:
            template = TextTemplate(tuple(self.fields))
            texts = [template.render(r) for r in chunk[list(self.fields)].to_dict(orient="records")]
        return ids, texts


def catalog_format(path: Path) -> str:
    """``"parquet" | "csv" | "tsv" | "json"`` from the file name.

    Raises
    ------
    ValueError
        For another extension.
    """
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    formats = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv",
               ".jsonl": "json", ".json": "json", ".ndjson": "json"}
    if ext not in formats:
        raise ValueError(f"{path}: unknown catalog format {ext!r}; use .parquet, .csv, .tsv or .jsonl")
    return formats[ext]


def iter_catalog(path: str | os.PathLike, shard_size: int, spec: TextSpec) -> Iterator[tuple[int, list[str], list[str]]]:
    """Yield ``(shard_index, ids, texts)`` for consecutive ``shard_size``-row pieces of a catalog.

    Reads at most one shard's rows at a time (pyarrow ``iter_batches`` for Parquet, pandas
    ``chunksize`` for CSV/TSV/JSON lines).

    Raises
    ------
    FileNotFoundError
        If the catalog does not exist.
    ValueError
        For an unknown format or missing columns.
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"catalog file {path} does not exist")
    if shard_size < 1:
        raise ValueError(f"shard_size must be ≥ 1, got {shard_size}")
    fmt = catalog_format(path)
    cols = [spec.id_column] + ([spec.text_column] if spec.text_column else list(spec.fields))
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        missing = [c for c in cols if c not in pf.schema_arrow.names]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; columns: {pf.schema_arrow.names}")
        chunks = (b.to_pandas() for b in pf.iter_batches(batch_size=shard_size, columns=cols))
    elif fmt == "json":
        chunks = pd.read_json(path, lines=True, chunksize=shard_size, dtype={spec.id_column: str})
    else:
        chunks = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",", chunksize=shard_size,
                             dtype={spec.id_column: str}, keep_default_na=False, na_values=[""])
    # pyarrow may return batches smaller than asked; re-cut so shard k is always rows [k·s, (k+1)·s)
    buf_ids: list[str] = []
    buf_texts: list[str] = []
    k = 0
    start = 0
    for chunk in chunks:
        chunk.index = range(start, start + len(chunk))
        start += len(chunk)
        ids, texts = spec.texts(chunk)
        buf_ids += ids
        buf_texts += texts
        while len(buf_ids) >= shard_size:
            yield k, buf_ids[:shard_size], buf_texts[:shard_size]
            buf_ids, buf_texts = buf_ids[shard_size:], buf_texts[shard_size:]
            k += 1
    if buf_ids:
        yield k, buf_ids, buf_texts


def checked_catalog(path: str | os.PathLike, shard_size: int, spec: TextSpec
                    ) -> Iterator[tuple[int, list[str], list[str]]]:
    """:func:`iter_catalog` with its first shard read now, so a missing file or column fails before
    anything is written to the output folder (a failed start leaves no manifest behind)."""
    import itertools

    it = iter_catalog(path, shard_size, spec)
    first = next(it, None)
    return it if first is None else itertools.chain([first], it)


# ----------------------------------------------------------------------------- output shards


def shard_path(out: Path, k: int) -> Path:
    return out / f"part-{k:05d}.parquet"


def _atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_shard(out: Path, k: int, ids: list[str], vectors: np.ndarray) -> None:
    """Write shard ``k`` (parquet, then its checksum sidecar), each atomically.

    Raises
    ------
    ValueError
        If ids and vectors do not line up or vectors are not finite.
    """
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError(f"shard {k}: {len(ids)} ids but vectors of shape {vectors.shape}")
    if not np.isfinite(vectors).all():
        raise ValueError(f"shard {k}: non-finite vectors (first bad row: item {ids[int(np.flatnonzero(~np.isfinite(vectors).all(1))[0])]!r})")
    dim = vectors.shape[1]
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    table = pa.table({"item_id": pa.array(ids, type=pa.string()),
                      "vector": pa.FixedSizeListArray.from_arrays(flat, dim)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    data = buf.getvalue()
    _atomic_bytes(shard_path(out, k), data)
    meta = {"rows": len(ids), "dim": dim, "sha256": hashlib.sha256(data).hexdigest(),
            "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None}
    _atomic_bytes(shard_path(out, k).with_suffix(".json"), json.dumps(meta).encode())


def _load_shard(out: Path, k: int) -> tuple[list[str], np.ndarray]:
    import io

    import pyarrow.parquet as pq

    path = shard_path(out, k)
    side = path.with_suffix(".json")
    try:
        meta = json.loads(side.read_text())
        data = path.read_bytes()
    except (OSError, json.JSONDecodeError) as exc:
        raise ShardCorruptError(f"{path}: unreadable shard or sidecar ({exc})") from None
    if hashlib.sha256(data).hexdigest() != meta.get("sha256"):
        raise ShardCorruptError(f"{path}: bytes do not match the sha256 in {side.name} (truncated or corrupt)")
    table = pq.read_table(io.BytesIO(data))
    ids = table.column("item_id").to_pylist()
    vec = table.column("vector").combine_chunks()
    vectors = vec.flatten().to_numpy().reshape(len(ids), -1).astype(np.float32)
    if len(ids) != meta["rows"] or vectors.shape[1] != meta["dim"]:
        raise ShardCorruptError(f"{path}: {len(ids)}×{vectors.shape[1]} rows, sidecar says {meta['rows']}×{meta['dim']}")
    return ids, vectors


def read_shard(out: str | os.PathLike, k: int) -> tuple[list[str], np.ndarray]:
    """Ids ``[rows]`` and float32 vectors ``[rows, dim]`` of finished shard ``k`` (checksum verified).

    Raises
    ------
    ShardCorruptError
        If the shard or its sidecar is unreadable or does not match its checksum.
    """
    return _load_shard(Path(out), k)


def finished_shards(out: Path, *, quarantine: bool = True) -> set[int]:
    """Indices of shards that are complete and pass their checksum.

    A shard with a sidecar but wrong bytes is reported with ``warnings.warn`` and, with
    ``quarantine``, renamed to ``*.corrupt`` so that it is encoded again.
    """
    done = set()
    for side in sorted(out.glob("part-*.json")):
        k = int(side.stem.split("-")[1])
        path = shard_path(out, k)
        try:
            if not path.exists():
                raise ShardCorruptError(f"{path}: missing (its sidecar exists)")
            meta = json.loads(side.read_text())
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != meta.get("sha256"):
                raise ShardCorruptError(f"{path}: bytes do not match the sha256 in {side.name}")
        except (ShardCorruptError, json.JSONDecodeError, OSError) as exc:
            warnings.warn(f"{exc}; the shard will be encoded again", stacklevel=2)
            if quarantine:
                for p in (path, side):
                    if p.exists():
                        os.replace(p, p.with_name(p.name + ".corrupt"))
            continue
        done.add(k)
    return done


def read_embeddings(out: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """All shards of a finished encode, in catalog order.

    Returns
    -------
    ids:
        ``[n]`` external item ids.
    vectors:
        ``float32 [n, dim]``.

    Raises
    ------
    ShardCorruptError
        If a shard fails its checksum, or shards are missing (the encode is unfinished).
    FileNotFoundError
        If ``out`` has no ``manifest.json``.
    """
    out = Path(out)
    manifest = read_manifest(out)
    if manifest is None:
        raise FileNotFoundError(f"{out} holds no encoded catalog (no {MANIFEST})")
    n_shards = manifest.get("n_shards")
    sides = sorted(out.glob("part-*.json"))
    ks = [int(s.stem.split("-")[1]) for s in sides]
    if n_shards is None or ks != list(range(n_shards)):
        raise ShardCorruptError(f"{out}: encode unfinished or shards missing (have {len(ks)} of "
                                f"{n_shards if n_shards is not None else '?'}); rerun the encode to resume")
    ids: list[str] = []
    parts = []
    for k in ks:
        i, v = _load_shard(out, k)
        ids += i
        parts.append(v)
    return ids, (np.concatenate(parts) if parts else np.zeros((0, manifest["dim"]), np.float32))


# ----------------------------------------------------------------------------- manifest


@dataclass
class EncodeManifest:
    """What a shard folder was made from; a resume must match it (except ``n_shards``/``engine``)."""

    encoder: dict
    encoder_hash: str
    source: dict
    spec: dict
    shard_size: int
    dim: int
    n_shards: int | None = None
    engine: str = "local"
    extra: dict = field(default_factory=dict)

    def key(self) -> dict:
        """The settings a resume must match, as plain JSON values."""
        keep = {k: v for k, v in asdict(self).items() if k not in ("n_shards", "engine", "extra", "encoder")}
        return json.loads(json.dumps(keep, default=str))


def source_info(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "bytes": st.st_size}


def read_manifest(out: Path) -> dict | None:
    p = out / MANIFEST
    return json.loads(p.read_text()) if p.exists() else None


def open_output(out: Path, manifest: EncodeManifest, overwrite: bool = False) -> set[int]:
    """Create or resume an output folder; returns the finished shard indices.

    Raises
    ------
    ValueError
        If ``out`` holds shards of another encode (other encoder, source, text or shard size)
        and ``overwrite`` is not set.
    """
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    old = read_manifest(out)
    if old is not None and not overwrite:
        mine = manifest.key()
        theirs = {k: old.get(k) for k in mine}
        if theirs != mine:
            diff = sorted(k for k in mine if mine[k] != theirs[k])
            raise ValueError(f"{out} holds an encode with other settings ({', '.join(diff)} differ); "
                             "use another output folder or overwrite it (`lmrec encode --overwrite`, `overwrite=True`)")
    if old is not None and overwrite:
        shutil.rmtree(out)
        out.mkdir(parents=True)
    write_manifest(out, manifest)
    return finished_shards(out)


def write_manifest(out: Path, manifest: EncodeManifest) -> None:
    _atomic_bytes(out / MANIFEST, json.dumps(asdict(manifest), indent=2, default=str).encode())


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (``ru_maxrss``)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
