"""Training loop for sequential recommenders (SASRec and its text variants).

Each epoch: shuffle the training windows (:mod:`lmrec.training.sequences`), predict the next
item at every position with full softmax cross-entropy over all catalog items, then evaluate
full-ranking NDCG@10 on the validation cases with the run's history-exclusion protocol. The
best epoch's weights are kept (and, with a ``run_dir``, checkpointed atomically), training
stops after ``patience`` epochs without improvement, and the best weights are restored.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lmrec.training.early_stopping import EarlyStopping
from lmrec.training.sequences import left_pad, training_prefixes, training_windows

VALID_METRIC = "ndcg@10"


class SequentialModel(Protocol):
    """What :func:`train_sequential` trains: a recommender wrapping a next-item network.

    :class:`~lmrec.models.sasrec.SASRec` and the models built on it satisfy it. The loop takes
    the model as an argument, so ``lmrec.training`` imports no concrete model.

    Attributes
    ----------
    config:
        Hyper-parameters read by the loop: ``max_len``, ``lr``, ``weight_decay``, ``patience``,
        ``batch_size``, ``epochs`` and optionally ``train_negatives``, ``max_train_seconds``.
    net_:
        ``torch.nn.Module`` mapping ``int64 [b, L]`` windows and an item table
        ``[n_items + 1, hidden]`` (``net_.item_table()``) to ``[b, L, hidden]`` states.
    """

    config: dict[str, Any]
    net_: Any

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """``float32 [b, n_items]`` scores (used for validation)."""

    def save(self, path: str | Path) -> None:
        """Checkpoint the model into directory ``path``."""


def length_bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of window indices with similar lengths (little padding), in random order.

    Windows are sorted by length with random tie-breaking, cut into batches of ``batch_size``,
    and the batches are shuffled — every window appears exactly once per epoch.
    """
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def next_item_loss(net, seq, table, candidates=None, position=None, last_only: bool = False):
    """Mean softmax cross-entropy of next-item prediction over all non-padding positions.

    ``seq``: ``int64 [b, L + 1]`` right-aligned windows (0 = padding, item ``i`` as ``i + 1``).
    Inputs are ``seq[:, :-1]``, targets ``seq[:, 1:]``; logits ``[n_positions, n_candidates]``.
    ``candidates`` (``int64 [n_candidates]`` item indices) restricts the softmax, e.g. to the
    items that exist at training time; ``position`` (``int64 [n_items]``) maps an item index
    to its column among the candidates. ``None``: all catalog items. ``last_only``: train only
    the last position of each window (RecBole's prefix-augmented objective).
    """
    import torch.nn.functional as F

    inputs, targets = seq[:, :-1], seq[:, 1:]
    h = net(inputs, table)
    keep = (targets > 0) & (inputs > 0)
    if last_only:
        keep[:, :-1] = False
    items = table[1:] if candidates is None else table[1:][candidates]
    labels = targets[keep] - 1 if position is None else position[targets[keep] - 1]
    return F.cross_entropy(h[keep] @ items.T, labels)


#: ``train_target="auto"`` trains RecBole's prefix-augmented last-position objective when the mean
#: training sequence (cut to ``max_len``) is at most this long, else every position of each window:
#: the prefixes of a sequence of length n cost about n / 2 times the tokens of its windows.
AUTO_PREFIX_MAX_MEAN_LEN = 20


def resolve_train_target(target: str, train: list[np.ndarray], max_len: int) -> str:
    """``"last"`` or ``"all-positions"`` for a model's ``train_target`` (``"auto"`` decided by
    the mean length of the training sequences, capped at ``max_len``; see
    :data:`AUTO_PREFIX_MAX_MEAN_LEN`)."""
    if target != "auto":
        return target
    lengths = [min(len(s), max_len) for s in train if len(s) >= 2]
    return "last" if lengths and float(np.mean(lengths)) <= AUTO_PREFIX_MAX_MEAN_LEN else "all-positions"


