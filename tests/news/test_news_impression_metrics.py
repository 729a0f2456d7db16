"""Impression metrics against hand-computed values (MIND definitions, ties as expectation)."""

import math

import numpy as np
import pytest

from lmrec.evaluation.impressions import (evaluate_impressions, format_prediction_line,
                                          impression_metrics, ranks_from_scores)


def test_single_click_ranked_third():
    m = impression_metrics([0.9, 0.1, 0.5], [0, 1, 0])
    assert m["auc"] == 0.0                       # the click loses both pairs
    assert m["mrr"] == pytest.approx(1 / 3)
    assert m["ndcg@5"] == pytest.approx(1 / math.log2(4))   # rank 3: 1/log2(3+1) = 0.5
    assert m["ndcg@10"] == pytest.approx(0.5)


def test_two_clicks():
    # ranking: 0.4(neg) 0.3(pos) 0.2(neg) 0.1(pos)
    m = impression_metrics([0.4, 0.3, 0.2, 0.1], [0, 1, 0, 1])
    assert m["auc"] == pytest.approx(1 / 4)      # only (0.3 > 0.2) is a won pair
    assert m["mrr"] == pytest.approx((1 / 2 + 1 / 4) / 2)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert m["ndcg@5"] == pytest.approx(dcg / idcg)


def test_cutoff_separates_ndcg5_from_ndcg10():
    scores = [7, 6, 5, 4, 3, 2, 1]
    labels = [0, 0, 0, 0, 0, 1, 0]               # click at rank 6
    m = impression_metrics(scores, labels)
    assert m["ndcg@5"] == 0.0
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(7))
    assert m["mrr"] == pytest.approx(1 / 6)
    assert m["auc"] == pytest.approx(1 / 6)      # beats only the last non-click


def test_ties_are_expected_value_over_random_order():
    m = impression_metrics([0.5, 0.5, 0.1], [1, 0, 0])
    assert m["auc"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["mrr"] == pytest.approx((1 + 1 / 2) / 2)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(3)) / 2)


def test_constant_scores_equal_mean_of_all_orders():
    m = impression_metrics([1, 1, 1, 1], [1, 0, 0, 0])
    assert m["auc"] == 0.5
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)
    assert m["ndcg@10"] == pytest.approx(np.mean([1 / math.log2(r + 1) for r in range(1, 5)]))


def test_all_negative_and_all_positive_impressions_are_skipped_and_counted():
    assert impression_metrics([0.3, 0.2], [0, 0]) is None
    res = evaluate_impressions(
        [np.array([0.9, 0.1]), np.array([0.3, 0.2]), np.array([0.1, 0.9]), np.array([0.5, 0.4])],
        [np.array([1, 0]), np.array([0, 0]), np.array([1, 0]), np.array([1, 1])])
    assert res["n_evaluated"] == 2
    assert res["n_skipped_no_click"] == 1
    assert res["n_skipped_no_nonclick"] == 1
    assert res["metrics"]["auc"] == pytest.approx(0.5)       # mean of 1.0 and 0.0
    assert res["metrics"]["mrr"] == pytest.approx(0.75)      # mean of 1 and 1/2


def test_unlabeled_data_cannot_be_evaluated():
    with pytest.raises(ValueError, match="predict"):
        evaluate_impressions([np.array([0.1, 0.2])], None)


def test_length_mismatch_is_reported():
    with pytest.raises(ValueError, match="impression #0"):
        evaluate_impressions([np.array([0.1])], [np.array([1, 0])])


def test_prediction_line_in_mind_format():
    assert ranks_from_scores([0.1, 0.9, 0.9, 0.3]).tolist() == [4, 1, 2, 3]
    assert format_prediction_line("7", [0.1, 0.9, 0.9, 0.3]) == "7 [4,1,2,3]"
