"""Negative sampling from impressions: 1 click + npratio non-clicks of the same impression."""

import numpy as np
import pytest

from lmrec.data.news import Impressions
from lmrec.training.news import sample_negatives


def _imps():
    return Impressions(impression_ids=["a", "b", "c"], user_ids=["u", "u", "v"], times=["", "", ""],
                       histories=[[], ["x"], []],
                       candidates=[["p1", "n1", "n2", "n3", "n4", "n5"], ["q1", "q2", "m1"], ["z1", "z2"]],
                       labels=[np.array([1, 0, 0, 0, 0, 0]), np.array([1, 1, 0]), np.array([0, 0])])


def test_one_sample_per_click_with_click_first():
    s = sample_negatives(_imps(), 4, np.random.default_rng(0))
    assert s.rows.tolist() == [0, 1, 1]                   # the no-click impression "c" gives nothing
    assert [c[0] for c in s.candidates] == ["p1", "q1", "q2"]
    assert all(len(c) == 5 for c in s.candidates)
    assert set(s.candidates[0][1:]) <= {"n1", "n2", "n3", "n4", "n5"}
    assert len(set(s.candidates[0][1:])) == 4              # enough non-clicks: no repeats
    assert s.candidates[1][1:] == ["m1"] * 4               # one non-click: drawn with replacement


def test_subsampling_and_errors():
    assert len(sample_negatives(_imps(), 4, np.random.default_rng(0), max_samples=2)) == 2
    unlabeled = _imps()
    unlabeled.labels = None
    with pytest.raises(ValueError, match="labeled"):
        sample_negatives(unlabeled, 4, np.random.default_rng(0))
