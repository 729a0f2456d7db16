"""U-BERT: review-based user and item encoders with review co-matching, for rating prediction.

Follows Qiu, Wu, Gao, Yang, "U-BERT: Pre-training User Representations for Improved
Recommendation", AAAI 2021 (no official code was released; this is our reading of the
paper, adapted to frozen review vectors on CPU):

review encoder
    The PLM. By default the reviews (``summary. reviewText``, ≤ ``max_review_tokens`` tokens)
    are encoded once by the frozen sentence encoder and cached; a trainable review adapter
    (``Linear → GELU → LayerNorm``) on top of those vectors is the part that is pre-trained
    and fine-tuned. Tuning the PLM's own last layer is **not** done (too slow on 2 CPU cores).
user encoder
    Attention pooling over the user's (training) review vectors, queried by the user's ID
    embedding plus a shared learned query; a learned *null review* slot is always present, so
    a user with no review gets a finite vector (the flagged fallback) and padding never changes
    the result (masked softmax).
item encoder
    The same over the item's (training) reviews plus its description vector (item text from
    the metadata) as one more slot.
review co-matching
    Affinity ``A = (R_u W) R_iᵀ / √h`` between every user review and every item review; each
    side attends over the other (``R̃_u = softmax_row(A) R_i``, ``R̃_i = softmax_col(A)ᵀ R_u``),
    the match features ``[R, R̃, R − R̃, R ⊙ R̃]`` go through ``Linear(4h → h) + ReLU`` and are
    max-pooled over the reviews (padding masked) — the paper's co-matching between the user's
    and the item's review sets, here at review level rather than token level.
rating head
    ``μ + b_u + b_i + MLP([u, i, u ⊙ i, c_u, c_i, o_u, o_i])`` where ``c`` are the co-matching
    outputs and ``o`` the mean *opinion scores* (the pre-trained opinion-rating head applied to
    each review) of the user's and the item's reviews.

Pre-training (:meth:`UBert.pretrain`) on a review-rich domain uses the paper's *opinion rating
prediction* task: predict a review's star rating from the review alone (adapter + opinion
head, MSE). The paper's second task, *masked opinion-token prediction*, needs token-level
training of the PLM and is **not implemented** (not affordable on CPU). Fine-tuning
(:meth:`UBert.fit`) starts from the pre-trained adapter and opinion head; user/item ID
embeddings, attention, co-matching and the rating head are domain-specific and start fresh.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class UBertData:
    """Inputs of U-BERT for one domain.

    Attributes
    ----------
    review_vectors:
        ``float32 [n_rows, dim]`` frozen PLM vectors of every interaction row's review.
    user_reviews, item_reviews:
        ``n_users`` / ``n_items`` ``int64`` arrays of row numbers whose reviews the model may
        read (training rows only — see :func:`lmrec.evaluation.rating.training_review_rows`).
    item_vectors:
        ``float32 [n_items, dim]`` item description vectors, or ``None`` (no metadata).
    n_users, n_items:
        Sizes of the id maps.
    """

    review_vectors: np.ndarray
    user_reviews: list[np.ndarray]
    item_reviews: list[np.ndarray]
    item_vectors: np.ndarray | None
    n_users: int
    n_items: int


def pad_rows(lists: list[np.ndarray], max_len: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad row lists to a matrix.

    Returns
    -------
    index:
        ``int64 [len(lists), L]`` with ``L = max(1, min(max_len, longest))``; padding = ``pad``.
    mask:
        ``bool [len(lists), L]``, ``True`` at real entries.
    """
    width = max(1, min(max_len, max((len(x) for x in lists), default=0)))
    index = np.full((len(lists), width), pad, dtype=np.int64)
    mask = np.zeros((len(lists), width), dtype=bool)
    for k, x in enumerate(lists):
        x = np.asarray(x, dtype=np.int64)[-max_len:]
        index[k, :len(x)] = x
        mask[k, :len(x)] = True
    return index, mask


