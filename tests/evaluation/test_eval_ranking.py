"""evaluate_ranking on tiny cases whose ranks can be counted by hand."""

import math

import numpy as np
import pytest

from lmrec.data.evalset import EvalSet
from lmrec.evaluation import evaluate_ranking, history_length_slices

L2 = math.log2


def table_scorer(table):
    """score_fn returning row ``users[i]`` of ``table`` (float32)."""
    table = np.asarray(table, dtype=np.float32)
    calls = []

    def score(users, histories):
        calls.append(len(users))
        assert users.dtype == np.int64 and len(histories) == len(users)
        return table[users]
    score.calls = calls
    return score


def one_case(history, targets):
    return EvalSet(np.array([0]), [np.array(history, dtype=np.int64)], [np.array(targets, dtype=np.int64)])


def test_output_layout_and_rank_one_of_five():
    # target item 3 scores 0.7; only item 2 (0.9) is higher -> rank 1
    score = table_scorer([[0.1, 0.5, 0.9, 0.7, 0.3]])
    out = evaluate_ranking(score, one_case([], [3]), 5, ks=(1, 3, 5))
    assert out["protocol"] == {"candidates": "full", "n_negatives": None, "negative_sampling": None,
                               "seed": None, "exclude_history": True, "tie_breaking": "pessimistic",
                               "target_ranking": "filtered", "ks": [1, 3, 5]}
    assert out["n_cases"] == 1 and out["n_targets_in_history"] == 0 and out["slices"] == {}
    m = out["metrics"]
    assert list(m) == [f"{n}@{k}" for k in (1, 3, 5) for n in ("recall", "ndcg", "mrr", "hit")]
    assert all(type(v) is float for v in m.values())
    assert (m["recall@1"], m["ndcg@1"], m["mrr@1"], m["hit@1"]) == (0.0, 0.0, 0.0, 0.0)
    assert m["recall@3"] == m["hit@3"] == 1.0
    assert m["ndcg@3"] == pytest.approx(1 / L2(3))
    assert m["mrr@3"] == m["mrr@5"] == 0.5


def test_constant_scores_get_no_credit():
    score = table_scorer([[1.0] * 5])
    out = evaluate_ranking(score, one_case([0, 1], [2]), 5, ks=(1, 4, 5), exclude_history=False)
    m = out["metrics"]   # pessimistic: the 4 other items tie with the target -> rank 4
    assert m["hit@4"] == 0.0 and m["mrr@4"] == 0.0
    assert m["hit@5"] == 1.0 and m["mrr@5"] == pytest.approx(1 / 5)
    assert m["ndcg@5"] == pytest.approx(1 / L2(6))
    m = evaluate_ranking(score, one_case([0, 1], [2]), 5, ks=(3,))["metrics"]
    assert m["mrr@3"] == pytest.approx(1 / 3)   # 2 history items excluded -> rank 2


def test_history_exclusion_moves_target_up_by_excluded_higher_items():
    score = table_scorer([[0.9, 0.8, 0.7, 0.6, 0.5]])
    case = one_case([0, 2, 4], [3])          # items 0 and 2 beat the target, 4 does not
    kept = evaluate_ranking(score, case, 5, ks=(5,), exclude_history=False)["metrics"]
    excl = evaluate_ranking(score, case, 5, ks=(5,), exclude_history=True)["metrics"]
    assert kept["mrr@5"] == pytest.approx(1 / 4)     # rank 3
    assert excl["mrr@5"] == pytest.approx(1 / 2)     # rank 3 - 2 = 1


def test_target_in_history_is_counted_and_missed():
    score = table_scorer([[0.1, 0.9, 0.2, 0.3]])
    case = one_case([1, 2], [1, 3])
    out = evaluate_ranking(score, case, 4, ks=(4,), exclude_history=True)
    assert out["n_targets_in_history"] == 1
    # item 1 unreachable; item 3 is the best remaining candidate -> position 0
    assert out["metrics"]["recall@4"] == 0.5 and out["metrics"]["mrr@4"] == 1.0
    out = evaluate_ranking(score, case, 4, ks=(4,), exclude_history=False)
    assert out["n_targets_in_history"] == 1
    assert out["metrics"]["recall@4"] == 1.0


def test_multi_target_filtered_ranks_by_hand():
    score = table_scorer([[0.9, 0.8, 0.7, 0.6, 0.5, 0.4]])
    # filtered ranks: item 1 -> 1 (item 0 ahead), item 4 -> 3 (items 0, 2, 3 ahead);
    # list positions 1 and 3 + 1 = 4.
    m = evaluate_ranking(score, one_case([], [4, 1]), 6, ks=(2, 5))["metrics"]
    assert m["recall@2"] == 0.5 and m["recall@5"] == 1.0
    assert m["ndcg@5"] == pytest.approx((1 / L2(3) + 1 / L2(6)) / (1 + 1 / L2(3)))
    assert m["mrr@2"] == 0.5
    # two targets tied at the top do not push each other down: NDCG 1, not above
    tied = table_scorer([[0.9, 0.9, 0.1]])
    m = evaluate_ranking(tied, one_case([], [0, 1]), 3, ks=(2,))["metrics"]
    assert m["ndcg@2"] == pytest.approx(1.0) and m["recall@2"] == 1.0


