"""Evaluation cases: who is asked for recommendations, knowing what, expecting what."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EvalSet:
    """A batch of ranking cases, one per user.

    Attributes
    ----------
    users:
        ``int64 [n_cases]`` internal user indices.
    histories:
        ``n_cases`` arrays of ``int64`` internal item indices, chronological, that the model
        may use as input (for test cases: train + valid items). May be empty (cold-start user).
    targets:
        ``n_cases`` non-empty ``int64`` arrays of held-out items to retrieve (one item under
        leave-one-out; several under a temporal split).
    """

    users: np.ndarray
    histories: list[np.ndarray]
    targets: list[np.ndarray]

    def __post_init__(self) -> None:
        self.users = np.asarray(self.users, dtype=np.int64)
        if not (len(self.users) == len(self.histories) == len(self.targets)):
            raise ValueError(f"EvalSet: {len(self.users)} users, {len(self.histories)} histories, "
                             f"{len(self.targets)} targets — lengths must match")
        for i, t in enumerate(self.targets):
            if len(t) == 0:
                raise ValueError(f"EvalSet: case {i} (user index {self.users[i]}) has no target")

    def __len__(self) -> int:
        return len(self.users)

    def subset(self, mask: np.ndarray) -> "EvalSet":
        """Cases where ``mask`` (``bool [n_cases]``) is true."""
        idx = np.flatnonzero(mask)
        return EvalSet(self.users[idx], [self.histories[i] for i in idx], [self.targets[i] for i in idx])
