"""Training loop for sequential recommenders (SASRec and its text variants).

Each epoch: shuffle the training windows (:mod:`lmrec.training.sequences`), predict the next
item at every position with full softmax cross-entropy over all catalog items, then evaluate
full-ranking NDCG@10 on the validation cases with the run's history-exclusion protocol. The
best epoch's weights are kept (and, with a ``run_dir``, checkpointed atomically), training
stops after ``patience`` epochs without improvement, and the best weights are restored.

With a ``run_dir`` the run is also resumable: after every epoch the whole training state (net,
optimizer, random generators, early-stopping state, history) replaces ``run_dir/train_state.pt``
atomically, and a run that finds that file goes on from the next epoch and ends with the same
weights and history as an uninterrupted one (``lmrec train --resume``). The epoch cap, time budget
and patience may grow (:data:`RESUMABLE_PARAMS`): a state that patience 10 ended, resumed with
patience 30, trains on exactly as a run with patience 30 would have; a cap or patience that would
have ended the saved run earlier is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from lmrec.training.early_stopping import EarlyStopping
from lmrec.training.sequences import left_pad, training_prefixes, training_windows

VALID_METRIC = "ndcg@10"

#: File in a run directory holding the resumable training state (deleted once the run is complete).
TRAIN_STATE = "train_state.pt"
TRAIN_STATE_FORMAT = "lmrec-sequential-train-state/1"
#: Hyper-parameters a resumed run may change: a larger epoch cap, time budget or early-stopping
#: patience extends a run (none of them changes what an epoch does, only when training ends).
RESUMABLE_PARAMS = ("epochs", "max_train_seconds", "patience")


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


def _sha1(*arrays: Any) -> str:
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _flat(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """``(lengths, concatenation)`` of a list of int arrays, both ``int64``."""
    lengths = np.array([len(x) for x in seqs], dtype=np.int64)
    return lengths, (np.concatenate(seqs).astype(np.int64) if len(seqs) else np.zeros(0, dtype=np.int64))


def train_state_key(model: SequentialModel, data: Any) -> dict[str, Any]:
    """What a saved training state must agree on to be resumed (plain JSON values).

    The model class and its ``config`` with the class's defaults filled in (so that states saved
    before an option existed stay resumable), the seed, the history-exclusion protocol, the split (name,
    sizes and a SHA-1 of every training and validation sequence) and a SHA-1 of the text inputs
    (``data.item_vectors`` ``[n_items, dim]`` and ``data.item_fields``), so that a state is never
    continued on other data or settings.
    """
    sp = data.split
    key: dict[str, Any] = {
        "model": type(model).__name__, "seed": int(data.seed),
        "config": _effective_config(type(model), model.config),
        "exclude_history": bool(data.exclude_history),
        "split": [sp.name, int(sp.n_users), int(sp.n_items), len(sp.train), len(sp.valid)],
        "train_sha1": _sha1(*_flat(sp.train)),
        "valid_sha1": _sha1(sp.valid.users, *_flat(sp.valid.histories), *_flat(sp.valid.targets)),
    }
    if data.item_vectors is not None:
        key["item_vectors_sha1"] = _sha1(data.item_vectors)
    fields = getattr(data, "item_fields", None)
    if fields is not None:
        key["item_fields_sha1"] = _sha1(fields.vectors, fields.mask)
    return json.loads(json.dumps(key, default=str))


def _effective_config(cls: type, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every keyword default of ``cls.__init__`` it lacks filled in, minus
    :data:`RESUMABLE_PARAMS`.

    A state saved before a model gained an option (its config has no entry for it) then matches a
    run that leaves the option at its default, and a model may write all its settings into its
    config. Options must therefore default to the behaviour the model had before they existed.
    """
    import inspect

    defaults = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty}
    return {k: v for k, v in {**defaults, **config}.items() if k not in RESUMABLE_PARAMS}


def _load_train_state(path: Path, key: dict[str, Any], model_class: type) -> dict[str, Any]:
    from lmrec.training.checkpoint import check_checkpoint_key, load_training_checkpoint

    fresh = (f"delete {path} (or, with `lmrec train`, pass --overwrite instead of --resume) to train from "
             "scratch")
    try:
        state = load_training_checkpoint(path)
    except ValueError as exc:
        reason = "corrupt or truncated" if "corrupt" in str(exc) else "not an lmrec training state"
        raise ValueError(f"training state {path} is {reason}; {fresh}") from exc
    if state.get("format") != TRAIN_STATE_FORMAT:
        raise ValueError(f"{path} is not an lmrec sequential training state; {fresh}")
    found = dict(state.get("key", {}))
    if isinstance(found.get("config"), dict) and found.get("model") == model_class.__name__:
        found["config"] = json.loads(json.dumps(_effective_config(model_class, found["config"]), default=str))
    check_checkpoint_key(path, found, key, what="training state", run="run",
                         remedy="resume with the same data and settings (where a model name's default changed since "
                                "the run started, e.g. sasrec-text's text_adaptor and scores, give the run's values "
                                f"with --param; `lmrec models` lists the names' defaults), or {fresh}")
    return state


