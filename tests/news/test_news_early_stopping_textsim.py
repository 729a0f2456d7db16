"""Early stopping (best-state selection), the text-similarity scorer and popularity modes on
hand-made impressions."""

import math

import numpy as np
import pytest
import torch

from lmrec.data.news import Impressions, NewsDataset
from lmrec.models.news_baselines import NewsPopularity, NewsTextSimilarity
from lmrec.training.news import BestStateTracker, train_softmax_ce


def test_best_state_tracker_keeps_best_and_stops_after_patience():
    t = BestStateTracker(patience=2)
    assert t.update(0.60, 1, {"w": torch.tensor([1.0])}) is False
    assert t.update(0.70, 2, {"w": torch.tensor([2.0])}) is False
    assert t.update(0.65, 3, {"w": torch.tensor([3.0])}) is False     # 1 bad evaluation
    assert t.update(0.70, 4, {"w": torch.tensor([4.0])}) is True      # tie is not better: 2 bad
    assert t.best == 0.70 and t.best_at == 2.0
    assert float(t.best_state["w"]) == 2.0
    with pytest.raises(ValueError):
        BestStateTracker(patience=0)


def test_train_softmax_ce_restores_best_state_and_reports_early_stop():
    torch.manual_seed(0)
    w = torch.nn.Linear(1, 1, bias=False)
    scores = iter([0.5, 0.9, 0.8, 0.7, 0.6, 0.5])       # best after epoch 2, then 2 worse
    snapshots = []

    def valid_fn():
        snapshots.append(float(w.weight.detach()))
        return next(scores)

    x = torch.tensor([[1.0, -1.0]])

    def batch_logits(idx):
        return w(x.T).T.expand(len(idx), 2)

    info = train_softmax_ce(batch_logits, 4, [{"params": w.parameters(), "lr": 0.1}], epochs=10,
                            batch_size=2, rng=np.random.default_rng(0), valid_fn=valid_fn, patience=2,
                            state_module=w, modules=[w])
    assert info["stop_reason"] == "early_stopping"
    assert len(info["valid_history"]) == 4 and info["best_epoch"] == 2.0 and info["best_valid"] == 0.9
    assert float(w.weight.detach()) == pytest.approx(snapshots[1])     # weights of the best evaluation



def test_text_similarity_mean_and_max_on_hand_made_vectors():
    vec = {"A": [1.0, 0.0], "B": [0.0, 1.0], "C": [1.0, 1.0], "D": [-1.0, 0.0]}

    class Fake:
        impressions = Impressions.__new__(Impressions)

        def referenced_news(self):
            return ["A", "B", "C", "D"]

        def texts(self, ids, fields):
            return list(ids)

    data = Fake()
    data.impressions.histories = [["A", "B"], []]
    data.impressions.candidates = [["C", "D", "A"], ["A", "B"]]
    m = NewsTextSimilarity(reduce="mean")
    m.vector_fn = lambda ids, texts: np.array([vec[n] for n in ids])
    s = m.score(data)
    # mean of A, B = (0.5, 0.5) → unit (1, 1)/√2; cos with C = 1, D = -1/√2, A = 1/√2
    np.testing.assert_allclose(s[0], [1.0, -1 / math.sqrt(2), 1 / math.sqrt(2)], atol=1e-6)
    np.testing.assert_array_equal(s[1], [0.0, 0.0])                 # empty history → tie
    m.config["reduce"] = "max"
    # max over A, B: C → 1/√2, D → max(-1, 0) = 0, A → 1
    np.testing.assert_allclose(m.score(data)[0], [1 / math.sqrt(2), 0.0, 1.0], atol=1e-6)


def test_popularity_clicks_and_ctr():
    class Fake:
        impressions = Impressions.__new__(Impressions)

    train = Fake()
    train.name = "tiny"
    train.impressions.user_ids = ["u1", "u2"]
    train.impressions.histories = [[], []]
    train.impressions.candidates = [["A", "B"], ["A", "C", "B"]]
    train.impressions.labels = [np.array([1, 0]), np.array([0, 1, 0])]
    clicks = NewsPopularity().fit(train)
    assert clicks.counts_ == {"A": 1.0, "C": 1.0}
    ctr = NewsPopularity(mode="ctr").fit(train)
    # A: (1+1)/(2+2) = 0.5; B: (0+1)/(2+2) = 0.25; C: (1+1)/(1+2) = 2/3; unseen: 0.5
    assert ctr.counts_ == pytest.approx({"A": 0.5, "B": 0.25, "C": 2 / 3})
    test = Fake()
    test.impressions = Impressions.__new__(Impressions)
    test.impressions.candidates = [["C", "B", "Z"]]
    np.testing.assert_allclose(ctr.score(test)[0], [2 / 3, 0.25, 0.5], atol=1e-6)
