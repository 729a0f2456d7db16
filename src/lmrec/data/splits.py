"""Train / valid / test splits over a :class:`~lmrec.data.dataset.RecDataset`.

Four splits, each returning a :class:`Split`:

``leave_one_out``
    Per user, chronologically: last item → test, second-last → valid, the rest → train
    (Kang & McAuley 2018; UniSRec, RecBole). Time ties are broken by input order, never by
    item id; the share of tied interactions is reported.
``temporal``
    One global cut-off in time: the earliest ``1 - valid_frac - test_frac`` of interactions
    train, the next slice valid, the last slice test. Every valid/test interaction of a
    user is a target of that user's case.
``cold_start_items``
    Leave-one-out, then a seeded share of the catalog is made *cold*: their interactions are
    removed from training, so they appear only as valid/test targets (and in histories at
    evaluation time, where their text is known).
``given``
    The split fixed by the source files (RecBole atomic files, the ml-1m CoLaKG split).

Policy for short users (explicit and reported): a user with fewer than ``min_user_interactions``
(default 3) interactions keeps all of them in training and gets no valid/test case. Cases
whose history is empty are dropped and counted, so no empty sequence reaches a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lmrec.data.dataset import RecDataset
from lmrec.data.evalset import EvalSet

SPLITS = ("leave-one-out", "temporal", "cold-start-items", "given")


@dataclass
class Split:
    """Result of a split.

    Attributes
    ----------
    name:
        One of :data:`SPLITS`.
    n_users, n_items:
        Sizes of the dataset's user and item maps.
    train:
        ``n_users`` arrays of ``int64`` item indices, chronological; may be empty.
    valid, test:
        Evaluation cases (:class:`~lmrec.data.evalset.EvalSet`).
    report:
        JSON-serialisable facts about the split (policies, counts, tie share, cold items).
    """

    name: str
    n_users: int
    n_items: int
    train: list[np.ndarray]
    valid: EvalSet
    test: EvalSet
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def train_item_counts(self) -> np.ndarray:
        """``int64 [n_items]`` number of training interactions per item."""
        flat = np.concatenate(self.train) if self.train else np.zeros(0, dtype=np.int64)
        return np.bincount(flat, minlength=self.n_items).astype(np.int64)

    @property
    def warm_items(self) -> np.ndarray:
        """``bool [n_items]``: items with at least one training interaction."""
        return self.train_item_counts > 0

    def item_slices(self) -> dict[str, np.ndarray]:
        """``{"warm_items", "cold_items"}`` boolean item masks for per-slice metrics."""
        warm = self.warm_items
        return {"warm_items": warm, "cold_items": ~warm}

    def describe(self) -> dict[str, Any]:
        """Split summary for ``metrics.json``."""
        n_train = int(sum(len(t) for t in self.train))
        return {
            "name": self.name,
            "n_train_interactions": n_train,
            "n_valid_cases": len(self.valid),
            "n_test_cases": len(self.test),
            "n_cold_items": int((~self.warm_items).sum()),
            "n_test_targets_cold": int(sum(int((~self.warm_items[t]).sum()) for t in self.test.targets)),
            **self.report,
        }


def user_rows(dataset: RecDataset) -> tuple[list[np.ndarray], float]:
    """Interaction row numbers of every user, in chronological order.

    Sorted by timestamp where present; ties and missing timestamps keep input order
    (stable sort), never item id.

    Returns
    -------
    rows:
        ``n_users`` ``int64`` arrays of row numbers into ``dataset.interactions``.
    tie_share:
        Share of interactions whose timestamp equals that of another interaction of the same
        user (0.0 without timestamps).
    """
    users = dataset.user_index
    ts = dataset.interactions["timestamp"].to_numpy(dtype=np.float64)
    row = np.arange(len(users))
    ts_key = np.where(np.isnan(ts), -np.inf, ts)
    order = np.lexsort((row, ts_key, users))
    u_sorted, t_sorted = users[order], ts_key[order]
    tie_share = 0.0
    if not np.isnan(ts).all():
        same = (u_sorted[1:] == u_sorted[:-1]) & (t_sorted[1:] == t_sorted[:-1])
        tied = np.zeros(len(order), dtype=bool)
        tied[1:] |= same
        tied[:-1] |= same
        tie_share = float(tied.mean()) if len(tied) else 0.0
    rows: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in range(dataset.n_users)]
    bounds = np.flatnonzero(np.diff(u_sorted)) + 1
    for chunk in np.split(order, bounds) if len(order) else []:
        rows[int(users[chunk[0]])] = chunk.astype(np.int64)
    return rows, tie_share


def user_sequences(dataset: RecDataset) -> tuple[list[np.ndarray], float]:
    """Chronological item sequence (``int64`` item indices) of every user, and the tie share
    (see :func:`user_rows`)."""
    rows, tie_share = user_rows(dataset)
    items = dataset.item_index
    return [items[r] for r in rows], tie_share


def _alternatives(dataset: RecDataset) -> str:
    """Advice naming only the splits that work on ``dataset``."""
    ok = []
    if dataset.has_given_split:
        ok.append("given (the split in its source files)")
    if dataset.ordered:
        ok += ["leave-one-out", "cold-start-items"]
    if dataset.has_timestamps:
        ok.append("temporal")
    return "use --split " + " or ".join(ok) if ok else "no split is possible on it"


def _from_parts(name: str, dataset: RecDataset, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
                report: dict[str, Any]) -> Split:
    """Build a :class:`Split` from per-user ``(train, valid, test)`` item arrays.

    Valid cases see the train items as history; test cases see train + valid. Cases with an
    empty history are dropped and counted in ``report["n_cases_dropped_empty_history"]``.
    """
    train = [tr for tr, _, _ in parts]
    cases: dict[str, tuple[list, list, list]] = {"valid": ([], [], []), "test": ([], [], [])}
    dropped = 0
    for u, (tr, va, te) in enumerate(parts):
        for part, hist, tgt in (("valid", tr, va), ("test", np.concatenate([tr, va]), te)):
            if len(tgt) == 0:
                continue
            if len(hist) == 0:
                dropped += 1
                continue
            users, hists, tgts = cases[part]
            users.append(u); hists.append(hist); tgts.append(tgt)
    valid, test = (EvalSet(np.array(cases[p][0], dtype=np.int64), cases[p][1], cases[p][2]) for p in ("valid", "test"))
    report = dict(report, n_cases_dropped_empty_history=dropped)
    return Split(name, dataset.n_users, dataset.n_items, train, valid, test, report=report)


def leave_one_out(dataset: RecDataset, *, min_user_interactions: int = 3) -> Split:
    """Leave-one-out by time (last → test, second-last → valid).

    Raises
    ------
    ValueError
        If the dataset has no meaningful order (``dataset.ordered`` is False) or
        ``min_user_interactions < 3``.
    """
    if not dataset.ordered:
        raise ValueError(f"dataset {dataset.name!r} has no timestamps or sequence order, so leave-one-out "
                         f"by time (and the cold-start-items split built on it) is undefined; "
                         f"{_alternatives(dataset)}")
    if min_user_interactions < 3:
        raise ValueError("min_user_interactions must be ≥ 3 (one train, one valid, one test item)")
    seqs, tie_share = user_sequences(dataset)
    empty = np.zeros(0, dtype=np.int64)
    parts = [(s, empty, empty) if len(s) < min_user_interactions else (s[:-2], s[-2:-1], s[-1:]) for s in seqs]
    n_short = sum(1 for s in seqs if 0 < len(s) < min_user_interactions)
    return _from_parts("leave-one-out", dataset, parts, {
        "tie_share": round(tie_share, 6),
        "tie_breaking": "input order",
        "min_user_interactions": min_user_interactions,
        "short_user_policy": "all interactions in train, no valid/test case",
        "n_users_train_only": n_short,
    })


def cold_start_items(dataset: RecDataset, *, cold_frac: float = 0.1, seed: int = 0,
                     min_user_interactions: int = 3) -> Split:
    """Leave-one-out with a seeded share ``cold_frac`` of catalog items removed from training.

    Cold items keep their text, stay candidates at evaluation time and may be valid/test
    targets; only text-based models can score them meaningfully.
    """
    if not 0.0 < cold_frac < 1.0:
        raise ValueError(f"cold_frac must be in (0, 1), got {cold_frac}")
    base = leave_one_out(dataset, min_user_interactions=min_user_interactions)
    rng = np.random.default_rng(seed)
    n_cold = max(1, int(round(cold_frac * dataset.n_items)))
    cold = np.zeros(dataset.n_items, dtype=bool)
    cold[rng.choice(dataset.n_items, size=n_cold, replace=False)] = True
    train = [t[~cold[t]] for t in base.train]
    removed = int(sum(len(a) - len(b) for a, b in zip(base.train, train)))
    report = dict(base.report, cold_frac=cold_frac, n_cold_items_chosen=n_cold,
                  n_train_interactions_removed=removed)
    return Split("cold-start-items", base.n_users, base.n_items, train, base.valid, base.test, report=report)


def temporal(dataset: RecDataset, *, valid_frac: float = 0.1, test_frac: float = 0.1) -> Split:
    """Global temporal split by interaction time quantiles.

    Raises
    ------
    ValueError
        If the dataset has no timestamps.
    """
    if not dataset.has_timestamps:
        raise ValueError(f"dataset {dataset.name!r} has no timestamps, which a temporal split needs; "
                         f"{_alternatives(dataset)}")
    ts = dataset.interactions["timestamp"].to_numpy(dtype=np.float64)
    finite = ts[~np.isnan(ts)]
    t_valid = float(np.quantile(finite, 1.0 - valid_frac - test_frac))
    t_test = float(np.quantile(finite, 1.0 - test_frac))
    rows, tie_share = user_rows(dataset)
    items = dataset.item_index
    seqs = [items[r] for r in rows]
    ts_by_user = [np.nan_to_num(ts[r], nan=-np.inf) for r in rows]  # missing time → earliest
    parts = [(s[t < t_valid], s[(t >= t_valid) & (t < t_test)], s[t >= t_test]) for s, t in zip(seqs, ts_by_user)]
    return _from_parts("temporal", dataset, parts, {
        "valid_from_ts": t_valid, "test_from_ts": t_test, "valid_frac": valid_frac, "test_frac": test_frac,
        "tie_share": round(tie_share, 6),
    })


def given(dataset: RecDataset, *, seed: int = 0) -> Split:
    """The split written in the source files (``split`` column).

    Without valid rows (e.g. the ml-1m CoLaKG split), one training interaction per user with
    ≥ 2 training interactions is held out at random (seeded) as validation; reported.

    Raises
    ------
    ValueError
        If the dataset has no ``split`` column.
    """
    if not dataset.has_given_split:
        raise ValueError(f"dataset {dataset.name!r} defines no split of its own; {_alternatives(dataset)}")
    rows, tie_share = user_rows(dataset)
    labels = dataset.interactions["split"].to_numpy()
    items = dataset.item_index
    seqs = [items[r] for r in rows]
    lab_by_user = [labels[r] for r in rows]
    has_valid = bool((labels == "valid").any())
    rng = np.random.default_rng(seed)
    parts, n_valid_carved = [], 0
    for s, lab in zip(seqs, lab_by_user):
        tr, va, te = s[lab == "train"], s[lab == "valid"], s[lab == "test"]
        if not has_valid and len(tr) >= 2:
            j = int(rng.integers(len(tr)))
            va, tr = tr[j:j + 1], np.delete(tr, j)
            n_valid_carved += 1
        parts.append((tr, va, te))
    report: dict[str, Any] = {"source": "split column of the source files", "tie_share": round(tie_share, 6)}
    if not has_valid:
        report["valid_policy"] = "no valid rows in the source: one random training interaction per user held out (seeded)"
        report["n_valid_carved"] = n_valid_carved
    return _from_parts("given", dataset, parts, report)


def make_split(dataset: RecDataset, name: str, *, seed: int = 0, cold_frac: float = 0.1,
               min_user_interactions: int = 3) -> Split:
    """Dispatch by split name (one of :data:`SPLITS`, or ``"auto"``: the given split when the
    source defines one, else leave-one-out).

    Raises
    ------
    ValueError
        For an unknown name (the valid names are listed).
    """
    if name == "auto":
        name = "given" if dataset.has_given_split else "leave-one-out"
    if name == "leave-one-out":
        split = leave_one_out(dataset, min_user_interactions=min_user_interactions)
    elif name == "cold-start-items":
        split = cold_start_items(dataset, cold_frac=cold_frac, seed=seed, min_user_interactions=min_user_interactions)
    elif name == "temporal":
        split = temporal(dataset)
    elif name == "given":
        split = given(dataset, seed=seed)
    else:
        raise ValueError(f"unknown split {name!r}; choose one of {', '.join(SPLITS)} or auto")
    if len(split.test) == 0:
        raise ValueError(_no_test_cases(dataset, name, min_user_interactions))
    return split


def _no_test_cases(dataset: RecDataset, name: str, min_user_interactions: int) -> str:
    """Why a split of ``dataset`` has no test case, for the error message."""
    per_user = dataset.interactions.groupby("user_id").size()
    most = int(per_user.max()) if len(per_user) else 0
    why = (f"leave-one-out needs users with at least {min_user_interactions} interactions (train, valid, test); "
           f"the most any of its {len(per_user)} users has is {most}" if name in ("leave-one-out", "cold-start-items")
           else "no test-period interaction comes from a user with earlier history" if name == "temporal"
           else "the given test file yields no case with a training history")
    return f"dataset {dataset.name!r}: the {name} split has no test cases — {why}"
