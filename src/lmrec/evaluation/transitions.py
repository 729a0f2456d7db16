"""Case slices by whether the (last history item → target) transition was seen in training.

An item-ID model can memorise transitions that occur in the training sequences: its item
embeddings are free parameters, so a pair (a → b) seen a few times can be ranked near the top.
A model that sees items only through their text has to *generalise* from what the items say.
Splitting the test cases into the two groups shows where each kind of model gets its hits:

* ``"seen_transition"``: the case's last history item ``a`` is followed by one of its targets
  ``b`` somewhere in the training sequences (consecutive items ``a, b`` of one training row);
* ``"unseen_transition"``: every other case, including cases with an empty history.

On the Amazon Scientific files (UniSRec's), for example, 9 % of the test cases are seen
transitions; SASRec-ID puts 76 % of them in its top 10 and text-only UniSRec 69 %, while on the
other 91 % the text model hits 7.4 % against SASRec-ID's 4.3 % (seed 0, history excluded; see
``bench/results/text_vs_id.md``). Where seen transitions are a large share of the test cases,
IDs have an edge that text alone cannot give.

This is a diagnostic slice in the spirit of the "memorisation vs generalisation" analyses of
sequential recommenders; the groups are defined here, not taken from a paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmrec.data.evalset import EvalSet

__all__ = ["SEEN", "UNSEEN", "transition_slices"]

SEEN = "seen_transition"
UNSEEN = "unseen_transition"


def _pair_codes(a: np.ndarray, b: np.ndarray, n_items: int) -> np.ndarray:
    return a.astype(np.int64) * np.int64(n_items) + b.astype(np.int64)


def transition_slices(train: Sequence[np.ndarray], eval_set: EvalSet, n_items: int) -> dict[str, np.ndarray]:
    """Case masks ``{"seen_transition", "unseen_transition"}`` for ``evaluate_ranking(case_slices=...)``.

    Parameters
    ----------
    train:
        Training sequences: one chronological ``int64`` array of item indices per user
        (``Split.train``); consecutive items of one array form a transition.
    eval_set:
        The cases to slice (``Split.valid`` or ``Split.test``).
    n_items:
        Catalogue size; every item index must lie in ``0..n_items-1``.

    Returns
    -------
    dict[str, np.ndarray]
        ``{"seen_transition": bool [n_cases], "unseen_transition": bool [n_cases]}``; the two
        masks partition the cases. A case is seen when the pair (its last history item, any of
        its targets) occurs as consecutive items in a training sequence; a case with an empty
        history is unseen.

    Raises
    ------
    ValueError
        If ``n_items`` is not positive, or an item index in ``train`` or in a case is outside
        ``0..n_items-1`` (the message names the training row or the case).
    """
    n_items = int(n_items)
    if n_items < 1:
        raise ValueError(f"n_items must be positive, got {n_items}")
    codes = []
    for row, seq in enumerate(train):
        seq = np.asarray(seq, dtype=np.int64)
        if len(seq) and (seq.min() < 0 or seq.max() >= n_items):
            raise ValueError(f"training row {row} holds an item index outside 0..{n_items - 1}: "
                             f"{int(seq.min())}..{int(seq.max())}; pass the split's own n_items")
        if len(seq) > 1:
            codes.append(_pair_codes(seq[:-1], seq[1:], n_items))
    seen_pairs = np.unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)
    case_of, queries = [], []
    for case, (hist, targets) in enumerate(zip(eval_set.histories, eval_set.targets)):
        if len(hist) == 0:
            continue
        items = np.concatenate([np.asarray(hist[-1:], dtype=np.int64), np.asarray(targets, dtype=np.int64)])
        if items.min() < 0 or items.max() >= n_items:
            raise ValueError(f"case {case} (user index {eval_set.users[case]}) holds an item index outside "
                             f"0..{n_items - 1}; pass the split's own n_items")
        queries.append(_pair_codes(np.full(len(items) - 1, items[0]), items[1:], n_items))
        case_of.append(np.full(len(items) - 1, case, dtype=np.int64))
    seen = np.zeros(len(eval_set), dtype=bool)
    if queries:
        hit = np.isin(np.concatenate(queries), seen_pairs)
        seen[np.concatenate(case_of)[hit]] = True
    return {SEEN: seen, UNSEEN: ~seen}
