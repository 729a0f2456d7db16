"""Zero-shot evaluation never reads the target's training data; ZESRec / UniSRec score new domains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import RecDataset
from lmrec.data.multidomain import MultiDomainDataset
from lmrec.data.splits import make_split
from lmrec.models.zesrec import ZESRec, pretrain_zesrec
from lmrec.training.pretrain import PretrainConfig, TrainAccessError, TrainAccessGuard, zero_shot_evaluate


def ring_dataset(name: str, n_users: int = 20, n_items: int = 10, seed: int = 0) -> RecDataset:
    """Users walk a ring of items (k → k+1) from random starting points."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        rows += [(f"u{u}", f"{name}{(start + t) % n_items}") for t in range(6)]
    items = pd.DataFrame({"title": [f"{name} product {i}" for i in range(n_items)]},
                         index=[f"{name}{i}" for i in range(n_items)])
    return RecDataset(name, pd.DataFrame(rows, columns=["user_id", "item_id"]), items, text_fields=["title"])


class PeekingModel:
    """A cheating scorer that looks at the target's training sequences."""

    def __init__(self, split):
        self.split = split

    def score(self, users, histories):
        _ = self.split.train[0]
        return np.zeros((len(users), self.split.n_items), dtype=np.float32)


def test_guard_raises_and_counts_every_read():
    guard = TrainAccessGuard()
    for read in (lambda: guard[0], lambda: len(guard), lambda: list(iter(guard))):
        with pytest.raises(TrainAccessError):
            read()
    assert guard.accesses == 3


def test_zero_shot_refuses_a_model_that_reads_training_data():
    split = make_split(ring_dataset("t"), "leave-one-out")
    with pytest.raises(TrainAccessError, match="training sequences"):
        zero_shot_evaluate(PeekingModel(split), split)
    assert len(split.train) == 20  # restored afterwards


def test_zesrec_zero_shot_on_new_domain_touches_no_training_data():
    rng = np.random.default_rng(0)
    src = MultiDomainDataset.from_datasets([ring_dataset("a"), ring_dataset("b", seed=1)])
    vec = rng.normal(size=(src.n_items, 8)).astype(np.float32)
    pre = pretrain_zesrec(src, vec, PretrainConfig(epochs=2, batch_size=16, zesrec_hidden=8),
                          encoder_identity={"model": "fake"}, encoder_hash="fake")
    target = ring_dataset("t", seed=2)
    split = make_split(target, "leave-one-out")
    model = ZESRec.from_pretrained(pre).set_catalog(rng.normal(size=(split.n_items, 8)).astype(np.float32))
    out = zero_shot_evaluate(model, split, ks=(10,))
    assert out["train_accesses"] == 0
    assert out["n_cases"] == 20
    # an empty history is scored through the learned start item (finite, one row per case)
    scores = model.score(np.array([0]), [np.zeros(0, dtype=np.int64)])
    assert scores.shape == (1, 10) and np.isfinite(scores).all()
