"""Early stopping on a validation metric (higher is better)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EarlyStopping:
    """Remember the best epoch and its weights; say when to stop.

    Parameters
    ----------
    patience:
        Epochs without improvement of more than ``min_delta`` before stopping.
    min_delta:
        Smallest improvement that counts.
    """

    patience: int = 10
    min_delta: float = 0.0
    best: float = float("-inf")
    best_epoch: int = -1
    best_state: dict[str, Any] | None = field(default=None, repr=False)
    bad_epochs: int = 0

    def step(self, value: float, epoch: int, state: dict[str, Any]) -> bool:
        """Record ``value`` for ``epoch``; returns ``True`` when it is the best so far."""
        if value > self.best + self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            self.best_state = copy.deepcopy(state)
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience
