"""Which experts of a mixture-of-experts adaptor each domain uses (shared vs domain-specific).

UniSRec's adaptor (Hou et al., KDD 2022, Eq. 3–4; :class:`lmrec.models.unisrec.MoEAdaptor`)
mixes ``k`` parametric-whitening experts with a softmax gate computed from the item text vector.
After multi-domain pre-training, the mean gate weight per expert over a domain's items shows
whether the domains share experts (similar usage rows) or each leans on its own (peaked,
different rows). The adaptor is passed in (any ``torch.nn.Module`` with ``gate(x) → [n, k]``),
so this module loads no model.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np


def expert_usage(adaptor, vectors: np.ndarray, *, batch_size: int = 4096) -> np.ndarray:
    """Mean gate weight per expert over the items of ``vectors``.

    The gate runs in eval mode (no gate noise, no dropout) under ``torch.no_grad``; the
    adaptor's train/eval mode is restored afterwards. All-zero rows (items with empty text,
    whose gate is uniform by construction) are skipped.

    Parameters
    ----------
    adaptor:
        ``torch.nn.Module`` with ``gate(x: float32 [n, dim]) -> float32 [n, k]`` rows summing
        to 1 (e.g. ``UniSRecNet.adaptor``).
    vectors:
        ``float [n_items, dim]`` item text vectors of one domain, from the encoder the adaptor
        was trained on.
    batch_size:
        Rows per gate call.

    Returns
    -------
    ``float64 [k]``, non-negative, summing to 1.

    Raises
    ------
    ValueError
        If ``vectors`` is not 2-D, has no non-zero row, or its dim differs from the gate's input.
    """
    import torch

    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"vectors must be a 2-D array [n_items, dim], got shape {x.shape}")
    x = x[np.abs(x).sum(axis=1) > 0]
    if not len(x):
        raise ValueError("no item has a non-zero text vector (all texts empty); nothing to gate")
    dim_in = getattr(adaptor, "w_gate", None)
    if dim_in is not None and dim_in.shape[0] != x.shape[1]:
        raise ValueError(f"vectors have dim {x.shape[1]} but the adaptor's gate expects {dim_in.shape[0]}: "
                         "encode the items with the pre-training encoder")
    was_training = adaptor.training
    adaptor.eval()
    total = None
    try:
        with torch.no_grad():
            for i in range(0, len(x), batch_size):
                g = adaptor.gate(torch.from_numpy(x[i:i + batch_size])).double().sum(dim=0)
                total = g if total is None else total + g
    finally:
        adaptor.train(was_training)
    return (total / len(x)).numpy()


def expert_usage_by_domain(adaptor, domains: Any, vectors: np.ndarray | None = None, *,
                           batch_size: int = 4096) -> dict[str, np.ndarray]:
    """:func:`expert_usage` per domain.

    Parameters
    ----------
    adaptor:
        See :func:`expert_usage`.
    domains:
        ``{domain name: float [n_d, dim] vectors}``, or a
        :class:`~lmrec.data.multidomain.MultiDomainDataset` together with ``vectors``.
    vectors:
        ``float [md.n_items, dim]`` global-order vectors when ``domains`` is a
        ``MultiDomainDataset``; must be ``None`` for a mapping.

    Returns
    -------
    ``{domain name: float64 [k]}`` in the domains' order.

    Raises
    ------
    ValueError
        If ``vectors`` is missing for a ``MultiDomainDataset`` (or given with a mapping), has the
        wrong number of rows, or a domain has no non-zero vector.
    """
    if isinstance(domains, Mapping):
        if vectors is not None:
            raise ValueError("pass vectors only with a MultiDomainDataset; a mapping already holds them")
        parts = dict(domains)
    else:
        if vectors is None:
            raise ValueError("a MultiDomainDataset needs its global-order vectors [md.n_items, dim]")
        if len(vectors) != domains.n_items:
            raise ValueError(f"vectors have {len(vectors)} rows, the MultiDomainDataset {domains.n_items} items")
        parts = {d.name: vectors[d.offset:d.offset + d.n_items] for d in domains.domains}
    out = {}
    for name, v in parts.items():
        try:
            out[name] = expert_usage(adaptor, v, batch_size=batch_size)
        except ValueError as exc:
            raise ValueError(f"domain {name!r}: {exc}") from None
    return out


def usage_summary(usage: np.ndarray) -> dict[str, float | int]:
    """``{"top_expert", "top_share", "entropy"}`` of one usage vector ``[k]``; ``entropy`` is
    normalised by ``log k`` (1: all experts used equally, 0: one expert only; 1.0 for ``k = 1``)."""
    p = np.asarray(usage, dtype=np.float64)
    k = len(p)
    nz = p[p > 0]
    ent = float(-(nz * np.log(nz)).sum() / np.log(k)) if k > 1 else 1.0
    return {"top_expert": int(p.argmax()), "top_share": float(p.max()), "entropy": ent}
