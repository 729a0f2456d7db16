"""The user–item graph of graph recommenders: normalised adjacency and LightGCN propagation.

The bipartite graph has ``n_users + n_items`` nodes (users first, then items) and one
undirected edge per distinct training ``(user, item)`` pair. Its symmetrically normalised
adjacency

.. math:: \\hat A = D^{-1/2} A D^{-1/2}, \\qquad
          A = \\begin{pmatrix} 0 & R \\\\ R^\\top & 0 \\end{pmatrix}

(``R`` the binary ``[n_users, n_items]`` interaction matrix, ``D`` the diagonal degree matrix)
is stored as a ``torch`` sparse CSR tensor; nodes without edges (cold items, users without
training interactions) have an all-zero row and column instead of a division by zero.
LightGCN propagation is ``E^{(k+1)} = \\hat A E^{(k)}``, and the final representation is the
mean over layers ``0..K`` (He et al., "LightGCN: Simplifying and Powering Graph Convolution
Network for Recommendation", SIGIR 2020, Eq. 3–4 with ``alpha_k = 1 / (K + 1)``).

Only training interactions enter the graph: valid/test targets never do, so evaluation
does not leak through propagation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch


def training_edges(train: list[np.ndarray], n_items: int) -> np.ndarray:
    """Distinct ``(user, item)`` training pairs, ``int64 [n_edges, 2]``, sorted by user then item.

    Parameters
    ----------
    train:
        ``n_users`` ``int64`` arrays of item indices (``Split.train``); repeats count once.
    n_items:
        Catalogue size.

    Raises
    ------
    ValueError
        If an item index lies outside ``[0, n_items)`` (naming the user).
    """
    users = np.repeat(np.arange(len(train), dtype=np.int64), [len(t) for t in train])
    items = np.concatenate([np.asarray(t, dtype=np.int64) for t in train]) if train else np.zeros(0, np.int64)
    bad = (items < 0) | (items >= n_items)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise ValueError(f"training item {int(items[j])} of user index {int(users[j])} is outside [0, {n_items})")
    keys = np.unique(users * n_items + items)
    return np.stack([keys // n_items, keys % n_items], axis=1)


@dataclass
class NormalizedAdjacency:
    """``D^-1/2 A D^-1/2`` of the user–item graph.

    Attributes
    ----------
    matrix:
        ``torch.sparse_csr_tensor`` ``float32 [n_users + n_items, n_users + n_items]``,
        symmetric; user ``u`` is node ``u``, item ``i`` is node ``n_users + i``.
    n_users, n_items:
        Node counts.
    degree:
        ``float32 [n_users + n_items]`` node degrees (distinct training pairs).
    """

    matrix: "torch.Tensor"
    n_users: int
    n_items: int
    degree: np.ndarray

    @property
    def n_edges(self) -> int:
        """Undirected edges (distinct training pairs)."""
        return int(self.matrix.values().numel()) // 2

    @property
    def nbytes(self) -> int:
        """Bytes held by the sparse tensor (row pointers + column indices + values)."""
        m = self.matrix
        return int(sum(t.numel() * t.element_size() for t in (m.crow_indices(), m.col_indices(), m.values())))


def normalized_adjacency(edges: np.ndarray, n_users: int, n_items: int) -> NormalizedAdjacency:
    """Build ``D^-1/2 A D^-1/2`` from training pairs.

    Parameters
    ----------
    edges:
        ``int64 [n_edges, 2]`` distinct ``(user, item)`` pairs (see :func:`training_edges`).
    n_users, n_items:
        Node counts (users and items without edges keep zero rows).

    Returns
    -------
    NormalizedAdjacency
        Entry ``(u, n_users + i)`` and its mirror equal ``1 / sqrt(deg(u) * deg(i))``.

    Raises
    ------
    ValueError
        If ``edges`` is not ``[n, 2]`` or holds an index out of range.
    """
    import torch

    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2) if len(edges) else np.zeros((0, 2), np.int64)
    if len(edges) and (edges[:, 0].min() < 0 or edges[:, 0].max() >= n_users
                       or edges[:, 1].min() < 0 or edges[:, 1].max() >= n_items):
        raise ValueError(f"edge index out of range for {n_users} users × {n_items} items")
    n = n_users + n_items
    rows = np.concatenate([edges[:, 0], edges[:, 1] + n_users])
    cols = np.concatenate([edges[:, 1] + n_users, edges[:, 0]])
    degree = np.bincount(rows, minlength=n).astype(np.float32)
    inv_sqrt = np.zeros(n, dtype=np.float32)
    inv_sqrt[degree > 0] = degree[degree > 0] ** -0.5
    values = inv_sqrt[rows] * inv_sqrt[cols]
    order = np.lexsort((cols, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    crow = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=crow[1:])
    with warnings.catch_warnings():  # "sparse CSR support is in beta" — the operations used here are stable
        warnings.simplefilter("ignore", UserWarning)
        matrix = torch.sparse_csr_tensor(torch.from_numpy(crow), torch.from_numpy(cols),
                                         torch.from_numpy(values.astype(np.float32)), size=(n, n))
    return NormalizedAdjacency(matrix, n_users, n_items, degree)


def _symmetric_spmm():
    """Autograd function ``Y = A X`` for a symmetric sparse ``A``: the backward pass is ``A G``
    (CSR × dense both ways, much faster than autograd's generic sparse transpose)."""
    import torch

    class SymmetricSpMM(torch.autograd.Function):
        @staticmethod
        def forward(ctx, matrix, x):
            ctx.matrix = matrix
            return matrix @ x

        @staticmethod
        def backward(ctx, grad):
            return None, ctx.matrix @ grad

    return SymmetricSpMM


def propagate(adjacency: NormalizedAdjacency, embeddings: "torch.Tensor", n_layers: int) -> "torch.Tensor":
    """LightGCN propagation: the mean of ``E, ÂE, Â²E, …, Â^K E``.

    Parameters
    ----------
    adjacency:
        From :func:`normalized_adjacency`.
    embeddings:
        ``float32 [n_users + n_items, dim]`` layer-0 node representations (users first).
    n_layers:
        ``K ≥ 0`` propagation layers.

    Returns
    -------
    ``float32 [n_users + n_items, dim]``; differentiable with respect to ``embeddings``. A node
    without edges gets ``E / (K + 1)``.

    Raises
    ------
    ValueError
        If ``embeddings`` does not have one row per node, or ``n_layers < 0``.
    """
    n = adjacency.n_users + adjacency.n_items
    if embeddings.shape[0] != n:
        raise ValueError(f"embeddings have {embeddings.shape[0]} rows; the graph has {n} nodes "
                         f"({adjacency.n_users} users + {adjacency.n_items} items)")
    if n_layers < 0:
        raise ValueError(f"n_layers must be ≥ 0, got {n_layers}")
    spmm = _symmetric_spmm()
    layer, total = embeddings, embeddings
    for _ in range(n_layers):
        layer = spmm.apply(adjacency.matrix, layer)
        total = total + layer
    return total / (n_layers + 1)
