"""Sampled softmax with log-Q correction (hand-computed), two-tower model, cold-start users split."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lmrec.data.cold_users import cold_start_users
from lmrec.data.splits import make_split
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.models import TrainData, create_model, load_recommender
from lmrec.models.user_text_knn import UserTextKNN
from lmrec.training.sampled_softmax import in_batch_softmax_loss, log_q_from_counts



def test_log_q_from_counts_by_hand():
    np.testing.assert_allclose(log_q_from_counts(np.array([1, 3]), smoothing=0.0), np.log([0.25, 0.75]), rtol=1e-6)
    np.testing.assert_allclose(log_q_from_counts(np.array([0, 2]), smoothing=1.0), np.log([0.25, 0.75]), rtol=1e-6)


def test_log_q_correction_on_a_tiny_example():
    user = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    item = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ids = torch.tensor([0, 1])
    log_q = torch.log(torch.tensor([0.5, 0.25]))
    # corrected logits: row 0 = [1 - ln .5, 0 - ln .25] = [1.6931, 1.3863]; row 1 = [0.6931, 2.3863]
    expected = (math.log(1 + math.exp(1.3863 - 1.6931)) + math.log(1 + math.exp(0.6931 - 2.3863))) / 2
    assert float(in_batch_softmax_loss(user, item, ids, log_q, temperature=1.0)) == pytest.approx(expected, abs=1e-3)
    plain = (math.log(1 + math.exp(-1)) * 2) / 2                      # no correction: logits [[1, 0], [0, 1]]
    assert float(in_batch_softmax_loss(user, item, ids, None, temperature=1.0)) == pytest.approx(plain, abs=1e-5)
    assert expected == pytest.approx(0.3601, abs=1e-3)


def test_duplicate_positive_is_not_a_negative():
    user = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    item = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    loss = in_batch_softmax_loss(user, item, torch.tensor([7, 7]), None, temperature=1.0)
    assert float(loss) == pytest.approx(0.0, abs=1e-6)                # the only other column is masked out
    with pytest.raises(ValueError):
        in_batch_softmax_loss(user, item, torch.tensor([0, 1]), None, temperature=0.0)


def _vectors(n: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_two_tower_save_load_round_trip_and_export(tmp_path, make_tiny):
    ds = make_tiny()
    split = make_split(ds, "leave-one-out")
    iv = _vectors(ds.n_items)
    model = create_model("two-tower", epochs=3, batch_size=16, hidden=16, out_dim=8, user_id=True, item_id=True)
    model.set_user_vectors(_vectors(ds.n_users, 5, 1), np.arange(ds.n_users) < 2)
    model.fit(TrainData(split, iv))
    exported = model.export_item_vectors()
    assert exported.shape == (ds.n_items, 8) and exported.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(exported, axis=1), 1.0, rtol=1e-5)
    model.save(tmp_path / "m")
    loaded = load_recommender(tmp_path / "m", iv)
    users, hists = split.test.users[:4], split.test.histories[:4]
    np.testing.assert_allclose(loaded.score(users, hists), model.score(users, hists), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.export_item_vectors(), exported, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_two_tower_user_vector_invariant_to_history_padding(pooling, make_tiny):
    ds = make_tiny()
    model = create_model("two-tower", epochs=1, batch_size=16, pooling=pooling)
    model.fit(TrainData(make_split(ds, "leave-one-out"), _vectors(ds.n_items)))
    net = model.net_.eval()
    short = torch.tensor([[3, 5, 2]])                                  # items 2, 4, 1 (shifted by 1)
    padded = torch.tensor([[0, 0, 0, 0, 3, 5, 2]])
    with torch.no_grad():
        torch.testing.assert_close(net.user_tower(torch.tensor([0]), short), net.user_tower(torch.tensor([0]), padded))
        empty = net.user_tower(torch.tensor([0]), torch.tensor([[0, 0]]))
    assert torch.isfinite(empty).all()


def test_cold_start_users_split(make_tiny):
    ds = make_tiny(n_users=30)
    eligible = np.arange(ds.n_users) < 20
    split = cold_start_users(ds, cold_frac=0.25, valid_frac=0.1, seed=0, eligible=eligible)
    cold = np.concatenate([split.test.users, split.valid.users])
    assert len(split.test) == 5 and len(split.valid) == 2
    assert eligible[cold].all()
    assert all(len(split.train[u]) == 0 for u in cold)
    assert all(len(h) == 0 for h in split.test.histories)
    assert sum(len(t) > 0 for t in split.train) == 23
    assert len(split.test.targets[0]) == 8                             # tiny users walk 8 distinct items


def test_user_text_knn_recommends_neighbours_items(make_tiny):
    ds = make_tiny(n_users=30)
    split = cold_start_users(ds, cold_frac=0.2, valid_frac=0.1, seed=0)
    seqs = [np.unique(np.concatenate([split.train[u]] + [t for v, t in zip(split.test.users, split.test.targets)
                                                         if v == u])) for u in range(ds.n_users)]
    # a user's text vector = bag of its items, so text neighbours share items
    uv = np.zeros((ds.n_users, ds.n_items), np.float32)
    for u, s in enumerate(seqs):
        uv[u, s] = 1.0
    knn = UserTextKNN(neighbours=3).set_user_vectors(uv).fit(TrainData(split, None))
    pop = create_model("pop").fit(TrainData(split, None))
    r_knn = evaluate_ranking(knn.score, split.test, split.n_items, ks=(5,))["metrics"]["recall@5"]
    r_pop = evaluate_ranking(pop.score, split.test, split.n_items, ks=(5,))["metrics"]["recall@5"]
    assert r_knn > r_pop
