"""Multi-task model: rating alignment, loss weights and gradients, cold items, persistence."""

import numpy as np
import pytest

from lmrec.data.evalset import EvalSet
from lmrec.data.splits import cold_start_items, leave_one_out
from lmrec.models import TrainData, create_model, load_recommender
from lmrec.models.multitask import MultiTask, evaluate_rating, split_ratings

FAST = {"epochs": 5, "patience": 5, "hidden": 8, "mlp_hidden": 16, "batch_size": 64, "lr": 5e-3}


def _rated(make_tiny, **kw):
    """Tiny ring dataset whose rating is ``item % 5 + 1``."""
    ds = make_tiny(**kw)
    ds.interactions["rating"] = (ds.interactions["item_id"].astype(int) % 5 + 1).astype(float)
    return ds


def _vectors(n, dim=8, seed=1):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def test_split_ratings_are_aligned_with_the_split_and_never_leak(make_tiny):
    ds = _rated(make_tiny, n_users=10, n_items=12, seq_len=5)
    split = leave_one_out(ds)
    ratings = split_ratings(ds, split)
    ids = ds.item_map.ids
    for u, (items, r) in enumerate(zip(split.train, ratings.train)):
        np.testing.assert_array_equal(r, [int(ids[i]) % 5 + 1 for i in items])
    t = split.test.targets[0][0]
    assert ratings.test[0][0] == int(ids[t]) % 5 + 1
    assert ratings.report["n_test_rated"] == len(split.test) == 10
    # each user's test item (the last of a walk along the ring) is not among their training items
    assert ratings.report["n_test_pairs_also_in_train"] == 0


def test_split_ratings_refuses_implicit_data(tiny_dataset):
    with pytest.raises(ValueError, match="no ratings"):
        split_ratings(tiny_dataset, leave_one_out(tiny_dataset))


def test_ratings_reach_the_model_through_its_extra_train_data_hook(make_tiny):
    # the pipeline asks every model what extra training data it needs; only MultiTask asks for
    # ratings, and only when the dataset has them
    from lmrec.models.pop import Pop
    from lmrec.pipeline import ExperimentConfig, run_experiment

    ds = _rated(make_tiny, n_users=10, n_items=12, seq_len=5)
    split = leave_one_out(ds)
    extra = MultiTask().extra_train_data(ds, split)
    assert list(extra) == ["ratings"]
    expected = split_ratings(ds, split)
    for got, want in zip(extra["ratings"].train, expected.train):
        np.testing.assert_array_equal(got, want)
    assert MultiTask().extra_train_data(make_tiny(n_users=10, n_items=12, seq_len=5), split) == {}
    assert Pop().extra_train_data(ds, split) == {}
    cfg = ExperimentConfig(dataset="tiny", model="multitask", split="leave-one-out",
                           model_params={**FAST, "epochs": 2})
    result = run_experiment(cfg, dataset=ds, item_vectors=_vectors(ds.n_items))
    assert result.metrics["extra"]["training"]["rating_head"] == "trained"


def test_evaluate_rating_by_hand():
    cases = EvalSet(np.array([0, 1]), [np.array([0]), np.array([1])], [np.array([2]), np.array([3])])
    out = evaluate_rating(lambda u, h, i: np.full(len(u), 3.0), cases, [np.array([1.0]), np.array([5.0])])
    assert out == {"rmse": 2.0, "mae": 2.0, "n_ratings": 2}
    skip = evaluate_rating(lambda u, h, i: np.full(len(u), 3.0), cases, [np.array([np.nan]), np.array([4.0])])
    assert skip == {"rmse": 1.0, "mae": 1.0, "n_ratings": 1}


def _grads(model, split, ratings, weights):
    """Gradients of one weighted loss on all training pairs, by parameter name."""
    import torch

    users = np.repeat(np.arange(split.n_users), [len(t) for t in split.train])
    items = np.concatenate(split.train)
    r = np.concatenate(ratings.train).astype(np.float32)
    net = model.net_
    net.zero_grad()
    _, h = net.tables()
    member = torch.sparse_coo_tensor(torch.from_numpy(np.stack([users, items])), torch.ones(len(items)),
                                     (split.n_users, split.n_items))
    counts = torch.from_numpy(np.bincount(users, minlength=split.n_users).astype(np.float32))
    loss, _ = model.loss(torch.from_numpy(users), torch.from_numpy(items), torch.from_numpy(r),
                         torch.sparse.mm(member, h), counts, None, None, weights)
    loss.backward()
    return {n: (None if p.grad is None else p.grad.clone()) for n, p in net.named_parameters()}


