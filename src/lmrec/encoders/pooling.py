"""Pooling: token states ``[batch, seq_len, dim]`` → one vector per text ``[batch, dim]``.

Pure torch functions, no parameters. ``mask`` is the tokenizer's ``attention_mask``
(``[batch, seq_len]``, 1 for real tokens, 0 for padding, any integer or bool dtype); the
output has the dtype of ``hidden``. A row whose mask is all zero pools to a zero vector
(:func:`mean_pool`) or to the state at position 0 (:func:`cls_pool`,
:func:`last_token_pool`); the encoders never send such rows, because empty texts are
answered with zero vectors before tokenisation.

References
----------
- CLS pooling, as used for news encoders in PLM-NR: Wu et al., "Empowering News
  Recommendation with Pre-trained Language Models", SIGIR 2021.
- Mean pooling: Reimers & Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese
  BERT-Networks", EMNLP 2019 (mean over tokens is their best-performing strategy).
- Last-token pooling for decoder-only LLMs: Wang et al., "Improving Text Embeddings with
  Large Language Models" (E5-Mistral), 2023/ACL 2024.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover - typing only
    import torch


def _check(hidden: "torch.Tensor", mask: "torch.Tensor") -> None:
    if hidden.dim() != 3 or mask.dim() != 2 or hidden.shape[:2] != mask.shape:
        raise ValueError(
            f"expected hidden [batch, seq_len, dim] and mask [batch, seq_len], got "
            f"hidden {tuple(hidden.shape)} and mask {tuple(mask.shape)}"
        )


def cls_pool(hidden: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """State of the first real token (``[CLS]`` for BERT-style tokenizers).

    The index taken is the first position where ``mask == 1``: position 0 for right padding,
    the first non-pad column for left padding.

    Parameters
    ----------
    hidden:
        ``[batch, seq_len, dim]`` last hidden states.
    mask:
        ``[batch, seq_len]`` attention mask, 1 for real tokens.

    Returns
    -------
    torch.Tensor
        ``[batch, dim]``, dtype of ``hidden``.

    Raises
    ------
    ValueError
        If the shapes do not match.

    References
    ----------
    Wu et al., PLM-NR (SIGIR 2021) pool news titles with the ``[CLS]`` state (besides an
    attention variant); Devlin et al., BERT (NAACL 2019) train ``[CLS]`` for sequence-level
    tasks.
    """
    _check(hidden, mask)
    import torch

    first = mask.bool().int().argmax(dim=1)  # [batch] first 1; 0 for an all-zero row
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), first]


def mean_pool(hidden: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """Mask-weighted mean of the token states: padding does not count.

    ``out[b] = sum_t mask[b, t] * hidden[b, t] / max(1, sum_t mask[b, t])``, accumulated in
    float32 whatever the input dtype, then cast back.

    Parameters
    ----------
    hidden:
        ``[batch, seq_len, dim]``.
    mask:
        ``[batch, seq_len]``, 1 for real tokens.

    Returns
    -------
    torch.Tensor
        ``[batch, dim]``, dtype of ``hidden``; zero for an all-padding row.

    Raises
    ------
    ValueError
        If the shapes do not match.

    References
    ----------
    Reimers & Gurevych, Sentence-BERT (EMNLP 2019), section 3 (MEAN pooling).
    """
    _check(hidden, mask)
    keep = mask.bool().unsqueeze(-1)  # [batch, seq_len, 1]
    # masked_fill, not a product: padded positions of some models hold NaN/inf (fully masked
    # attention rows), and NaN * 0 is NaN.
    summed = hidden.float().masked_fill(~keep, 0.0).sum(dim=1)  # [batch, dim]
    counts = keep.sum(dim=1).clamp(min=1).float()  # [batch, 1]
    return (summed / counts).to(hidden.dtype)


def last_token_pool(hidden: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """State of the last real token of each row, for left *or* right padding.

    The index taken is the last position where ``mask == 1`` (computed per row, so rows with
    left padding — last column — and rows with right padding — ``length - 1`` — are both
    right, as are mixed or unusual masks).

    Parameters
    ----------
    hidden:
        ``[batch, seq_len, dim]``.
    mask:
        ``[batch, seq_len]``, 1 for real tokens.

    Returns
    -------
    torch.Tensor
        ``[batch, dim]``, dtype of ``hidden``.

    Raises
    ------
    ValueError
        If the shapes do not match.

    References
    ----------
    Wang et al., "Improving Text Embeddings with Large Language Models" (E5-Mistral, 2023):
    with causal attention only the last token has seen the whole text, so its state (the
    appended ``</s>``) is the embedding.
    """
    _check(hidden, mask)
    import torch

    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)  # [batch, seq_len]
    last = torch.where(mask.bool(), positions, torch.zeros_like(positions)).amax(dim=1)  # [batch]
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


POOLINGS: dict[str, Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]] = {
    "cls": cls_pool,
    "mean": mean_pool,
    "last_token": last_token_pool,
}
"""Pooling name → function, the names accepted by ``HFEncoder(pooling=...)``."""
