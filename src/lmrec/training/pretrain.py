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
  from the learned start item onwards.
* :func:`train_until_converged` — the epoch loop both share: validation on held-out *source*
  users (:func:`lmrec.data.multidomain.hold_out_source_users`, :func:`heldout_metrics`: full
  ranking within the target's own domain, history kept), early stopping on NDCG@10 with an
  epoch cap, the best epoch restored, and a resumable checkpoint written atomically after
  every epoch (a killed run loses at most the epoch in progress).
* :func:`zero_shot_evaluate` — evaluate a pre-trained model on a target split while asserting
  that nothing reads the target's training sequences (:class:`TrainAccessGuard`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from lmrec.training.contrastive import LAMBDA, TEMPERATURE, item_drop, unisrec_pretrain_loss
from lmrec.training.sequences import left_aligned, left_pad, training_windows


#: :class:`PretrainConfig` fields that may change between a run and its resumption from a
#: checkpoint (everything else must match: architecture, seed, data, optimisation).
RESUMABLE_FIELDS = ("epochs", "patience", "max_train_seconds", "checkpoint_path")
#: The held-out metric early stopping maximises.
VALID_METRIC = "ndcg@10"
CHECKPOINT_FORMAT = "lmrec-pretrain-checkpoint/1"


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
    lr, batch_size:
        Adam learning rate and batch size.
    epochs:
        Epoch cap (100); training usually ends earlier by early stopping.
    patience:
        Stop after this many epochs without a better held-out NDCG@10 (10; ``0`` = never stop
        early). Whenever there are held-out users, the best epoch's weights (or the untrained
        net's, epoch ``-1``) are restored at the end.
    valid_users:
        Held-out source users per domain (500, capped at 10 % of the domain's users; users
        with ≥ 3 items; :func:`lmrec.data.multidomain.hold_out_source_users`). ``0`` = no
        validation and no early stopping.
    max_train_seconds:
        Optional wall-clock cap per invocation in seconds (``0`` = none, the default).
    checkpoint_path:
        Resumable checkpoint written atomically after every epoch and resumed from when it
        exists (``None``: no checkpoint). See :func:`train_unisrec_contrastive`.
    zesrec_hidden:
        ZESRec item/user vector size.
    seed:
        The one seed (initialisation, batch order, augmentations, held-out users).
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
    epochs: int = 100
    patience: int = 10
    valid_users: int = 500
    max_train_seconds: float = 0.0
    checkpoint_path: str | None = None
    zesrec_hidden: int = 128
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.patience < 0 or self.valid_users < 0 or self.max_train_seconds < 0:
            raise ValueError(f"epochs ({self.epochs}), patience ({self.patience}), valid_users "
                             f"({self.valid_users}) and max_train_seconds ({self.max_train_seconds}) must be ≥ 0")
        if self.checkpoint_path is not None:
            self.checkpoint_path = str(self.checkpoint_path)

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


# ------------------------------------------------------------------ held-out validation, checkpoints

def peak_rss_mib() -> float | None:
    """Peak resident set size of this process so far, in MiB (``getrusage(RUSAGE_SELF).ru_maxrss``:
    KiB on Linux, bytes on macOS); ``None`` where the ``resource`` module does not exist (Windows)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (2 ** 20 if sys.platform == "darwin" else 1024), 1)


def heldout_metrics(make_scorer: Callable[[int, int], Callable], holdout, k: int = 10) -> dict[str, Any]:
    """Recall@``k`` and NDCG@``k`` on the held-out source users of ``holdout``.

    Each domain's cases are ranked by :func:`~lmrec.evaluation.ranking.evaluate_ranking` over that
    domain's items only (full ranking, history kept, pessimistic ties).

    Parameters
    ----------
    make_scorer:
        ``make_scorer(offset, n_items)`` → ``score_fn(users int64 [b], histories) -> float [b, n_items]``
        for the domain whose global items are ``offset .. offset + n_items - 1`` (histories in
        local indices).
    holdout:
        :class:`~lmrec.data.multidomain.SourceHoldout`.

    Returns
    -------
    ``{"recall@k", "ndcg@k"}`` averaged over all held-out users (each user counts once), plus
    ``"per_domain": {name: {"recall@k", "ndcg@k", "n"}}``; ``{}`` when nobody is held out.
    """
    from lmrec.evaluation.ranking import evaluate_ranking

    per: dict[str, Any] = {}
    sums, n = {f"recall@{k}": 0.0, f"ndcg@{k}": 0.0}, 0
    for (name, offset, n_items), cases in zip(holdout.domains, holdout.valid):
        if not len(cases):
            continue
        m = evaluate_ranking(make_scorer(offset, n_items), cases, n_items, ks=(k,), exclude_history=False)["metrics"]
        per[name] = {key: float(m[key]) for key in sums} | {"n": len(cases)}
        for key in sums:
            sums[key] += float(m[key]) * len(cases)
        n += len(cases)
    if not n:
        return {}
    return {**{key: v / n for key, v in sums.items()}, "per_domain": per}


def unisrec_scorer(net, text: torch.Tensor, max_len: int) -> Callable[[int, int], Callable]:
    """``make_scorer`` for :func:`heldout_metrics` from a UniSRec net (call under ``inference_mode``,
    net in eval mode): the sequence encoder's last output against the adaptor-transformed text
    ``text[offset:offset + n_items]`` (``float [n_items_total, dim]``), cosine scores as in training."""
    import torch.nn.functional as F

    def make(offset: int, n_items: int):
        raw = net.represent(text[offset:offset + n_items])
        table = torch.cat([torch.zeros(1, raw.shape[1]), raw])
        items = F.normalize(raw, dim=-1)

        def score(users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
            seq = net.encode(torch.from_numpy(left_pad(list(histories), max_len)), table)[:, -1]
            return (F.normalize(seq, dim=-1) @ items.T).numpy()
        return score
    return make


def zesrec_scorer(net, text: torch.Tensor) -> Callable[[int, int], Callable]:
    """``make_scorer`` for :func:`heldout_metrics` from a :class:`~lmrec.models.zesrec.ZESRecNet`
    (same scores as :meth:`lmrec.models.zesrec.ZESRec.score`; call under ``inference_mode``)."""

    def make(offset: int, n_items: int):
        items = net.items(text[offset:offset + n_items])

        def score(users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
            seq, lengths = left_aligned(list(histories), net.max_len)
            u = net.users(items[torch.from_numpy(np.maximum(seq, 0))], torch.from_numpy(lengths))
            return net.similarity(u[torch.arange(len(lengths)), torch.from_numpy(lengths)], items).numpy()
        return score
    return make


def pretrain_checkpoint_key(model: str, cfg: PretrainConfig, md, *arrays: np.ndarray) -> dict[str, Any]:
    """What a checkpoint must agree on to be resumed: the model, every :class:`PretrainConfig`
    field except :data:`RESUMABLE_FIELDS` (as ``"config.<field>"``), the domains (name, items,
    users, interactions) and a SHA-1 of each input array (the text vectors)."""
    key: dict[str, Any] = {"model": model}
    key.update({f"config.{k}": v for k, v in cfg.to_dict().items() if k not in RESUMABLE_FIELDS})
    key["domains"] = [[d.name, int(d.n_items), len(d.train), int(sum(len(s) for s in d.train))] for d in md.domains]
    for i, a in enumerate(arrays):
        a = np.ascontiguousarray(a)
        key[f"input_{i}"] = f"{list(a.shape)} {a.dtype} sha1:{hashlib.sha1(a.tobytes()).hexdigest()}"
    return json.loads(json.dumps(key))


def _check_checkpoint_key(path: Path, found: Any, expected: dict[str, Any]) -> None:
    from lmrec.training.checkpoint import check_checkpoint_key

    if not isinstance(found, dict):
        raise ValueError(f"{path} is not an lmrec pre-training checkpoint; delete it or pass another --checkpoint")
    check_checkpoint_key(path, found, expected, what="checkpoint", run="pre-training run",
                         remedy="rerun with the same settings to resume, or delete the file / pass another "
                                "--checkpoint to start afresh")


def _clone_state(net) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def train_until_converged(net, opt: torch.optim.Optimizer, rng: np.random.Generator,
                          run_epoch: Callable[[int, float | None], tuple[dict[str, Any], bool]],
                          validate: Callable[[], dict[str, Any]] | None, history: dict[str, Any], *,
                          epochs: int, patience: int, max_train_seconds: float = 0.0,
                          checkpoint_path: str | os.PathLike | None = None, checkpoint_key: dict[str, Any] | None = None,
                          label: str = "pretrain", show_progress: bool = False) -> dict[str, Any]:
    """The epoch loop shared by UniSRec and ZESRec pre-training: validation, early stopping, checkpoints.

    1. Unless resuming, the untrained net is validated (row ``epoch = -1``) and is the first best.
    2. Epoch ``e``: ``run_epoch(e, deadline)`` trains one pass and returns its row (``"loss"``
       and anything else) and whether the wall-clock ``deadline`` (``time.perf_counter()`` value,
       or ``None``) cut it short; then ``validate()`` gives held-out ``recall@10`` / ``ndcg@10``;
       the row gets ``seconds`` (training), ``valid_seconds`` and ``peak_rss_mib``.
    3. Stop after ``epochs`` (cap), ``patience`` epochs without a better NDCG@10 (``0``: never),
       or the time cap (the cut epoch's row says ``cut_by_time``; a resumed run goes on with the
       next epoch); restore the best epoch's weights (when there is a validation).
    4. With ``checkpoint_path``, after every epoch the file is replaced atomically
       (:func:`~lmrec.training.checkpoint.save_training_checkpoint`) by: net and optimizer
       states, ``rng.bit_generator.state``, ``torch.get_rng_state()``, the history so far, the
       best state / epoch / value and the bad-epoch counter. A run that finds the file resumes at
       the next epoch and ends with the same weights and history as an uninterrupted run; a
       killed run loses at most the epoch in progress.

    Parameters
    ----------
    net, opt, rng:
        The module being trained, its optimizer and the numpy generator ``run_epoch`` draws from.
    validate:
        ``None`` (no held-out users: no early stopping, the last epoch is kept) or a callable
        returning :func:`heldout_metrics` output; it must not draw random numbers.
    history:
        Facts about the run (``n_examples`` …) to which the rows and results are added.
    checkpoint_key:
        :func:`pretrain_checkpoint_key` of this run; a checkpoint with another key is refused.

    Returns
    -------
    ``history`` with ``epochs`` (rows), ``stopped`` (``"patience" | "epochs" | "time"``),
    ``best_epoch`` / ``best_valid_ndcg@10`` / ``best_valid_recall@10`` and the untrained values
    (with a validation), ``epochs_run``, ``seconds_per_epoch``, ``train_seconds`` (over all
    invocations), ``peak_rss_mib`` (this process, MiB), ``peak_rss_mib_before_training`` (the same
    when the first epoch started: data, encoder and vectors) and, after a resume,
    ``resumed_at_epoch`` (list).

    Raises
    ------
    ValueError
        If the checkpoint is corrupt or was written by another run (names the file and the key).
    FloatingPointError
        If the loss becomes NaN or infinite.
    """
    from lmrec.training.checkpoint import load_training_checkpoint, save_training_checkpoint

    start = time.perf_counter()
    deadline = start + max_train_seconds if max_train_seconds else None
    path = Path(checkpoint_path) if checkpoint_path else None
    rss_before = peak_rss_mib()  # what loading data, encoders and text vectors cost, before any epoch
    best: dict[str, Any] | None = None
    bad, first = 0, 0

    def valid_row() -> dict[str, Any]:
        t0 = time.perf_counter()
        net.eval()
        with torch.inference_mode():
            m = validate()
        return {"valid_recall@10": round(m["recall@10"], 5), f"valid_{VALID_METRIC}": round(m[VALID_METRIC], 5),
                f"valid_{VALID_METRIC}_by_domain": {d: round(v[VALID_METRIC], 5) for d, v in m["per_domain"].items()},
                "valid_seconds": round(time.perf_counter() - t0, 2), "_value": m[VALID_METRIC]}

    if path is not None and path.exists():
        ck = load_training_checkpoint(path)
        _check_checkpoint_key(path, ck.get("key"), checkpoint_key or {})
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["optimizer"])
        rng.bit_generator.state = ck["numpy_rng"]
        torch.set_rng_state(ck["torch_rng"])
        history, best, bad, first = ck["history"], ck["best"], int(ck["bad_epochs"]), int(ck["epoch"]) + 1
        history.setdefault("resumed_at_epoch", []).append(first)
        if show_progress:
            print(f"  {label}: resuming from {path} at epoch {first} (best epoch so far "
                  f"{best['epoch'] if best else '—'})", flush=True)
    elif validate is not None:
        row = valid_row()
        best = {"epoch": -1, "value": row.pop("_value"), "state": _clone_state(net)}
        history["epochs"].append({"epoch": -1, **row, "peak_rss_mib": peak_rss_mib()})
        if show_progress:
            print(f"  {label} untrained  valid {VALID_METRIC} {row[f'valid_{VALID_METRIC}']:.4f}  recall@10 "
                  f"{row['valid_recall@10']:.4f}", flush=True)
    history.setdefault("peak_rss_mib_before_training", rss_before)
    prior_seconds = float(history.get("train_seconds", 0.0))
    stopped = "epochs"
    if best is not None and patience and bad >= patience:
        stopped = "patience"  # a finished run found its own checkpoint
    for epoch in range(first, epochs if stopped == "epochs" else first):
        t0 = time.perf_counter()
        trained, timed_out = run_epoch(epoch, deadline)
        row = {"epoch": epoch, **trained, "seconds": round(time.perf_counter() - t0, 2)}
        if not np.isfinite(row["loss"]):
            raise FloatingPointError(f"{label} loss became {row['loss']} at epoch {epoch}; lower the learning rate")
        improved = False
        if best is not None:
            row.update(valid_row())
            value = row.pop("_value")
            improved = value > best["value"]
            if improved:
                best, bad = {"epoch": epoch, "value": value, "state": _clone_state(net)}, 0
            else:
                bad += 1
        row["peak_rss_mib"] = peak_rss_mib()
        if timed_out:
            row["cut_by_time"] = True
        history["epochs"].append(row)
        if show_progress:
            valid = (f"  valid {VALID_METRIC} {row[f'valid_{VALID_METRIC}']:.4f}  recall@10 {row['valid_recall@10']:.4f}"
                     f"{' *' if improved else ''}" if best is not None else "")
            parts = "".join(f"  {k} {row[k]:.4f}" for k in ("seq_item", "seq_seq") if k in row)
            print(f"  {label} epoch {epoch}  loss {row['loss']:.4f}{parts}{valid}  {row['seconds']:.1f}s"
                  f"{' + %.1fs valid' % row['valid_seconds'] if 'valid_seconds' in row else ''}  "
                  f"peak RSS {row['peak_rss_mib']} MiB", flush=True)
        if timed_out:
            stopped = "time"
        elif best is not None and patience and bad >= patience:
            stopped = "patience"
        history["train_seconds"] = round(prior_seconds + time.perf_counter() - start, 2)
        if path is not None:
            save_training_checkpoint(path, {
                "format": CHECKPOINT_FORMAT, "key": checkpoint_key or {}, "epoch": epoch,
                "net": _clone_state(net), "optimizer": opt.state_dict(), "numpy_rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "history": history, "best": best, "bad_epochs": bad})
        if stopped != "epochs":
            break
    if best is not None:
        net.load_state_dict(best["state"])
        untrained = next((r for r in history["epochs"] if r["epoch"] == -1), {})
        history.update({"best_epoch": best["epoch"], f"best_valid_{VALID_METRIC}": round(best["value"], 5),
                        "best_valid_recall@10": next(r["valid_recall@10"] for r in history["epochs"]
                                                     if r["epoch"] == best["epoch"]),
                        f"valid_{VALID_METRIC}_untrained": untrained.get(f"valid_{VALID_METRIC}"),
                        "valid_recall@10_untrained": untrained.get("valid_recall@10")})
    net.eval()
    rows = [r for r in history["epochs"] if r["epoch"] >= 0]
    history.update(stopped=stopped, epochs_run=len(rows),
                   seconds_per_epoch=round(float(np.mean([r["seconds"] for r in rows])), 2) if rows else None,
                   train_seconds=round(prior_seconds + time.perf_counter() - start, 2), peak_rss_mib=peak_rss_mib())
    return history


# ------------------------------------------------------------------ UniSRec

def train_unisrec_contrastive(net, md, vectors: np.ndarray, aug_vectors: np.ndarray, cfg: PretrainConfig, *,
                              holdout=None, show_progress: bool = False) -> dict[str, Any]:
    """Pre-train ``net`` (a :class:`~lmrec.models.unisrec.UniSRecNet`) on every domain of ``md`` at once,
    to convergence on held-out source users.

    ``cfg.valid_users`` users per domain are held out (:func:`~lmrec.data.multidomain.hold_out_source_users`,
    seeded by ``cfg.seed``; never trained on); after every epoch their last item is ranked,
    within its own domain, by the sequence encoder's output against the adaptor-transformed
    text of the domain's items (cosine, as in training); early stopping on NDCG@10
    (``cfg.patience``) with the epoch cap ``cfg.epochs`` restores the best epoch. With
    ``cfg.checkpoint_path`` the run is resumable (:func:`train_until_converged`).

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
        :class:`PretrainConfig` (``seed`` seeds the batch order, the item drop and the held-out users).
    holdout:
        A :class:`~lmrec.data.multidomain.SourceHoldout` of ``md`` to use instead of
        ``hold_out_source_users(md, cfg.valid_users, seed=cfg.seed)``.

    Returns
    -------
    History (see :func:`train_until_converged`): ``n_examples``, ``n_train_sequences``,
    ``n_valid`` (total), ``n_valid_per_domain``, ``validation`` (the split's report),
    ``epochs`` (rows ``epoch`` (-1 = untrained), ``loss``, ``seq_item``, ``seq_seq``,
    ``batches``, ``seconds``, ``valid_recall@10``, ``valid_ndcg@10``, ``valid_seconds``,
    ``peak_rss_mib``), ``best_epoch``, ``stopped`` (``"patience" | "epochs" | "time"``),
    ``seconds_per_epoch``, ``train_seconds``, ``peak_rss_mib``.

    Raises
    ------
    ValueError
        If the vectors do not have the shapes above, no training sequence is left, or the
        checkpoint belongs to another run.
    FloatingPointError
        If the loss becomes NaN or infinite.
    """
    from lmrec.data.multidomain import hold_out_source_users

    if vectors.shape[0] != md.n_items or aug_vectors.shape[1:] != vectors.shape:
        raise ValueError(f"pre-training needs vectors [{md.n_items}, dim] and augmented vectors "
                         f"[n_variants, {md.n_items}, dim]; got {vectors.shape} and {aug_vectors.shape}")
    if holdout is None:
        holdout = hold_out_source_users(md, cfg.valid_users, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    text = torch.from_numpy(np.asarray(vectors, dtype=np.float32))
    aug = torch.from_numpy(np.asarray(aug_vectors, dtype=np.float32))
    seqs = holdout.train
    seq_id, pos = prefix_examples(seqs)
    if not len(pos):
        raise ValueError("no pre-training sequence of ≥ 2 items is left after holding out validation users; "
                         "lower valid_users")
    lengths = np.minimum(pos, cfg.max_len)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    history: dict[str, Any] = {"n_examples": int(len(pos)), "n_train_sequences": len(seqs),
                               "n_valid": holdout.n_valid, "n_valid_per_domain": holdout.report["n_valid"],
                               "validation": holdout.report, "epochs": []}

    def run_epoch(epoch: int, deadline: float | None) -> tuple[dict[str, Any], bool]:
        net.train()
        sums = {"loss": 0.0, "seq_item": 0.0, "seq_seq": 0.0}
        n_batches, timed_out = 0, False
        for idx in _bucketed(rng.permutation(len(pos)), lengths, cfg.batch_size, rng):
            hists = [seqs[seq_id[i]][max(0, pos[i] - cfg.max_len):pos[i]] for i in idx]
            targets = np.array([seqs[seq_id[i]][pos[i]] for i in idx], dtype=np.int64)
            hists_aug = item_drop(hists, cfg.item_drop, rng)
            used = np.unique(np.concatenate([*hists, *hists_aug, targets]))
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
            loss, parts = unisrec_pretrain_loss(s, raw[torch.from_numpy(local[targets])], s_aug,
                                                torch.from_numpy(targets), lam=cfg.lam, temperature=cfg.temperature)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums["loss"] += float(loss.detach()); sums["seq_item"] += parts["seq_item"]; sums["seq_seq"] += parts["seq_seq"]
            n_batches += 1
            if deadline is not None and time.perf_counter() > deadline:
                timed_out = True
                break
        return {**{k: round(v / max(1, n_batches), 5) for k, v in sums.items()}, "batches": n_batches}, timed_out

    validate = (lambda: heldout_metrics(unisrec_scorer(net, text, cfg.max_len), holdout)) if holdout.n_valid else None
    return train_until_converged(
        net, opt, rng, run_epoch, validate, history, epochs=cfg.epochs, patience=cfg.patience,
        max_train_seconds=cfg.max_train_seconds, checkpoint_path=cfg.checkpoint_path,
        checkpoint_key=pretrain_checkpoint_key("unisrec", cfg, md, vectors, aug_vectors) if cfg.checkpoint_path else None,
        label="pretrain", show_progress=show_progress)


# ------------------------------------------------------------------ ZESRec

def train_zesrec(net, seqs: list[np.ndarray], text: torch.Tensor, config: dict[str, Any], *, seed: int = 0,
                 holdout=None, checkpoint_path: str | os.PathLike | None = None,
                 checkpoint_key: dict[str, Any] | None = None, show_progress: bool = False) -> dict[str, Any]:
    """Train a :class:`~lmrec.models.zesrec.ZESRecNet` on item sequences.

    Each window ``w`` (see :mod:`lmrec.training.sequences`) trains, at every position ``t`` (from
    the start item, ``t = 0``), the prediction of ``w[t]`` from ``w[:t]``; the softmax of
    ``cos/τ`` scores runs over the distinct items of the batch (in-batch negatives, several
    domains when ``seqs`` mixes them).

    With a ``holdout`` (:class:`~lmrec.data.multidomain.SourceHoldout`, whose users must not be
    in ``seqs``), Recall@10 / NDCG@10 of its held-out users (:func:`heldout_metrics`, ranking
    within each target's domain) are measured before training and after every epoch; the best
    state on NDCG@10 is kept (the untrained net, whose skip paths rank by text similarity, is a
    candidate) and training stops after ``config["patience"]`` (default 3; ``0`` = never)
    epochs without improvement (:func:`train_until_converged`, which also writes / resumes the
    ``checkpoint_path``).

    Parameters
    ----------
    seqs:
        ``int64`` arrays of row numbers of ``text``.
    text:
        ``float [n_items, text_dim]`` text vectors.
    config:
        ``max_len``, ``lr``, ``batch_size``, ``epochs``, ``max_train_seconds`` (, ``patience``).
    holdout:
        Held-out users (global rows of ``text`` = domain offset + local index), or ``None``.
    checkpoint_path, checkpoint_key:
        Resumable checkpoint and the run identity it must match (:func:`pretrain_checkpoint_key`).

    Returns
    -------
    History: ``epochs`` (loss, seconds, ``valid_recall@10``, ``valid_ndcg@10`` …), ``stopped``,
    ``train_seconds``, ``n_windows``, and with a ``holdout`` also ``best_epoch`` (-1 = untrained),
    ``valid_recall@10_untrained``, ``best_valid_recall@10``, ``best_valid_ndcg@10``, ``n_valid``,
    ``n_valid_per_domain``.

    Raises
    ------
    ValueError
        If no sequence has 2 or more items, or the checkpoint belongs to another run.
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
    if holdout is not None:
        history.update(n_valid=holdout.n_valid, n_valid_per_domain=holdout.report["n_valid"],
                       validation=holdout.report)

    def run_epoch(epoch: int, deadline: float | None) -> tuple[dict[str, Any], bool]:
        total, n, timed_out = 0.0, 0, False
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
            if deadline is not None and time.perf_counter() > deadline:
                timed_out = True
                break
        return {"loss": round(total / max(1, n), 5)}, timed_out

    validate = (lambda: heldout_metrics(zesrec_scorer(net, text), holdout)) \
        if holdout is not None and holdout.n_valid else None
    return train_until_converged(
        net, opt, rng, run_epoch, validate, history, epochs=config["epochs"], patience=int(config.get("patience", 3)),
        max_train_seconds=float(config.get("max_train_seconds") or 0.0), checkpoint_path=checkpoint_path,
        checkpoint_key=checkpoint_key, label="zesrec", show_progress=show_progress)


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