def _check_only_extends(path: Path, history: dict[str, Any], first: int, cfg: dict[str, Any]) -> None:
    """Refuse a resume whose epoch cap or patience would have ended the saved run before it got this far.

    A resumed run must end where a run trained with its settings from the start ends; a smaller
    cap or patience than the saved run already went past cannot give that (the epochs are trained).
    """
    fresh = f"give a larger value (a resume only extends a run), or delete {path} to train from scratch"
    if cfg["epochs"] < first:
        raise ValueError(f"{path} has trained {first} epochs; epochs={cfg['epochs']} would have ended the run "
                         f"earlier: {fresh}")
    replay = EarlyStopping(patience=cfg["patience"])
    for row in history["epochs"][:-1]:      # a stop after the last trained epoch is where the run ends now
        replay.step(float(row[f"valid_{VALID_METRIC}"]), int(row["epoch"]), {})
        if replay.should_stop:
            raise ValueError(f"{path} has trained {first} epochs; patience={cfg['patience']} would have stopped "
                             f"the run after epoch {row['epoch']}: {fresh}")


def train_sequential(model: SequentialModel, data: Any) -> dict[str, Any]:
    """Fit ``model.net_`` on ``data.split.train``; returns the training history.

    ``data`` is the :class:`~lmrec.models.base.TrainData` given to the model's ``fit``
    (``split``, ``seed``, ``run_dir``, ``exclude_history``, ``show_progress`` are read).

    With ``data.run_dir`` (single-process runs), the training state is written to
    ``run_dir/train_state.pt`` (:data:`TRAIN_STATE`) after every epoch, atomically
    (:func:`~lmrec.training.checkpoint.save_training_checkpoint`); when that file is there at the
    start, training resumes after its last epoch, with the same batches, dropout noise and
    early-stopping state, so the result equals an uninterrupted run's (a killed run loses at most
    the epoch in progress). A state whose run ended by the epoch cap or the time budget goes on
    when resumed with a larger ``epochs`` / ``max_train_seconds`` (:data:`RESUMABLE_PARAMS`; every
    other setting must match); one ended by early stopping only restores its best weights.
    ``train_seconds`` then sums every invocation and ``resumed_at_epoch``
    lists where each resumption started.

    History keys: ``epochs`` (list of ``{"epoch", "loss", "valid_ndcg@10", "seconds"}``),
    ``best_epoch``, ``best_valid_ndcg@10``, ``stopped`` (``"patience" | "epochs" | "time"``),
    ``n_windows`` (training examples), ``train_target`` (``"last"`` or ``"all-positions"``, after
    resolving ``"auto"``), ``train_seconds``.

    Raises
    ------
    ValueError
        If the split has no sequence of 2+ items, or ``train_state.pt`` is corrupt or was written
        by another run (:func:`train_state_key`; the message names the file and the differing key).
    FloatingPointError
        If the training loss becomes NaN or infinite.
    """
    import torch

    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.training.checkpoint import save_training_checkpoint
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
    state_path = Path(data.run_dir) / TRAIN_STATE if data.run_dir is not None and not dist.enabled else None
    key = train_state_key(model, data) if state_path is not None else None
    first, prior_seconds, stopped = 0, 0.0, "epochs"
    if state_path is not None and state_path.exists():
        saved = _load_train_state(state_path, key, type(model))
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["optimizer"])
        rng.bit_generator.state = saved["numpy_rng"]
        torch.set_rng_state(saved["torch_rng"])
        es = saved["early_stopping"]
        stopper.best, stopper.best_epoch, stopper.bad_epochs = es["best"], es["best_epoch"], es["bad_epochs"]
        stopper.best_state = es["best_state"]
        history, first = saved["history"], int(saved["epoch"]) + 1
        _check_only_extends(state_path, history, first, cfg)
        prior_seconds = float(history.get("train_seconds", 0.0))
        # early stopping is re-judged with this run's patience: a larger one extends a run the saved
        # patience ended (as if it had been trained with it); one that would have stopped it earlier
        # was refused above, so at most the last trained epoch ends the run now
        stopped = "patience" if stopper.should_stop else "epochs"
        if stopped == "epochs" and cfg.get("max_train_seconds") and prior_seconds > cfg["max_train_seconds"]:
            stopped = "time"  # the budget is spent: resume with a larger max_train_seconds to go on
        if stopped == "epochs" and first < cfg["epochs"]:
            history.setdefault("resumed_at_epoch", []).append(first)
        if data.show_progress:
            print(f"  resuming from {state_path} after epoch {first - 1} (best epoch so far {stopper.best_epoch})",
                  flush=True)
    start = time.perf_counter()
    bs = cfg["batch_size"]
    finished = stopped != "epochs"  # early stopping or the spent budget ended the saved run
    for epoch in range(first, first if finished else cfg["epochs"]):
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
        elif (cfg.get("max_train_seconds")
              and dist.from_main(prior_seconds + time.perf_counter() - start) > cfg["max_train_seconds"]):
            stopped = "time"
        history["train_seconds"] = round(prior_seconds + time.perf_counter() - start, 2)
        if state_path is not None:
            save_training_checkpoint(state_path, {
                "format": TRAIN_STATE_FORMAT, "key": key, "epoch": epoch, "stopped": stopped,
                "net": net.state_dict(), "optimizer": opt.state_dict(), "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "history": history,
                "early_stopping": {"best": stopper.best, "best_epoch": stopper.best_epoch,
                                   "bad_epochs": stopper.bad_epochs, "best_state": stopper.best_state}})
        if stopped != "epochs":
            break
    net.load_state_dict(stopper.best_state)
    history.update(best_epoch=stopper.best_epoch, stopped=stopped,
                   train_seconds=round(prior_seconds + time.perf_counter() - start, 2))
    history[f"best_valid_{VALID_METRIC}"] = stopper.best
    return history
