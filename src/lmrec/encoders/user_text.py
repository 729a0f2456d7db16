"""Encoding of user texts (built by :mod:`lmrec.data.user_text`) into user vectors.

Text building stays in the data layer, which loads no language model; this module runs the
encoder over the built texts, through the embedding cache, and gives users without any text a
flagged, finite fallback vector (:func:`lmrec.data.user_text.fallback_vectors`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lmrec.data.user_text import UserTextReport, fallback_vectors

__all__ = ["encode_user_texts"]


def encode_user_texts(texts: Sequence[str], report: UserTextReport | None = None, *, encoder: Any = None,
                      cache_dir: str | Path | None = None, max_length: int | None = 128, batch_size: int = 64,
                      show_progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Encode user texts through the embedding cache, with flagged fallback rows.

    Parameters
    ----------
    texts:
        From :func:`lmrec.data.user_text.build_user_texts`.
    report:
        Its ``n_truncated_tokens`` / ``max_tokens`` are filled in when given.
    encoder:
        A :class:`~lmrec.encoders.base.TextEncoder` (``None``: the packaged MiniLM with
        ``max_length`` tokens).
    cache_dir:
        Embedding cache root (``None``: ``$LMREC_CACHE_DIR`` or the default).

    Returns
    -------
    vectors:
        ``float32 [n_users, dim]``, finite; fallback rows as :func:`~lmrec.data.user_text.fallback_vectors`.
    fallback:
        ``bool [n_users]``: users whose vector is the fallback (no text).
    """
    from lmrec.encoders.cache import encode_cached
    from lmrec.encoders.factory import load_encoder

    enc = encoder if encoder is not None else load_encoder(None, max_length=max_length)
    texts = list(texts)
    namespace = "user-text-" + (report.version if report is not None else "")
    vectors = encode_cached(enc, texts, Path(cache_dir) if cache_dir else None, namespace=namespace,
                            batch_size=batch_size, show_progress=show_progress)
    empty = np.array([not t.strip() for t in texts], dtype=bool)
    if report is not None:
        tokens = enc.count_tokens(texts)
        report.n_truncated_tokens = int((tokens > enc.max_length).sum())
        report.max_tokens = int(enc.max_length)
    return fallback_vectors(vectors, empty), empty
