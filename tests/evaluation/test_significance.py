import numpy as np
import pytest

from lmrec.data.evalset import EvalSet
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.evaluation.significance import paired_interval


def test_paired_interval_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(0)
    base = (rng.random(4000) < 0.10).astype(float)
    better = np.maximum(base, (rng.random(4000) < 0.05).astype(float))  # strictly more hits, same cases
    iv = paired_interval(better, base)
    assert iv["excludes_zero"] and iv["low"] > 0 and iv["diff"] == pytest.approx(better.mean() - base.mean())
    same = paired_interval(rng.permutation(base), base, seed=1)  # same rate, unrelated cases
    assert not same["excludes_zero"] and same["low"] < 0 < same["high"]
    seeds = paired_interval(np.stack([better, base]), base)  # seeds averaged per case first
    assert seeds["diff"] == pytest.approx((better.mean() - base.mean()) / 2)


def test_paired_interval_refuses_unpaired_input():
    with pytest.raises(ValueError, match="same cases"):
        paired_interval(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="NaN"):
        paired_interval(np.array([0.0, np.nan]), np.zeros(2))


def test_evaluate_ranking_returns_per_case_metrics_that_average_to_the_summary():
    es = EvalSet(np.array([0, 1, 2]), [np.array([1]), np.array([0]), np.array([3])],
                 [np.array([2]), np.array([3]), np.array([0])])
    scores = np.array([[0.0, 1.0, 3.0, 2.0], [0.0, 1.0, 3.0, 2.0], [0.0, 1.0, 3.0, 2.0]])
    out = evaluate_ranking(lambda u, h: scores[u], es, 4, ks=(1,), return_per_case=True)
    assert out["per_case"]["recall@1"].tolist() == [1.0, 0.0, 0.0]
    assert out["metrics"]["recall@1"] == pytest.approx(out["per_case"]["recall@1"].mean())
    assert "per_case" not in evaluate_ranking(lambda u, h: scores[u], es, 4, ks=(1,))
