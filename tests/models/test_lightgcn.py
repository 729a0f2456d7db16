"""LightGCN: normalised adjacency, propagation, cold items, users without edges, persistence."""

import numpy as np
import pytest

from lmrec.data.splits import cold_start_items, leave_one_out
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.models import TrainData, create_model, load_recommender
from lmrec.models.graph import normalized_adjacency, propagate, training_edges
from lmrec.models.lightgcn import LightGCN

FAST = {"epochs": 30, "patience": 30, "hidden": 16, "mlp_hidden": 32, "lr": 1e-2, "batch_size": 256}


def _ring_vectors(dataset, n_items):
    """Text vectors that encode each item's ring position (see conftest.make_tiny_dataset)."""
    ring = np.array([int(x) for x in dataset.item_map.ids])
    angle = 2 * np.pi * ring / n_items
    return np.stack([np.cos(angle), np.sin(angle), np.cos(2 * angle), np.sin(2 * angle)], 1).astype(np.float32)


def test_normalized_adjacency_of_a_hand_made_graph():
    # users u0, u1; items i0, i1, i2. Edges u0-i0, u0-i1 (given twice), u1-i1; i2 has no edge.
    edges = training_edges([np.array([0, 1, 1]), np.array([1])], n_items=3)
    np.testing.assert_array_equal(edges, [[0, 0], [0, 1], [1, 1]])
    adj = normalized_adjacency(edges, n_users=2, n_items=3)
    dense = adj.matrix.to_dense().numpy()
    # degrees: u0 = 2, u1 = 1, i0 = 1, i1 = 2, i2 = 0; nodes are [u0, u1, i0, i1, i2]
    expected = np.zeros((5, 5), dtype=np.float32)
    expected[0, 2] = expected[2, 0] = 1 / np.sqrt(2 * 1)   # u0-i0: 0.7071
    expected[0, 3] = expected[3, 0] = 1 / np.sqrt(2 * 2)   # u0-i1: 0.5
    expected[1, 3] = expected[3, 1] = 1 / np.sqrt(1 * 2)   # u1-i1: 0.7071
    np.testing.assert_allclose(dense, expected, rtol=1e-6)
    np.testing.assert_array_equal(adj.degree, [2, 1, 1, 2, 0])
    assert adj.n_edges == 3
    # 6 stored values (float32) + 6 column indices + 6 row pointers (int64)
    assert adj.nbytes == 6 * 4 + 6 * 8 + 6 * 8


def test_training_edges_rejects_an_out_of_range_item():
    with pytest.raises(ValueError, match="user index 1"):
        training_edges([np.array([0]), np.array([5])], n_items=3)


def test_propagation_equals_dense_reference_and_its_gradient():
    import torch

    rng = np.random.default_rng(0)
    n_users, n_items, k = 7, 9, 3
    train = [rng.choice(n_items, size=rng.integers(0, 5), replace=False) for _ in range(n_users)]
    adj = normalized_adjacency(training_edges(train, n_items), n_users, n_items)
    a = np.zeros((n_users + n_items,) * 2)
    for u, items in enumerate(train):
        a[u, n_users + items] = a[n_users + items, u] = 1.0
    deg = a.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0.0)
    a_hat = inv[:, None] * a * inv[None, :]
    e0 = rng.normal(size=(n_users + n_items, 4))
    layers = [e0]
    for _ in range(k):
        layers.append(a_hat @ layers[-1])
    expected = np.mean(layers, axis=0)
    x = torch.tensor(e0, dtype=torch.float32, requires_grad=True)
    out = propagate(adj, x, k)
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    # gradient of sum(out * w) is mean_k (Â^k)^T w = mean_k Â^k w (Â symmetric)
    w = rng.normal(size=e0.shape)
    (out * torch.tensor(w, dtype=torch.float32)).sum().backward()
    grads = [w]
    for _ in range(k):
        grads.append(a_hat @ grads[-1])
    np.testing.assert_allclose(x.grad.numpy(), np.mean(grads, axis=0), rtol=1e-5, atol=1e-6)


def test_text_model_scores_cold_items_from_text_and_id_model_cannot(make_tiny):
    dataset = make_tiny(n_users=120, n_items=40, seq_len=6)
    split = cold_start_items(dataset, cold_frac=0.2, seed=0)
    cold = ~split.warm_items
    vectors = _ring_vectors(dataset, split.n_items)
    recall = {}
    for name in ("lightgcn", "lightgcn-text"):
        model = create_model(name, **FAST).fit(TrainData(split=split, item_vectors=vectors, seed=0))
        scores = model.score(split.test.users[:4], split.test.histories[:4])
        assert np.isfinite(scores[:, cold]).all()
        res = evaluate_ranking(model.score, split.test, split.n_items, ks=(5,), item_slices={"cold": cold})
        recall[name] = res["slices"]["cold"]["metrics"]["recall@5"]
    assert recall["lightgcn-text"] > recall["lightgcn"] + 0.3


