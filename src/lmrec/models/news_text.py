"""Tokenising news titles for the news models, and checking that a vocabulary fits the text.

All news models read a title (optionally + abstract / category) as WordPiece ids of a Hugging
Face tokenizer; NRMS learns its own word embeddings over that vocabulary, PLM-NR and UNBERT use
the pretrained model's. :func:`vocabulary_fit` measures how well the vocabulary covers the
text (unknown-token rate, word-piece fragmentation): an English-only vocabulary such as
all-MiniLM-L6-v2's on German NeMig titles fragments words heavily, and
:func:`warn_on_vocabulary_mismatch` warns then, asking for a multilingual encoder.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

#: Warn when more than this share of tokens is [UNK] …
MAX_UNK_RATE = 0.01
#: … or words split into more than this many word pieces on average.
MAX_PIECES_PER_WORD = 1.5

_WORD = re.compile(r"\w+", re.UNICODE)


def resolve_plm(name: str | Path | None) -> tuple[Path, str]:
    """Folder holding a transformers model (``config.json`` + weights + tokenizer) and its name.

    ``None`` (or ``"minilm"``) is the packaged all-MiniLM-L6-v2, whose folder holds the
    transformers module of the sentence-transformers model. Other names go through
    :func:`lmrec.encoders.base.resolve_model` (local folder, or a Hub id in the local cache).

    Raises
    ------
    FileNotFoundError
        If the folder has no ``config.json``.
    ModelNotAvailableError
        If a Hub id cannot be resolved offline.
    """
    from lmrec.encoders.base import packaged_model, resolve_model
    from lmrec.encoders.factory import DEFAULT_ALIASES

    if name is None or str(name).strip().lower() in DEFAULT_ALIASES:
        resolved = packaged_model()
    else:
        resolved = resolve_model(name)
    if not (resolved.path / "config.json").is_file():
        raise FileNotFoundError(f"{resolved.path}: no config.json; PLM news encoders need a "
                                f"transformers model folder (save_pretrained)")
    return resolved.path, resolved.name


def load_tokenizer(name: str | Path | None) -> Any:
    """The ``transformers`` tokenizer of :func:`resolve_plm` ``(name)`` (local files only)."""
    from transformers import AutoTokenizer

    path, _ = resolve_plm(name)
    return AutoTokenizer.from_pretrained(str(path), local_files_only=True)


def tokenize_news(tokenizer: Any, texts: Sequence[str], max_tokens: int,
                  special_tokens: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of each text, cut at ``max_tokens`` (special tokens included), right-padded.

    Returns
    -------
    (ids, mask)
        ``[n, max_tokens]`` int64 ids (pad id where padded) and ``[n, max_tokens]`` bool mask.
        An empty text gives ``[CLS] [SEP]`` with ``special_tokens`` (a single pad-free token
        otherwise: the pad id marked as real, so every news has at least one position).
    """
    if max_tokens < 3:
        raise ValueError(f"max_tokens must be ≥ 3, got {max_tokens}")
    enc = tokenizer(list(texts), add_special_tokens=special_tokens, truncation=True,
                    max_length=max_tokens, padding="max_length")
    ids = np.asarray(enc["input_ids"], dtype=np.int64)
    mask = np.asarray(enc["attention_mask"], dtype=bool)
    mask[:, 0] |= True
    return ids, mask


def vocabulary_fit(tokenizer: Any, texts: Sequence[str]) -> dict[str, float]:
    """How well a tokenizer's vocabulary covers ``texts``.

    Returns
    -------
    dict
        ``unk_rate`` (share of word pieces that are the unknown token), ``pieces_per_word``
        (word pieces per ``\\w+`` word, 1.0 = every word in the vocabulary),
        ``split_word_rate`` (share of words cut into ≥ 2 pieces), ``n_words``, ``n_tokens``.
    """
    unk = tokenizer.unk_token_id
    words = [w for text in texts for w in _WORD.findall(text)]
    pieces = tokenizer(words, add_special_tokens=False)["input_ids"] if words else []
    n_words = len(words)
    n_tok = sum(len(p) for p in pieces)
    n_split = sum(len(p) > 1 for p in pieces)
    n_unk = sum(t == unk for p in pieces for t in p)
    return {"unk_rate": n_unk / max(n_tok, 1), "pieces_per_word": n_tok / max(n_words, 1),
            "split_word_rate": n_split / max(n_words, 1), "n_words": n_words, "n_tokens": n_tok}