def build_ubert_net(dim_in: int, hidden: int, n_users: int, n_items: int, dropout: float):
    """The PyTorch module (created lazily so importing this file does not import torch)."""
    import torch
    from torch import nn

    def masked_softmax(scores: "torch.Tensor", mask: "torch.Tensor", dim: int) -> "torch.Tensor":
        return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=dim)

    class AttentionPool(nn.Module):
        """Query-driven attention over a set: ``x [b, L, h]``, ``mask [b, L]``, ``query [b, h]`` → ``[b, h]``."""

        def __init__(self):
            super().__init__()
            self.key = nn.Linear(hidden, hidden)
            self.query = nn.Parameter(torch.zeros(hidden))

        def forward(self, x, mask, query):
            scores = (self.key(x) * (query + self.query)[:, None]).sum(-1) / math.sqrt(hidden)
            return (masked_softmax(scores, mask, 1)[..., None] * x).sum(1)

    class CoMatching(nn.Module):
        """Review co-matching between a user's and an item's review sets.

        ``ru [b, Lu, h]``, ``mu [b, Lu]``, ``ri [b, Li, h]``, ``mi [b, Li]`` → ``(c_u, c_i)``,
        each ``[b, h]``; every row of ``mu``/``mi`` must have at least one ``True``.
        """

        def __init__(self):
            super().__init__()
            self.affinity = nn.Linear(hidden, hidden, bias=False)
            self.fuse_u = nn.Linear(4 * hidden, hidden)
            self.fuse_i = nn.Linear(4 * hidden, hidden)

        def forward(self, ru, mu, ri, mi):
            a = self.affinity(ru) @ ri.transpose(1, 2) / math.sqrt(hidden)          # [b, Lu, Li]
            pair = mu[:, :, None] & mi[:, None, :]
            att_u = masked_softmax(a, pair | ~mu[:, :, None], 2) * mi[:, None, :]  # user review → item reviews
            att_i = masked_softmax(a, pair | ~mi[:, None, :], 1) * mu[:, :, None]  # item review → user reviews
            ru_t = att_u @ ri
            ri_t = att_i.transpose(1, 2) @ ru
            fu = torch.relu(self.fuse_u(torch.cat([ru, ru_t, ru - ru_t, ru * ru_t], -1)))
            fi = torch.relu(self.fuse_i(torch.cat([ri, ri_t, ri - ri_t, ri * ri_t], -1)))
            cu = fu.masked_fill(~mu[..., None], float("-inf")).max(1).values
            ci = fi.masked_fill(~mi[..., None], float("-inf")).max(1).values
            return cu, ci

    class UBertNet(nn.Module):
        def __init__(self):
            super().__init__()
            # review adapter + opinion head: the pre-trained part
            self.review_adapter = nn.Sequential(nn.Linear(dim_in, hidden), nn.GELU(), nn.LayerNorm(hidden))
            self.opinion_head = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))
            # domain-specific part
            self.null_review = nn.Parameter(torch.randn(hidden) * 0.02)
            self.desc_adapter = nn.Sequential(nn.Linear(dim_in, hidden), nn.GELU(), nn.LayerNorm(hidden))
            self.user_id = nn.Embedding(n_users, hidden)
            self.item_id = nn.Embedding(n_items, hidden)
            nn.init.normal_(self.user_id.weight, std=0.01)
            nn.init.normal_(self.item_id.weight, std=0.01)
            self.user_bias = nn.Embedding(n_users, 1)
            self.item_bias = nn.Embedding(n_items, 1)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)
            self.user_pool = AttentionPool()
            self.item_pool = AttentionPool()
            self.comatch = CoMatching()
            self.drop = nn.Dropout(dropout)
            self.head = nn.Sequential(nn.Linear(5 * hidden + 2, hidden), nn.GELU(), nn.Dropout(dropout),
                                      nn.Linear(hidden, 1))
            nn.init.zeros_(self.head[-1].weight)
            nn.init.zeros_(self.head[-1].bias)
            self.register_buffer("mu", torch.zeros(()))

        def opinion(self, reviews):
            """Opinion score (rating offset) of review vectors ``[..., dim_in]`` → ``[...]``."""
            return self.opinion_head(self.review_adapter(reviews)).squeeze(-1)

        def adapt(self, table):
            """Adapted reviews ``[n_rows, h]`` and their opinion scores ``[n_rows]`` from the frozen
            PLM vectors ``table [n_rows, dim_in]`` (computed once per step, then gathered)."""
            adapted = self.review_adapter(table)
            return adapted, self.opinion_head(adapted).squeeze(-1)

        def review_set(self, adapted, idx, mask, extra=None, extra_mask=None):
            """Reviews ``adapted[idx]`` with the null slot first: ``[b, 1 + L (+1), h]`` and mask."""
            b = idx.shape[0]
            parts, masks = [self.null_review.expand(b, 1, -1), adapted[idx]], [mask.new_ones(b, 1), mask]
            if extra is not None:
                parts.append(extra[:, None])
                masks.append(extra_mask[:, None])
            return self.drop(torch.cat(parts, 1)), torch.cat(masks, 1)

        def encode_user(self, users, adapted, idx, mask):
            """User vector ``[b, h]`` from review rows ``idx [b, L]`` (``mask [b, L]``) of ``adapted``;
            also returns the review set and its mask for co-matching."""
            x, m = self.review_set(adapted, idx, mask)
            q = self.user_id(users)
            return self.user_pool(x, m, q) + q, x, m

        def encode_item(self, items, adapted, idx, mask, desc=None, desc_mask=None):
            extra = self.desc_adapter(desc) if desc is not None else None
            x, m = self.review_set(adapted, idx, mask, extra, desc_mask)
            q = self.item_id(items)
            return self.item_pool(x, m, q) + q, x, m

        def forward(self, users, items, table, u_idx, u_mask, i_idx, i_mask, desc=None, desc_mask=None):
            adapted, op = self.adapt(table)
            u, ru, mu_ = self.encode_user(users, adapted, u_idx, u_mask)
            i, ri, mi = self.encode_item(items, adapted, i_idx, i_mask, desc, desc_mask)
            cu, ci = self.comatch(ru, mu_, ri, mi)
            ou = (op[u_idx] * u_mask).sum(1) / u_mask.sum(1).clamp(min=1)
            oi = (op[i_idx] * i_mask).sum(1) / i_mask.sum(1).clamp(min=1)
            feats = torch.cat([u, i, u * i, cu, ci, ou[:, None], oi[:, None]], -1)
            return (self.mu + self.user_bias(users).squeeze(-1) + self.item_bias(items).squeeze(-1)
                    + self.head(feats).squeeze(-1))

    return UBertNet()


