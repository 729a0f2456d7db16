"""Text + behaviour fusion Transformer shared by several domains.

One SASRec Transformer (the blocks of :mod:`lmrec.models.sasrec`) reads items whose input is a
learned, per-item, per-dimension gate between a text part and a behavioural ID part:

    t_i = Linear(standardised text vector x_i)
    e_i = ID embedding of item i           (only for items seen in training)
    g_i = sigmoid(W_g [t_i ; e_i] + c)     (g = 1 for items without an ID embedding)
    item_i = g_i ⊙ t_i + (1 − g_i) ⊙ e_i

so a cold item (or an item of a domain never trained on) falls back to its text, and a warm
item can lean on its ID where behaviour says more than text. The same table scores the next
item (dot product) — the "NExT" idea of one architecture that builds cross-domain embeddings
and combines text and behavioural features.

:meth:`Fusion.fit` trains on one domain (registry name ``fusion``);
:meth:`Fusion.fit_multidomain` trains one Transformer on the target domain together with the
sequences of other domains (a :class:`~lmrec.data.multidomain.MultiDomainDataset`): the item
table is the union of all domains' items, the softmax runs over that union, and the model
scores the target's items only. The mean gate on warm vs cold target items is recorded in
``history_["gate"]`` (share given to text).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from lmrec.data.splits import Split
from lmrec.io import save_atomic_npy
from lmrec.models.base import Recommender, TrainData
from lmrec.models.sasrec import build_sasrec_net, standardize_text_vectors


class FusionNet(nn.Module):
    """Gated text/ID item table + SASRec encoder (interface of the SASRec trainer).

    ``text`` ``float [n_items, text_dim]``; ``warm`` ``bool [n_items]`` (items with an ID
    embedding). :meth:`item_table` → ``[n_items + 1, hidden]``; ``forward(seq, table)`` →
    ``[b, L, hidden]``.
    """

    def __init__(self, text: np.ndarray, warm: np.ndarray, hidden: int = 64, n_layers: int = 2, n_heads: int = 2,
                 inner: int = 256, dropout: float = 0.5, max_len: int = 50):
        super().__init__()
        tv = torch.as_tensor(standardize_text_vectors(text))
        n = tv.shape[0]
        self.register_buffer("text", torch.cat([torch.zeros(1, tv.shape[1]), tv]), persistent=False)
        self.register_buffer("id_mask", torch.cat([torch.zeros(1), torch.as_tensor(warm, dtype=torch.float32)])
                             .unsqueeze(1), persistent=False)
        self.text_proj = nn.Linear(tv.shape[1], hidden)
        self.id_emb = nn.Embedding(n + 1, hidden, padding_idx=0)
        nn.init.normal_(self.id_emb.weight, std=0.02)
        self.gate_lin = nn.Linear(2 * hidden, hidden)
        self.seq = build_sasrec_net(0, "id", None, hidden, n_layers, n_heads, inner, dropout, max_len, None)

    def gates(self) -> torch.Tensor:
        """``float [n_items + 1, hidden]`` share of the text part per item and dimension (1 for cold items)."""
        t = self.text_proj(self.text)
        e = self.id_emb.weight * self.id_mask
        g = torch.sigmoid(self.gate_lin(torch.cat([t, e], dim=-1)))
        return g * self.id_mask + (1 - self.id_mask)

    def item_table(self) -> torch.Tensor:
        t = self.text_proj(self.text)
        e = self.id_emb.weight * self.id_mask
        g = self.gates()
        table = g * t + (1 - g) * e
        return table * (torch.arange(table.shape[0]) > 0).unsqueeze(1)

    def forward(self, seq: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        return self.seq(seq, self.item_table() if table is None else table)


class Fusion(Recommender):
    """Gated text + ID SASRec, trainable on one or several domains (see module docstring).

    Parameters
    ----------
    hidden, n_layers, n_heads, inner, dropout, max_len:
        Transformer (SASRec defaults: 64, 2, 2, 256, 0.5, 50).
    lr, batch_size, epochs, patience, max_train_seconds, weight_decay:
        As :class:`~lmrec.models.sasrec.SASRec` (full softmax, early stopping on valid NDCG@10).
    train_negatives:
        ``"all"`` or ``"train_items"`` (see SASRec).
    train_target:
        ``"auto"``, ``"all-positions"`` or ``"last"`` (RecBole's prefix augmentation; see SASRec).

    Attributes
    ----------
    net_:
        The :class:`FusionNet`; its catalogue is the target's items first, then other domains'.
    n_items_:
        Target catalogue size (the width of :meth:`score`).
    """

    name = "fusion"
    sequential = True
    needs_item_vectors = True

    def __init__(self, hidden: int = 64, n_layers: int = 2, n_heads: int = 2, inner: int = 256,
                 dropout: float = 0.5, max_len: int = 50, lr: float = 2e-3, weight_decay: float = 0.0,
                 batch_size: int = 128, epochs: int = 200, patience: int = 10, max_train_seconds: float = 0.0,
                 train_negatives: str = "all", train_target: str = "all-positions"):
        if train_target not in ("auto", "all-positions", "last"):
            raise ValueError(f"train_target must be 'auto', 'all-positions' or 'last', got {train_target!r}")
        if hidden % n_heads:
            raise ValueError(f"Fusion hidden ({hidden}) must be divisible by n_heads ({n_heads})")
        super().__init__(hidden=hidden, n_layers=n_layers, n_heads=n_heads, inner=inner, dropout=dropout,
                         max_len=max_len, lr=lr, weight_decay=weight_decay, batch_size=batch_size, epochs=epochs,
                         patience=patience, max_train_seconds=max_train_seconds, train_negatives=train_negatives,
                         train_target=train_target)
        self.n_domains_ = 1

    def _build(self, text: np.ndarray, warm: np.ndarray, n_target: int) -> None:
        c = self.config
        self.net_ = FusionNet(text, warm, c["hidden"], c["n_layers"], c["n_heads"], c["inner"], c["dropout"],
                              c["max_len"])
        self.n_items_ = n_target
        self.width_ = n_target
        self.warm_items_ = warm

    def fit(self, data: TrainData) -> "Fusion":
        from lmrec.training.trainer import train_sequential

        if data.item_vectors is None:
            raise ValueError("Fusion needs item text vectors")
        torch.manual_seed(data.seed)  # the initial weights too come from the run's seed
        self._build(data.item_vectors, data.split.warm_items, data.split.n_items)
        self.history_ = train_sequential(self, data)
        self._record_gate(data.split.warm_items[: self.n_items_])
        return self

    def fit_multidomain(self, data: TrainData, sources, source_vectors: np.ndarray) -> "Fusion":
        """Train one Transformer on the target split plus every domain of ``sources``.

        Parameters
        ----------
        data:
            The target's :class:`TrainData` (its valid cases drive early stopping).
        sources:
            :class:`~lmrec.data.multidomain.MultiDomainDataset` of other domains (sequences in
            its global indices).
        source_vectors:
            ``float32 [sources.n_items, text_dim]`` text vectors of the sources' items (same
            encoder as ``data.item_vectors``).
        """
        from lmrec.training.trainer import train_sequential

        n_t = data.split.n_items
        seqs, _ = sources.sequences()
        union = Split(data.split.name, data.split.n_users + len(seqs), n_t + sources.n_items,
                      list(data.split.train) + [s + n_t for s in seqs], data.split.valid, data.split.test,
                      dict(data.split.report))
        text = np.concatenate([data.item_vectors, source_vectors]).astype(np.float32)
        self._build(text, union.warm_items, n_t)
        self.width_ = union.n_items  # validation during training ranks over the union
        self.n_domains_ = 1 + len(sources.domains)
        union_data = TrainData(split=union, item_vectors=text, seed=data.seed, run_dir=None,
                               exclude_history=data.exclude_history, show_progress=data.show_progress)
        try:
            self.history_ = train_sequential(self, union_data)
        finally:
            self.width_ = n_t
        self.history_["domains"] = ["target", *[d.name for d in sources.domains]]
        self.history_["validation_candidates"] = "union of all domains' items"
        self._record_gate(union.warm_items[:n_t])
        spans = [("target", 0, n_t, sum(len(s) for s in data.split.train))]
        spans += [(d.name, n_t + d.offset, n_t + d.offset + d.n_items, sum(len(s) for s in d.train))
                  for d in sources.domains]
        self._record_domain_gates(union.warm_items, spans)
        return self

    def _record_domain_gates(self, warm: np.ndarray, spans: list[tuple[str, int, int, int]]) -> None:
        """Per domain: mean text share of the gate over its warm items, with its size (when ID helps)."""
        with torch.no_grad():
            g = self.net_.gates()[1:].mean(dim=1).numpy()
        out = []
        for name, lo, hi, n_train in spans:
            w = warm[lo:hi]
            out.append({"domain": name, "n_items": int(hi - lo), "n_warm_items": int(w.sum()),
                        "n_train_interactions": int(n_train),
                        "text_share_warm_items": round(float(g[lo:hi][w].mean()), 4) if w.any() else None})
        self.history_["gate"]["per_domain"] = out

    def _record_gate(self, warm: np.ndarray) -> None:
        with torch.no_grad():
            g = self.net_.gates()[1:self.n_items_ + 1].mean(dim=1).numpy()
        self.history_["gate"] = {"text_share_warm_items": round(float(g[warm].mean()), 4) if warm.any() else None,
                                 "text_share_cold_items": round(float(g[~warm].mean()), 4) if (~warm).any() else None}

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        from lmrec.models.sasrec import score_last_position

        return score_last_position(self.net_, histories, self.config["max_len"], n_items=self.width_)

    def _save_weights(self, path: Path) -> None:
        from lmrec.training.checkpoint import save_state

        save_state(path / "model.safetensors", self.net_.state_dict())
        save_atomic_npy(path / "warm_items.npy", self.warm_items_)
        save_atomic_npy(path / "n_items.npy", np.array([self.n_items_], dtype=np.int64))

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        from lmrec.training.checkpoint import load_state

        if item_vectors is None:
            raise ValueError(f"{path}: Fusion needs the item text vectors (all domains it was trained on) to load")
        warm = np.load(path / "warm_items.npy")
        n_target = int(np.load(path / "n_items.npy")[0])
        if len(item_vectors) != len(warm):
            raise ValueError(f"{path}: model was trained on {len(warm)} items, got {len(item_vectors)} vectors")
        self._build(item_vectors, warm, n_target)
        self.net_.load_state_dict(load_state(path / "model.safetensors"))
