"""Multi-domain pre-training loops (UniSRec, ZESRec) and zero-shot evaluation.

The loops take the network they train as an argument; building a model, wrapping the result
in a :class:`~lmrec.models.pretrained.PretrainedModel` and fine-tuning live with each model
(:func:`lmrec.models.unisrec.pretrain_unisrec`, :func:`lmrec.models.unisrec.finetune_unisrec`,
:func:`lmrec.models.zesrec.pretrain_zesrec`), so ``lmrec.training`` imports no concrete model.

* :func:`train_unisrec_contrastive` — UniSRec's pre-training (Hou et al., KDD 2022, Sec. 3.2):
  every prefix of every source sequence is an example ``(history → next item)``; batches mix
  all domains; loss = sequence–item contrast + λ · sequence–sequence contrast
  (:mod:`lmrec.training.contrastive`), the augmented view being the history with items dropped
  (p = 0.2) *and* the item texts word-dropped (p = 0.15; vectors precomputed once, see
  :func:`lmrec.transfer.encode_word_drop`). Only the items of the batch go through the
  adaptor, so the cost does not grow with the number of domains.
* :func:`train_zesrec` — ZESRec (Ding et al. 2021): next-item softmax over the batch's items,
  from the learned start item onwards; model selection on held-out *source* sequences
  (:func:`zesrec_recall`).
* :func:`zero_shot_evaluate` — evaluate a pre-trained model on a target split while asserting
  that nothing reads the target's training sequences (:class:`TrainAccessGuard`).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import torch

from lmrec.training.contrastive import LAMBDA, TEMPERATURE, item_drop, unisrec_pretrain_loss
from lmrec.training.sequences import left_aligned, left_pad, training_windows


@dataclass
class PretrainConfig:
    """Hyper-parameters of multi-domain pre-training.

    Attributes
    ----------
    hidden, n_layers, n_heads, inner, dropout, max_len, n_experts, adaptor_dropout:
        UniSRec architecture (300, 2, 2, 256, 0.5, 50, 8, 0.2).
    temperature, lam:
        Contrastive temperature (0.07) and weight of the sequence–sequence loss (1e-3).
    item_drop, word_drop, n_word_drop_variants:
        Augmentations (0.2, 0.15) and the number of word-dropped text vectors precomputed per item.
    lr, batch_size, epochs, max_train_seconds:
        Adam; stop after ``epochs`` passes or ``max_train_seconds`` seconds (0 = no limit).
    zesrec_hidden:
        ZESRec item/user vector size.
    seed:
        The one seed.
    """

    hidden: int = 300
    n_layers: int = 2
    n_heads: int = 2
    inner: int = 256
    dropout: float = 0.5
    max_len: int = 50
    n_experts: int = 8
    adaptor_dropout: float = 0.2
    temperature: float = TEMPERATURE
    lam: float = LAMBDA
    item_drop: float = 0.2
    word_drop: float = 0.15
    n_word_drop_variants: int = 1
    lr: float = 1e-3
    batch_size: int = 512
    epochs: int = 10
    max_train_seconds: float = 0.0
    zesrec_hidden: int = 128
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def prefix_examples(seqs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every ``(sequence number, position t ≥ 1)`` pair: history ``s[:t]`` predicts ``s[t]``.

    Returns two ``int64 [n_examples]`` arrays.
    """
    rows = [(i, t) for i, s in enumerate(seqs) for t in range(1, len(s))]
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _bucketed(order: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Cut a shuffled ``order`` into batches of similar length (sorting within 16-batch blocks)."""
    out = []
    block = batch_size * 16
    for i in range(0, len(order), block):
        chunk = order[i:i + block]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    return [out[i] for i in rng.permutation(len(out))]


def train_unisrec_contrastive(net, md, vectors: np.ndarray, aug_vectors: np.ndarray, cfg: PretrainConfig, *,
                              show_progress: bool = False) -> dict[str, Any]:
    """Pre-train ``net`` (a :class:`~lmrec.models.unisrec.UniSRecNet`) on every domain of ``md`` at once.

    Parameters
    ----------
    net:
        The network to train in place; it needs ``represent(text [m, dim]) -> [m, hidden]`` and
        ``encode(seq int64 [b, L], table [m + 1, hidden]) -> [b, L, hidden]``.
    md:
        :class:`~lmrec.data.multidomain.MultiDomainDataset` of the source domains.
    vectors:
        ``float32 [md.n_items, dim]`` text vectors (global order).
    aug_vectors:
        ``float32 [n_variants, md.n_items, dim]`` word-dropped text vectors.
    cfg:
        :class:`PretrainConfig` (``seed`` seeds the batch order and the item drop).

    Returns
    -------
    History: ``n_examples``, ``epochs`` (per-epoch losses, batches, seconds), ``stopped``
    (``"epochs" | "time"``), ``train_seconds``.

    Raises
    ------
    ValueError
        If the vectors do not have the shapes above.
    FloatingPointError
        If the loss becomes NaN or infinite.
    """
    if vectors.shape[0] != md.n_items or aug_vectors.shape[1:] != vectors.shape:
        raise ValueError(f"pre-training needs vectors [{md.n_items}, dim] and augmented vectors "
                         f"[n_variants, {md.n_items}, dim]; got {vectors.shape} and {aug_vectors.shape}")
    rng = np.random.default_rng(cfg.seed)
    text = torch.from_numpy(np.asarray(vectors, dtype=np.float32))
    aug = torch.from_numpy(np.asarray(aug_vectors, dtype=np.float32))
    seqs, _ = md.sequences()
    seq_id, pos = prefix_examples(seqs)
    lengths = np.minimum(pos, cfg.max_len)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    history: dict[str, Any] = {"n_examples": int(len(pos)), "epochs": []}
    start = time.perf_counter()
    stopped = "epochs"
    for epoch in range(cfg.epochs):
        t0 = time.perf_counter()
        net.train()
        sums = {"loss": 0.0, "seq_item": 0.0, "seq_seq": 0.0}
        n_batches = 0
        for idx in _bucketed(rng.permutation(len(pos)), lengths, cfg.batch_size, rng):
            hists = [seqs[seq_id[i]][max(0, pos[i] - cfg.max_len):pos[i]] for i in idx]
            targets = np.array([seqs[seq_id[i]][pos[i]] for i in idx], dtype=np.int64)
            hists_aug = item_drop(hists, cfg.item_drop, rng)
            used, inverse = np.unique(np.concatenate([*hists, *hists_aug, targets]), return_inverse=True)
            local = np.full(md.n_items, -1, dtype=np.int64)
            local[used] = np.arange(len(used))
            u = torch.from_numpy(used)
            raw = net.represent(text[u])
            raw_aug = net.represent(aug[int(rng.integers(len(aug)))][u])
            zero = torch.zeros(1, raw.shape[1])
            s = net.encode(torch.from_numpy(left_pad([local[h] for h in hists], cfg.max_len)),
                           torch.cat([zero, raw]))[:, -1]
            s_aug = net.encode(torch.from_numpy(left_pad([local[h] for h in hists_aug], cfg.max_len)),
                               torch.cat([zero, raw_aug]))[:, -1]
            tgt = torch.from_numpy(targets)
            loss, parts = unisrec_pretrain_loss(s, raw[torch.from_numpy(local[targets])], s_aug, tgt,
                                                lam=cfg.lam, temperature=cfg.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums["loss"] += float(loss.detach()); sums["seq_item"] += parts["seq_item"]; sums["seq_seq"] += parts["seq_seq"]
            n_batches += 1
            if cfg.max_train_seconds and time.perf_counter() - start > cfg.max_train_seconds:
                stopped = "time"
                break
        row = {"epoch": epoch, **{k: round(v / max(1, n_batches), 5) for k, v in sums.items()},
               "batches": n_batches, "seconds": round(time.perf_counter() - t0, 2)}
        history["epochs"].append(row)
        if not np.isfinite(row["loss"]):
            raise FloatingPointError(f"pre-training loss became {row['loss']} at epoch {epoch}; lower lr ({cfg.lr})")
        if show_progress:
            print(f"  pretrain epoch {epoch}  loss {row['loss']:.4f}  (seq-item {row['seq_item']:.4f}, "
                  f"seq-seq {row['seq_seq']:.4f})  {row['batches']} batches  {row['seconds']:.1f}s", flush=True)
        if stopped == "time":
            break
    history.update(stopped=stopped, train_seconds=round(time.perf_counter() - start, 2))
    return history


def zesrec_recall(net, valid: list[np.ndarray], text: torch.Tensor, item_group: np.ndarray | None = None,
                  k: int = 10) -> float:
    """Recall@``k`` of a :class:`~lmrec.models.zesrec.ZESRecNet` on held-out sequences.

    Each sequence ``s`` (``int64`` rows of ``text``, length ≥ 2) asks for ``s[-1]`` from
    ``s[:-1]``, ranked by full ranking over the items of the target's group (``item_group``:
    ``int64 [n_items]`` domain number per item; ``None``: all items). History items stay
    candidates (RecBole full sort).
    """
    net.eval()
    with torch.inference_mode():
        items = net.items(text)
        seq, lengths = left_aligned([s[:-1] for s in valid], net.max_len)
        users = net.users(items[torch.from_numpy(np.maximum(seq, 0))], torch.from_numpy(lengths))
        scores = net.similarity(users[torch.arange(len(valid)), torch.from_numpy(lengths)], items).numpy()
    targets = np.array([s[-1] for s in valid], dtype=np.int64)
    if item_group is not None:
        scores = np.where(item_group[None, :] == item_group[targets][:, None], scores, -np.inf)
    rank = (scores > scores[np.arange(len(valid)), targets][:, None]).sum(axis=1)
    return float((rank < k).mean())


def train_zesrec(net, seqs: list[np.ndarray], text: torch.Tensor, config: dict[str, Any], *, seed: int = 0,
                 valid: list[np.ndarray] | None = None, item_group: np.ndarray | None = None,
                 show_progress: bool = False) -> dict[str, Any]:
    """Train a :class:`~lmrec.models.zesrec.ZESRecNet` on item sequences.

    Each window ``w`` (see :mod:`lmrec.training.sequences`) trains, at every position ``t`` (from
    the start item, ``t = 0``), the prediction of ``w[t]`` from ``w[:t]``; the softmax of
    ``cos/τ`` scores runs over the distinct items of the batch (in-batch negatives, several
    domains when ``seqs`` mixes them).

    With ``valid`` sequences, Recall@10 on them (:func:`zesrec_recall`, ranking within each
    target's ``item_group``) is measured before training and after every epoch; the best state
    is kept (the untrained net, whose skip paths rank by text similarity, is a candidate) and
    training stops after ``config["patience"]`` (default 3) epochs without improvement.

    Parameters
    ----------
    seqs:
        ``int64`` arrays of row numbers of ``text``.
    text:
        ``float [n_items, text_dim]`` text vectors.
    config:
        ``max_len``, ``lr``, ``batch_size``, ``epochs``, ``max_train_seconds`` (, ``patience``).
    valid, item_group:
        Held-out sequences (never trained on) and ``int64 [n_items]`` item groups, or ``None``.

    Returns
    -------
    History: ``epochs`` (loss, seconds, ``valid_recall@10``), ``stopped``, ``train_seconds``,
    ``n_windows``, and with ``valid`` also ``best_epoch`` (-1 = untrained), ``valid_recall@10_untrained``,
    ``best_valid_recall@10``, ``n_valid``.
    """
    from lmrec.training.contrastive import in_batch_softmax_loss
    from lmrec.training.trainer import length_bucketed_batches

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    windows = training_windows(seqs, config["max_len"])
    if not windows:
        raise ValueError("no training sequence has 2 or more items; ZESRec cannot be trained")
    lengths = np.array([len(w) for w in windows])
    opt = torch.optim.Adam(net.parameters(), lr=config["lr"])
    history: dict[str, Any] = {"n_windows": len(windows), "epochs": []}
    best = None
    if valid:
        r0 = zesrec_recall(net, valid, text, item_group)
        best = {"value": r0, "epoch": -1, "state": {k: v.detach().clone() for k, v in net.state_dict().items()}}
        history.update({"n_valid": len(valid), "valid_recall@10_untrained": round(r0, 5)})
        if show_progress:
            print(f"  zesrec untrained  valid recall@10 {r0:.4f}", flush=True)
    patience, bad = int(config.get("patience", 3)), 0
    start, stopped = time.perf_counter(), "epochs"
    for epoch in range(config["epochs"]):
        t0, total, n = time.perf_counter(), 0.0, 0
        net.train()
        for idx in length_bucketed_batches(lengths, config["batch_size"], rng):
            batch = [windows[i] for i in idx]
            used = np.unique(np.concatenate(batch))
            local = np.full(len(text), -1, dtype=np.int64)
            local[used] = np.arange(len(used))
            items = net.items(text[torch.from_numpy(used)])
            inp, lens = left_aligned([local[w[:-1]] for w in batch], config["max_len"])
            tgt, tlens = left_aligned([local[w] for w in batch], config["max_len"] + 1)
            users = net.users(items[torch.from_numpy(np.maximum(inp, 0))], torch.from_numpy(lens))
            width = min(users.shape[1], tgt.shape[1])
            keep = torch.from_numpy(tgt[:, :width] >= 0)
            loss = in_batch_softmax_loss(users[:, :width][keep], items, torch.from_numpy(tgt[:, :width])[keep],
                                         similarity=net.similarity)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()); n += 1
            if config.get("max_train_seconds") and time.perf_counter() - start > config["max_train_seconds"]:
                stopped = "time"
                break
        row = {"epoch": epoch, "loss": round(total / max(1, n), 5), "seconds": round(time.perf_counter() - t0, 2)}
        if valid:
            row["valid_recall@10"] = round(zesrec_recall(net, valid, text, item_group), 5)
            if row["valid_recall@10"] > best["value"]:
                best = {"value": row["valid_recall@10"], "epoch": epoch,
                        "state": {k: v.detach().clone() for k, v in net.state_dict().items()}}
                bad = 0
            else:
                bad += 1
        history["epochs"].append(row)
        if show_progress:
            vr = row.get("valid_recall@10", float("nan"))
            print(f"  zesrec epoch {epoch}  loss {row['loss']:.4f}  valid recall@10 {vr:.4f}  {row['seconds']:.1f}s",
                  flush=True)
        if stopped == "time":
            break
        if valid and bad >= patience:
            stopped = "patience"
            break
    if best is not None:
        net.load_state_dict(best["state"])
        history.update(best_epoch=best["epoch"], **{"best_valid_recall@10": round(best["value"], 5)})
    net.eval()
    history.update(stopped=stopped, train_seconds=round(time.perf_counter() - start, 2))
    return history


class TrainAccessError(AssertionError):
    """Something read the target's training data during zero-shot evaluation."""


class TrainAccessGuard(list):
    """Stands in for ``Split.train`` during zero-shot evaluation: any read raises.

    ``accesses`` counts reads (each raises :class:`TrainAccessError`), so callers can assert
    ``guard.accesses == 0`` even if a model swallowed the exception.
    """

    def __init__(self) -> None:
        super().__init__()
        self.accesses = 0

    def _touch(self, *args, **kwargs):
        self.accesses += 1
        raise TrainAccessError("zero-shot evaluation read the target domain's training sequences")

    __getitem__ = __iter__ = __len__ = __contains__ = __reversed__ = _touch  # type: ignore[assignment]


def zero_shot_evaluate(model, split, *, ks=(10, 20, 50), exclude_history: bool = False, part: str = "test"
                       ) -> dict[str, Any]:
    """Evaluate ``model`` on ``split`` without letting anything read ``split.train``.

    The cold/warm item slices (which items the target's training data covers) are computed
    first, by the evaluator, for reporting only; then ``split.train`` is replaced by a
    :class:`TrainAccessGuard` while the model scores, and restored afterwards.

    Returns
    -------
    :func:`~lmrec.evaluation.ranking.evaluate_ranking` output plus ``"train_accesses": 0``.

    Raises
    ------
    TrainAccessError
        If the model (or anything on the scoring path) read the target's training sequences.
    """
    from lmrec.evaluation.ranking import evaluate_ranking

    slices = split.item_slices()
    saved, guard = split.train, TrainAccessGuard()
    split.train = guard
    try:
        out = evaluate_ranking(model.score, getattr(split, part), split.n_items, ks=ks,
                               exclude_history=exclude_history, item_slices=slices)
    finally:
        split.train = saved
    if guard.accesses:
        raise TrainAccessError(f"zero-shot evaluation read the target training data {guard.accesses} time(s)")
    out["train_accesses"] = guard.accesses
    return out


def subsample_train_users(split, fraction: float, seed: int = 0):
    """A copy of ``split`` where only a seeded ``fraction`` of users keep their training sequence.

    Valid/test cases are unchanged (their histories are what the users did; only the data the
    model *trains* on shrinks) — the few-shot protocol. ``fraction`` in ``(0, 1]``. The split
    report records ``train_user_fraction``, ``n_train_users_kept`` and the
    ``train_user_subsample_seed`` that drew them (``numpy.random.default_rng(seed)``).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction of training users must be in (0, 1], got {fraction}")
    if fraction == 1.0:
        return split
    rng = np.random.default_rng(seed)
    users = np.flatnonzero([len(t) >= 2 for t in split.train])
    keep = set(rng.choice(users, size=max(1, int(round(fraction * len(users)))), replace=False).tolist())
    empty = np.zeros(0, dtype=np.int64)
    train = [t if u in keep else empty for u, t in enumerate(split.train)]
    return replace(split, train=train, report=dict(split.report, train_user_fraction=fraction,
                                                   n_train_users_kept=len(keep), train_user_subsample_seed=int(seed)))
