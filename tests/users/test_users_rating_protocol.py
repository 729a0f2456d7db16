"""Rating protocol: metrics by hand, 80/10/10 pair split, no review of a held-out pair in the inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import RecDataset
from lmrec.evaluation.rating import (ReviewLeakError, assert_no_review_leak, mae, rmse, split_rating_pairs,
                                     training_review_rows)
from lmrec.models.mf import BiasedMF, GlobalMean


def _ratings_dataset(n_users: int = 20, n_items: int = 10, seed: int = 0, repeat: int = 0) -> RecDataset:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, size=5, replace=False):
            r = 5.0 if (u + i) % 2 == 0 else 1.0
            rows.append({"user_id": f"u{u}", "item_id": f"i{i}", "timestamp": len(rows), "rating": r,
                         "review_text": f"review of u{u} on i{i}", "summary": "s"})
    rows += [dict(rows[k], timestamp=1000 + k) for k in range(repeat)]  # repeated (user, item) lines
    return RecDataset("ratings", pd.DataFrame(rows), pd.DataFrame({"title": [f"t{i}" for i in range(n_items)]},
                                                                   index=[f"i{i}" for i in range(n_items)]))


def test_rmse_mae_by_hand():
    assert rmse(np.array([1.0, 3.0]), np.array([2.0, 5.0])) == pytest.approx(np.sqrt((1 + 4) / 2))
    assert mae(np.array([1.0, 3.0]), np.array([2.0, 5.0])) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        rmse(np.array([np.nan]), np.array([1.0]))


def test_pair_split_is_80_10_10_seeded_and_collapses_repeats():
    ds = _ratings_dataset(repeat=7)
    split = split_rating_pairs(ds, seed=3)
    assert split.report["n_pairs"] == 100 and split.report["n_repeated_rows_dropped"] == 7
    assert [len(split.rows[p]) for p in ("train", "valid", "test")] == [80, 10, 10]
    assert not set(split.rows["train"]) & set(split.rows["test"])
    again = split_rating_pairs(ds, seed=3)
    np.testing.assert_array_equal(split.rows["test"], again.rows["test"])


def test_no_review_of_a_test_pair_in_the_inputs():
    ds = _ratings_dataset(repeat=30)
    split = split_rating_pairs(ds, seed=0)
    by_user, by_item = training_review_rows(split, max_per_user=100, max_per_item=100)
    assert_no_review_leak(split, by_user + by_item)           # passes: training rows only
    used = np.concatenate(by_user + by_item)
    for part in ("valid", "test"):
        assert not np.isin(split.rows[part], used).any()
    leaked = [np.concatenate([by_user[0], split.rows["test"][:1]])]
    with pytest.raises(ReviewLeakError, match="test pair"):
        assert_no_review_leak(split, leaked)


def test_repeated_copy_of_a_test_pair_is_caught():
    ds = _ratings_dataset(repeat=100)          # every pair repeated once at rows 100..199
    split = split_rating_pairs(ds, seed=0)
    held = int(split.rows["test"][0])
    copy = held + 100 if held < 100 else held - 100   # the other row of the same (user, item) pair
    with pytest.raises(ReviewLeakError):
        assert_no_review_leak(split, [np.array([copy])])


def test_mf_learns_the_checkerboard_better_than_the_mean():
    ds = _ratings_dataset(n_users=40, seed=1)
    split = split_rating_pairs(ds, seed=0)
    gm = GlobalMean().fit(*split.part("train"))
    mf = BiasedMF(dim=4, l2=0.001, lr=0.05, epochs=600, patience=600).fit(
        *split.part("train"), n_users=ds.n_users, n_items=ds.n_items, seed=0)
    u, i, r = split.part("train")
    assert rmse(mf.predict(u, i), r) < 0.5 * rmse(gm.predict(u, i), r)
    assert gm.predict(u[:2], i[:2]).tolist() == [pytest.approx(float(r.mean()))] * 2