def train_sequential(model: SequentialModel, data: Any) -> dict[str, Any]:
    """Fit ``model.net_`` on ``data.split.train``; returns the training history.

    ``data`` is the :class:`~lmrec.models.base.TrainData` given to the model's ``fit``
    (``split``, ``seed``, ``run_dir``, ``exclude_history``, ``show_progress`` are read).

    History keys: ``epochs`` (list of ``{"epoch", "loss", "valid_ndcg@10", "seconds"}``),
    ``best_epoch``, ``best_valid_ndcg@10``, ``stopped`` (``"patience" | "epochs" | "time"``),
    ``n_windows`` (training examples), ``train_target`` (``"last"`` or ``"all-positions"``, after
    resolving ``"auto"``), ``train_seconds``.
    """
    import torch

    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.training.distributed import context

    cfg = model.config
    net = model.net_
    torch.manual_seed(data.seed)
    dist = context()  # single process unless launched by torchrun (see lmrec.training.distributed)
    train_net = dist.wrap(net)
    if dist.enabled:  # dropout noise per rank; rank 0 keeps the single-process stream
        torch.manual_seed(data.seed + dist.rank)
    rng = np.random.default_rng(data.seed)
    target = resolve_train_target(cfg.get("train_target", "all-positions"), data.split.train, cfg["max_len"])
    last_only = target == "last"
    windows = (training_prefixes if last_only else training_windows)(data.split.train, cfg["max_len"])
    if not windows:
        raise ValueError("no training sequence has 2 or more items; SASRec cannot be trained on this split")
    lengths = np.array([len(w) for w in windows])
    candidates = position = None
    if cfg.get("train_negatives", "all") == "train_items":  # cold items are not in the training softmax
        warm = np.flatnonzero(data.split.warm_items)
        candidates = torch.from_numpy(warm)
        pos = np.full(data.split.n_items, -1, dtype=np.int64)
        pos[warm] = np.arange(len(warm))
        position = torch.from_numpy(pos)
    opt = torch.optim.Adam(net.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    stopper = EarlyStopping(patience=cfg["patience"])
    history: dict[str, Any] = {"epochs": [], "n_windows": len(windows), "train_target": target}
    start = time.perf_counter()
    stopped = "epochs"
    bs = cfg["batch_size"]
    for epoch in range(cfg["epochs"]):
        t0 = time.perf_counter()
        net.train()
        total, n_batches = 0.0, 0
        for idx in dist.shard(length_bucketed_batches(lengths, bs, rng)):  # this rank's slice of each batch
            batch = [windows[i] for i in idx]
            seq = torch.from_numpy(left_pad(batch, cfg["max_len"] + 1))
            loss = next_item_loss(train_net, seq, net.item_table(), candidates, position, last_only)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach())
            n_batches += 1
        if not math.isfinite(total):
            raise FloatingPointError(f"training loss became {total} at epoch {epoch}; lower the learning rate "
                                     f"(lr={cfg['lr']})")
        valid = evaluate_ranking(model.score, data.split.valid, data.split.n_items, ks=(10,),
                                 exclude_history=data.exclude_history)
        value = dist.from_main(float(valid["metrics"][VALID_METRIC]))
        improved = stopper.step(value, epoch, net.state_dict())
        row = {"epoch": epoch, "loss": round(dist.mean(total / max(1, n_batches)), 5), f"valid_{VALID_METRIC}": round(value, 5),
               "seconds": round(time.perf_counter() - t0, 2)}
        history["epochs"].append(row)
        if data.show_progress and dist.is_main:
            print(f"  epoch {epoch:3d}  loss {row['loss']:.4f}  valid {VALID_METRIC} {value:.4f}"
                  f"{'  *' if improved else ''}  ({row['seconds']:.1f}s)", flush=True)
        if improved and data.run_dir is not None and dist.is_main:
            model.save(data.run_dir / "model")
        if stopper.should_stop:
            stopped = "patience"
            break
        if cfg.get("max_train_seconds") and dist.from_main(time.perf_counter() - start) > cfg["max_train_seconds"]:
            stopped = "time"
            break
    net.load_state_dict(stopper.best_state)
    history.update(best_epoch=stopper.best_epoch, stopped=stopped,
                   train_seconds=round(time.perf_counter() - start, 2))
    history[f"best_valid_{VALID_METRIC}"] = stopper.best
    return history
