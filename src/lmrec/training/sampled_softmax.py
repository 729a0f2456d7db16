"""Sampled softmax with in-batch negatives and log-Q correction (two-tower retrieval).

Yi, Yang, Hong, Cheng, Heldt, Kumthekar, Zhao, Wei, Chi, "Sampling-Bias-Corrected Neural
Modeling for Large Corpus Item Recommendations", RecSys 2019: with in-batch negatives, an item
appears as a negative in proportion to how often it is a batch target, so popular items are
over-penalised. Subtracting the log of each item's sampling probability from its logit,

    s_c(u, j) = <u, v_j> / τ − log q_j,

makes the batch softmax an (approximately) unbiased estimate of the full softmax. Here ``q_j``
is the item's share of the training targets (the exact frequency, instead of the paper's
streaming estimate, since the whole training set is known). ``τ`` is the temperature.

Other positives of the same item in the batch (duplicates) are masked out as negatives.
"""

from __future__ import annotations

import numpy as np


def log_q_from_counts(counts: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """``float32 [n_items]`` log sampling probability ``log((c_j + s) / Σ(c + s))``.

    Parameters
    ----------
    counts:
        ``[n_items]`` non-negative target counts in the training examples.
    smoothing:
        Added to every count so items never seen get a finite value.

    Raises
    ------
    ValueError
        On negative counts or a non-positive total.
    """
    c = np.asarray(counts, dtype=np.float64) + smoothing
    if (c < 0).any() or c.sum() <= 0:
        raise ValueError("counts must be non-negative with a positive total (after smoothing)")
    return np.log(c / c.sum()).astype(np.float32)


def in_batch_softmax_loss(user: "torch.Tensor", item: "torch.Tensor", item_ids: "torch.Tensor",
                          log_q: "torch.Tensor | None" = None, temperature: float = 0.05) -> "torch.Tensor":
    """Mean cross-entropy of each user against its own item, the batch's other items as negatives.

    Parameters
    ----------
    user:
        ``float [b, d]`` user-tower outputs.
    item:
        ``float [b, d]`` item-tower outputs of the positive items (row ``k`` is user ``k``'s).
    item_ids:
        ``int64 [b]`` item indices of the positives (duplicates are masked as negatives).
    log_q:
        ``float [b]`` log sampling probability of each positive item (log-Q correction), or
        ``None`` for no correction.
    temperature:
        ``τ > 0``; logits are divided by it before the correction.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Raises
    ------
    ValueError
        On shape mismatches or ``temperature <= 0``.
    """
    import torch
    import torch.nn.functional as F

    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if user.shape != item.shape or item_ids.shape != (user.shape[0],):
        raise ValueError(f"user {tuple(user.shape)}, item {tuple(item.shape)} and item_ids "
                         f"{tuple(item_ids.shape)} do not match")
    logits = corrected_logits(user, item, log_q, temperature)
    same = item_ids[:, None] == item_ids[None, :]
    eye = torch.eye(len(item_ids), dtype=torch.bool, device=logits.device)
    logits = logits.masked_fill(same & ~eye, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(item_ids), device=logits.device))


def corrected_logits(user: "torch.Tensor", item: "torch.Tensor", log_q: "torch.Tensor | None",
                     temperature: float) -> "torch.Tensor":
    """``float [b, b]`` logits ``user @ itemᵀ / τ − log_q[None, :]`` (column ``j`` = item ``j``)."""
    logits = user @ item.T / temperature
    if log_q is not None:
        logits = logits - log_q[None, :]
    return logits
