"""Cold-start users split: a seeded share of users has no training interaction at all.

Users are drawn (seeded) among the *eligible* users — typically those who have profile or tag
text, since cold users can only be recommended from what they told us. The chosen users are
split into validation and test cold users; each of their interactions is a target of one case
with an **empty history**, so a model can only use the user's text (or popularity). Every other
user keeps all interactions in training. Cold users' tags/profiles are text, not interactions:
they stay available (built with :func:`lmrec.data.user_text.build_user_texts`, whose tag source
then reads the cold user's own tags — the premise of the setting: the user tells us their tastes).
"""

from __future__ import annotations

import numpy as np

from lmrec.data.dataset import RecDataset
from lmrec.data.evalset import EvalSet
from lmrec.data.splits import Split, user_sequences


def cold_start_users(dataset: RecDataset, *, cold_frac: float = 0.2, valid_frac: float = 0.1, seed: int = 0,
                     eligible: np.ndarray | None = None, min_user_interactions: int = 1) -> Split:
    """Split with cold test and cold validation users.

    Parameters
    ----------
    dataset:
        Any dataset (order is not needed).
    cold_frac, valid_frac:
        Shares of the eligible users made cold test / cold valid users.
    seed:
        Seed of the user draw.
    eligible:
        ``bool [n_users]`` users that may be made cold (default: all with at least
        ``min_user_interactions`` interactions).
    min_user_interactions:
        Users with fewer interactions are never made cold.

    Returns
    -------
    Split
        ``name="cold-start-users"``; ``valid``/``test`` cases have empty histories and all of the
        user's (distinct) items as targets; ``report`` holds the counts and the seed.

    Raises
    ------
    ValueError
        If the shares are not in (0, 1) with ``cold_frac + valid_frac < 1``, the mask has the
        wrong shape, or fewer than 2 users are eligible.
    """
    if not (0 < cold_frac < 1 and 0 < valid_frac < 1 and cold_frac + valid_frac < 1):
        raise ValueError(f"need 0 < cold_frac, valid_frac and cold_frac + valid_frac < 1 "
                         f"(got {cold_frac}, {valid_frac})")
    seqs, _ = user_sequences(dataset)
    n = dataset.n_users
    lengths = np.array([len(s) for s in seqs])
    ok = lengths >= max(1, min_user_interactions)
    if eligible is not None:
        eligible = np.asarray(eligible, dtype=bool)
        if eligible.shape != (n,):
            raise ValueError(f"eligible mask has shape {eligible.shape}, expected ({n},)")
        ok &= eligible
    pool = np.flatnonzero(ok)
    if len(pool) < 2:
        raise ValueError(f"dataset {dataset.name!r}: only {len(pool)} eligible user(s); cannot make users cold")
    rng = np.random.default_rng(seed)
    pool = rng.permutation(pool)
    n_test = max(1, int(round(cold_frac * len(pool))))
    n_valid = max(1, int(round(valid_frac * len(pool))))
    test_users, valid_users = np.sort(pool[:n_test]), np.sort(pool[n_test:n_test + n_valid])
    cold = np.zeros(n, dtype=bool)
    cold[test_users] = cold[valid_users] = True
    empty = np.zeros(0, dtype=np.int64)
    train = [empty if cold[u] else np.asarray(s, dtype=np.int64) for u, s in enumerate(seqs)]

    def cases(users: np.ndarray) -> EvalSet:
        return EvalSet(users, [empty for _ in users], [np.unique(seqs[u]) for u in users])

    report = {"seed": seed, "cold_frac": cold_frac, "valid_frac": valid_frac, "n_eligible_users": int(len(pool)),
              "n_cold_test_users": int(n_test), "n_cold_valid_users": int(n_valid),
              "n_warm_users": int(n - n_test - n_valid),
              "policy": "cold users have no training interaction; targets = all their items; history empty"}
    return Split("cold-start-users", n, dataset.n_items, train, cases(valid_users), cases(test_users), report=report)
