"""Fixtures for scale-out tests: a tiny random BERT built from a config, a small catalog file."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")



def write_catalog(path: Path, n: int) -> Path:
    """``n`` items: ids ``i0…``, title ``Item number k`` and a genre; format from the suffix."""
    genres = ["space opera", "romantic comedy", "horror", "documentary"]
    df = pd.DataFrame({"item_id": [f"i{k}" for k in range(n)], "title": [f"Item number {k}" for k in range(n)],
                       "genre": [genres[k % 4] for k in range(n)]})
    if path.suffix == ".parquet":
        df.to_parquet(path, row_group_size=7)        # row groups that do not line up with shards
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True)
    return path


@pytest.fixture
def catalog_factory(tmp_path):
    return lambda name, n: write_catalog(tmp_path / name, n)


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