def test_nan_raises_naming_the_user():
    table = np.zeros((50, 4), dtype=np.float32)
    table[42, 2] = np.nan
    es = EvalSet(np.array([7, 42]), [np.array([0]), np.array([1])], [np.array([1]), np.array([3])])
    with pytest.raises(ValueError, match="user index 42"):
        evaluate_ranking(table_scorer(table), es, 4)


def test_bad_inputs_raise():
    score = table_scorer([[0.0, 1.0, 2.0]])
    with pytest.raises(ValueError, match="target item 5 is outside"):
        evaluate_ranking(score, one_case([], [5]), 3)
    with pytest.raises(ValueError, match="expected \\(1, 4\\)"):
        evaluate_ranking(score, one_case([], [1]), 4)
    with pytest.raises(ValueError, match="protocol"):
        evaluate_ranking(score, one_case([], [1]), 3, protocol="loo")
    with pytest.raises(ValueError, match="item_slices"):
        evaluate_ranking(score, one_case([], [1]), 3, item_slices={"cold": np.array([True])})


def random_setup(n_cases=37, n_items=60, seed=3, max_targets=4):
    rng = np.random.default_rng(seed)
    table = rng.normal(size=(n_cases, n_items)).astype(np.float32)
    table[:, :5] = np.round(table[:, :5])        # a few ties
    hists = [rng.choice(n_items, rng.integers(0, 12), replace=False) for _ in range(n_cases)]
    tgts = [rng.choice(n_items, rng.integers(1, max_targets + 1), replace=False) for _ in range(n_cases)]
    return EvalSet(np.arange(n_cases), hists, tgts), table


def brute_force_ranks(table, es, exclude_history):
    """Filtered pessimistic list positions, one explicit loop per target."""
    out = []
    for u, h, t in zip(es.users, es.histories, es.targets):
        s = table[u]
        cands = [i for i in range(len(s)) if i not in set(t) and not (exclude_history and i in set(h))]
        filtered = sorted(UNR if (exclude_history and x in set(h)) else sum(s[c] >= s[x] for c in cands)
                          for x in t)
        out.append([r if r == UNR else r + j for j, r in enumerate(filtered)])
    return out


UNR = 10**9


@pytest.mark.parametrize("exclude_history", [True, False])
@pytest.mark.parametrize("max_targets", [4, 45])   # 45 exercises the sort path (> 32 targets)
def test_matches_brute_force_and_batch_size_does_not_matter(exclude_history, max_targets):
    from lmrec.evaluation.metrics import ndcg_at_k, pad_ranks, recall_at_k

    es, table = random_setup(max_targets=max_targets)
    ref = pad_ranks(brute_force_ranks(table, es, exclude_history))
    outs = [evaluate_ranking(table_scorer(table), es, table.shape[1], ks=(1, 5, 10), batch_size=bs,
                             exclude_history=exclude_history) for bs in (1, 7, 256)]
    assert outs[0] == outs[1] == outs[2]
    m = outs[0]["metrics"]
    assert m["ndcg@10"] == pytest.approx(ndcg_at_k(ref, 10).mean())
    assert m["recall@5"] == pytest.approx(recall_at_k(ref, 5).mean())


def test_batches_bound_the_score_matrix():
    es, table = random_setup(n_cases=10)
    score = table_scorer(table)
    evaluate_ranking(score, es, table.shape[1], batch_size=4)
    assert score.calls == [4, 4, 2]


def test_torch_tensor_scores_accepted():
    torch = pytest.importorskip("torch")
    es, table = random_setup()
    ref = evaluate_ranking(table_scorer(table), es, table.shape[1])
    out = evaluate_ranking(lambda u, h: torch.from_numpy(table[u]), es, table.shape[1])
    assert out == ref


def test_sampled_protocol_by_hand_and_labelled():
    score = table_scorer([[0.5, 0.9, 0.1, 0.2, 0.3]])
    out = evaluate_ranking(score, one_case([], [0]), 5, ks=(1, 2), protocol="sampled", n_negatives=4)
    assert out["protocol"]["candidates"] == "sampled"
    assert out["protocol"]["n_negatives"] == 4 and out["protocol"]["negative_sampling"] == "uniform"
    assert out["protocol"]["seed"] == 0
    # all 4 other items are the negatives; only item 1 beats the target -> rank 1
    assert out["metrics"]["hit@1"] == 0.0 and out["metrics"]["mrr@2"] == 0.5


