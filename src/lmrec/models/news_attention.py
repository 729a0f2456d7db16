"""Building blocks shared by NRMS and PLM-NR: additive attention and the NRMS user encoder.

References
----------
Wu, Wu, Ge, Qi, Huang, Xie, "Neural News Recommendation with Multi-Head Self-Attention"
(NRMS), EMNLP 2019.
"""

from __future__ import annotations

import torch
from torch import nn


class AdditiveAttention(nn.Module):
    """``a_i = q · tanh(W x_i + b)``, softmax over unmasked positions, output ``Σ a_i x_i``.

    Parameters
    ----------
    dim:
        Input size ``d``.
    query_dim:
        Size of the attention query ``q`` (NRMS: 200).
    """

    def __init__(self, dim: int, query_dim: int = 200) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, query_dim)
        self.query = nn.Linear(query_dim, 1, bias=False)

    def weights(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The attention weights ``a``: ``x`` ``[b, n, d]``, ``mask`` ``[b, n]`` bool (True = real;
        each row needs one) → ``[b, n]``, zero on masked positions, each row summing to 1."""
        logits = self.query(torch.tanh(self.proj(x))).squeeze(-1)
        logits = logits.masked_fill(~mask, float("-inf"))
        return torch.softmax(logits, dim=-1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` ``[b, n, d]``, ``mask`` ``[b, n]`` bool (True = real; each row needs one) → ``[b, d]``."""
        return torch.einsum("bn,bnd->bd", self.weights(x, mask), x)


class UserEncoder(nn.Module):
    """NRMS user encoder: multi-head self-attention over the clicked news vectors, then additive
    attention. Padded history positions are masked out of both (keys of the self-attention and
    the additive attention), so the user vector does not depend on how much padding a history
    gets. A user with no click gets a learned vector ``empty_user``.

    Parameters
    ----------
    dim:
        News vector size ``d`` (must be divisible by ``heads``).
    heads:
        Attention heads.
    query_dim:
        Additive attention query size.
    dropout:
        Dropout on the self-attention output (training only).
    """

    def __init__(self, dim: int, heads: int = 8, query_dim: int = 200, dropout: float = 0.2) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"news vector size {dim} is not divisible by {heads} heads")
        self.mhsa = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.pool = AdditiveAttention(dim, query_dim)
        self.empty_user = nn.Parameter(torch.zeros(dim))

    def forward(self, clicked: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``clicked`` ``[b, h, d]`` float32, ``mask`` ``[b, h]`` bool → user vectors ``[b, d]``."""
        b, h, d = clicked.shape
        if h == 0:
            return self.empty_user.expand(b, d)
        has = mask.any(dim=1)
        safe = mask.clone()
        safe[:, 0] |= ~has          # rows without clicks attend to position 0, then get replaced
        x, _ = self.mhsa(clicked, clicked, clicked, key_padding_mask=~safe, need_weights=False)
        x = self.dropout(x)
        user = self.pool(x, safe)
        return torch.where(has[:, None], user, self.empty_user.expand(b, d))
