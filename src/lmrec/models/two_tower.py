"""Two-tower retrieval with text towers (dual encoder).

Covington, Adams, Sargin, "Deep Neural Networks for YouTube Recommendations", RecSys 2016
(candidate generation as user/item towers), trained as in Yi et al., "Sampling-Bias-Corrected
Neural Modeling for Large Corpus Item Recommendations", RecSys 2019: in-batch negatives,
sampled softmax with log-Q correction for item popularity, temperature, L2-normalised tower
outputs (see :mod:`lmrec.training.sampled_softmax`).

user tower
    ``MLP([history, profile, user ID])`` where *history* pools (masked mean, or attention
    with a learned query) a learned projection of the frozen text vectors of the user's last
    ``max_len`` history items (a learned *empty history* vector when there is none), *profile*
    is a projection of the user's profile/tag text vector (:mod:`lmrec.data.user_text`, set
    with :meth:`TwoTower.set_user_vectors`; users flagged as having no text add a learned
    fallback vector), and *user ID* an optional embedding (zero for users without training
    interactions).
item tower
    ``MLP(item text vector)`` (+ optional item ID embedding, zeroed for cold items).

Both towers read frozen encoder vectors (the text encoder is not fine-tuned; the MLPs on top
are the "last layers" that are trained). Scores are cosine similarities; the item tower's
outputs are exported for ANN serving by :meth:`TwoTower.export_item_vectors`.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.io import save_atomic_npy
from lmrec.models.base import Recommender, TrainData


def build_two_tower_net(item_text: np.ndarray, user_vectors: np.ndarray | None, n_users: int, hidden: int,
                        out_dim: int, use_history: bool, pooling: str, user_id: bool, item_id: bool,
                        warm_items: np.ndarray | None, seen_users: np.ndarray | None, dropout: float):
    """Create the PyTorch module (lazily, so importing this file does not import torch)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from lmrec.models.sasrec import standardize_text_vectors

    class TwoTowerNet(nn.Module):
        """Item ``i`` is written ``i + 1`` in history matrices; ``0`` is padding."""

        def __init__(self):
            super().__init__()
            tv = torch.as_tensor(standardize_text_vectors(item_text))
            self.register_buffer("text", torch.cat([torch.zeros(1, tv.shape[1]), tv]), persistent=False)
            d = tv.shape[1]
            self.item_mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim))
            parts = 0
            if use_history:
                self.hist_proj = nn.Linear(d, hidden)
                self.empty_history = nn.Parameter(torch.zeros(hidden))
                if pooling == "attention":
                    self.hist_query = nn.Parameter(torch.randn(hidden) * 0.02)
                parts += 1
            if user_vectors is not None:
                uv = torch.as_tensor(np.asarray(user_vectors, dtype=np.float32))
                self.register_buffer("user_text", uv, persistent=False)
                self.profile_proj = nn.Linear(uv.shape[1], hidden)
                parts += 1
            if user_id:
                self.user_emb = nn.Embedding(n_users, hidden)
                nn.init.normal_(self.user_emb.weight, std=0.02)
                seen = torch.ones(n_users) if seen_users is None else torch.as_tensor(seen_users, dtype=torch.float32)
                self.register_buffer("user_seen", seen[:, None], persistent=False)
                parts += 1
            if item_id:
                self.item_emb = nn.Embedding(len(item_text), out_dim)
                nn.init.normal_(self.item_emb.weight, std=0.02)
                warm = torch.ones(len(item_text)) if warm_items is None else torch.as_tensor(warm_items, dtype=torch.float32)
                self.register_buffer("item_warm", warm[:, None], persistent=False)
            if parts == 0:
                raise ValueError("two-tower user tower has no input: enable history, a profile vector or user IDs")
            self.user_mlp = nn.Sequential(nn.Linear(parts * hidden, hidden), nn.GELU(), nn.Dropout(dropout),
                                          nn.Linear(hidden, out_dim))

        def item_tower(self, items: "torch.Tensor") -> "torch.Tensor":
            """``int64 [b]`` item indices → ``float [b, out_dim]`` unit vectors."""
            v = self.item_mlp(self.text[items + 1])
            if item_id:
                v = v + self.item_emb(items) * self.item_warm[items]
            return F.normalize(v, dim=-1)

        def history_vector(self, seq: "torch.Tensor") -> "torch.Tensor":
            """``int64 [b, L]`` (0 = padding) → ``[b, hidden]``; invariant to the amount of padding."""
            mask = seq > 0
            x = self.hist_proj(self.text)[seq]  # project the catalog once, then gather
            if pooling == "attention":
                scores = (x * self.hist_query).sum(-1) / math.sqrt(hidden)
                w = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
                w = torch.nan_to_num(w, nan=0.0)
            else:
                w = mask.float() / mask.sum(1, keepdim=True).clamp(min=1)
            pooled = (w[..., None] * x).sum(1)
            has = mask.any(1, keepdim=True)
            return torch.where(has, pooled, self.empty_history.expand_as(pooled))

        def user_tower(self, users: "torch.Tensor", seq: "torch.Tensor") -> "torch.Tensor":
            """``int64 [b]`` users and ``int64 [b, L]`` histories → ``float [b, out_dim]`` unit vectors."""
            parts = []
            if use_history:
                parts.append(self.history_vector(seq))
            if user_vectors is not None:
                parts.append(self.profile_proj(self.user_text[users]))
            if user_id:
                parts.append(self.user_emb(users) * self.user_seen[users])
            return F.normalize(self.user_mlp(torch.cat(parts, -1)), dim=-1)

    return TwoTowerNet()


