"""NRMS: Neural News Recommendation with Multi-Head Self-Attention (Wu et al., EMNLP 2019).

News encoder: word embeddings → multi-head self-attention over the title's words → additive
attention → news vector. User encoder: the same shape over the vectors of the clicked news
(:class:`~lmrec.models.news_attention.UserEncoder`). Click score: dot product.

Differences from the paper, for a 2-core CPU and an offline machine: words are the WordPiece
pieces of the all-MiniLM-L6-v2 tokenizer (any tokenizer by ``tokenizer=``) and their
embeddings are **learned from scratch** (no GloVe available offline); embedding size 128 and
8 heads × 16 (paper: 300-d GloVe, 16 heads × 16). Titles are cut at 32 pieces, histories at the
last 50 clicks.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from lmrec.models.news_attention import AdditiveAttention
from lmrec.models.news_biencoder import BiEncoderNet, BiEncoderNewsModel, NewsInputs
from lmrec.models.news_text import load_tokenizer, tokenize_news


class NRMSNewsEncoder(nn.Module):
    """Token ids ``[m, T]`` + mask → news vectors ``[m, dim]``.

    Parameters
    ----------
    vocab_size, emb_dim:
        Word embedding table ``[vocab_size, emb_dim]`` (learned; row ``pad_id`` is padding).
    heads, head_dim:
        Self-attention heads; output size ``dim = heads × head_dim``.
    """

    def __init__(self, vocab_size: int, emb_dim: int, heads: int, head_dim: int,
                 query_dim: int, dropout: float, pad_id: int = 0) -> None:
        super().__init__()
        dim = heads * head_dim
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.proj = nn.Linear(emb_dim, dim) if emb_dim != dim else nn.Identity()
        self.mhsa = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.pool = AdditiveAttention(dim, query_dim)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.proj(self.embedding(ids)))
        x, _ = self.mhsa(x, x, x, key_padding_mask=~mask, need_weights=False)
        return self.pool(self.dropout(x), mask)


class NRMS(BiEncoderNewsModel):
    """NRMS news recommender (see the module docstring).

    Parameters
    ----------
    tokenizer:
        Tokenizer source (``None`` = the packaged all-MiniLM-L6-v2's WordPiece vocabulary).
    fields:
        News fields read (joined with " . "), default title only.
    max_title_tokens, max_history:
        Bounds: pieces per news text (special tokens included) and clicks per history.
    emb_dim, heads, head_dim, query_dim, dropout:
        Architecture (defaults sized for CPU).
    epochs, batch_size, lr, npratio:
        Training: passes, samples per step, Adam learning rate, negatives per click.
    max_train_seconds, max_train_samples:
        Optional CPU budget: stop after this many seconds; subsample training samples.
    seed:
        Seeds sampling, initialisation and dropout.
    """

    name = "nrms"

    def __init__(self, tokenizer: str | None = None, fields: Sequence[str] = ("title",),
                 max_title_tokens: int = 32, max_history: int = 50, emb_dim: int = 128,
                 heads: int = 8, head_dim: int = 16, query_dim: int = 128, dropout: float = 0.2,
                 epochs: int = 3, batch_size: int = 64, lr: float = 1e-3, npratio: int = 4,
                 max_train_seconds: float | None = None, max_train_samples: int | None = None,
                 seed: int = 0) -> None:
        super().__init__(tokenizer=tokenizer, fields=list(fields), max_title_tokens=max_title_tokens,
                         max_history=max_history, emb_dim=emb_dim, heads=heads, head_dim=head_dim,
                         query_dim=query_dim, dropout=dropout, epochs=epochs, batch_size=batch_size,
                         lr=lr, npratio=npratio, max_train_seconds=max_train_seconds,
                         max_train_samples=max_train_samples, seed=seed)
        self._tok = None

    def _tokenizer(self):
        if self._tok is None:
            self._tok = load_tokenizer(self.config["tokenizer"])
        return self._tok

    def _build_net(self) -> BiEncoderNet:
        c = self.config
        tok = self._tokenizer()
        tower = NRMSNewsEncoder(len(tok), c["emb_dim"], c["heads"], c["head_dim"], c["query_dim"],
                                c["dropout"], pad_id=tok.pad_token_id or 0)
        return BiEncoderNet(tower, c["heads"] * c["head_dim"], c["heads"], c["query_dim"], c["dropout"])

    def _prepare(self, texts: list[str], ids: list[str]) -> NewsInputs:
        tok_ids, mask = tokenize_news(self._tokenizer(), texts, self.config["max_title_tokens"])
        return NewsInputs({"ids": torch.from_numpy(tok_ids), "mask": torch.from_numpy(mask)}, ids)
