"""On-disk embedding cache: encode each text once per encoder identity and text template.

Layout under the cache root (``$LMREC_CACHE_DIR``, else ``~/.cache/lmrec``)::

    embeddings/
      <model-slug>-<encoder.identity_hash()>/      one folder per encoder identity
        <namespace-slug>-<sha256(namespace)[:8]>/  one per namespace (text-template version)
          config.json                              full identity, namespace, dim (for humans)
          chunk-<sha256(file)[:32]>.npz            hashes uint8 [k, 32] + vectors float32 [k, dim]

A vector is keyed by the sha256 of its exact text (UTF-8), so a text shared by two datasets
under the same namespace is encoded once. Chunk files are immutable and named after the
sha256 of their bytes; they are written to a temporary file in the same folder, fsynced and
moved into place with ``os.replace``, so a reader never sees a half-written chunk and an
interrupted run leaves only whole chunks behind. Missing texts are encoded ``chunk_size`` at a
time and each chunk is written as soon as it is done: a rerun after an interruption encodes
only what the finished chunks do not hold.

A chunk that fails to load, whose bytes do not match the checksum in its name, or whose arrays
have the wrong shape/dtype or non-finite values is reported with ``warnings.warn`` (path
named), renamed to ``*.corrupt`` and never served; its texts are re-encoded.

Empty/whitespace-only texts are not cached: they are zero vectors by policy (see
:mod:`lmrec.encoders.base`).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
import uuid
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from lmrec.encoders.base import TextEncoder, is_empty_text, validate_texts
from lmrec.io import default_cache_root  # lives low in the stack (encoders.base uses it too)

FORMAT_VERSION = 1
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 24 * 3600
_KEY_BYTES = 32


def text_key(text: str) -> bytes:
    """sha256 digest (32 bytes) of the exact text, UTF-8 (lone surrogates passed through)."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).digest()


