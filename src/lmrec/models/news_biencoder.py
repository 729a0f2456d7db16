"""Bi-encoder news recommenders (NRMS, PLM-NR): news tower + user encoder + dot product.

The news tower maps each news' prepared inputs (token ids for NRMS; cached lower-layer token
states for PLM-NR) to a vector ``[d]``; the user encoder (:class:`UserEncoder`) maps the
vectors of the clicked news to a user vector; the click score is their dot product. Because
news vectors do not depend on the user, scoring encodes every referenced news once and reuses
it across impressions (the cost advantage over cross-encoders such as UNBERT).

Bounds: the last ``max_history`` (default 50) clicks of a history are used; titles are cut at
``max_title_tokens`` (default 32) word pieces, special tokens included.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from lmrec.data.news import NewsDataset
from lmrec.models.news_attention import UserEncoder
from lmrec.models.news_base import NewsModel
from lmrec.seed import seed_everything
from lmrec.training.news import sample_negatives, train_softmax_ce


class NewsInputs:
    """Per-news tensors (``[n, …]`` each, same first dimension) with an id → row index.

    Attributes
    ----------
    tensors:
        e.g. ``{"ids": [n, T] int64, "mask": [n, T] bool}``; ``mask`` is required and is used
        to trim padding columns when selecting.
    index:
        news id → row.
    """

    def __init__(self, tensors: dict[str, torch.Tensor], ids: list[str]) -> None:
        self.tensors = tensors
        self.index = {n: i for i, n in enumerate(ids)}

    def __len__(self) -> int:
        return len(self.index)

    def extend(self, other: "NewsInputs") -> None:
        """Append the rows of ``other`` (ids not yet present)."""
        new = [n for n in other.index if n not in self.index]
        if not new:
            return
        rows = torch.tensor([other.index[n] for n in new])
        for k in self.tensors:
            self.tensors[k] = torch.cat([self.tensors[k], other.tensors[k][rows]])
        for n in new:
            self.index[n] = len(self.index)

    def select(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rows ``[m]`` of every tensor, trimmed to the longest real sequence among them."""
        mask = self.tensors["mask"][rows]
        width = int(mask.any(dim=0).nonzero().max()) + 1
        out = {k: (v[rows][:, :width] if v.dim() >= 2 else v[rows]) for k, v in self.tensors.items()}
        return {k: (v.float() if v.dtype == torch.float16 else v) for k, v in out.items()}


class BiEncoderNet(nn.Module):
    """News tower + :class:`UserEncoder`; ``forward`` scores candidates by dot product."""

    def __init__(self, tower: nn.Module, dim: int, heads: int, query_dim: int, dropout: float) -> None:
        super().__init__()
        self.tower = tower
        self.user_encoder = UserEncoder(dim, heads, query_dim, dropout)

    def forward(self, inputs: NewsInputs, hist: torch.Tensor, hist_mask: torch.Tensor,
                cand: torch.Tensor) -> torch.Tensor:
        """``hist`` ``[b, h]`` rows (padding: any row, masked), ``hist_mask`` ``[b, h]`` bool,
        ``cand`` ``[b, c]`` rows → scores ``[b, c]``. Each distinct news is encoded once."""
        uniq, inv = torch.unique(torch.cat([hist.flatten(), cand.flatten()]), return_inverse=True)
        vecs = self.tower(**inputs.select(uniq))
        h = vecs[inv[:hist.numel()]].view(*hist.shape, -1)
        c = vecs[inv[hist.numel():]].view(*cand.shape, -1)
        user = self.user_encoder(h, hist_mask)
        return torch.einsum("bcd,bd->bc", c, user)