def test_cold_item_score_comes_from_its_text(make_tiny):
    dataset = make_tiny(n_users=40, n_items=20, seq_len=6)
    split = cold_start_items(dataset, cold_frac=0.2, seed=0)
    c = int(np.flatnonzero(~split.warm_items)[0])
    vectors = _ring_vectors(dataset, split.n_items)
    model = create_model("lightgcn-text", **dict(FAST, epochs=3)).fit(TrainData(split=split, item_vectors=vectors))
    before = model.item_final_[c].copy()
    import torch
    import torch.nn.functional as F

    with torch.no_grad():  # a cold item has no edge: its final vector is its text through the MLP (normalised)
        direct = F.normalize(model.net_.mlp(model.net_.item_text[c:c + 1]), dim=-1)[0].numpy()
    np.testing.assert_allclose(before, direct, rtol=1e-5, atol=1e-6)


def test_id_model_keeps_cold_items_at_their_initialisation(make_tiny):
    dataset = make_tiny(n_users=40, n_items=20, seq_len=6)
    split = cold_start_items(dataset, cold_frac=0.2, seed=0)
    cold = np.flatnonzero(~split.warm_items)
    import torch

    torch.manual_seed(0)
    model = LightGCN(item_input="id", **dict(FAST, epochs=3, reg=0.0))
    model.fit(TrainData(split=split, seed=0))
    # no edge, no gradient: final = initial / (K + 1); the initial rows have std 0.1, so ‖·‖ ≈ 0.1·√16/4
    norms = np.linalg.norm(model.item_final_[cold], axis=1)
    assert np.all(norms < 0.25) and np.all(norms > 0.02)


def test_user_without_edges_is_the_mean_of_its_history_items(tiny_dataset):
    split = leave_one_out(tiny_dataset)
    model = create_model("lightgcn", **dict(FAST, epochs=2)).fit(TrainData(split=split))
    hist = np.array([1, 3])
    new_user = split.n_users + 5  # not in the graph
    scores = model.score(np.array([new_user, 0]), [hist, split.test.histories[0]])
    expected = model.item_final_[hist].mean(0) @ model.item_final_.T
    np.testing.assert_allclose(scores[0], expected, rtol=1e-5)
    np.testing.assert_allclose(scores[1], model.user_final_[0] @ model.item_final_.T, rtol=1e-5)
    assert np.all(model.score(np.array([new_user]), [np.zeros(0, np.int64)]) == 0)


def test_bpr_negatives_avoid_the_users_training_items():
    edges = np.array([[0, 0], [0, 1], [1, 2]])
    keys = edges[:, 0] * 4 + edges[:, 1]
    rng = np.random.default_rng(0)
    batch = np.repeat(edges[:1], 500, axis=0)  # user 0, positive item 0
    # half the items are positives: each try leaves a hit with probability 1/2, 40 tries ≈ 1e-12
    neg = LightGCN._sample_negatives(batch, np.arange(4), keys, 4, rng, tries=40)
    assert set(np.unique(neg)) == {2, 3}


@pytest.mark.parametrize("name", ["lightgcn", "lightgcn-text"])
def test_save_load_round_trip_gives_identical_scores(name, tiny_dataset, tmp_path):
    split = leave_one_out(tiny_dataset)
    vectors = _ring_vectors(tiny_dataset, split.n_items)
    model = create_model(name, **dict(FAST, epochs=3)).fit(TrainData(split=split, item_vectors=vectors))
    model.save(tmp_path / "m")
    again = load_recommender(tmp_path / "m", vectors)
    users, hists = split.test.users, split.test.histories
    np.testing.assert_array_equal(again.score(users, hists), model.score(users, hists))
    assert again.config == model.config


def test_history_reports_memory_and_time(tiny_dataset):
    split = leave_one_out(tiny_dataset)
    model = create_model("lightgcn", **dict(FAST, epochs=2)).fit(TrainData(split=split))
    h = model.history_
    n_edges = len(training_edges(split.train, split.n_items))
    assert h["n_edges"] == n_edges
    n_nodes = split.n_users + split.n_items
    assert h["adjacency_bytes"] == 2 * n_edges * (4 + 8) + (n_nodes + 1) * 8
    assert h["peak_rss_bytes"] > 0 and len(h["epochs"]) == 2


def test_bad_settings_raise_clear_errors():
    with pytest.raises(ValueError, match="item_input"):
        LightGCN(item_input="image")
    with pytest.raises(ValueError, match="loss"):
        LightGCN(loss="hinge")


@pytest.fixture
def shop_dir(shop_data_dir):
    return shop_data_dir


@pytest.mark.parametrize("name", ["lightgcn", "lightgcn-text"])
def test_cli_trains_and_reloads_graph_models(name, shop_dir, tmp_path):
    import json

    from typer.testing import CliRunner

    from lmrec.cli.main import app
    from lmrec.pipeline import load_run

    run = tmp_path / "run"
    out = CliRunner().invoke(app, ["train", "--dataset", "shop", "--model", name, "--out", str(run), "--data-dir",
                                   str(shop_dir), "--epochs", "2", "--cache-dir", str(tmp_path / "cache"),
                                   "--param", "hidden=8", "--quiet"])
    assert out.exit_code == 0, out.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"]["item_input"] == ("text" if name == "lightgcn-text" else "id")
    assert metrics["extra"]["training"]["adjacency_bytes"] > 0 and len(metrics["extra"]["training"]["epochs"]) == 2
    # the reloaded run reproduces the test metrics written at training time
    loaded = load_run(run, str(shop_dir))
    again = evaluate_ranking(loaded.model.score, loaded.split.test, loaded.split.n_items, ks=(10,))
    assert again["metrics"]["ndcg@10"] == pytest.approx(metrics["metrics"]["test"]["ndcg@10"], abs=1e-12)
