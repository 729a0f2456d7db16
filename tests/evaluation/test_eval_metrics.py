"""Metric functions against values computed by hand."""

import math

import numpy as np
import pytest

from lmrec.evaluation.metrics import (
    UNREACHABLE,
    hit_rate_at_k,
    list_positions,
    mrr_at_k,
    ndcg_at_k,
    pad_ranks,
    recall_at_k,
)

L2 = math.log2


@pytest.mark.parametrize("k, recall, ndcg, mrr", [
    (1, [1, 0, 0], [1, 0, 0], [1, 0, 0]),
    (3, [1, 1, 0], [1, 1 / L2(4), 0], [1, 1 / 3, 0]),
    (5, [1, 1, 1], [1, 1 / L2(4), 1 / L2(6)], [1, 1 / 3, 1 / 5]),
])
def test_single_target_ranks_0_2_4(k, recall, ndcg, mrr):
    ranks = np.array([0, 2, 4])
    np.testing.assert_allclose(recall_at_k(ranks, k), recall)
    np.testing.assert_allclose(hit_rate_at_k(ranks, k), recall)   # one target: recall == hit
    np.testing.assert_allclose(ndcg_at_k(ranks, k), ndcg)
    np.testing.assert_allclose(mrr_at_k(ranks, k), mrr)
    assert recall_at_k(ranks, k).dtype == np.float64


def test_multi_target_by_hand():
    ranks = pad_ranks([[0, 2], [1, 3, 5], [5, 0, 1]])
    assert ranks.tolist() == [[0, 2, -1], [1, 3, 5], [5, 0, 1]]
    # case 0: DCG = 1 + 1/log2(4) = 1.5, IDCG = 1 + 1/log2(3)
    # case 1: only rank 1 hits: DCG = 1/log2(3), IDCG = 1 + 1/log2(3) + 1/log2(4)
    # case 2: ranks 0, 1 hit (5 misses): DCG = 1 + 1/log2(3), IDCG = 1 + 1/log2(3) + 1/log2(4)
    expected_ndcg = [1.5 / (1 + 1 / L2(3)), (1 / L2(3)) / (1 + 1 / L2(3) + 0.5),
                     (1 + 1 / L2(3)) / (1 + 1 / L2(3) + 0.5)]
    np.testing.assert_allclose(ndcg_at_k(ranks, 3), expected_ndcg)
    np.testing.assert_allclose(recall_at_k(ranks, 3), [1.0, 1 / 3, 2 / 3])
    np.testing.assert_allclose(hit_rate_at_k(ranks, 3), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(mrr_at_k(ranks, 3), [1.0, 0.5, 1.0])
    # IDCG over min(|T|, K): with K=2 case 2 is ideal, case 0 has DCG 1 over IDCG 1+1/log2(3)
    np.testing.assert_allclose(ndcg_at_k(ranks, 2), [1 / (1 + 1 / L2(3)), (1 / L2(3)) / (1 + 1 / L2(3)), 1.0])


def test_unreachable_is_a_miss_but_counts_in_recall():
    ranks = np.array([[0, UNREACHABLE]])
    assert recall_at_k(ranks, 10).tolist() == [0.5]
    np.testing.assert_allclose(ndcg_at_k(ranks, 10), [1 / (1 + 1 / L2(3))])
    assert hit_rate_at_k(ranks, 10).tolist() == [1.0]


def test_list_positions_add_targets_ahead():
    assert list_positions(np.array([[0, 0, -1], [4, 1, 2]])).tolist() == [[0, 1, -1], [6, 1, 3]]
    assert list_positions(np.array([[UNREACHABLE, 2]])).tolist() == [[UNREACHABLE, 2]]


def test_errors():
    with pytest.raises(ValueError, match="no target"):
        recall_at_k(np.array([[0, -1], [-1, -1]]), 5)
    with pytest.raises(ValueError, match="two targets at rank 0"):
        ndcg_at_k(np.array([[0, 0]]), 5)
    with pytest.raises(ValueError, match="positive integer"):
        mrr_at_k(np.array([0]), 0)
    with pytest.raises(ValueError, match="integer array"):
        recall_at_k(np.array([0.5]), 1)
    with pytest.raises(ValueError, match="below -1"):
        recall_at_k(np.array([-3]), 1)
