"""LightGCN with free ID embeddings or with text-derived initial representations (AlphaRec).

Graph recommendation over the user–item training graph (:mod:`lmrec.models.graph`): layer-0
node representations are propagated ``n_layers`` times over ``D^-1/2 A D^-1/2`` and averaged
over layers; a user–item score is the similarity of the final representations.

``item_input="id"`` — **LightGCN** (He et al., "LightGCN: Simplifying and Powering Graph
Convolution Network for Recommendation", SIGIR 2020): a learned embedding per user and per
item (``N(0, 0.1²)`` initialisation), BPR loss with one uniformly sampled negative per
positive pair and L2 regularisation of the batch's layer-0 embeddings, dot-product scores.
Items without training edges keep their random initial embedding, so the model cannot rank
cold items meaningfully.

``item_input="text"`` — **AlphaRec recipe** (Sheng et al., "Language Representations Can be
What Recommenders Need: Findings and Potentials", 2024): frozen text vectors (standardised per
dimension, see :func:`lmrec.models.sasrec.standardize_text_vectors`) go through a small MLP
(``Linear → LeakyReLU → Linear``) to give the layer-0 item representations; a user's layer-0
input is the mean text vector of their training items through the same MLP (no user ID
parameters). Trained with InfoNCE over cosine similarities with temperature ``temperature``
and ``n_negatives`` uniformly sampled negatives shared by the batch; scores are cosine
similarities. An item without edges still has a representation (its text through the MLP),
so cold items are scored from their text.

Loss choice: each variant keeps its paper's loss (``loss="auto"``: BPR for ID, InfoNCE for
text); ``loss="bpr"`` / ``"infonce"`` overrides it for an ablation.

Users. A user with training edges is represented by their final graph representation. A user
without training edges (a new user at serving time, or a user index beyond the graph) is
represented by the mean of the final representations of their history items (the items
passed to :meth:`LightGCN.score`); with an empty history every item scores 0.

Early stopping on validation NDCG@10 with the run's history-exclusion protocol, as SASRec.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lmrec.models.base import Recommender, TrainData

if TYPE_CHECKING:  # pragma: no cover
    import torch

ITEM_INPUTS = ("id", "text")
LOSSES = ("auto", "bpr", "infonce")
VALID_METRIC = "ndcg@10"


def peak_rss_bytes() -> int:
    """Peak resident set size of this process, in bytes.

    Linux ``VmHWM`` of ``/proc/self/status`` (which a benchmark may reset between runs by
    writing ``5`` to ``/proc/self/clear_refs``); elsewhere ``ru_maxrss`` (peak since start).
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource  # Unix only

    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * scale


def bpr_loss(pos: "torch.Tensor", neg: "torch.Tensor") -> "torch.Tensor":
    """Bayesian personalised ranking loss ``-mean(log σ(pos - neg))`` (Rendle et al., UAI 2009).

    ``pos``, ``neg``: ``float32 [b]`` scores of the positive and the sampled negative item.
    """
    import torch.nn.functional as F

    return -F.logsigmoid(pos - neg).mean()


def info_nce_loss(user: "torch.Tensor", pos: "torch.Tensor", neg: "torch.Tensor", temperature: float,
                  neg_is_pos: "torch.Tensor | None" = None) -> "torch.Tensor":
    """InfoNCE over cosine similarities (van den Oord et al. 2018; AlphaRec's training loss).

    Parameters
    ----------
    user, pos:
        ``float32 [b, d]`` user and positive-item representations.
    neg:
        ``float32 [n_neg, d]`` negatives shared by the batch.
    temperature:
        Softmax temperature ``τ > 0``.
    neg_is_pos:
        Optional ``bool [b, n_neg]``: a sampled negative that is the row's positive is masked out.

    Returns
    -------
    Scalar mean cross-entropy of the positive among ``1 + n_neg`` candidates.
    """
    import torch
    import torch.nn.functional as F

    u, p, n = F.normalize(user, dim=-1), F.normalize(pos, dim=-1), F.normalize(neg, dim=-1)
    logits = torch.cat([(u * p).sum(-1, keepdim=True), u @ n.T], dim=1) / temperature
    if neg_is_pos is not None:
        logits[:, 1:] = logits[:, 1:].masked_fill(neg_is_pos, float("-inf"))
    return F.cross_entropy(logits, torch.zeros(len(u), dtype=torch.long))


