"""UNBERT: user–news matching with BERT as a cross-encoder (Zhang, Jia, Wang, Zhou, "UNBERT:
User-News Matching BERT for News Recommendation", IJCAI 2021).

For every (impression, candidate) pair one sequence is built::

    [CLS] candidate title [SEP] clicked title 1 [SEP] … clicked title H [SEP]

(token type 0 for the candidate part, 1 for the history). The PLM reads it jointly, so every
layer can match candidate words against clicked words. Two matching signals are combined:

* **word-level matching** — the final ``[CLS]`` state;
* **news-level matching** — the token states of each news segment are mean-pooled into one
  vector per news, a one-layer Transformer runs over these segment vectors, and its output at
  the candidate segment is taken;

their concatenation goes through a linear click head (one logit per pair). Training: negative
sampling, 1 click + 4 non-clicks from the same impression, softmax CE over the 5 logits.

Cost: a cross-encoder cannot cache news vectors; every candidate of every impression costs one
forward pass over ``1 + (H + 1) × (≤ 16 + 1)`` tokens. On CPU it is bounded here: the **last
10 clicked titles**, **≤ 16 word pieces per title** (candidate included), and only the last
``tune_layers`` (2) of the PLM's layers are fine-tuned (the lower ones run without gradients).
The paper fine-tunes all of BERT-base with up to 50 clicked news.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from lmrec.data.news import NewsDataset
from lmrec.models.news_base import NewsModel
from lmrec.models.news_text import warn_on_vocabulary_mismatch
from lmrec.models.plm_layers import embed, load_plm, run_layers
from lmrec.seed import seed_everything
from lmrec.training.news import sample_negatives, train_softmax_ce


class UNBERTNet(nn.Module):
    """PLM + word-level and news-level matching heads → one click logit per sequence."""

    def __init__(self, plm: nn.Module, tune_layers: int, news_heads: int = 8, dropout: float = 0.1) -> None:
        super().__init__()
        self.plm = plm
        n = len(plm.encoder.layer)
        self.n_lower = n - tune_layers
        for p in plm.parameters():
            p.requires_grad_(False)
        for layer in plm.encoder.layer[self.n_lower:]:
            for p in layer.parameters():
                p.requires_grad_(True)
        d = plm.config.hidden_size
        self.news_level = nn.TransformerEncoderLayer(d, news_heads, dim_feedforward=2 * d,
                                                     dropout=dropout, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * d, 1)

    def forward(self, ids: torch.Tensor, types: torch.Tensor, mask: torch.Tensor,
                seg: torch.Tensor, n_segments: int) -> torch.Tensor:
        """``ids``, ``types``, ``seg`` ``[n, L]`` int64 (``seg`` = news segment of each token,
        0 = candidate, −1 = special/pad), ``mask`` ``[n, L]`` bool → logits ``[n]``."""
        layers = self.plm.encoder.layer
        with torch.no_grad():
            h = run_layers(layers[:self.n_lower], embed(self.plm, ids, types), mask)
        h = run_layers(layers[self.n_lower:], h, mask)
        word = h[:, 0]
        onehot = (seg.unsqueeze(1) == torch.arange(n_segments).view(1, -1, 1)).to(h.dtype)  # [n,S,L]
        counts = onehot.sum(-1)
        seg_mask = counts > 0
        seg_mask[:, 0] = True
        seg_vecs = torch.bmm(onehot, h) / counts.clamp_min(1.0).unsqueeze(-1)
        news = self.news_level(seg_vecs, src_key_padding_mask=~seg_mask)[:, 0]
        return self.head(self.dropout(torch.cat([word, news], dim=-1))).squeeze(-1)


class UNBERT(NewsModel):
    """UNBERT cross-encoder (see the module docstring).

    Parameters
    ----------
    encoder:
        PLM folder or name (``None`` = packaged all-MiniLM-L6-v2; BERT-family).
    max_history:
        Clicked titles read (the most recent ones), default 10.
    max_title_tokens:
        Word pieces per title (candidate and clicked), default 16.
    tune_layers:
        Last K PLM layers fine-tuned (default 2).
    fields:
        News fields read (default title).
    epochs, batch_size, lr, plm_lr, npratio, max_train_seconds, max_train_samples, seed:
        Training (``batch_size`` counts samples; each gives 1 + npratio sequences).
    """

    name = "unbert"

    def __init__(self, encoder: str | None = None, max_history: int = 10, max_title_tokens: int = 16,
                 tune_layers: int = 2, fields: list[str] | tuple = ("title",), epochs: int = 1,
                 batch_size: int = 8, lr: float = 5e-4, plm_lr: float = 5e-5, npratio: int = 4,
                 max_train_seconds: float | None = None, max_train_samples: int | None = None,
                 seed: int = 0) -> None:
        super().__init__(encoder=encoder, max_history=max_history, max_title_tokens=max_title_tokens,
                         tune_layers=tune_layers, fields=list(fields), epochs=epochs,
                         batch_size=batch_size, lr=lr, plm_lr=plm_lr, npratio=npratio,
                         max_train_seconds=max_train_seconds, max_train_samples=max_train_samples,
                         seed=seed)
        self.net_: UNBERTNet | None = None
        self._tok = None
        self._pieces: dict[str, list[int]] = {}
        self.vocabulary_fit_: dict | None = None

    # -- inputs -------------------------------------------------------------------------
    def _build_net(self) -> UNBERTNet:
        tok, plm, label = load_plm(self.config["encoder"])
        if self.config["tune_layers"] > len(plm.encoder.layer):
            raise ValueError(f"tune_layers={self.config['tune_layers']} but {label} has "
                             f"{len(plm.encoder.layer)} layers")
        self._tok, self._label = tok, label
        return UNBERTNet(plm, self.config["tune_layers"])

    def _tokenize(self, data: NewsDataset, ids: list[str]) -> None:
        missing = [n for n in ids if n not in self._pieces]
        if not missing:
            return
        texts = data.texts(missing, self.config["fields"])
        if self.vocabulary_fit_ is None:
            self.vocabulary_fit_ = warn_on_vocabulary_mismatch(self._tok, texts, self._label,
                                                               max_tokens=self.config["max_title_tokens"])
        enc = self._tok(texts, add_special_tokens=False, truncation=True,
                        max_length=self.config["max_title_tokens"])["input_ids"]
        self._pieces.update(zip(missing, enc))

    def sequences(self, pairs: list[tuple[list[str], str]]) -> tuple[torch.Tensor, ...]:
        """(history, candidate) pairs → ``ids, types, mask, seg`` ``[n, L]`` and ``n_segments``."""
        cls, sep, pad = self._tok.cls_token_id, self._tok.sep_token_id, self._tok.pad_token_id or 0
        rows = []
        for hist, cand in pairs:
            ids, types, seg = [cls], [0], [-1]
            for j, n in enumerate([cand] + hist[-self.config["max_history"]:] if self.config["max_history"] else [cand]):
                p = self._pieces[n]
                ids += p + [sep]
                types += [0 if j == 0 else 1] * (len(p) + 1)
                seg += [j] * len(p) + [-1]
            rows.append((ids, types, seg))
        width = max(len(r[0]) for r in rows)
        ids_t = torch.full((len(rows), width), pad, dtype=torch.long)
        types_t = torch.zeros((len(rows), width), dtype=torch.long)
        seg_t = torch.full((len(rows), width), -1, dtype=torch.long)
        mask_t = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, (a, b, c) in enumerate(rows):
            ids_t[i, :len(a)] = torch.tensor(a)
            types_t[i, :len(a)] = torch.tensor(b)
            seg_t[i, :len(a)] = torch.tensor(c)
            mask_t[i, :len(a)] = True
        return ids_t, types_t, mask_t, seg_t, int(seg_t.max()) + 1

    # -- NewsModel ------------------------------------------------------------------------
    def fit(self, data: NewsDataset, log: Callable[[str], None] | None = None,
            valid: NewsDataset | None = None, patience: int = 2,
            eval_every: int | None = None) -> "UNBERT":
        """Train by negative sampling (:func:`lmrec.training.news.train_softmax_ce`).

        With ``valid`` (labeled impressions), the mean impression AUC on it is computed after
        every epoch (or every ``eval_every`` steps); training stops after ``patience``
        evaluations without improvement and the best state is kept. Each evaluation costs one
        PLM pass per validation candidate.
        """
        rng = seed_everything(self.config["seed"])
        self.net_ = self._build_net()
        self._tokenize(data, data.referenced_news())
        samples = sample_negatives(data.impressions, self.config["npratio"], rng,
                                   self.config["max_train_samples"])
        imps = data.impressions
        net = self.net_

        def batch_logits(idx: np.ndarray) -> torch.Tensor:
            pairs = [(imps.histories[samples.rows[i]], c) for i in idx for c in samples.candidates[i]]
            return net(*self.sequences(pairs)).view(len(idx), -1)

        tuned = [p for layer in net.plm.encoder.layer[net.n_lower:] for p in layer.parameters()]
        tuned_ids = {id(p) for p in tuned}
        rest = [p for p in net.parameters() if p.requires_grad and id(p) not in tuned_ids]
        groups = [{"params": rest, "lr": self.config["lr"]}]
        if tuned:
            groups.append({"params": tuned, "lr": self.config["plm_lr"]})
        valid_fn = None
        if valid is not None:
            from lmrec.evaluation.impressions import evaluate_impressions

            def valid_fn() -> float:
                return evaluate_impressions(self.score(valid), valid.impressions.labels)["metrics"]["auc"]

        info = train_softmax_ce(batch_logits, len(samples), groups, epochs=self.config["epochs"],
                                batch_size=self.config["batch_size"], rng=rng,
                                max_seconds=self.config["max_train_seconds"], modules=[net], log=log,
                                valid_fn=valid_fn, eval_every=eval_every, patience=patience,
                                state_module=net)
        net.eval()
        self.fit_info_ = {**info, "n_samples": len(samples), "vocabulary_fit": self.vocabulary_fit_,
                          "encoder_name": self._label}
        return self

    @torch.no_grad()
    def score(self, data: NewsDataset, batch_size: int = 64) -> list[np.ndarray]:
        """Scores per impression; one PLM pass per (impression, candidate) pair.

        ``self.last_score_stats_`` records ``pairs``, ``tokens`` and ``seconds`` of the call.
        """
        if self.net_ is None:
            raise RuntimeError("unbert: call fit() or load a saved model first")
        self.net_.eval()
        t0 = time.perf_counter()
        self._tokenize(data, data.referenced_news())
        imps = data.impressions
        pairs = [(h, c) for h, cands in zip(imps.histories, imps.candidates) for c in cands]
        logits, n_tok = [], 0
        for lo in range(0, len(pairs), batch_size):
            ids, types, mask, seg, s = self.sequences(pairs[lo:lo + batch_size])
            n_tok += int(mask.sum())
            logits.append(self.net_(ids, types, mask, seg, s))
        flat = torch.cat(logits).numpy().astype(np.float32) if logits else np.zeros(0, np.float32)
        out, pos = [], 0
        for c in imps.candidates:
            out.append(flat[pos:pos + len(c)])
            pos += len(c)
        self.last_score_stats_ = {"pairs": len(pairs), "tokens": n_tok,
                                  "seconds": time.perf_counter() - t0}
        return out

    # -- persistence ------------------------------------------------------------------------
    def _save_weights(self, path: Path) -> None:
        from lmrec.training.checkpoint import save_state

        if self.net_ is None:
            raise RuntimeError("unbert: nothing to save; call fit() first")
        trainable = {n for n, p in self.net_.named_parameters() if p.requires_grad}
        save_state(path / "model.safetensors",
                   {k: v for k, v in self.net_.state_dict().items() if k in trainable or not k.startswith("plm.")})

    def _load_weights(self, path: Path) -> None:
        from lmrec.training.checkpoint import load_state

        self.net_ = self._build_net()
        missing, unexpected = self.net_.load_state_dict(load_state(path / "model.safetensors"), strict=False)
        bad = [k for k in missing if not k.startswith("plm.")] + list(unexpected)
        if bad:
            raise ValueError(f"{path}: checkpoint does not match the UNBERT model ({bad[:3]} …)")
        self.net_.eval()
