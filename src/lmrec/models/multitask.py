"""Multi-task recommender: shared text-derived user and item representations, two heads.

Shared-bottom multi-task learning (Caruana, "Multitask Learning", Machine Learning 1997): one
representation of users and items feeds a **ranking head** (next-item / top-k retrieval) and a
**rating head** (explicit rating regression), trained jointly with per-task loss weights

.. math:: L = w_{rank} \\, L_{rank} + w_{rating} \\, L_{rating}.

Shared representations (all derived from frozen item text vectors, standardised per dimension):

* item ``v_i = item_tower(text_i)``, a ``Linear → LeakyReLU → Linear`` MLP;
* user ``u = mean_{j ∈ history} history_tower(text_j)`` — the user is the mean of their
  history items through a second MLP, as the item-similarity model FISM (Kabbur et al., KDD
  2013). While training, the item being predicted is left out of its user's mean (FISM's
  "exclude self"), so neither head can read the target off the input; at evaluation the
  history is the case's history (train + valid items for test cases), which never holds the
  target. No user ID parameters enter the shared part, so new users and cold items work.

Heads:

* ranking: ``score(u, i) = (W u + b) · v_i`` trained with full softmax cross-entropy over the
  items that have training interactions (or ``rank_negatives`` uniformly sampled ones);
* rating: ``r̂ = μ + b_u + b_i + MLP([u, v_i, u ⊙ v_i])``, trained with squared error on the
  training interactions that carry a rating, clipped to the training rating range at
  prediction; ``μ`` is the mean training rating, ``b_u`` / ``b_i`` learned user/item biases
  (zero for users/items without training ratings).

``task="ranking"`` / ``"rating"`` trains the single-task model (the other head's weight is 0),
the comparison the multi-task benchmark makes.

Ratings reach the model through :class:`SplitRatings` (``fit(data, ratings=…)``, or a
``ratings`` attribute of :class:`~lmrec.models.base.TrainData`), built by
:func:`split_ratings` so that they are aligned with the split: the model sees training and
validation ratings, never test ones. Without ratings (e.g. implicit data) only the ranking
head is trained and ``history_["rating_head"]`` says so.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lmrec.data.evalset import EvalSet
from lmrec.models.base import Recommender, TrainData

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from lmrec.data.dataset import RecDataset
    from lmrec.data.splits import Split

TASKS = ("joint", "ranking", "rating")
VALID_METRIC = "ndcg@10"


# ---------------------------------------------------------------------- ratings of a split

@dataclass
class SplitRatings:
    """Ratings aligned with a :class:`~lmrec.data.splits.Split`.

    Attributes
    ----------
    train:
        ``n_users`` ``float32`` arrays, one rating per item of ``split.train[u]`` (NaN: none).
    valid, test:
        One ``float32`` array per case, aligned with ``split.valid.targets`` / ``split.test.targets``.
    report:
        Counts: pairs with a rating, and held-out pairs whose ``(user, item)`` also occurs in
        training (a repeated rating, the only way a held-out rating could leak).
    """

    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray]
    report: dict[str, Any]


def split_ratings(dataset: "RecDataset", split: "Split") -> SplitRatings:
    """Look up the rating of every training pair and every valid/test target of ``split``.

    A ``(user, item)`` pair rated several times gets the mean of its ratings.

    Raises
    ------
    ValueError
        If the dataset has no rating at all (implicit feedback).
    """
    ratings = dataset.interactions["rating"].to_numpy(dtype=np.float64)
    if np.isnan(ratings).all():
        raise ValueError(f"dataset {dataset.name!r} has no ratings; the rating task needs explicit feedback "
                         "(e.g. ml-100k or an amazon2018-raw category)")
    n_items = split.n_items
    keys = dataset.user_index.astype(np.int64) * n_items + dataset.item_index.astype(np.int64)
    ok = ~np.isnan(ratings)
    uniq, inv = np.unique(keys[ok], return_inverse=True)
    mean = (np.bincount(inv, weights=ratings[ok]) / np.bincount(inv)).astype(np.float32)

    def lookup(user: int, items: np.ndarray) -> np.ndarray:
        k = user * n_items + np.asarray(items, dtype=np.int64)
        pos = np.minimum(np.searchsorted(uniq, k), max(len(uniq) - 1, 0))
        return np.where(uniq[pos] == k, mean[pos], np.nan).astype(np.float32)

    train = [lookup(u, t) for u, t in enumerate(split.train)]
    train_keys = np.unique(np.concatenate([u * n_items + np.asarray(t, np.int64) for u, t in enumerate(split.train)]
                                          or [np.zeros(0, np.int64)]))
    parts, report = {}, {}
    for name in ("valid", "test"):
        cases: EvalSet = getattr(split, name)
        parts[name] = [lookup(int(u), t) for u, t in zip(cases.users, cases.targets)]
        held = np.concatenate([int(u) * n_items + np.asarray(t, np.int64) for u, t in zip(cases.users, cases.targets)]
                              or [np.zeros(0, np.int64)])
        report[f"n_{name}_rated"] = int(sum(int(np.isfinite(r).sum()) for r in parts[name]))
        report[f"n_{name}_pairs_also_in_train"] = int(np.isin(held, train_keys).sum())
    report["n_train_rated"] = int(sum(int(np.isfinite(r).sum()) for r in train))
    return SplitRatings(train, parts["valid"], parts["test"], report)


def evaluate_rating(predict_fn, eval_set: EvalSet, ratings: list[np.ndarray]) -> dict[str, Any]:
    """RMSE and MAE of ``predict_fn`` on the rated targets of ``eval_set``.

    Parameters
    ----------
    predict_fn:
        ``predict_fn(users int64 [n], histories: n arrays, items int64 [n]) -> float [n]``
        (e.g. :meth:`MultiTask.predict_rating`); every target is one ``(user, item)`` pair.
    eval_set:
        The cases (their histories are the model's input).
    ratings:
        ``float32`` per case, aligned with ``eval_set.targets`` (NaN: not rated, skipped).

    Returns
    -------
    ``{"rmse", "mae", "n_ratings"}`` (rating units); ``rmse``/``mae`` are ``None`` without ratings.
    """
    users, hists, items, truth = [], [], [], []
    for u, h, t, r in zip(eval_set.users, eval_set.histories, eval_set.targets, ratings):
        for item, value in zip(np.asarray(t), np.asarray(r)):
            if np.isfinite(value):
                users.append(int(u)); hists.append(h); items.append(int(item)); truth.append(float(value))
    if not truth:
        return {"rmse": None, "mae": None, "n_ratings": 0}
    pred = np.asarray(predict_fn(np.array(users, np.int64), hists, np.array(items, np.int64)), dtype=np.float64)
    err = pred - np.asarray(truth)
    return {"rmse": float(np.sqrt(np.mean(err ** 2))), "mae": float(np.mean(np.abs(err))), "n_ratings": len(truth)}


# ---------------------------------------------------------------------- network

def build_multitask_net(text: np.ndarray, n_users: int, hidden: int, mlp_hidden: int, mu: float):
    """The shared towers and both heads (lazy so importing this file does not import torch)."""
    import torch
    from torch import nn

    def mlp(inp: int, out: int) -> nn.Module:
        return nn.Sequential(nn.Linear(inp, mlp_hidden), nn.LeakyReLU(), nn.Linear(mlp_hidden, out))

    class MultiTaskNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("text", torch.as_tensor(text), persistent=False)
            self.register_buffer("mu", torch.tensor(float(mu)))
            self.item_tower = mlp(text.shape[1], hidden)
            self.history_tower = mlp(text.shape[1], hidden)
            self.rank_head = nn.Linear(hidden, hidden)
            self.rating_head = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.LeakyReLU(), nn.Linear(hidden, 1))
            self.user_bias = nn.Embedding(n_users, 1)
            self.item_bias = nn.Embedding(len(text), 1)
            nn.init.zeros_(self.user_bias.weight)
            nn.init.zeros_(self.item_bias.weight)

        def tables(self) -> tuple["torch.Tensor", "torch.Tensor"]:
            """``(V, H)``: ``float32 [n_items, hidden]`` item and history-item representations."""
            return self.item_tower(self.text), self.history_tower(self.text)

        def rank_scores(self, user: "torch.Tensor", items: "torch.Tensor") -> "torch.Tensor":
            """``[b, hidden] × [c, hidden] → [b, c]`` ranking scores."""
            return self.rank_head(user) @ items.T

        def rating(self, user: "torch.Tensor", item: "torch.Tensor", users: "torch.Tensor",
                   items: "torch.Tensor") -> "torch.Tensor":
            """``[b, hidden]`` pairs → ``float32 [b]`` predicted ratings (unclipped)."""
            x = torch.cat([user, item, user * item], dim=-1)
            out = self.rating_head(x).squeeze(-1) + self.mu + self.item_bias(items).squeeze(-1)
            known = (users >= 0) & (users < self.user_bias.num_embeddings)
            ub = self.user_bias(users.clamp(0, self.user_bias.num_embeddings - 1)).squeeze(-1)
            return out + torch.where(known, ub, torch.zeros_like(ub))

    return MultiTaskNet()


# ---------------------------------------------------------------------- model

class MultiTask(Recommender):
    """Shared-bottom multi-task recommender on text features (see module docstring).

    Parameters
    ----------
    task:
        ``"joint"`` (both heads), ``"ranking"`` or ``"rating"`` (single-task baselines).
    rank_weight, rating_weight:
        Loss weights ``w_rank``, ``w_rating`` of the joint model (a single task sets the other
        weight to 0).
    hidden, mlp_hidden:
        Representation size and tower MLP width.
    rank_negatives:
        ``0``: full softmax over the items with training interactions; ``n > 0``: ``n``
        uniformly sampled negatives shared by the batch (sampled softmax, no correction).
    lr, weight_decay, batch_size, epochs, patience, max_train_seconds:
        Adam settings, training pairs per step, early stopping (validation NDCG@10; validation
        RMSE for ``task="rating"``) and an optional wall-time cap in seconds.

    Attributes
    ----------
    net_:
        The trained ``torch.nn.Module``.
    rating_range_:
        ``(min, max)`` training ratings used to clip predictions (``None`` without ratings).
    """

    name = "multitask"
    needs_item_vectors = True
    history_input = "text"
    has_user_state = True    # the rating head's per-user bias

    def __init__(self, task: str = "joint", rank_weight: float = 1.0, rating_weight: float = 1.0, hidden: int = 64,
                 mlp_hidden: int = 256, rank_negatives: int = 0, lr: float = 1e-3, weight_decay: float = 0.0,
                 batch_size: int = 512, epochs: int = 100, patience: int = 10, max_train_seconds: float = 0.0):
        if task not in TASKS:
            raise ValueError(f"MultiTask task must be one of {TASKS}, got {task!r}")
        if rank_weight < 0 or rating_weight < 0 or (task == "joint" and rank_weight + rating_weight == 0):
            raise ValueError(f"MultiTask loss weights must be ≥ 0 and not both 0 (got rank_weight={rank_weight}, "
                             f"rating_weight={rating_weight})")
        for key, value in (("hidden", hidden), ("mlp_hidden", mlp_hidden), ("batch_size", batch_size),
                           ("epochs", epochs), ("patience", patience)):
            if int(value) < 1:
                raise ValueError(f"MultiTask {key} must be ≥ 1, got {value}")
        if lr <= 0 or int(rank_negatives) < 0:
            raise ValueError(f"MultiTask needs lr > 0 and rank_negatives ≥ 0 (got {lr}, {rank_negatives})")
        super().__init__(task=task, rank_weight=rank_weight, rating_weight=rating_weight, hidden=hidden,
                         mlp_hidden=mlp_hidden, rank_negatives=rank_negatives, lr=lr, weight_decay=weight_decay,
                         batch_size=batch_size, epochs=epochs, patience=patience,
                         max_train_seconds=max_train_seconds)
        self.net_ = None
        self.rating_range_: tuple[float, float] | None = None

    def task_weights(self, has_ratings: bool = True) -> tuple[float, float]:
        """Effective ``(w_rank, w_rating)`` for this task (rating weight 0 without ratings)."""
        c = self.config
        w_rank = 0.0 if c["task"] == "rating" else float(c["rank_weight"] if c["task"] == "joint" else 1.0)
        w_rate = 0.0 if c["task"] == "ranking" else float(c["rating_weight"] if c["task"] == "joint" else 1.0)
        return w_rank, (w_rate if has_ratings else 0.0)

    def extra_train_data(self, dataset: "RecDataset", split: "Split") -> dict[str, Any]:
        """``{"ratings": split_ratings(dataset, split)}`` when the dataset has explicit ratings,
        else ``{}`` (implicit data: only the ranking head is trained)."""
        if dataset.interactions["rating"].notna().any():
            return {"ratings": split_ratings(dataset, split)}
        return {}

    def _build(self, vectors: np.ndarray, n_users: int, mu: float) -> None:
        from lmrec.models.sasrec import standardize_text_vectors

        self.n_items_ = len(vectors)
        self.net_ = build_multitask_net(standardize_text_vectors(vectors), n_users, self.config["hidden"],
                                        self.config["mlp_hidden"], mu)
        self._tables: tuple[np.ndarray, ...] | None = None

    # ------------------------------------------------------------------ loss
    def loss(self, users: "torch.Tensor", items: "torch.Tensor", ratings: "torch.Tensor", user_sum: "torch.Tensor",
             user_count: "torch.Tensor", candidates: "torch.Tensor | None", position: "torch.Tensor | None",
             weights: tuple[float, float]) -> tuple["torch.Tensor", dict[str, float]]:
        """Weighted multi-task loss of one batch of training pairs.

        Parameters
        ----------
        users, items:
            ``int64 [b]`` training pairs; ``ratings`` ``float32 [b]`` (NaN: unrated).
        user_sum, user_count:
            ``float32 [n_users, hidden]`` sums of the history-tower rows of each user's training
            items, and ``float32 [n_users]`` their counts (the item itself is subtracted here).
        candidates, position:
            Items in the ranking softmax (``int64 [c]``) and item → column (``int64 [n_items]``).
        weights:
            ``(w_rank, w_rating)``; a weight of 0 skips that head entirely (no gradient from it).

        Returns
        -------
        ``(loss, {"rank": …, "rating": …})`` with the unweighted per-task values.
        """
        import torch
        import torch.nn.functional as F

        net = self.net_
        v, h = net.tables()
        # leave-self-out user mean (FISM): the predicted item is not part of its user's input
        count = (user_count[users] - 1).clamp(min=1).unsqueeze(-1)
        user = (user_sum[users] - h[items]) / count
        total = torch.zeros(())
        parts: dict[str, float] = {}
        if weights[0] > 0:
            cand = v if candidates is None else v[candidates]
            labels = items if position is None else position[items]
            rank = F.cross_entropy(net.rank_scores(user, cand), labels)
            total = total + weights[0] * rank
            parts["rank"] = float(rank.detach())
        rated = torch.isfinite(ratings)
        if weights[1] > 0 and bool(rated.any()):
            pred = net.rating(user[rated], v[items[rated]], users[rated], items[rated])
            rate = F.mse_loss(pred, ratings[rated])
            total = total + weights[1] * rate
            parts["rating"] = float(rate.detach())
        return total, parts

    # ------------------------------------------------------------------ training
    def fit(self, data: TrainData, ratings: SplitRatings | None = None) -> "MultiTask":
        """Train on ``data.split.train`` (and its ratings), early-stopping on validation.

        Parameters
        ----------
        data:
            Split and ``float32 [n_items, dim]`` item text vectors.
        ratings:
            From :func:`split_ratings` (falls back to ``data.ratings`` when that attribute
            exists). ``None``: ranking head only, with a warning.

        Raises
        ------
        ValueError
            Without item vectors, for ``task="rating"`` without ratings, or without training pairs.
        """
        import torch

        split = data.split
        if data.item_vectors is None or len(data.item_vectors) != split.n_items:
            raise ValueError(f"MultiTask needs item text vectors with {split.n_items} rows")
        ratings = ratings if ratings is not None else getattr(data, "ratings", None)
        c = self.config
        if ratings is None:
            if c["task"] == "rating":
                raise ValueError("MultiTask task='rating' needs ratings: pass fit(data, ratings=split_ratings(dataset, "
                                 "split)) on a dataset with explicit ratings")
            warnings.warn("MultiTask: no ratings given, only the ranking head is trained", stacklevel=2)
        users = np.repeat(np.arange(split.n_users, dtype=np.int64), [len(t) for t in split.train])
        items = np.concatenate(split.train).astype(np.int64) if split.train else np.zeros(0, np.int64)
        if not len(items):
            raise ValueError("MultiTask: the split has no training interaction")
        r = (np.concatenate(ratings.train).astype(np.float32) if ratings is not None
             else np.full(len(items), np.nan, np.float32))
        has_ratings = bool(np.isfinite(r).any())
        if c["task"] == "rating" and not has_ratings:
            raise ValueError("MultiTask task='rating': no training interaction has a rating")
        mu = float(np.nanmean(r)) if has_ratings else 0.0
        weights = self.task_weights(has_ratings)
        # only a trained rating head predicts ratings (predict_rating raises otherwise)
        self.rating_range_ = (float(np.nanmin(r)), float(np.nanmax(r))) if weights[1] > 0 else None
        torch.manual_seed(data.seed)
        rng = np.random.default_rng(data.seed)
        self._build(data.item_vectors, split.n_users, mu)
        self.history_ = self._train(data, users, items, r, ratings, weights, rng)
        self.history_["rating_head"] = "trained" if weights[1] > 0 else (
            "untrained (no ratings)" if not has_ratings else "untrained (ranking-only task)")
        self.history_["task_weights"] = {"rank": weights[0], "rating": weights[1]}
        return self

    def _train(self, data: TrainData, users: np.ndarray, items: np.ndarray, r: np.ndarray,
               ratings: SplitRatings | None, weights: tuple[float, float], rng: np.random.Generator) -> dict[str, Any]:
        import torch

        from lmrec.evaluation.ranking import evaluate_ranking
        from lmrec.training.early_stopping import EarlyStopping

        c, net, split = self.config, self.net_, data.split
        n_users, n_items = split.n_users, split.n_items
        counts = torch.from_numpy(np.bincount(users, minlength=n_users).astype(np.float32))
        member = torch.sparse_coo_tensor(torch.from_numpy(np.stack([users, items])),
                                         torch.ones(len(items)), (n_users, n_items), check_invariants=True).coalesce()
        warm = np.unique(items)
        pos = np.full(n_items, -1, dtype=np.int64)
        pos[warm] = np.arange(len(warm))
        warm_t, pos_t = torch.from_numpy(warm), torch.from_numpy(pos)
        opt = torch.optim.Adam(net.parameters(), lr=c["lr"], weight_decay=c["weight_decay"])
        stopper = EarlyStopping(patience=c["patience"])
        rating_only = weights[0] == 0
        has_valid = len(split.valid) > 0 and (not rating_only or ratings is not None)
        history: dict[str, Any] = {"epochs": [], "n_train_pairs": int(len(items)),
                                   "valid_metric": "-rmse" if rating_only else VALID_METRIC}
        start, stopped, bs = time.perf_counter(), "epochs", c["batch_size"]
        for epoch in range(c["epochs"]):
            t0 = time.perf_counter()
            net.train()
            sums = {"rank": 0.0, "rating": 0.0}
            n_batches = 0
            order = rng.permutation(len(items))
            for b0 in range(0, len(order), bs):
                sel = order[b0:b0 + bs]
                if c["rank_negatives"]:
                    k = min(int(c["rank_negatives"]), len(warm))
                    cand_np = np.unique(np.concatenate([items[sel], rng.choice(warm, size=k, replace=False)]))
                    cand = torch.from_numpy(cand_np)
                    col = torch.full((n_items,), -1, dtype=torch.long)
                    col[cand] = torch.arange(len(cand_np))
                else:
                    cand, col = warm_t, pos_t
                _, h = net.tables()
                user_sum = torch.sparse.mm(member, h)
                loss, parts = self.loss(torch.from_numpy(users[sel]), torch.from_numpy(items[sel]),
                                        torch.from_numpy(r[sel]), user_sum, counts, cand, col, weights)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for key, value in parts.items():
                    sums[key] += value
                n_batches += 1
            if not all(math.isfinite(v) for v in sums.values()):
                raise FloatingPointError(f"MultiTask loss became non-finite at epoch {epoch}; lower lr ({c['lr']})")
            self._tables = None
            row: dict[str, Any] = {"epoch": epoch, **{f"loss_{k}": round(v / max(1, n_batches), 5)
                                                      for k, v in sums.items()}}
            value = float("nan")
            if len(split.valid):
                if not rating_only:
                    res = evaluate_ranking(self.score, split.valid, n_items, ks=(10,),
                                           exclude_history=data.exclude_history)
                    row[f"valid_{VALID_METRIC}"] = round(float(res["metrics"][VALID_METRIC]), 5)
                    value = row[f"valid_{VALID_METRIC}"]
                if ratings is not None and weights[1] > 0:
                    rmse = evaluate_rating(self.predict_rating, split.valid, ratings.valid)["rmse"]
                    row["valid_rmse"] = None if rmse is None else round(rmse, 5)
                    if rating_only:
                        value = -rmse if rmse is not None else float("nan")
            row["seconds"] = round(time.perf_counter() - t0, 2)
            history["epochs"].append(row)
            improved = stopper.step(value if has_valid else float(epoch), epoch, net.state_dict())
            if data.show_progress:
                print(f"  epoch {epoch:3d}  " + "  ".join(f"{k} {v}" for k, v in row.items() if k != "epoch")
                      + ("  *" if improved else ""), flush=True)
            if improved and data.run_dir is not None:
                self.save(data.run_dir / "model")
            if stopper.should_stop:
                stopped = "patience"
                break
            if c["max_train_seconds"] and time.perf_counter() - start > c["max_train_seconds"]:
                stopped = "time"
                break
        net.load_state_dict(stopper.best_state)
        self._tables = None
        history.update(best_epoch=stopper.best_epoch, stopped=stopped,
                       train_seconds=round(time.perf_counter() - start, 2))
        history["best_valid"] = stopper.best if has_valid else None
        return history

    # ------------------------------------------------------------------ inference
    def _inference_tables(self) -> tuple[np.ndarray, np.ndarray]:
        import torch

        if self.net_ is None:
            raise RuntimeError("MultiTask: call fit() or load a saved model first")
        if self._tables is None:
            self.net_.eval()
            with torch.inference_mode():
                v, h = self.net_.tables()
            self._tables = (v.numpy().copy(), h.numpy().copy())
        return self._tables

    def user_representations(self, histories: list[np.ndarray]) -> np.ndarray:
        """``float32 [b, hidden]`` shared user representations: mean history-tower row of each
        history (zeros for an empty history)."""
        _, h = self._inference_tables()
        out = np.zeros((len(histories), h.shape[1]), dtype=np.float32)
        for row, hist in enumerate(histories):
            if len(hist):
                out[row] = h[np.asarray(hist, dtype=np.int64)].mean(axis=0)
        return out

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """Ranking-head scores ``float32 [b, n_items]`` (cold items scored from their text)."""
        import torch

        v, _ = self._inference_tables()
        user = torch.from_numpy(self.user_representations(histories))
        with torch.inference_mode():
            return self.net_.rank_scores(user, torch.from_numpy(v)).numpy()

    def predict_rating(self, users: np.ndarray, histories: list[np.ndarray], items: np.ndarray) -> np.ndarray:
        """Rating-head predictions ``float32 [n]`` for pairs ``(users[k], items[k])`` given each
        user's history, clipped to the training rating range.

        Raises
        ------
        RuntimeError
            If the model was trained without ratings.
        """
        import torch

        if self.rating_range_ is None:
            raise RuntimeError("MultiTask: the rating head of this model was not trained (no ratings, or "
                               "task='ranking'); it cannot predict ratings")
        v, _ = self._inference_tables()
        items = np.asarray(items, dtype=np.int64)
        user = torch.from_numpy(self.user_representations(histories))
        with torch.inference_mode():
            pred = self.net_.rating(user, torch.from_numpy(v[items]), torch.from_numpy(np.asarray(users, np.int64)),
                                    torch.from_numpy(items)).numpy()
        return np.clip(pred, *self.rating_range_).astype(np.float32)

    # ------------------------------------------------------------------ persistence
    def _save_weights(self, path: Path) -> None:
        import json
        import os

        from lmrec.training.checkpoint import save_state

        save_state(path / "model.safetensors", self.net_.state_dict())
        tmp = path / "rating_range.json.tmp"
        tmp.write_text(json.dumps(self.rating_range_))
        os.replace(tmp, path / "rating_range.json")

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        import json

        from lmrec.training.checkpoint import load_state

        if item_vectors is None:
            raise ValueError(f"{path}: MultiTask needs the item text vectors to load")
        state = load_state(path / "model.safetensors")
        if int(state["item_bias.weight"].shape[0]) != len(item_vectors):
            raise ValueError(f"{path}: the model has {int(state['item_bias.weight'].shape[0])} items but "
                             f"{len(item_vectors)} item vectors were given")
        self._build(item_vectors, int(state["user_bias.weight"].shape[0]), float(state["mu"]))
        self.net_.load_state_dict(state)
        rr = json.loads((path / "rating_range.json").read_text())
        self.rating_range_ = tuple(rr) if rr is not None else None