def build_lightgcn_net(n_users: int, n_items: int, item_input: str, hidden: int, mlp_hidden: int,
                       item_text: np.ndarray | None, user_text: np.ndarray | None):
    """The layer-0 representation module (lazy so importing this file does not import torch).

    ``item_text`` / ``user_text``: ``float32 [n_items, dim]`` / ``[n_users, dim]`` standardised
    text vectors (text variant only).
    """
    import torch
    from torch import nn

    class LightGCNNet(nn.Module):
        """``ego()`` returns ``float32 [n_users + n_items, hidden]`` layer-0 representations."""

        def __init__(self):
            super().__init__()
            self.item_input = item_input
            if item_input == "id":
                self.user_emb = nn.Embedding(n_users, hidden)
                self.item_emb = nn.Embedding(n_items, hidden)
                nn.init.normal_(self.user_emb.weight, std=0.1)
                nn.init.normal_(self.item_emb.weight, std=0.1)
            else:
                if item_text is None or user_text is None:
                    raise ValueError("LightGCN item_input='text' needs item text vectors")
                self.register_buffer("item_text", torch.as_tensor(item_text), persistent=False)
                self.register_buffer("user_text", torch.as_tensor(user_text), persistent=False)
                dim = item_text.shape[1]
                self.mlp = nn.Sequential(nn.Linear(dim, mlp_hidden), nn.LeakyReLU(), nn.Linear(mlp_hidden, hidden))

        def ego(self) -> "torch.Tensor":
            if self.item_input == "id":
                return torch.cat([self.user_emb.weight, self.item_emb.weight])
            return self.mlp(torch.cat([self.user_text, self.item_text]))

    return LightGCNNet()


class LightGCN(Recommender):
    """LightGCN recommender (see module docstring).

    Parameters
    ----------
    item_input:
        ``"id"`` (LightGCN) or ``"text"`` (AlphaRec-style text → MLP → LightGCN).
    hidden:
        Dimension of the graph representations (default 64, as the LightGCN paper).
    n_layers:
        Propagation layers ``K`` (default 3, the paper's best on its datasets).
    mlp_hidden:
        Hidden width of the text MLP (text variant).
    loss:
        ``"auto" | "bpr" | "infonce"`` (auto: BPR for ID, InfoNCE for text).
    temperature, n_negatives:
        InfoNCE temperature and shared uniform negatives per batch.
    reg:
        L2 weight on the batch's layer-0 representations (``λ`` of the paper, default 1e-4).
    lr, batch_size, epochs, patience:
        Adam learning rate, positive pairs per step, and early stopping on validation NDCG@10.
    max_train_seconds:
        Stop after this wall time (seconds; ``0`` = no limit); the best epoch so far is kept.

    Attributes
    ----------
    user_final_, item_final_:
        ``float32 [n_users, hidden]`` / ``[n_items, hidden]`` final representations used by
        :meth:`score` (L2-normalised under InfoNCE, where scores are cosines).
    user_has_edges_:
        ``bool [n_users]``: users represented by the graph (others by their history).
    net_, adjacency_:
        The trained layer-0 module and the :class:`~lmrec.models.graph.NormalizedAdjacency`
        (``None`` after loading: a loaded model scores but is not retrained).
    """

    name = "lightgcn"

    def __init__(self, item_input: str = "id", hidden: int = 64, n_layers: int = 3, mlp_hidden: int = 256,
                 loss: str = "auto", temperature: float = 0.15, n_negatives: int = 256, reg: float = 1e-4,
                 lr: float = 1e-3, batch_size: int = 2048, epochs: int = 100, patience: int = 10,
                 max_train_seconds: float = 0.0):
        if item_input not in ITEM_INPUTS:
            raise ValueError(f"LightGCN item_input must be one of {ITEM_INPUTS}, got {item_input!r}")
        if loss not in LOSSES:
            raise ValueError(f"LightGCN loss must be one of {LOSSES}, got {loss!r}")
        for key, value in (("hidden", hidden), ("mlp_hidden", mlp_hidden), ("n_negatives", n_negatives),
                           ("batch_size", batch_size), ("epochs", epochs), ("patience", patience)):
            if int(value) < 1:
                raise ValueError(f"LightGCN {key} must be ≥ 1, got {value}")
        if int(n_layers) < 0 or lr <= 0 or temperature <= 0 or reg < 0:
            raise ValueError(f"LightGCN needs n_layers ≥ 0, lr > 0, temperature > 0, reg ≥ 0 (got n_layers="
                             f"{n_layers}, lr={lr}, temperature={temperature}, reg={reg})")
        super().__init__(item_input=item_input, hidden=hidden, n_layers=n_layers, mlp_hidden=mlp_hidden, loss=loss,
                         temperature=temperature, n_negatives=n_negatives, reg=reg, lr=lr, batch_size=batch_size,
                         epochs=epochs, patience=patience, max_train_seconds=max_train_seconds)
        self.net_ = None
        self.adjacency_ = None
        self.user_final_: np.ndarray | None = None
        self.item_final_: np.ndarray | None = None

    #: ``user_final_`` holds one graph representation per internal user index.
    has_user_state = True

    @property
    def needs_item_vectors(self) -> bool:  # type: ignore[override]
        return self.config["item_input"] == "text"

    @property
    def history_input(self) -> str:  # type: ignore[override]
        return "text" if self.config["item_input"] == "text" else "id"

    def has_usable_input(self, users: np.ndarray, histories: list[np.ndarray],
                         item_has_text: np.ndarray | None = None) -> np.ndarray:
        """``bool [b]``: users with training edges are represented by the graph (usable even
        with an empty history); others need a usable history (see
        :meth:`~lmrec.models.base.Recommender.has_usable_input`)."""
        users = np.asarray(users, dtype=np.int64)
        out = super().has_usable_input(users, histories, item_has_text)
        if self.user_final_ is not None:
            known = (users >= 0) & (users < len(self.user_final_))
            out[known] |= self.user_has_edges_[users[known]]
        return out

    @property
    def loss_name(self) -> str:
        """The loss actually used (``auto`` resolved)."""
        loss = self.config["loss"]
        return loss if loss != "auto" else ("bpr" if self.config["item_input"] == "id" else "infonce")

    # ------------------------------------------------------------------ training
    def fit(self, data: TrainData) -> "LightGCN":
        """Build the training graph, train with early stopping, keep the best epoch.

        Raises
        ------
        ValueError
            If the split has no training interaction, or the text variant gets no item vectors.
        FloatingPointError
            If the loss becomes NaN/inf (lower ``lr``).
        """
        import torch

        from lmrec.models.graph import normalized_adjacency, training_edges

        cfg, split = self.config, data.split
        n_users, n_items = split.n_users, split.n_items
        edges = training_edges(split.train, n_items)
        if not len(edges):
            raise ValueError("LightGCN: the split has no training interaction; nothing to build a graph from")
        adj = normalized_adjacency(edges, n_users, n_items)
        item_text = user_text = None
        if self.needs_item_vectors:
            if data.item_vectors is None or len(data.item_vectors) != n_items:
                raise ValueError(f"LightGCN (text) needs item vectors with {n_items} rows, got "
                                 f"{None if data.item_vectors is None else len(data.item_vectors)}")
            item_text, user_text = self._text_inputs(data.item_vectors, edges, n_users)
        torch.manual_seed(data.seed)
        rng = np.random.default_rng(data.seed)
        self.net_ = build_lightgcn_net(n_users, n_items, cfg["item_input"], cfg["hidden"], cfg["mlp_hidden"],
                                       item_text, user_text)
        self.adjacency_ = adj
        self.user_has_edges_ = adj.degree[:n_users] > 0
        self.history_ = self._train(data, edges, rng)
        return self

    @staticmethod
    def _text_inputs(vectors: np.ndarray, edges: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
        """Standardised item text ``[n_items, dim]`` and each user's mean over training items ``[n_users, dim]``."""
        import torch

        from lmrec.models.sasrec import standardize_text_vectors

        item_text = standardize_text_vectors(vectors)
        counts = np.bincount(edges[:, 0], minlength=n_users).astype(np.float32)
        idx = torch.from_numpy(edges.T.copy())
        vals = torch.from_numpy((1.0 / counts[edges[:, 0]]).astype(np.float32))
        mean = torch.sparse_coo_tensor(idx, vals, (n_users, len(item_text)), check_invariants=True)
        user_text = torch.sparse.mm(mean, torch.from_numpy(item_text)).numpy()
        return item_text, user_text.astype(np.float32)

    def _train(self, data: TrainData, edges: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
        import torch

        from lmrec.evaluation.ranking import evaluate_ranking
        from lmrec.models.graph import propagate
        from lmrec.training.early_stopping import EarlyStopping

        cfg, net, adj = self.config, self.net_, self.adjacency_
        n_users, n_items = adj.n_users, adj.n_items
        warm = np.unique(edges[:, 1])
        edge_keys = edges[:, 0] * n_items + edges[:, 1]  # sorted (training_edges sorts)
        opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"])
        stopper = EarlyStopping(patience=cfg["patience"])
        has_valid = len(data.split.valid) > 0
        bs, loss_name = cfg["batch_size"], self.loss_name
        history: dict[str, Any] = {"epochs": [], "loss": loss_name, "n_edges": adj.n_edges,
                                   "adjacency_bytes": adj.nbytes, "n_nodes": n_users + n_items}
        start, stopped = time.perf_counter(), "epochs"
        for epoch in range(cfg["epochs"]):
            t0 = time.perf_counter()
            net.train()
            total, n_batches = 0.0, 0
            order = rng.permutation(len(edges))
            for b0 in range(0, len(order), bs):
                batch = edges[order[b0:b0 + bs]]
                users = torch.from_numpy(batch[:, 0])
                items = torch.from_numpy(batch[:, 1])
                ego = net.ego()
                final = propagate(adj, ego, cfg["n_layers"])
                u_f, i_f = final[users], final[n_users + items]
                if loss_name == "bpr":
                    neg_np = self._sample_negatives(batch, warm, edge_keys, n_items, rng)
                    neg = torch.from_numpy(neg_np)
                    loss = bpr_loss((u_f * i_f).sum(-1), (u_f * final[n_users + neg]).sum(-1))
                    reg_rows = torch.cat([users, n_users + items, n_users + neg])
                else:
                    neg_np = rng.choice(warm, size=min(cfg["n_negatives"], len(warm)), replace=False)
                    neg = torch.from_numpy(neg_np)
                    mask = torch.from_numpy(neg_np[None, :] == batch[:, 1:2])
                    loss = info_nce_loss(u_f, i_f, final[n_users + neg], cfg["temperature"], mask)
                    reg_rows = torch.cat([users, n_users + items])
                if cfg["reg"]:
                    loss = loss + cfg["reg"] * ego[reg_rows].pow(2).sum() / (2 * len(batch))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach())
                n_batches += 1
            if not math.isfinite(total):
                raise FloatingPointError(f"LightGCN training loss became {total} at epoch {epoch}; lower the "
                                         f"learning rate (lr={cfg['lr']})")
            train_s = time.perf_counter() - t0
            self._refresh_tables()
            value = float("nan")
            if has_valid:
                valid = evaluate_ranking(self.score, data.split.valid, n_items, ks=(10,),
                                         exclude_history=data.exclude_history)
                value = float(valid["metrics"][VALID_METRIC])
            improved = stopper.step(value if has_valid else float(epoch), epoch, net.state_dict())
            row = {"epoch": epoch, "loss": round(total / max(1, n_batches), 5),
                   f"valid_{VALID_METRIC}": round(value, 5), "train_seconds": round(train_s, 2),
                   "seconds": round(time.perf_counter() - t0, 2)}
            history["epochs"].append(row)
            if data.show_progress:
                print(f"  epoch {epoch:3d}  loss {row['loss']:.4f}  valid {VALID_METRIC} {value:.4f}"
                      f"{'  *' if improved else ''}  ({row['train_seconds']:.1f}s train, {row['seconds']:.1f}s)",
                      flush=True)
            if improved and data.run_dir is not None:
                self.save(data.run_dir / "model")
            if stopper.should_stop:
                stopped = "patience"
                break
            if cfg["max_train_seconds"] and time.perf_counter() - start > cfg["max_train_seconds"]:
                stopped = "time"
                break
        net.load_state_dict(stopper.best_state)
        self._refresh_tables()
        epochs = history["epochs"]
        history.update(best_epoch=stopper.best_epoch, stopped=stopped,
                       train_seconds=round(time.perf_counter() - start, 2),
                       seconds_per_epoch=round(float(np.mean([e["train_seconds"] for e in epochs])), 3),
                       peak_rss_bytes=peak_rss_bytes())
        history[f"best_valid_{VALID_METRIC}"] = stopper.best if has_valid else None
        return history

    @staticmethod
    def _sample_negatives(batch: np.ndarray, warm: np.ndarray, edge_keys: np.ndarray, n_items: int,
                          rng: np.random.Generator, tries: int = 5) -> np.ndarray:
        """One uniform negative among training items per pair, resampled (up to ``tries`` times)
        when it is one of the user's training items."""
        neg = warm[rng.integers(len(warm), size=len(batch))]
        for _ in range(tries):
            keys = batch[:, 0] * n_items + neg
            pos = np.searchsorted(edge_keys, keys)
            hit = (pos < len(edge_keys)) & (edge_keys[np.minimum(pos, len(edge_keys) - 1)] == keys)
            if not hit.any():
                break
            neg[hit] = warm[rng.integers(len(warm), size=int(hit.sum()))]
        return neg

    def _refresh_tables(self) -> None:
        """Recompute the final user/item tables from the current weights (no gradient)."""
        import torch
        import torch.nn.functional as F

        from lmrec.models.graph import propagate

        self.net_.eval()
        with torch.inference_mode():
            final = propagate(self.adjacency_, self.net_.ego(), self.config["n_layers"])
            if self.loss_name == "infonce":
                final = F.normalize(final, dim=-1)
        n_users = self.adjacency_.n_users
        self.user_final_ = final[:n_users].numpy().copy()
        self.item_final_ = final[n_users:].numpy().copy()

    # ------------------------------------------------------------------ scoring
    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``float32 [b, n_items]`` similarities (see the module docstring for users without edges)."""
        if self.item_final_ is None:
            raise RuntimeError("LightGCN: call fit() or load a saved model before score()")
        users = np.asarray(users, dtype=np.int64)
        queries = np.zeros((len(users), self.item_final_.shape[1]), dtype=np.float32)
        n_users = len(self.user_final_)
        for row, (u, hist) in enumerate(zip(users, histories)):
            if 0 <= u < n_users and self.user_has_edges_[u]:
                queries[row] = self.user_final_[u]
            elif len(hist):
                queries[row] = self.item_final_[np.asarray(hist, dtype=np.int64)].mean(axis=0)
        return queries @ self.item_final_.T

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, path: Path) -> None:
        import torch

        from lmrec.training.checkpoint import save_state

        if self.net_ is not None:
            save_state(path / "model.safetensors", self.net_.state_dict())
        save_state(path / "embeddings.safetensors", {
            "user_final": torch.from_numpy(self.user_final_), "item_final": torch.from_numpy(self.item_final_),
            "user_has_edges": torch.from_numpy(self.user_has_edges_.astype(np.uint8))})

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        from lmrec.training.checkpoint import load_state

        tables = load_state(path / "embeddings.safetensors")
        self.user_final_ = tables["user_final"].numpy().copy()
        self.item_final_ = tables["item_final"].numpy().copy()
        self.user_has_edges_ = tables["user_has_edges"].numpy().astype(bool)
        if item_vectors is not None and len(item_vectors) != len(self.item_final_):
            raise ValueError(f"{path}: the model has {len(self.item_final_)} items but {len(item_vectors)} "
                             "item vectors were given; they come from another dataset")