def test_sampled_is_seeded_and_avoids_history_and_targets():
    es, _ = random_setup(n_cases=40, n_items=300, max_targets=1)
    rng = np.random.default_rng(0)
    table = rng.uniform(size=(40, 300)).astype(np.float32)
    for u, h, t in zip(es.users, es.histories, es.targets):
        table[u, h] = 100.0        # would beat the target if sampled
        table[u, t] = 50.0
    # exclude_history=False: a target that is also in the history stays rankable
    run = lambda **kw: evaluate_ranking(table_scorer(table), es, 300, ks=(1,), protocol="sampled",
                                        n_negatives=30, exclude_history=False, **kw)
    a, b = run(seed=1), run(seed=1, batch_size=3)
    assert a == b
    assert a["metrics"]["hit@1"] == 1.0
    # a random scorer gives seed-dependent sampled numbers
    noise = table_scorer(np.random.default_rng(5).uniform(size=(40, 300)))
    m = [evaluate_ranking(noise, es, 300, ks=(10,), protocol="sampled", n_negatives=30, seed=s)["metrics"]
         for s in (1, 1, 2)]
    assert m[0] == m[1] and m[0] != m[2]


def test_popularity_sampling():
    n_items = 50
    es = EvalSet(np.arange(20), [np.array([0])] * 20, [np.array([1])] * 20)
    pop = np.ones(n_items)
    pop[40:] = 0.0                      # never sampled
    table = np.zeros((20, n_items), dtype=np.float32)
    table[:, 40:] = 10.0                # would beat the target
    table[:, 1] = 1.0
    out = evaluate_ranking(table_scorer(table), es, n_items, ks=(1,), protocol="sampled",
                           negative_sampling="popularity", item_popularity=pop, n_negatives=38)
    assert out["protocol"]["negative_sampling"] == "popularity"
    assert out["metrics"]["hit@1"] == 1.0          # 38 = every positive-popularity negative
    with pytest.raises(ValueError, match="only 38 items"):
        evaluate_ranking(table_scorer(table), es, n_items, protocol="sampled",
                         negative_sampling="popularity", item_popularity=pop, n_negatives=39)
    with pytest.raises(ValueError, match="item_popularity"):
        evaluate_ranking(table_scorer(table), es, n_items, protocol="sampled",
                         negative_sampling="popularity")


def test_item_and_case_slices():
    # 4 items scored 0.9 > 0.8 > 0.7 > 0.6 for everybody; item 3 is cold
    table = np.tile(np.array([0.9, 0.8, 0.7, 0.6], dtype=np.float32), (3, 1))
    es = EvalSet(np.arange(3),
                 [np.array([], dtype=np.int64), np.array([0, 1, 2, 0, 1, 2]), np.array([2])],
                 [np.array([0, 3]), np.array([3]), np.array([1])])
    cold = np.array([False, False, False, True])
    out = evaluate_ranking(table_scorer(table), es, 4, ks=(1, 4),
                           item_slices={"cold_items": cold, "warm_items": ~cold},
                           case_slices=history_length_slices(es, bins=(1, 3)))
    s = out["slices"]
    # cold targets: case 0 item 3 (filtered rank 2: items 1, 2 ahead), case 1 item 3 (rank 0)
    assert s["cold_items"]["n_cases"] == 2 and s["cold_items"]["n_targets"] == 2
    assert s["cold_items"]["metrics"]["mrr@4"] == pytest.approx((1 / 3 + 1) / 2)
    # warm targets: case 0 item 0 (rank 0), case 2 item 1 (rank 1: item 0 ahead)
    assert s["warm_items"]["n_cases"] == 2
    assert s["warm_items"]["metrics"]["mrr@4"] == pytest.approx((1 + 1 / 2) / 2)
    # history lengths 0, 6, 1
    assert s["hist_len<1"]["n_cases"] == 1 and s["hist_len 1-3"]["n_cases"] == 1
    assert s["hist_len>3"]["n_cases"] == 1
    assert s["hist_len>3"]["metrics"]["recall@1"] == 1.0      # case 1: item 3 alone
    # case 0: positions 0 and 2 + 1 = 3
    assert s["hist_len<1"]["metrics"]["ndcg@4"] == pytest.approx((1 + 1 / L2(5)) / (1 + 1 / L2(3)))
    assert out["metrics"]["mrr@4"] == pytest.approx((1 + 1 + 1 / 2) / 3)


def test_empty_slice_has_no_metrics():
    score = table_scorer([[0.0, 1.0]])
    out = evaluate_ranking(score, one_case([], [1]), 2, item_slices={"none": np.array([True, False])})
    assert out["slices"]["none"] == {"n_cases": 0, "n_targets": 0, "metrics": {}}


def test_history_length_slices_labels_and_bounds():
    es = EvalSet(np.arange(6), [np.arange(n) for n in (0, 4, 5, 20, 21, 60)], [np.array([0])] * 6)
    s = history_length_slices(es)
    assert {k: v.tolist() for k, v in s.items()} == {
        "hist_len<5": [True, True, False, False, False, False],
        "hist_len 5-20": [False, False, True, True, False, False],
        "hist_len>20": [False, False, False, False, True, True],
    }
    assert list(history_length_slices(es, bins=(5, 20, 50))) == [
        "hist_len<5", "hist_len 5-20", "hist_len 21-50", "hist_len>50"]
    assert list(history_length_slices(es, bins=(5,))) == ["hist_len<5", "hist_len>=5"]
    with pytest.raises(ValueError, match="strictly increasing"):
        history_length_slices(es, bins=(20, 5))