def warn_on_vocabulary_mismatch(tokenizer: Any, texts: Sequence[str], model_name: str,
                                language: str | None = None, sample: int = 2000,
                                seed: int = 0, max_tokens: int | None = None) -> dict[str, Any]:
    """Measure the vocabulary fit on up to ``sample`` texts and warn when it is poor.

    The unknown-token rate, mostly-unknown texts and collisions come from the check every
    encode path shares (:func:`lmrec.encoders.vocab_fit.measure_vocabulary`); as the news
    encoders learn their vectors, collisions are measured on the model input — distinct texts
    with the same token ids (cut at ``max_tokens``) get the same vector under any weights
    (:func:`~lmrec.encoders.vocab_fit.token_id_fingerprints`). Word-piece fragmentation
    (:func:`vocabulary_fit`) is added, as an English-only vocabulary on German splits words
    without producing unknown tokens.

    Warns (:class:`~lmrec.encoders.vocab_fit.VocabularyFitWarning`, a ``UserWarning``) when the
    unknown-token rate exceeds :data:`MAX_UNK_RATE`, more than
    :data:`~lmrec.encoders.vocab_fit.MAX_MOSTLY_UNKNOWN_SHARE` of the texts are mostly unknown
    tokens, or words split into more than :data:`MAX_PIECES_PER_WORD` pieces on average — the
    signature of an English-only vocabulary on another language (e.g. MiniLM on NeMig-de).
    Collisions are reported, and named in the warning, but alone do not trigger it (cased
    duplicates under an uncased vocabulary are common in news). The fix is a multilingual
    transformers model passed by path (``--encoder /path/to/multilingual-model``).

    Returns
    -------
    dict
        :func:`vocabulary_fit` (``unk_rate`` from the shared check) plus ``vocabulary`` (the
        shared :class:`~lmrec.encoders.vocab_fit.VocabularyFit` as a dict) and ``warned``.
    """
    from lmrec.encoders.vocab_fit import (MAX_MOSTLY_UNKNOWN_SHARE, VocabularyFitWarning, measure_vocabulary,
                                          token_id_fingerprints)

    texts = [t for t in texts if t]
    if len(texts) > sample:
        idx = np.random.default_rng(seed).choice(len(texts), sample, replace=False)
        texts = [texts[i] for i in sorted(idx)]
    fit: dict[str, Any] = dict(vocabulary_fit(tokenizer, texts))
    shared = measure_vocabulary(None, texts, token_id_fingerprints(tokenizer, texts, max_tokens),
                                tokenizer=tokenizer, model=model_name, warn=False)
    if shared.unk_rate is not None:
        fit["unk_rate"] = shared.unk_rate
    fit["vocabulary"] = shared.to_dict()
    fit["warned"] = bool(fit["unk_rate"] > MAX_UNK_RATE or fit["pieces_per_word"] > MAX_PIECES_PER_WORD
                         or (shared.mostly_unknown_share or 0.0) > MAX_MOSTLY_UNKNOWN_SHARE)
    if fit["warned"]:
        extra = ""
        if shared.n_mostly_unknown:
            extra += f"; {shared.n_mostly_unknown} of {shared.n_texts} texts are mostly unknown tokens"
        if shared.n_collision_groups:
            ex = " = ".join(f"{m['text']!r}" for m in shared.collision_examples[0][:2])
            extra += (f"; {shared.n_colliding_texts} distinct texts tokenize to the same ids as another, so "
                      f"the model cannot tell them apart (e.g. {ex})")
        warnings.warn(
            f"the vocabulary of {model_name} fits the {language or 'given'} news text poorly: "
            f"{fit['unk_rate']:.2%} unknown tokens, {fit['pieces_per_word']:.2f} word pieces per "
            f"word ({fit['split_word_rate']:.1%} of words split){extra}. Is the text in a language the "
            f"model was not trained on? Pass a multilingual transformers model instead "
            f"(--encoder PATH to a local folder, e.g. multilingual-e5-small or bert-base-multilingual-cased).",
            VocabularyFitWarning, stacklevel=2)
    return fit
