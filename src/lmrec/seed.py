"""One seed for all randomness (Python, NumPy, PyTorch)."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's global state and PyTorch (if installed).

    Returns a fresh ``numpy.random.Generator`` seeded with ``seed`` for code that prefers
    explicit generators.
    """
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency, but keep this importable
        pass
    else:
        torch.manual_seed(seed)
    return np.random.default_rng(seed)
