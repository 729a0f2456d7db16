"""Contrastive losses and sequence augmentations of UniSRec pre-training.

Follows Hou et al., "Towards Universal Sequence Representation Learning for Recommender
Systems" (UniSRec), KDD 2022, Sec. 3.2:

* **sequence–item** contrast: a sequence representation ``s_j`` should be closer (cosine /
  temperature ``τ``) to the representation ``v_j`` of its own next item than to the next items of
  the other sequences in the batch (in-batch negatives, drawn from every domain in the batch);
* **sequence–sequence** contrast: ``s_j`` should be closer to an augmented view ``s~_j`` of the
  same sequence (item drop + word drop) than to the augmented views of the other sequences;
* total ``L = L_SI + λ · L_SS`` with ``λ = 1e-3``, ``τ = 0.07``.

Pairs ``(j, k)``, ``j ≠ k``, whose sequences have the **same target item** are not negatives:
they are removed from the softmax (the original code sets their logit to 0 instead, i.e. keeps
them as a constant ``exp(0)`` term; removing them is the cleaner reading of the paper).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

TEMPERATURE = 0.07
LAMBDA = 1e-3


def _masked_info_nce(a: "torch.Tensor", b: "torch.Tensor", same_target: "torch.Tensor | None",
                     temperature: float) -> "torch.Tensor":
    import torch
    import torch.nn.functional as F

    logits = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    if same_target is not None:
        off_diag = same_target & ~torch.eye(len(a), dtype=torch.bool, device=a.device)
        logits = logits.masked_fill(off_diag, float("-inf"))
    return F.cross_entropy(logits, torch.arange(len(a), device=a.device))


def same_target_mask(targets: "torch.Tensor") -> "torch.Tensor":
    """``bool [b, b]``: ``targets[j] == targets[k]`` (``targets``: ``int64 [b]`` item ids)."""
    return targets[:, None] == targets[None, :]


def seq_item_contrastive_loss(seq: "torch.Tensor", items: "torch.Tensor", targets: "torch.Tensor | None" = None,
                              temperature: float = TEMPERATURE) -> "torch.Tensor":
    """Sequence–item InfoNCE with in-batch negatives.

    Parameters
    ----------
    seq:
        ``float [b, d]`` sequence representations.
    items:
        ``float [b, d]`` representations of each sequence's next (target) item.
    targets:
        ``int64 [b]`` global target ids; pairs with equal targets are masked (``None``: no mask).
    temperature:
        Softmax temperature on cosine similarities.

    Returns
    -------
    Scalar tensor: mean over the batch of ``-log softmax_k(cos(s_j, v_k)/τ)[j]``.

    Examples
    --------
    Two orthogonal unit pairs at ``τ = 1``: ``log(1 + e^-1) ≈ 0.3133``.

    >>> import torch
    >>> e = torch.eye(2)
    >>> round(float(seq_item_contrastive_loss(e, e, temperature=1.0)), 4)
    0.3133
    """
    return _masked_info_nce(seq, items, None if targets is None else same_target_mask(targets), temperature)


def seq_seq_contrastive_loss(seq: "torch.Tensor", seq_aug: "torch.Tensor", targets: "torch.Tensor | None" = None,
                             temperature: float = TEMPERATURE) -> "torch.Tensor":
    """Sequence–sequence InfoNCE between a sequence and its augmented view.

    ``seq``, ``seq_aug``: ``float [b, d]``; ``targets`` as in :func:`seq_item_contrastive_loss`
    (sequences with the same target are not negatives of each other).
    """
    return _masked_info_nce(seq, seq_aug, None if targets is None else same_target_mask(targets), temperature)


def unisrec_pretrain_loss(seq: "torch.Tensor", items: "torch.Tensor", seq_aug: "torch.Tensor",
                          targets: "torch.Tensor", *, lam: float = LAMBDA, temperature: float = TEMPERATURE
                          ) -> tuple["torch.Tensor", dict[str, float]]:
    """``L_SI + λ·L_SS`` (UniSRec Eq. 9); returns the loss and its two parts as floats."""
    si = seq_item_contrastive_loss(seq, items, targets, temperature)
    ss = seq_seq_contrastive_loss(seq, seq_aug, targets, temperature)
    return si + lam * ss, {"seq_item": float(si.detach()), "seq_seq": float(ss.detach())}


def in_batch_softmax_loss(queries: "torch.Tensor", candidates: "torch.Tensor", labels: "torch.Tensor",
                          similarity=None) -> "torch.Tensor":
    """Softmax cross-entropy of scores against a candidate set.

    ``queries`` ``float [n, d]``, ``candidates`` ``float [m, d]`` (e.g. the distinct items of the
    batch), ``labels`` ``int64 [n]`` column of each query's positive. ``similarity(q, c)`` →
    ``[n, m]`` scores (default: dot product). Used by ZESRec training (cosine / τ).
    """
    import torch.nn.functional as F

    logits = queries @ candidates.T if similarity is None else similarity(queries, candidates)
    return F.cross_entropy(logits, labels)


def item_drop(seqs: list[np.ndarray], p: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Drop each item of each sequence with probability ``p`` (at least one item kept).

    >>> item_drop([np.array([1, 2, 3])], 0.0, np.random.default_rng(0))[0].tolist()
    [1, 2, 3]
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"item-drop probability must be in [0, 1), got {p}")
    out = []
    for s in seqs:
        keep = rng.random(len(s)) >= p
        if len(s) and not keep.any():
            keep[rng.integers(len(s))] = True
        out.append(s[keep])
    return out
