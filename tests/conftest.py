"""Shared fixtures: a tiny dataset with text, and the path of the real shared datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def shared_datasets() -> Path:
    """The real datasets beside the checkout; integration tests skip when absent."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATASETS}")
    return SHARED_DATASETS


def make_tiny_dataset(n_users: int = 30, n_items: int = 12, seq_len: int = 8, seed: int = 0):
    """Users walk a ring of items in order (item k is followed by k+1), so next-item
    prediction is learnable; items have two text fields. External item ids start at "0"."""
    from lmrec.data.dataset import RecDataset

    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for t in range(seq_len):
            rows.append({"user_id": f"u{u}", "item_id": str((start + t) % n_items), "timestamp": 1000 + t})
    genres = ["space opera", "romantic comedy", "horror", "documentary"]
    items = pd.DataFrame({"title": [f"Movie number {i}" for i in range(n_items)],
                          "genres": [[genres[i % 4]] for i in range(n_items)]},
                         index=[str(i) for i in range(n_items)])
    return RecDataset("tiny", pd.DataFrame(rows), items, text_fields=["title", "genres"])


@pytest.fixture
def tiny_dataset():
    return make_tiny_dataset()


@pytest.fixture
def make_tiny():
    """The :func:`make_tiny_dataset` factory, for tests that need other sizes."""
    return make_tiny_dataset
