"""Training news recommenders from impressions: negative sampling + softmax cross-entropy.

Following NRMS / PLM-NR / UNBERT (Wu et al. 2019, 2021; Zhang et al. 2021): every click in a
training impression becomes one sample with ``npratio`` (default 4) non-clicked candidates of
the *same* impression as negatives (drawn without replacement, with replacement when the slate
has fewer non-clicks); the model scores the 1 + npratio candidates and the loss is the softmax
cross-entropy of the click (a (1 + npratio)-way classification). Impressions without a click
or without a non-click give no sample.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from lmrec.data.news import Impressions


@dataclass
class NewsSamples:
    """Training samples.

    Attributes
    ----------
    rows:
        ``[n]`` int64 — position of the sample's impression in the :class:`Impressions`.
    candidates:
        ``list`` of ``n`` lists of ``1 + npratio`` news ids; the click is first.
    """

    rows: np.ndarray
    candidates: list[list[str]]

    def __len__(self) -> int:
        return len(self.rows)


def sample_negatives(imps: Impressions, npratio: int, rng: np.random.Generator,
                     max_samples: int | None = None) -> NewsSamples:
    """One sample per click, with ``npratio`` negatives from the same impression.

    Parameters
    ----------
    max_samples:
        Keep a random subset of this many samples (``None`` = all); used to fit a CPU budget.

    Raises
    ------
    ValueError
        If the impressions are unlabeled or give no sample.
    """
    if imps.labels is None:
        raise ValueError("training needs labeled impressions (candidates as NEWSID-0/NEWSID-1)")
    if npratio < 1:
        raise ValueError(f"npratio must be ≥ 1, got {npratio}")
    rows, cands = [], []
    for i, (c, y) in enumerate(zip(imps.candidates, imps.labels)):
        pos = [n for n, lab in zip(c, y) if lab == 1]
        neg = [n for n, lab in zip(c, y) if lab == 0]
        if not pos or not neg:
            continue
        for p in pos:
            pick = rng.choice(len(neg), npratio, replace=len(neg) < npratio)
            rows.append(i)
            cands.append([p] + [neg[j] for j in pick])
    if not rows:
        raise ValueError("no training impression has both a click and a non-click")
    out = NewsSamples(np.asarray(rows, dtype=np.int64), cands)
    if max_samples is not None and max_samples < len(out):
        keep = np.sort(rng.choice(len(out), max_samples, replace=False))
        out = NewsSamples(out.rows[keep], [out.candidates[k] for k in keep])
    return out


def train_softmax_ce(batch_logits: Callable[[np.ndarray], "object"], n_samples: int,
                     param_groups: Iterable[dict], *, epochs: int, batch_size: int,
                     rng: np.random.Generator, max_seconds: float | None = None,
                     modules: Iterable["object"] = (), log: Callable[[str], None] | None = None,
                     valid_fn: Callable[[], float] | None = None, eval_every: int | None = None,
                     patience: int = 2, state_module: "object | None" = None) -> dict:
    """Adam over ``param_groups`` minimising softmax CE of column 0 of ``batch_logits(idx)``,
    optionally with early stopping on a validation score.

    Parameters
    ----------
    batch_logits:
        Maps sample positions ``[b]`` (int64) to logits ``[b, 1 + npratio]`` (torch float32,
        the click in column 0).
    param_groups:
        ``torch.optim.Adam`` parameter groups, each with its own ``lr`` (PLM layers get a lower
        one).
    epochs, batch_size:
        Passes over the shuffled samples; samples per step.
    max_seconds:
        Stop after the step during which this wall-clock budget (seconds) runs out.
    modules:
        Modules put in train mode during training (and back to eval mode afterwards).
    valid_fn:
        Validation score, higher = better (e.g. mean impression AUC of validation users),
        called with the modules in eval mode after every epoch, or every ``eval_every`` steps.
        ``None`` = no early stopping.
    patience:
        Stop after this many evaluations in a row without improvement.
    state_module:
        Module whose ``state_dict`` is snapshotted at the best evaluation and restored at the
        end (so the returned model is the best one seen, not the last).

    Returns
    -------
    dict
        ``{"steps", "epochs_run" (float, fraction of the last epoch included), "samples_seen",
        "loss_per_epoch" (list), "train_s", "stopped_by_budget", "stop_reason" ("epochs",
        "budget" or "early_stopping")}`` plus, with ``valid_fn``, ``"valid_history"`` (list of
        ``[epochs_seen, score]``), ``"best_valid"`` and ``"best_epoch"`` (epochs seen at the
        best evaluation).
    """
    import torch

    modules = list(modules)
    for m in modules:
        m.train()
    opt = torch.optim.Adam(list(param_groups))
    t0 = time.perf_counter()
    steps = seen = 0
    losses: list[float] = []
    stopped = False
    n_batches = math.ceil(n_samples / batch_size)
    stopper = BestStateTracker(patience)
    early = False

    def evaluate() -> bool:
        """Run ``valid_fn``; True when patience is exhausted."""
        for m in modules:
            m.eval()
        score = float(valid_fn())
        for m in modules:
            m.train()
        snap = state_module.state_dict() if state_module is not None else None
        stop = stopper.update(score, seen / n_samples, snap)
        if log:
            log(f"valid {score:.4f} after {seen / n_samples:.2f} epochs (best {stopper.best:.4f})")
        return stop

    for epoch in range(epochs):
        order = rng.permutation(n_samples)
        total = 0.0
        done = 0
        for b in range(n_batches):
            idx = order[b * batch_size:(b + 1) * batch_size]
            logits = batch_logits(idx)
            target = torch.zeros(len(idx), dtype=torch.long)
            loss = torch.nn.functional.cross_entropy(logits, target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            done += 1
            seen += len(idx)
            total += float(loss.detach())
            if valid_fn is not None and eval_every and steps % eval_every == 0 and evaluate():
                early = True
                break
            if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                stopped = True
                break
        losses.append(total / max(done, 1))
        if log:
            log(f"epoch {epoch + 1}: loss {losses[-1]:.4f} ({steps} steps, "
                f"{time.perf_counter() - t0:.1f}s)")
        if early or stopped:
            break
        if valid_fn is not None and not eval_every and evaluate():
            early = True
            break
    if valid_fn is not None and stopped:
        evaluate()          # the budget may end mid-epoch: score the last state too
    for m in modules:
        m.eval()
    out = {"steps": steps, "epochs_run": seen / n_samples, "samples_seen": seen,
           "loss_per_epoch": losses, "train_s": time.perf_counter() - t0, "stopped_by_budget": stopped,
           "stop_reason": "early_stopping" if early else ("budget" if stopped else "epochs")}
    if valid_fn is not None:
        if state_module is not None and stopper.best_state is not None:
            state_module.load_state_dict(stopper.best_state)
        out.update(valid_history=stopper.history, best_valid=stopper.best, best_epoch=stopper.best_at)
    return out


class BestStateTracker:
    """Early-stopping bookkeeping: keeps the best score, when it happened and a copy of the
    state then; :meth:`update` says when ``patience`` evaluations in a row did not improve.

    Parameters
    ----------
    patience:
        Evaluations without a strict improvement tolerated before stopping (≥ 1).
    """

    def __init__(self, patience: int = 2) -> None:
        if patience < 1:
            raise ValueError(f"patience must be ≥ 1, got {patience}")
        self.patience = patience
        self.best = -math.inf
        self.best_at: float | None = None
        self.best_state: dict | None = None
        self.bad = 0
        self.history: list[list[float]] = []

    def update(self, score: float, at: float, state: dict | None = None) -> bool:
        """Record ``score`` (higher = better) reached at ``at`` (e.g. epochs seen); ``state``
        (a ``state_dict``) is cloned when it is the new best. Returns True when training
        should stop."""
        self.history.append([round(float(at), 4), float(score)])
        if score > self.best:
            self.best, self.best_at, self.bad = score, float(at), 0
            if state is not None:
                self.best_state = {k: v.detach().clone() for k, v in state.items()}
            return False
        self.bad += 1
        return self.bad >= self.patience