class UBert:
    """U-BERT rating predictor (see module docstring).

    Parameters
    ----------
    hidden:
        Width of adapted reviews and user/item vectors.
    max_user_reviews, max_item_reviews:
        Most recent training reviews read per user / item (caps reported in results).
    dropout, lr, weight_decay, batch_size, epochs, patience:
        Adam fine-tuning with early stopping on validation RMSE.
    pretrain_epochs, pretrain_lr:
        Opinion-rating pre-training (10 % of the source reviews held out for early stopping).
    clip:
        Predictions are clipped to the rating scale.

    Attributes
    ----------
    net_:
        The trained ``torch.nn.Module``.
    pretrain_history_:
        ``{"epochs_run", "best_valid_rmse", "train_seconds"}`` after :meth:`pretrain`.
    """

    name = "ubert"

    def __init__(self, hidden: int = 32, max_user_reviews: int = 8, max_item_reviews: int = 16,
                 dropout: float = 0.2, lr: float = 2e-3, weight_decay: float = 1e-4, batch_size: int = 256,
                 epochs: int = 60, patience: int = 6, pretrain_epochs: int = 100, pretrain_lr: float = 1e-3,
                 clip: tuple[float, float] = (1.0, 5.0)):
        for key, value in (("hidden", hidden), ("max_user_reviews", max_user_reviews),
                           ("max_item_reviews", max_item_reviews), ("batch_size", batch_size), ("epochs", epochs),
                           ("patience", patience), ("pretrain_epochs", pretrain_epochs)):
            if int(value) < 1:
                raise ValueError(f"UBert {key} must be ≥ 1, got {value}")
        if not 0 <= dropout < 1 or lr <= 0 or pretrain_lr <= 0:
            raise ValueError(f"UBert needs 0 ≤ dropout < 1 and positive learning rates (got {dropout}, {lr}, {pretrain_lr})")
        self.config: dict[str, Any] = dict(hidden=hidden, max_user_reviews=max_user_reviews,
                                           max_item_reviews=max_item_reviews, dropout=dropout, lr=lr,
                                           weight_decay=weight_decay, batch_size=batch_size, epochs=epochs,
                                           patience=patience, pretrain_epochs=pretrain_epochs,
                                           pretrain_lr=pretrain_lr, clip=list(clip))
        self.history_: dict[str, Any] = {}
        self.pretrain_history_: dict[str, Any] = {}
        self._pretrained_state: dict[str, Any] | None = None

    # ------------------------------------------------------------------ pre-training
    def pretrain(self, review_vectors: np.ndarray, ratings: np.ndarray, *, seed: int = 0) -> "UBert":
        """Opinion-rating prediction on a review-rich domain: rating ← review alone.

        Parameters
        ----------
        review_vectors:
            ``float32 [n, dim]`` frozen PLM vectors of the source domain's reviews.
        ratings:
            ``float [n]`` their star ratings.

        Returns ``self``; the adapter and opinion head are kept for :meth:`fit`.

        Raises
        ------
        ValueError
            With fewer than 10 reviews or mismatched lengths.
        """
        import torch

        x = np.asarray(review_vectors, dtype=np.float32)
        y = np.asarray(ratings, dtype=np.float32)
        if len(x) != len(y) or len(x) < 10:
            raise ValueError(f"pretrain needs ≥ 10 reviews with one rating each, got {len(x)} vectors, {len(y)} ratings")
        c = self.config
        torch.manual_seed(seed)
        net = build_ubert_net(x.shape[1], c["hidden"], 1, 1, c["dropout"])
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(x))
        n_val = max(1, len(x) // 10)
        val, tr = perm[:n_val], perm[n_val:]
        mu = float(y[tr].mean())
        xt, yt = torch.from_numpy(x), torch.from_numpy(y - mu)
        params = list(net.review_adapter.parameters()) + list(net.opinion_head.parameters())
        opt = torch.optim.Adam(params, lr=c["pretrain_lr"], weight_decay=c["weight_decay"])
        t0 = time.perf_counter()
        best, best_state, bad, epoch = float("inf"), None, 0, 0
        for epoch in range(c["pretrain_epochs"]):
            net.train()
            shuffled = tr[rng.permutation(len(tr))]
            for start in range(0, len(shuffled), 256):
                b = torch.from_numpy(shuffled[start:start + 256])
                loss = ((net.opinion(xt[b]) - yt[b]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                v = float(((net.opinion(xt[val]) - yt[val]) ** 2).mean().sqrt())
            if v < best - 1e-5:
                best, bad = v, 0
                best_state = {k: t.detach().clone() for k, t in net.state_dict().items()
                              if k.startswith(("review_adapter.", "opinion_head."))}
            else:
                bad += 1
                if bad >= c["patience"]:
                    break
        self._pretrained_state = best_state
        self.pretrain_history_ = {"task": "opinion rating prediction (rating from the review alone)",
                                  "not_done": "masked opinion-token prediction (needs token-level PLM training; "
                                              "not affordable on CPU)",
                                  "epochs_run": epoch + 1, "best_valid_rmse": round(best, 5),
                                  "source_mean_rating": round(mu, 4), "train_seconds": round(time.perf_counter() - t0, 2)}
        return self

    # ------------------------------------------------------------------ fine-tuning
    def _prepare(self, data: UBertData) -> None:
        import torch

        c = self.config
        rv = np.asarray(data.review_vectors, dtype=np.float32)
        self.dim_in_ = rv.shape[1]
        table = np.concatenate([rv, np.zeros((1, rv.shape[1]), np.float32)])
        pad = len(rv)
        self._reviews = torch.from_numpy(table)
        ui, um = pad_rows(data.user_reviews, c["max_user_reviews"], pad)
        ii, im = pad_rows(data.item_reviews, c["max_item_reviews"], pad)
        self._u_idx, self._u_mask = torch.from_numpy(ui), torch.from_numpy(um)
        self._i_idx, self._i_mask = torch.from_numpy(ii), torch.from_numpy(im)
        if data.item_vectors is not None:
            desc = np.asarray(data.item_vectors, dtype=np.float32)
            self._desc = torch.from_numpy(desc)
            self._desc_mask = torch.from_numpy(np.abs(desc).sum(1) > 0)
        else:
            self._desc = self._desc_mask = None

    def _forward(self, users: np.ndarray, items: np.ndarray):
        import torch

        u = torch.from_numpy(np.asarray(users, dtype=np.int64))
        i = torch.from_numpy(np.asarray(items, dtype=np.int64))
        desc = self._desc[i] if self._desc is not None else None
        dmask = self._desc_mask[i] if self._desc is not None else None
        return self.net_(u, i, self._reviews, self._u_idx[u], self._u_mask[u], self._i_idx[i], self._i_mask[i],
                         desc, dmask)

    def fit(self, data: UBertData, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, *,
            valid: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, seed: int = 0) -> "UBert":
        """Fine-tune on training pairs (``int64 [n]`` users/items, ``float [n]`` ratings).

        Returns ``self``. Raises ``ValueError`` on mismatched lengths or an empty training set.
        """
        import torch

        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float32)
        if not (len(users) == len(items) == len(ratings)) or len(users) == 0:
            raise ValueError("fit needs equally long, non-empty users/items/ratings")
        c = self.config
        torch.manual_seed(seed)
        self._prepare(data)
        self.net_ = build_ubert_net(self.dim_in_, c["hidden"], data.n_users, data.n_items, c["dropout"])
        if self._pretrained_state is not None:
            self.net_.load_state_dict(self._pretrained_state, strict=False)
        self.net_.mu.fill_(float(ratings.mean()))
        opt = torch.optim.Adam(self.net_.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
        rng = np.random.default_rng(seed)
        y = torch.from_numpy(ratings)
        t0 = time.perf_counter()
        best, best_state, best_epoch, bad, epoch = float("inf"), None, -1, 0, 0
        curve = []
        for epoch in range(c["epochs"]):
            self.net_.train()
            order = rng.permutation(len(users))
            total = 0.0
            for start in range(0, len(order), c["batch_size"]):
                b = order[start:start + c["batch_size"]]
                loss = ((self._forward(users[b], items[b]) - y[b]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
            if not math.isfinite(total):
                raise FloatingPointError(f"U-BERT training loss became {total} at epoch {epoch}; lower lr ({c['lr']})")
            v = self._rmse(valid) if valid is not None else math.sqrt(total / len(users))
            curve.append({"epoch": epoch, "train_mse": round(total / len(users), 5), "valid_rmse": round(v, 5)})
            if v < best - 1e-5:
                best, best_epoch, bad = v, epoch, 0
                best_state = {k: t.detach().clone() for k, t in self.net_.state_dict().items()}
            else:
                bad += 1
                if bad >= c["patience"]:
                    break
        self.net_.load_state_dict(best_state)
        self.history_ = {"best_epoch": best_epoch, "best_valid_rmse": round(best, 5), "epochs_run": epoch + 1,
                         "pretrained": self._pretrained_state is not None,
                         "train_seconds": round(time.perf_counter() - t0, 2), "epochs": curve}
        return self

    def _rmse(self, part) -> float:
        u, i, r = part
        return float(np.sqrt(np.mean((self.predict(u, i) - np.asarray(r, dtype=np.float32)) ** 2)))

    def predict(self, users: np.ndarray, items: np.ndarray, batch_size: int = 512) -> np.ndarray:
        """``float32 [n]`` predicted ratings (clipped to the scale) of (user, item) pairs."""
        import torch

        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        self.net_.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(users), batch_size):
                out.append(self._forward(users[start:start + batch_size], items[start:start + batch_size]).numpy())
        lo, hi = self.config["clip"]
        return np.clip(np.concatenate(out) if out else np.zeros(0), lo, hi).astype(np.float32)

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        """``float32 [b, hidden]`` user representations (review attention + ID), finite even for
        users without any review (null-review fallback)."""
        import torch

        u = torch.from_numpy(np.asarray(users, dtype=np.int64))
        self.net_.eval()
        with torch.inference_mode():
            adapted, _ = self.net_.adapt(self._reviews)
            vec, _, _ = self.net_.encode_user(u, adapted, self._u_idx[u], self._u_mask[u])
        return vec.numpy().astype(np.float32)

    def save(self, path: str | os.PathLike) -> None:
        """Write ``config.json`` and ``model.safetensors`` (atomic) into directory ``path``."""
        from lmrec.training.checkpoint import save_state

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tmp = path / "config.json.tmp"
        tmp.write_text(json.dumps({"model": self.name, "config": self.config, "dim_in": self.dim_in_,
                                   "pretraining": self.pretrain_history_}, indent=2))
        os.replace(tmp, path / "config.json")
        save_state(path / "model.safetensors", self.net_.state_dict())
