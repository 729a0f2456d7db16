"""Fixtures for the service tests: a tiny dataset on disk, a word-hashing text encoder, runs.

The encoder is torch-free and deterministic: a text's vector is the normalised sum of one
random vector per word, so texts sharing words are close (enough to check retrieval by hand).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.encoders.base import TextEncoder


class WordHashEncoder(TextEncoder):
    """Bag-of-words hashing encoder (dim 16)."""

    backend = "wordhash"

    def __init__(self, dim: int = 16):
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_length(self) -> int:
        return 64

    def identity(self) -> dict:
        return {"backend": self.backend, "model": "wordhash", "dim": self._dim}

    def _encode_batch(self, texts):
        out = []
        for t in texts:
            v = np.zeros(self._dim, dtype=np.float32)
            for w in t.lower().replace(".", " ").split():
                seed = int.from_bytes(hashlib.sha256(w.encode()).digest()[:8], "little")
                v += np.random.default_rng(seed).standard_normal(self._dim).astype(np.float32)
            out.append(v / max(np.linalg.norm(v), 1e-12))
        return np.stack(out)

    def _token_lengths(self, texts):
        return [len(t.split()) for t in texts]


GENRES = ["space opera", "romantic comedy", "horror", "documentary"]


def write_tiny_dataset(root: Path, n_users: int = 30, n_items: int = 12, seq_len: int = 8) -> Path:
    """A ring-walk dataset (see tests/conftest.py) as a generic table folder ``root/tiny``."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for t in range(seq_len):
            rows.append({"user_id": f"u{u}", "item_id": str((start + t) % n_items), "timestamp": 1000 + t})
    folder = root / "tiny"
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "events.csv", index=False)
    pd.DataFrame({"item_id": [str(i) for i in range(n_items)], "title": [f"Movie number {i}" for i in range(n_items)],
                  "genres": [GENRES[i % 4] for i in range(n_items)]}).to_csv(folder / "items.csv", index=False)
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.csv",
        "columns": {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp"},
        "items": "items.csv", "item_id": "item_id", "text_fields": ["title", "genres"]}))
    return root


def make_run(tmp_path: Path, model: str, encoder: TextEncoder, *, name: str | None = None, **params) -> Path:
    """Train ``model`` on the tiny dataset (written once under ``tmp_path/data``) with ``encoder``'s
    vectors; returns the run directory ``tmp_path/(name or run-MODEL)``."""
    from lmrec.data.registry import load_dataset
    from lmrec.data.text import build_item_texts
    from lmrec.pipeline import ExperimentConfig, item_template, run_experiment

    data = tmp_path / "data"
    if not (data / "tiny").exists():
        write_tiny_dataset(data)
    cfg = ExperimentConfig(dataset="tiny", model=model, data_dir=str(data), model_params=params)
    ds = load_dataset("tiny", data)
    texts, _ = build_item_texts(ds.items, ds.item_map.ids, item_template(ds, cfg))
    vectors = encoder.encode(texts)
    report = {"encoder": encoder.identity()}
    run_dir = tmp_path / (name or f"run-{model}")
    run_experiment(cfg, run_dir, dataset=ds, item_vectors=vectors, encode_report=report)
    return run_dir


FAST_SASREC = {"epochs": 2, "patience": 2, "hidden": 16, "inner": 32, "batch_size": 32}


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def encoder():
    return WordHashEncoder()


@pytest.fixture
def make_serving_run(tmp_path):
    """``make_serving_run(model, encoder, name=None, **params)`` → run directory (see :func:`make_run`)."""
    return lambda model, encoder, **params: make_run(tmp_path, model, encoder, **params)


@pytest.fixture
def fast_sasrec():
    return dict(FAST_SASREC)
