"""Zero-training text baselines: last-item similarity and recency-weighted history similarity."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model, load_recommender
from lmrec.models.embknn import EmbeddingKNN
from lmrec.models.last_item import LastItemKNN
from lmrec.models.recency_knn import DECAY_GRID, RecencyKNN, recency_weights


def _unit(deg: float) -> list[float]:
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


#: six items on the unit circle; item 0 at 0°, item 1 at 10°, item 2 at 90°, item 3 at 100°,
#: item 4 at 180°, item 5 at 250°.
ANGLES = [0, 10, 90, 100, 180, 250]
VECTORS = np.array([_unit(a) for a in ANGLES], dtype=np.float32) * 3.0   # norms must not matter


class _Split:
    """The part of a :class:`~lmrec.data.splits.Split` these models read (no validation cases)."""

    def __init__(self, n_items):
        from lmrec.data.evalset import EvalSet

        self.n_items = n_items
        self.valid = EvalSet(np.zeros(0, dtype=np.int64), [], [])


def _fit(model, vectors=VECTORS):
    return model.fit(TrainData(split=_Split(len(vectors)), item_vectors=vectors))


def test_last_item_ranks_the_nearest_neighbour_of_the_last_item_first():
    model = _fit(LastItemKNN())
    scores = model.score(np.array([0, 1]), [np.array([4, 2]), np.array([2, 4])])
    # history [4, 2]: the last item is 2 (90°); besides itself its nearest neighbour is 3 (100°)
    assert list(np.argsort(-scores[0])[:2]) == [2, 3]
    np.testing.assert_allclose(scores[0], np.cos(np.radians(np.array(ANGLES) - 90)), atol=1e-6)
    # the order of the history matters: [2, 4] ends on 180°, whose nearest other item is 5 (250°)
    assert list(np.argsort(-scores[1])[:2]) == [4, 5]


def test_last_item_skips_a_last_item_without_text_and_scores_empty_histories_zero():
    vectors = VECTORS.copy()
    vectors[5] = 0.0                                    # item 5 has no text
    model = _fit(LastItemKNN(), vectors)
    scores = model.score(np.array([0, 1]), [np.array([0, 5]), np.array([], dtype=np.int64)])
    assert np.argmax(scores[0]) == 0 and scores[0][5] == 0.0
    assert (scores[1] == 0).all() and scores.dtype == np.float32


def test_recency_weights_by_hand():
    np.testing.assert_allclose(recency_weights(3, math.log(2)), [0.25, 0.5, 1.0], rtol=1e-6)
    np.testing.assert_allclose(recency_weights(3, 0.0), [1, 1, 1])
    np.testing.assert_allclose(recency_weights(3, math.inf), [0, 0, 1])
    assert recency_weights(0, 1.0).shape == (0,)


def test_recency_decay_zero_is_mean_of_history_and_infinity_is_last_item():
    histories = [np.array([0, 2, 4]), np.array([5, 1]), np.array([3])]
    users = np.arange(3)
    mean = _fit(EmbeddingKNN()).score(users, histories)
    last = _fit(LastItemKNN()).score(users, histories)
    np.testing.assert_allclose(_fit(RecencyKNN(decay=0)).score(users, histories), mean, atol=1e-6)
    np.testing.assert_allclose(_fit(RecencyKNN(decay=math.inf)).score(users, histories), last, atol=1e-6)
    np.testing.assert_allclose(_fit(RecencyKNN(decay=50)).score(users, histories), last, atol=1e-6)


def test_recency_in_between_matches_a_hand_computed_user_vector():
    # decay ln 2: history [0 (0°), 2 (90°)] → u = 0.5·(1, 0) + 1·(0, 1); cos to item 1 (10°)
    scores = _fit(RecencyKNN(decay=math.log(2))).score(np.array([0]), [np.array([0, 2])])
    u = np.array([0.5, 1.0]) / math.hypot(0.5, 1.0)
    assert scores[0][1] == pytest.approx(float(u @ np.array(_unit(10))), abs=1e-6)
    # the newer item pulls harder: 90°-side item 3 beats 0°-side item 1
    assert scores[0][3] > scores[0][1]


def _twins_dataset(n_pairs=20, n_users=60, seed=0):
    """Items come in text twins (2j, 2j+1: almost the same vector); every user buys 4 random
    items, then an item ``a``, then ``a``'s twin (the valid target under leave-one-out), then a
    random item (test). Only the last history item predicts the validation target."""
    import pandas as pd

    from lmrec.data.dataset import RecDataset

    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n_pairs, 16))
    vectors = np.repeat(base, 2, axis=0) + 0.05 * rng.normal(size=(2 * n_pairs, 16))
    rows = []
    for u in range(n_users):
        a = int(rng.integers(2 * n_pairs))
        others = [i for i in rng.permutation(2 * n_pairs) if i // 2 != a // 2][:5]
        seq = others[:4] + [a, a ^ 1, others[4]]
        rows += [{"user_id": f"u{u}", "item_id": str(i), "timestamp": t} for t, i in enumerate(seq)]
    items = pd.DataFrame({"title": [f"item {i}" for i in range(2 * n_pairs)]},
                         index=[str(i) for i in range(2 * n_pairs)])
    ds = RecDataset("twins", pd.DataFrame(rows), items)
    order = [int(i) for i in ds.item_map.ids]
    return ds, vectors[order].astype(np.float32)


def test_decay_is_chosen_on_validation_and_saved(tmp_path):
    ds, vectors = _twins_dataset()
    split = leave_one_out(ds)
    model = RecencyKNN().fit(TrainData(split=split, item_vectors=vectors, exclude_history=True))
    hist = model.history_
    ndcg = dict(zip(DECAY_GRID, hist["valid_ndcg@10"]))
    assert len(ndcg) == len(DECAY_GRID) and hist["decay_grid"][-1] == "inf"
    assert ndcg[math.inf] == 1.0                      # the twin of the last item is always first
    assert ndcg[model.decay_] == max(ndcg.values()) and model.decay_ > 0
    assert ndcg[0.0] < ndcg[model.decay_] - 0.3       # the mean of the history is much worse
    assert "history excluded" in hist["decay_chosen_by"]
    model.save(tmp_path / "m")
    again = load_recommender(tmp_path / "m", vectors)
    assert again.decay_ == model.decay_
    cases = split.test
    np.testing.assert_allclose(again.score(cases.users, cases.histories), model.score(cases.users, cases.histories))


def test_given_decay_is_kept_and_bad_decays_are_refused():
    model = create_model("recency-knn", decay=0.25)
    assert _fit(model).decay_ == 0.25 and model.history_["decay_chosen_by"] == "given"
    assert create_model("recency-knn", decay="inf").config["decay"] == "inf"
    for bad in (-1, float("nan"), "fast"):
        with pytest.raises(ValueError, match="decay must be"):
            create_model("recency-knn", decay=bad)
    with pytest.raises(ValueError, match="takes no parameters"):
        create_model("last-item", decay=1)
    with pytest.raises(ValueError, match="needs item text vectors"):
        LastItemKNN().fit(TrainData(split=_Split(3), item_vectors=None))


def test_pipeline_runs_both_models_and_records_the_chosen_decay(tiny_dataset):
    from lmrec.pipeline import ExperimentConfig, run_experiment

    vectors = np.random.default_rng(0).normal(size=(tiny_dataset.n_items, 8)).astype(np.float32)
    for name in ("last-item", "recency-knn"):
        res = run_experiment(ExperimentConfig(dataset="tiny", model=name), None, dataset=tiny_dataset,
                             item_vectors=vectors, encode_report={})
        assert 0.0 <= res.metrics["metrics"]["test"]["ndcg@10"] <= 1.0
    assert res.metrics["extra"]["training"]["decay"] in [d if math.isfinite(d) else "inf" for d in DECAY_GRID]