def _slug(text: str, limit: int = 48) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:limit] or "default"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder + fsync + ``os.replace``."""
    tmp = path.with_name(f"{_TMP_PREFIX}{uuid.uuid4().hex}-{path.name}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@dataclass
class CacheStats:
    """What one :meth:`EmbeddingCache.encode` call did.

    Attributes
    ----------
    n_texts:
        Input texts.
    n_empty:
        Empty/whitespace-only inputs (zero rows, never cached).
    n_unique:
        Distinct non-empty texts.
    n_hits:
        Distinct texts served from disk.
    n_encoded:
        Distinct texts sent to the encoder (``n_unique - n_hits`` when the call completes).
    n_chunks_written:
        Chunk files written.
    corrupt_files:
        Paths of chunk files found corrupt (renamed ``*.corrupt``).
    """

    n_texts: int = 0
    n_empty: int = 0
    n_unique: int = 0
    n_hits: int = 0
    n_encoded: int = 0
    n_chunks_written: int = 0
    corrupt_files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


class EmbeddingCache:
    """Embedding cache rooted at ``root`` (see the module docstring for layout and guarantees).

    Parameters
    ----------
    root:
        Cache root; ``None`` = :func:`default_cache_root`.

    Attributes
    ----------
    last_stats:
        :class:`CacheStats` of the latest :meth:`encode` call (``None`` before).
    """

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_root()
        self.last_stats: CacheStats | None = None

    def __repr__(self) -> str:
        return f"EmbeddingCache(root={str(self.root)!r})"

    # -- layout ---------------------------------------------------------------------------

    def entry_dir(self, encoder: TextEncoder, namespace: str = "") -> Path:
        """Folder holding the vectors of ``encoder`` under ``namespace`` (not created)."""
        ident = encoder.identity()
        model = _slug(Path(str(ident.get("model", "model"))).name, 40)
        ns = f"{_slug(namespace, 40)}-{hashlib.sha256(namespace.encode()).hexdigest()[:8]}"
        return self.root / "embeddings" / f"{model}-{encoder.identity_hash()}" / ns

    def _prepare(self, encoder: TextEncoder, namespace: str) -> Path:
        folder = self.entry_dir(encoder, namespace)
        folder.mkdir(parents=True, exist_ok=True)
        config = {
            "format_version": FORMAT_VERSION,
            "identity_hash": encoder.identity_hash(),
            "identity": encoder.identity(),
            "namespace": namespace,
            "dim": encoder.dim,
            "key": "sha256 of the exact UTF-8 text",
        }
        path = folder / "config.json"
        try:
            current = json.loads(path.read_text())
        except (OSError, ValueError):
            current = None
        if current != json.loads(json.dumps(config, default=str)):
            _atomic_write_bytes(path, json.dumps(config, indent=2, sort_keys=True, default=str).encode())
        now = time.time()
        for tmp in folder.glob(f"{_TMP_PREFIX}*"):  # left by killed processes
            try:
                if now - tmp.stat().st_mtime > _STALE_TMP_SECONDS:
                    tmp.unlink()
            except OSError:
                pass
        return folder

    # -- reading --------------------------------------------------------------------------

    def _quarantine(self, path: Path, reason: str, stats: CacheStats) -> None:
        target = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, target)
            where = f"was moved to {target}"
        except OSError:
            where = "could not be moved aside"
        stats.corrupt_files.append(str(path))
        warnings.warn(
            f"lmrec embedding cache: ignoring corrupt chunk {path} ({reason}); it {where} and its "
            f"texts will be re-encoded",
            RuntimeWarning,
            stacklevel=3,
        )

    def _load(self, folder: Path, needed: set[bytes], dim: int, stats: CacheStats) -> dict[bytes, np.ndarray]:
        """Vectors for the keys of ``needed`` found in the folder's valid chunks."""
        found: dict[bytes, np.ndarray] = {}
        for path in sorted(folder.glob("chunk-*.npz")):
            if len(found) == len(needed):
                break
            # Phase 1: the key list only (small). A truncated file fails here (no zip directory).
            try:
                with np.load(path, allow_pickle=False) as z:
                    hashes = z["hashes"]
            except Exception as exc:  # any failure to parse means: not servable
                self._quarantine(path, f"unreadable: {type(exc).__name__}: {exc}", stats)
                continue
            if hashes.dtype != np.uint8 or hashes.ndim != 2 or hashes.shape[1] != _KEY_BYTES:
                self._quarantine(path, f"bad key array {hashes.dtype} {hashes.shape}", stats)
                continue
            keys = [bytes(row) for row in hashes]
            rows = [i for i, k in enumerate(keys) if k in needed and k not in found]
            if not rows:
                continue
            # Phase 2: the whole file, checked against the checksum in its name.
            try:
                data = path.read_bytes()
                expected = path.stem.removeprefix("chunk-")
                actual = hashlib.sha256(data).hexdigest()[: len(expected)]
                if actual != expected:
                    raise ValueError(f"checksum mismatch: content sha256 {actual}…, name says {expected}")
                with np.load(io.BytesIO(data), allow_pickle=False) as z:
                    vectors = z["vectors"]
                if vectors.dtype != np.float32 or vectors.shape != (len(keys), dim):
                    raise ValueError(
                        f"vectors are {vectors.dtype} {vectors.shape}, expected float32 {(len(keys), dim)}"
                    )
                if not np.isfinite(vectors).all():
                    raise ValueError("vectors contain NaN/inf")
            except Exception as exc:
                self._quarantine(path, f"{type(exc).__name__}: {exc}", stats)
                continue
            for i in rows:
                found[keys[i]] = vectors[i]
        return found

    # -- writing --------------------------------------------------------------------------

    @staticmethod
    def _write_chunk(folder: Path, keys: list[bytes], vectors: np.ndarray) -> Path:
        hashes = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _KEY_BYTES)
        buf = io.BytesIO()
        np.savez(buf, hashes=hashes, vectors=np.ascontiguousarray(vectors, dtype=np.float32))
        data = buf.getvalue()
        path = folder / f"chunk-{hashlib.sha256(data).hexdigest()[:32]}.npz"
        _atomic_write_bytes(path, data)
        return path

    # -- main entry -----------------------------------------------------------------------

    def encode(
        self,
        encoder: TextEncoder,
        texts: Sequence[str],
        namespace: str = "",
        chunk_size: int = 2048,
        batch_size: int = 64,
        show_progress: bool = False,
    ) -> np.ndarray:
        """Vectors of ``texts``, from disk when cached, encoding and storing the rest.

        Parameters
        ----------
        encoder:
            Any :class:`~lmrec.encoders.base.TextEncoder`; its ``identity_hash()`` keys the
            folder.
        texts:
            Sequence of ``str``; duplicates are encoded once; empty ones are zero rows.
        namespace:
            Caller's text version, typically ``TextTemplate.version``: changing the template
            changes the namespace, so stale vectors are never served.
        chunk_size:
            Texts encoded (and written) per chunk file, ≥ 1. Smaller = less work lost on an
            interruption, more files.
        batch_size, show_progress:
            Passed on: batch size of the encoder; a tqdm bar over the texts to encode.

        Returns
        -------
        numpy.ndarray
            float32 ``[len(texts), encoder.dim]``, input order — the same values
            ``encoder.encode(texts)`` gives. :attr:`last_stats` tells hits and misses.

        Raises
        ------
        TypeError
            As :meth:`TextEncoder.encode` for bad ``texts``.
        ValueError
            If ``chunk_size < 1``.
        OSError
            If the cache folder cannot be created or written (e.g. read-only disk).
        """
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        texts = validate_texts(texts)
        dim = encoder.dim
        out = np.zeros((len(texts), dim), dtype=np.float32)
        stats = CacheStats(n_texts=len(texts))
        self.last_stats = stats

        rows_of: dict[bytes, list[int]] = {}
        text_of: dict[bytes, str] = {}
        for i, t in enumerate(texts):
            if is_empty_text(t):
                stats.n_empty += 1
                continue
            k = text_key(t)
            if k not in rows_of:
                rows_of[k] = []
                text_of[k] = t
            rows_of[k].append(i)
        stats.n_unique = len(rows_of)
        if not rows_of:
            return out

        folder = self._prepare(encoder, namespace)
        found = self._load(folder, set(rows_of), dim, stats)
        for k, vec in found.items():
            out[rows_of[k]] = vec
        stats.n_hits = len(found)

        missing = [k for k in rows_of if k not in found]
        # Longest first over all missing texts: chunks (and their batches) are length-homogeneous.
        missing.sort(key=lambda k: -len(text_of[k]))
        if missing:
            from tqdm.auto import tqdm

            with tqdm(total=len(missing), disable=not show_progress, unit="text",
                      desc="encoding (cache misses)") as bar:
                for start in range(0, len(missing), chunk_size):
                    keys = missing[start : start + chunk_size]
                    vectors = encoder.encode([text_of[k] for k in keys], batch_size=batch_size)
                    if vectors.shape != (len(keys), dim) or vectors.dtype != np.float32:
                        raise RuntimeError(
                            f"{type(encoder).__name__}.encode returned {vectors.dtype} "
                            f"{vectors.shape}, expected float32 {(len(keys), dim)}; nothing cached"
                        )
                    self._write_chunk(folder, keys, vectors)
                    for k, vec in zip(keys, vectors):
                        out[rows_of[k]] = vec
                    stats.n_encoded += len(keys)
                    stats.n_chunks_written += 1
                    bar.update(len(keys))
        return out


def encode_cached(
    encoder: TextEncoder,
    texts: Sequence[str],
    cache_root: Path | str | None = None,
    namespace: str = "",
    chunk_size: int = 2048,
    batch_size: int = 64,
    show_progress: bool = False,
) -> np.ndarray:
    """:meth:`EmbeddingCache.encode` with a cache at ``cache_root`` (``None`` = default root).

    Returns
    -------
    numpy.ndarray
        float32 ``[len(texts), encoder.dim]`` in input order; empty texts are zero rows.
    """
    return EmbeddingCache(cache_root).encode(
        encoder, texts, namespace=namespace, chunk_size=chunk_size, batch_size=batch_size,
        show_progress=show_progress,
    )