class TwoTower(Recommender):
    """Two-tower retrieval model with frozen text encoders (see module docstring).

    Parameters
    ----------
    hidden, out_dim:
        MLP width and tower output size.
    use_history:
        Pool the history items' text vectors in the user tower.
    pooling:
        ``"mean"`` or ``"attention"`` over the history.
    user_id, item_id:
        Add ID embeddings to the towers.
    history:
        How training examples are cut: ``"prefix"`` (target at a random position, history =
        the items before it; for time-ordered data) or ``"others"`` (history = the user's other
        training items, shuffled; for unordered data such as the ml-1m CoLaKG split).
    temperature, log_q:
        Softmax temperature and the log-Q popularity correction.
    lr, weight_decay, batch_size, epochs, patience, samples_per_user, max_len, max_train_seconds:
        Adam; examples per user per epoch; early stopping on validation NDCG@10; time cap
        (seconds, 0 = none).
    dropout:
        In both MLPs.

    Attributes
    ----------
    net_:
        The trained ``torch.nn.Module``.
    user_vectors_, user_fallback_:
        ``float32 [n_users, dim]`` profile/tag text vectors and ``bool [n_users]`` fallback flags
        (``None`` unless :meth:`set_user_vectors` was called).
    """

    name = "two-tower"
    needs_item_vectors = True

    def __init__(self, hidden: int = 64, out_dim: int = 64, use_history: bool = True, pooling: str = "mean",
                 user_id: bool = False, item_id: bool = False, history: str = "prefix", temperature: float = 0.05,
                 log_q: bool = True, lr: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 512,
                 epochs: int = 50, patience: int = 5, samples_per_user: int = 8, max_len: int = 50,
                 max_train_seconds: float = 0.0, dropout: float = 0.1):
        if pooling not in ("mean", "attention"):
            raise ValueError(f"two-tower pooling must be 'mean' or 'attention', got {pooling!r}")
        if history not in ("prefix", "others"):
            raise ValueError(f"two-tower history must be 'prefix' or 'others', got {history!r}")
        for key, value in (("hidden", hidden), ("out_dim", out_dim), ("batch_size", batch_size), ("epochs", epochs),
                           ("patience", patience), ("samples_per_user", samples_per_user), ("max_len", max_len)):
            if int(value) < 1:
                raise ValueError(f"two-tower {key} must be ≥ 1, got {value}")
        if temperature <= 0 or lr <= 0:
            raise ValueError(f"two-tower needs temperature > 0 and lr > 0 (got {temperature}, {lr})")
        super().__init__(hidden=hidden, out_dim=out_dim, use_history=use_history, pooling=pooling, user_id=user_id,
                         item_id=item_id, history=history, temperature=temperature, log_q=log_q, lr=lr,
                         weight_decay=weight_decay, batch_size=batch_size, epochs=epochs, patience=patience,
                         samples_per_user=samples_per_user, max_len=max_len, max_train_seconds=max_train_seconds,
                         dropout=dropout)
        self.user_vectors_: np.ndarray | None = None
        self.user_fallback_: np.ndarray | None = None

    def set_user_vectors(self, vectors: np.ndarray, fallback: np.ndarray | None = None) -> "TwoTower":
        """Give the user tower a profile/tag text vector per user (call before :meth:`fit`).

        Parameters
        ----------
        vectors:
            ``float32 [n_users, dim]`` finite (e.g. from :func:`lmrec.encoders.user_text.encode_user_texts`).
        fallback:
            ``bool [n_users]`` users without text (their row is a fallback vector).

        Raises
        ------
        ValueError
            On non-finite values or a mask of the wrong length.
        """
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2 or not np.isfinite(v).all():
            raise ValueError("user vectors must be a finite [n_users, dim] matrix")
        fb = np.zeros(len(v), dtype=bool) if fallback is None else np.asarray(fallback, dtype=bool)
        if fb.shape != (len(v),):
            raise ValueError(f"fallback mask has shape {fb.shape}, expected ({len(v)},)")
        self.user_vectors_ = v
        self.user_fallback_ = fb
        return self

    @property
    def has_user_state(self) -> bool:  # type: ignore[override]
        """True with a user ID embedding or per-user text vectors (both indexed by user)."""
        return bool(self.config["user_id"]) or self.user_vectors_ is not None

    @property
    def history_input(self) -> str:  # type: ignore[override]
        return "id" if self.config["item_id"] else "text"

    def has_usable_input(self, users: np.ndarray, histories: list[np.ndarray],
                         item_has_text: np.ndarray | None = None) -> np.ndarray:
        """``bool [b]``: a usable history, or a user text vector (not a no-text fallback row),
        or a trained user ID embedding (a user seen in training)."""
        users = np.asarray(users, dtype=np.int64)
        out = super().has_usable_input(users, histories, item_has_text)
        if not self.config["use_history"]:
            out[:] = False
        if self.user_vectors_ is not None:
            known = (users >= 0) & (users < len(self.user_vectors_))
            out[known] |= ~self.user_fallback_[users[known]]
        if self.config["user_id"] and getattr(self, "seen_users_", None) is not None:
            known = (users >= 0) & (users < len(self.seen_users_))
            out[known] |= np.asarray(self.seen_users_, dtype=bool)[users[known]]
        return out

    def _user_input(self) -> np.ndarray | None:
        if self.user_vectors_ is None:
            return None
        return np.concatenate([self.user_vectors_, self.user_fallback_[:, None].astype(np.float32)], axis=1)

    def _build(self, n_users: int, item_vectors: np.ndarray, warm: np.ndarray | None, seen: np.ndarray | None):
        c = self.config
        self.n_users_, self.warm_items_, self.seen_users_ = n_users, warm, seen
        self.net_ = build_two_tower_net(item_vectors, self._user_input(), n_users, c["hidden"], c["out_dim"],
                                        c["use_history"], c["pooling"], c["user_id"], c["item_id"], warm, seen,
                                        c["dropout"])

    # ------------------------------------------------------------------ training
    def _examples(self, train: list[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One epoch of examples: ``users int64 [n]``, ``targets int64 [n]``, ``histories int64 [n, L]``."""
        from lmrec.training.sequences import left_pad

        c = self.config
        users, targets, hists = [], [], []
        for u, seq in enumerate(train):
            if len(seq) == 0:
                continue
            for _ in range(c["samples_per_user"]):
                t = int(rng.integers(len(seq)))
                if c["history"] == "prefix":
                    hist = seq[max(0, t - c["max_len"]):t]
                else:
                    others = np.delete(seq, t)
                    hist = others[rng.permutation(len(others))[:c["max_len"]]]
                users.append(u)
                targets.append(int(seq[t]))
                hists.append(hist)
        return (np.asarray(users, dtype=np.int64), np.asarray(targets, dtype=np.int64),
                left_pad(hists, c["max_len"]))

    def fit(self, data: TrainData) -> "TwoTower":
        import torch

        from lmrec.evaluation.ranking import evaluate_ranking
        from lmrec.training.early_stopping import EarlyStopping
        from lmrec.training.sampled_softmax import in_batch_softmax_loss, log_q_from_counts

        if data.item_vectors is None:
            raise ValueError("two-tower needs item text vectors (run with an encoder)")
        c = self.config
        split = data.split
        if self.user_vectors_ is not None and len(self.user_vectors_) != split.n_users:
            raise ValueError(f"user vectors have {len(self.user_vectors_)} rows for {split.n_users} users")
        seen = np.array([len(t) > 0 for t in split.train])
        self._build(split.n_users, data.item_vectors, split.warm_items, seen)
        torch.manual_seed(data.seed)
        rng = np.random.default_rng(data.seed)
        log_q = torch.from_numpy(log_q_from_counts(split.train_item_counts)) if c["log_q"] else None
        opt = torch.optim.Adam(self.net_.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
        stopper = EarlyStopping(patience=c["patience"])
        history: dict[str, Any] = {"epochs": []}
        start, stopped = time.perf_counter(), "epochs"
        for epoch in range(c["epochs"]):
            t0 = time.perf_counter()
            users, targets, hists = self._examples(split.train, rng)
            if len(users) == 0:
                raise ValueError("no user has a training interaction; the two-tower model cannot be trained")
            order = rng.permutation(len(users))
            self.net_.train()
            total, n_batches = 0.0, 0
            for s in range(0, len(order), c["batch_size"]):
                b = order[s:s + c["batch_size"]]
                if len(b) < 2:
                    continue
                u = torch.from_numpy(users[b])
                tgt = torch.from_numpy(targets[b])
                loss = in_batch_softmax_loss(self.net_.user_tower(u, torch.from_numpy(hists[b])),
                                             self.net_.item_tower(tgt), tgt,
                                             log_q[tgt] if log_q is not None else None, c["temperature"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach())
                n_batches += 1
            if not math.isfinite(total):
                raise FloatingPointError(f"two-tower loss became {total} at epoch {epoch}; lower lr ({c['lr']})")
            valid = evaluate_ranking(self.score, split.valid, split.n_items, ks=(10,),
                                     exclude_history=data.exclude_history)
            value = float(valid["metrics"]["ndcg@10"])
            improved = stopper.step(value, epoch, self.net_.state_dict())
            history["epochs"].append({"epoch": epoch, "loss": round(total / max(1, n_batches), 5),
                                      "valid_ndcg@10": round(value, 5), "seconds": round(time.perf_counter() - t0, 2)})
            if data.show_progress:
                print(f"  epoch {epoch:3d}  loss {total / max(1, n_batches):.4f}  valid ndcg@10 {value:.4f}"
                      f"{'  *' if improved else ''}", flush=True)
            if stopper.should_stop:
                stopped = "patience"
                break
            if c["max_train_seconds"] and time.perf_counter() - start > c["max_train_seconds"]:
                stopped = "time"
                break
        self.net_.load_state_dict(stopper.best_state)
        history.update(best_epoch=stopper.best_epoch, stopped=stopped, train_seconds=round(time.perf_counter() - start, 2))
        history["best_valid_ndcg@10"] = stopper.best
        self.history_ = history
        return self

    # ------------------------------------------------------------------ inference
    def user_vectors(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``float32 [b, out_dim]`` unit user-tower outputs (last ``max_len`` history items)."""
        import torch

        from lmrec.training.sequences import left_pad

        self.net_.eval()
        with torch.inference_mode():
            seq = torch.from_numpy(left_pad([np.asarray(h, dtype=np.int64) for h in histories], self.config["max_len"]))
            return self.net_.user_tower(torch.from_numpy(np.asarray(users, dtype=np.int64)), seq).numpy()

    def export_item_vectors(self) -> np.ndarray:
        """``float32 [n_items, out_dim]`` unit item-tower outputs, in internal item order, for an
        ANN index (inner product = the model's score)."""
        import torch

        self.net_.eval()
        with torch.inference_mode():
            n = self.net_.text.shape[0] - 1
            return self.net_.item_tower(torch.arange(n)).numpy().astype(np.float32)

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        return self.user_vectors(users, histories) @ self.export_item_vectors().T

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, path: Path) -> None:
        from lmrec.training.checkpoint import save_state

        save_state(path / "model.safetensors", self.net_.state_dict())
        np.save(path / "sizes.npy.tmp.npy", np.array([self.n_users_], dtype=np.int64))
        import os

        os.replace(path / "sizes.npy.tmp.npy", path / "sizes.npy")
        for name, arr in (("warm_items", self.warm_items_), ("seen_users", self.seen_users_),
                          ("user_vectors", self.user_vectors_), ("user_fallback", self.user_fallback_)):
            if arr is not None:
                save_atomic_npy(path / f"{name}.npy", arr)

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        from lmrec.training.checkpoint import load_state

        if item_vectors is None:
            raise ValueError(f"{path}: two-tower needs the item text vectors to load")
        state = load_state(path / "model.safetensors")

        def opt(name: str) -> np.ndarray | None:
            p = path / f"{name}.npy"
            return np.load(p) if p.exists() else None

        if opt("user_vectors") is not None:
            self.set_user_vectors(opt("user_vectors"), opt("user_fallback"))
        self._build(int(np.load(path / "sizes.npy")[0]), item_vectors, opt("warm_items"), opt("seen_users"))
        self.net_.load_state_dict(state)
