"""Seen / unseen-transition case slices (lmrec.evaluation.transitions)."""

import numpy as np
import pytest

from lmrec.data.evalset import EvalSet
from lmrec.evaluation import evaluate_ranking, transition_slices


def _cases(histories, targets):
    return EvalSet(users=np.arange(len(histories)),
                   histories=[np.asarray(h, dtype=np.int64) for h in histories],
                   targets=[np.asarray(t, dtype=np.int64) for t in targets])


def test_seen_means_consecutive_in_one_training_row():
    train = [np.array([0, 1, 2]), np.array([3, 4])]
    cases = _cases(
        histories=[[5, 0], [2], [1], [], [0, 4, 3], [2, 3]],
        targets=[[1], [3], [0], [1], [4], [9, 4]])
    s = transition_slices(train, cases, n_items=10)
    # case 0: 0 -> 1 seen; case 1: 2 -> 3 spans two rows, unseen; case 2: 1 -> 0 is the reverse, unseen;
    # case 3: empty history, unseen; case 4: last item 3 -> 4 seen; case 5: one of two targets (3 -> 4) seen
    assert s["seen_transition"].tolist() == [True, False, False, False, True, True]
    assert (s["unseen_transition"] == ~s["seen_transition"]).all()
    assert list(s) == ["seen_transition", "unseen_transition"]


def test_only_the_last_history_item_counts():
    train = [np.array([0, 1])]
    cases = _cases(histories=[[0, 7]], targets=[[1]])  # 0 -> 1 is in training, but the last item is 7
    assert not transition_slices(train, cases, n_items=8)["seen_transition"][0]


def test_no_training_pairs_gives_all_unseen():
    cases = _cases(histories=[[0], [1]], targets=[[1], [0]])
    s = transition_slices([np.array([0]), np.array([], dtype=np.int64)], cases, n_items=2)
    assert not s["seen_transition"].any() and s["unseen_transition"].all()


def test_pairs_of_large_catalogues_do_not_collide():
    n = 3_000_000  # a * n + b must not wrap or alias across rows
    train = [np.array([n - 1, 0]), np.array([1, n - 2])]
    cases = _cases(histories=[[n - 1], [0], [1]], targets=[[0], [n - 1], [n - 2]])
    assert transition_slices(train, cases, n_items=n)["seen_transition"].tolist() == [True, False, True]


def test_out_of_range_items_name_the_row_or_case():
    cases = _cases(histories=[[0]], targets=[[1]])
    with pytest.raises(ValueError, match="training row 1"):
        transition_slices([np.array([0, 1]), np.array([2, 5])], cases, n_items=3)
    with pytest.raises(ValueError, match="case 0"):
        transition_slices([np.array([0, 1])], _cases(histories=[[0]], targets=[[4]]), n_items=3)
    with pytest.raises(ValueError, match="n_items must be positive"):
        transition_slices([], cases, n_items=0)


def test_slices_feed_evaluate_ranking():
    train = [np.array([0, 1]), np.array([2, 3])]
    cases = _cases(histories=[[0], [2], [1]], targets=[[1], [0], [3]])

    def score(users, histories):  # ranks item 1 first, then 0, 2, 3
        return np.tile(np.array([0.5, 1.0, 0.2, 0.1]), (len(users), 1))

    out = evaluate_ranking(score, cases, 4, ks=(1,), exclude_history=False,
                           case_slices=transition_slices(train, cases, 4))
    seen, unseen = out["slices"]["seen_transition"], out["slices"]["unseen_transition"]
    assert seen["n_cases"] == 1 and seen["metrics"]["recall@1"] == 1.0      # case 0: 0 -> 1, item 1 on top
    assert unseen["n_cases"] == 2 and unseen["metrics"]["recall@1"] == 0.0  # cases 1 and 2 miss


def test_metrics_json_of_a_run_carries_the_transition_slices(tmp_path, tiny_dataset):
    import json

    from lmrec.pipeline import ExperimentConfig, run_experiment

    # the tiny dataset's users walk a ring (item k -> k+1): every test transition occurs in training
    cfg = ExperimentConfig(dataset="tiny", model="pop")
    res = run_experiment(cfg, tmp_path / "run", dataset=tiny_dataset)
    sl = json.loads((tmp_path / "run" / "metrics.json").read_text())["slices"]["test"]
    assert sl["seen_transition"]["n_cases"] == len(res.split.test) > 0
    assert sl["unseen_transition"]["n_cases"] == 0