def test_loss_weights_scale_each_heads_gradient(make_tiny):
    import torch

    ds = _rated(make_tiny, n_users=20, n_items=12, seq_len=6)
    split = leave_one_out(ds)
    ratings = split_ratings(ds, split)
    model = MultiTask(**dict(FAST, epochs=1)).fit(TrainData(split=split, item_vectors=_vectors(split.n_items)),
                                                   ratings=ratings)
    rank_only = _grads(model, split, ratings, (1.0, 0.0))
    rate_only = _grads(model, split, ratings, (0.0, 1.0))
    joint = _grads(model, split, ratings, (2.0, 0.5))
    # weight 0 on a head: no gradient reaches that head's parameters
    assert rank_only["rating_head.0.weight"] is None and rank_only["user_bias.weight"] is None
    assert rate_only["rank_head.weight"] is None
    # the item tower serves both heads: with weights (2, 0.5) its gradient is 2·∇rank + 0.5·∇rating
    for name in ("item_tower.0.weight", "history_tower.2.bias"):
        torch.testing.assert_close(joint[name], 2.0 * rank_only[name] + 0.5 * rate_only[name], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(joint["rank_head.weight"], 2.0 * rank_only["rank_head.weight"])


def test_single_task_models_train_only_their_head(make_tiny):
    ds = _rated(make_tiny, n_users=20, n_items=12, seq_len=6)
    split = leave_one_out(ds)
    ratings = split_ratings(ds, split)
    data = TrainData(split=split, item_vectors=_vectors(split.n_items))
    ranking = MultiTask(task="ranking", **FAST).fit(data, ratings=ratings)
    rating = MultiTask(task="rating", **FAST).fit(data, ratings=ratings)
    assert ranking.history_["task_weights"] == {"rank": 1.0, "rating": 0.0}
    assert rating.history_["task_weights"] == {"rank": 0.0, "rating": 1.0}
    assert rating.history_["valid_metric"] == "-rmse"
    with pytest.raises(RuntimeError, match="rating head"):
        ranking.predict_rating(split.test.users, split.test.histories, np.array([t[0] for t in split.test.targets]))
    pred = rating.predict_rating(split.test.users, split.test.histories, np.array([t[0] for t in split.test.targets]))
    assert pred.min() >= 1.0 and pred.max() <= 5.0


def test_rating_head_learns_the_item_rating_rule(make_tiny):
    ds = _rated(make_tiny, n_users=60, n_items=12, seq_len=6)
    split = leave_one_out(ds)
    ratings = split_ratings(ds, split)
    vectors = np.eye(split.n_items, dtype=np.float32)  # one-hot "text": the rating is a function of the item
    model = MultiTask(task="rating", **dict(FAST, epochs=60, patience=60)).fit(
        TrainData(split=split, item_vectors=vectors), ratings=ratings)
    rmse = evaluate_rating(model.predict_rating, split.test, ratings.test)["rmse"]
    # ratings 1..5 have std √2 ≈ 1.41; a model of the rule gets far below it
    assert rmse < 0.5


def test_cold_item_gets_a_finite_text_score(make_tiny):
    ds = _rated(make_tiny, n_users=40, n_items=20, seq_len=6)
    split = cold_start_items(ds, cold_frac=0.2, seed=0)
    model = MultiTask(**FAST).fit(TrainData(split=split, item_vectors=_vectors(split.n_items)),
                                  ratings=split_ratings(ds, split))
    cold = np.flatnonzero(~split.warm_items)
    scores = model.score(split.test.users[:3], split.test.histories[:3])
    assert np.isfinite(scores[:, cold]).all() and np.ptp(scores[0, cold]) > 0
    pred = model.predict_rating(split.test.users[:1].repeat(len(cold)), [split.test.histories[0]] * len(cold), cold)
    assert np.isfinite(pred).all()


def test_without_ratings_only_the_ranking_head_trains(tiny_dataset):
    split = leave_one_out(tiny_dataset)
    data = TrainData(split=split, item_vectors=_vectors(split.n_items))
    with pytest.warns(UserWarning, match="only the ranking head"):
        model = create_model("multitask", **FAST).fit(data)
    assert model.history_["rating_head"] == "untrained (no ratings)"
    with pytest.raises(ValueError, match="needs ratings"):
        create_model("multitask", task="rating", **FAST).fit(data)


def test_save_load_round_trip_gives_identical_scores_and_ratings(make_tiny, tmp_path):
    ds = _rated(make_tiny, n_users=20, n_items=12, seq_len=6)
    split = leave_one_out(ds)
    vectors = _vectors(split.n_items)
    model = MultiTask(**FAST).fit(TrainData(split=split, item_vectors=vectors), ratings=split_ratings(ds, split))
    model.save(tmp_path / "m")
    again = load_recommender(tmp_path / "m", vectors)
    users, hists = split.test.users, split.test.histories
    items = np.array([t[0] for t in split.test.targets])
    np.testing.assert_array_equal(again.score(users, hists), model.score(users, hists))
    np.testing.assert_array_equal(again.predict_rating(users, hists, items), model.predict_rating(users, hists, items))


def test_cli_trains_the_multitask_model(tmp_path, shop_data_dir):
    import json

    from typer.testing import CliRunner

    from lmrec.cli.main import app

    run = tmp_path / "run"
    out = CliRunner().invoke(app, ["train", "--dataset", "shop", "--model", "multitask", "--out", str(run),
                                   "--data-dir", str(tmp_path / "data"), "--epochs", "2", "--cache-dir",
                                   str(tmp_path / "cache"), "--param", "hidden=8", "--quiet"])
    assert out.exit_code == 0, out.output
    metrics = json.loads((run / "metrics.json").read_text())
    # implicit data: the ranking head trains, the rating head is reported as untrained
    assert metrics["extra"]["training"]["rating_head"] == "untrained (no ratings)"
    assert len(metrics["extra"]["training"]["epochs"]) == 2 and "ndcg@10" in metrics["metrics"]["test"]