class BiEncoderNewsModel(NewsModel):
    """Shared fit/score/save for bi-encoders. Subclasses implement :meth:`_build_net`,
    :meth:`_prepare` (texts → :class:`NewsInputs`) and :meth:`_param_groups`."""

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        self.net_: BiEncoderNet | None = None
        self._inputs: NewsInputs | None = None

    # -- subclass hooks ---------------------------------------------------------------
    def _build_net(self) -> BiEncoderNet:
        raise NotImplementedError

    def _prepare(self, texts: list[str], ids: list[str]) -> NewsInputs:
        raise NotImplementedError

    def _param_groups(self, net: BiEncoderNet) -> list[dict]:
        return [{"params": [p for p in net.parameters() if p.requires_grad], "lr": self.config["lr"]}]

    # -- helpers ----------------------------------------------------------------------
    def _inputs_for(self, data: NewsDataset, ids: list[str]) -> NewsInputs:
        """Prepared inputs covering ``ids``; computed once per news and kept (frozen parts only)."""
        missing = ids if self._inputs is None else [n for n in ids if n not in self._inputs.index]
        if missing:
            fresh = self._prepare(data.texts(missing, self.config["fields"]), missing)
            if self._inputs is None:
                self._inputs = fresh
            else:
                self._inputs.extend(fresh)
        return self._inputs

    def _history_rows(self, index: dict[str, int], histories: list[list[str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Histories → ``[b, h]`` rows per ``index`` (last ``max_history`` clicks, right-padded
        with row 0) and the ``[b, h]`` bool mask of real clicks."""
        k = self.config["max_history"]
        cut = [h[-k:] if k else [] for h in histories]
        width = max((len(h) for h in cut), default=0)
        rows = torch.zeros(len(cut), width, dtype=torch.long)
        mask = torch.zeros(len(cut), width, dtype=torch.bool)
        for i, h in enumerate(cut):
            rows[i, :len(h)] = torch.tensor([index[n] for n in h], dtype=torch.long)
            mask[i, :len(h)] = True
        return rows, mask

    # -- NewsModel ----------------------------------------------------------------------
    def fit(self, data: NewsDataset, log: Callable[[str], None] | None = None,
            valid: NewsDataset | None = None, patience: int = 2,
            eval_every: int | None = None) -> "BiEncoderNewsModel":
        """Train by negative sampling (see :func:`lmrec.training.news.train_softmax_ce`).

        With ``valid`` (labeled impressions of held-out users), the mean impression AUC on it
        is computed after every epoch (or every ``eval_every`` steps); training stops after
        ``patience`` evaluations without improvement and the best state is kept.
        """
        rng = seed_everything(self.config["seed"])
        t0 = time.perf_counter()
        self.net_ = self._build_net()
        inputs = self._inputs_for(data, data.referenced_news())
        prepare_s = time.perf_counter() - t0
        samples = sample_negatives(data.impressions, self.config["npratio"], rng,
                                   self.config["max_train_samples"])
        imps = data.impressions
        net = self.net_

        def batch_logits(idx: np.ndarray) -> torch.Tensor:
            hist, mask = self._history_rows(inputs.index, [imps.histories[samples.rows[i]] for i in idx])
            cand = torch.tensor([[inputs.index[n] for n in samples.candidates[i]] for i in idx])
            return net(inputs, hist, mask, cand)

        valid_fn = None
        if valid is not None:
            from lmrec.evaluation.impressions import evaluate_impressions

            def valid_fn() -> float:
                return evaluate_impressions(self.score(valid), valid.impressions.labels)["metrics"]["auc"]

        info = train_softmax_ce(batch_logits, len(samples), self._param_groups(net),
                                epochs=self.config["epochs"], batch_size=self.config["batch_size"],
                                rng=rng, max_seconds=self.config["max_train_seconds"],
                                modules=[net], log=log, valid_fn=valid_fn, eval_every=eval_every,
                                patience=patience, state_module=net)
        net.eval()
        self.fit_info_ = {**info, "prepare_s": prepare_s, "n_samples": len(samples),
                          "n_train_news": len(inputs)}
        return self

    @torch.no_grad()
    def news_vectors(self, data: NewsDataset, ids: list[str], batch_size: int = 256) -> torch.Tensor:
        """News vectors ``[len(ids), d]`` float32 from the trained tower."""
        if self.net_ is None:
            raise RuntimeError(f"{self.name}: call fit() or load a saved model first")
        inputs = self._inputs_for(data, ids)
        rows = torch.tensor([inputs.index[n] for n in ids], dtype=torch.long)
        return torch.cat([self.net_.tower(**inputs.select(rows[i:i + batch_size]))
                          for i in range(0, len(rows), batch_size)]) if len(rows) else torch.zeros(0)

    @torch.no_grad()
    def user_vectors(self, news_vecs: torch.Tensor, index: dict[str, int],
                     histories: list[list[str]]) -> torch.Tensor:
        """User vectors ``[len(histories), d]`` from news vectors ``[n, d]`` (rows per ``index``)."""
        rows, mask = self._history_rows(index, histories)
        return self.net_.user_encoder(news_vecs[rows], mask)

    @torch.no_grad()
    def score(self, data: NewsDataset, batch_size: int = 256) -> list[np.ndarray]:
        if self.net_ is None:
            raise RuntimeError(f"{self.name}: call fit() or load a saved model first")
        self.net_.eval()
        ids = data.referenced_news()
        vecs = self.news_vectors(data, ids)
        index = {n: i for i, n in enumerate(ids)}
        imps = data.impressions
        out: list[np.ndarray] = []
        for lo in range(0, len(imps), batch_size):
            users = self.user_vectors(vecs, index, imps.histories[lo:lo + batch_size])
            for u, c in zip(users, imps.candidates[lo:lo + batch_size]):
                cv = vecs[torch.tensor([index[n] for n in c])]
                out.append((cv @ u).numpy().astype(np.float32))
        return out

    # -- persistence ------------------------------------------------------------------
    def _save_weights(self, path: Path) -> None:
        from lmrec.training.checkpoint import save_state

        if self.net_ is None:
            raise RuntimeError(f"{self.name}: nothing to save; call fit() first")
        save_state(path / "model.safetensors", self.net_.state_dict())

    def _load_weights(self, path: Path) -> None:
        from lmrec.training.checkpoint import load_state

        self.net_ = self._build_net()
        self.net_.load_state_dict(load_state(path / "model.safetensors"))
        self.net_.eval()
