"""Conformance tests every recommender must pass, plus SASRec-specific behaviour."""

import numpy as np
import pytest

from lmrec.data.splits import cold_start_items, leave_one_out
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.models import MODELS, TrainData, create_model, load_recommender

FAST = {"epochs": 3, "patience": 3, "hidden": 16, "inner": 32, "batch_size": 32}


def _vectors(n_items, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_items, dim)).astype(np.float32)


def _fit(name, split, vectors, **extra):
    params = dict(FAST, **extra) if name.startswith("sasrec") else {}
    model = create_model(name, **params)
    return model.fit(TrainData(split=split, item_vectors=vectors if model.needs_item_vectors else None, seed=0))


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_scores_all_items_finite_and_round_trips(name, tiny_dataset, tmp_path):
    split = leave_one_out(tiny_dataset)
    vectors = _vectors(split.n_items)
    model = _fit(name, split, vectors)
    cases = split.test
    scores = model.score(cases.users[:5], cases.histories[:5])
    assert scores.shape == (5, split.n_items) and scores.dtype == np.float32
    assert np.isfinite(scores).all()
    # single-case scoring equals batched scoring
    one = model.score(cases.users[:1], cases.histories[:1])
    np.testing.assert_allclose(one[0], scores[0], rtol=1e-5, atol=1e-5)
    model.save(tmp_path / name)
    again = load_recommender(tmp_path / name, vectors)
    np.testing.assert_allclose(again.score(cases.users[:5], cases.histories[:5]), scores, rtol=1e-6, atol=1e-6)


def test_sasrec_learns_the_ring_better_than_pop(tiny_dataset):
    split = leave_one_out(tiny_dataset)
    ndcg = {}
    for name in ("pop", "sasrec-id"):
        model = _fit(name, split, None, epochs=40, patience=40, lr=5e-3, dropout=0.1)
        ndcg[name] = evaluate_ranking(model.score, split.test, split.n_items, ks=(10,))["metrics"]["ndcg@10"]
    assert ndcg["sasrec-id"] > ndcg["pop"] + 0.2


def test_text_models_score_cold_items_from_text_and_id_model_cannot(make_tiny):
    tiny_dataset = make_tiny(n_users=120, n_items=40, seq_len=6)
    split = cold_start_items(tiny_dataset, cold_frac=0.2, seed=0)
    cold = ~split.warm_items
    # text vectors that encode the ring position make cold items learnable from text alone
    n = split.n_items
    ring = np.array([int(x) for x in tiny_dataset.item_map.ids])
    angle = 2 * np.pi * ring / n
    vectors = np.stack([np.cos(angle), np.sin(angle), np.cos(2 * angle), np.sin(2 * angle)], 1).astype(np.float32)
    text = _fit("sasrec-text", split, vectors, epochs=60, patience=60, lr=5e-3, dropout=0.1)
    ident = _fit("sasrec-id", split, vectors, epochs=60, patience=60, lr=5e-3, dropout=0.1)
    slices = {"cold": cold}
    r_text = evaluate_ranking(text.score, split.test, n, ks=(5,), item_slices=slices)["slices"]["cold"]["metrics"]
    r_id = evaluate_ranking(ident.score, split.test, n, ks=(5,), item_slices=slices)["slices"]["cold"]["metrics"]
    assert r_text["recall@5"] > r_id["recall@5"] + 0.3


def test_text_id_ignores_id_embedding_of_cold_items(tiny_dataset):
    import torch

    split = cold_start_items(tiny_dataset, cold_frac=0.25, seed=0)
    model = _fit("sasrec-text-id", split, _vectors(split.n_items))
    cold = np.flatnonzero(~split.warm_items)
    with torch.no_grad():
        model.net_.id_emb.weight[cold + 1] += 100.0  # an untrained ID row must not matter
        table = model.net_.item_table()
        text_only = model.net_.text_proj(model.net_.text)
    torch.testing.assert_close(table[cold + 1], text_only[cold + 1])


def test_sasrec_padding_does_not_change_scores(tiny_dataset):
    from lmrec.training.sequences import left_pad

    split = leave_one_out(tiny_dataset)
    model = _fit("sasrec-id", split, None)
    h = split.test.histories[0]
    a = model.score(np.array([0]), [h])
    # batched with a much longer history forces extra left padding for the short one
    long = np.concatenate([h] * 6)
    b = model.score(np.array([0, 1]), [h, long])[0]
    np.testing.assert_allclose(a[0], b, rtol=1e-4, atol=1e-4)
    assert left_pad([np.array([4, 5])], 3).tolist() == [[5, 6]]


def test_unknown_model_and_params_are_clear_errors():
    with pytest.raises(ValueError, match="sasrec-text"):
        create_model("bert4rec")
    with pytest.raises(ValueError, match="sasrec-id"):
        create_model("sasrec-id", hiddne=3)
    with pytest.raises(ValueError, match="fixes"):
        create_model("sasrec-id", item_input="text")
    with pytest.raises(ValueError, match="'pop' takes no parameters; got hidden"):
        create_model("pop", hidden=3)
    with pytest.raises(ValueError, match="max_train_seconds must be ≥ 0"):
        create_model("sasrec-text", max_train_seconds=-1)
    with pytest.raises(ValueError, match="batch_size must be ≥ 1"):
        create_model("lightgcn", batch_size=0)
    assert create_model("sasrec-text", max_train_seconds=0).config["max_train_seconds"] == 0


def test_standardized_text_vectors_are_z_scores_and_keep_empty_rows_zero():
    from lmrec.models.sasrec import standardize_text_vectors

    x = np.array([[1.0, 10.0], [3.0, 30.0], [0.0, 0.0], [2.0, 20.0]], dtype=np.float32)
    z = standardize_text_vectors(x)
    np.testing.assert_allclose(z[[0, 1, 3]].mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(z[[0, 1, 3]].std(axis=0), 1.0, atol=1e-4)
    assert (z[2] == 0).all()
    assert np.allclose(z[:, 0], z[:, 1], atol=1e-4)  # scale of a dimension no longer matters


def test_train_items_softmax_keeps_cold_items_out_of_training(make_tiny):
    import torch

    from lmrec.training.trainer import next_item_loss

    split = cold_start_items(make_tiny(), cold_frac=0.25, seed=0)
    model = _fit("sasrec-id", split, None, train_negatives="train_items")
    cold = np.flatnonzero(~split.warm_items)
    # the ID rows of cold items get no gradient at all: they were never in the softmax
    assert model.config["train_negatives"] == "train_items"
    warm = torch.from_numpy(np.flatnonzero(split.warm_items))
    pos = torch.full((split.n_items,), -1, dtype=torch.long)
    pos[warm] = torch.arange(len(warm))
    seq = torch.tensor([[0, int(warm[0]) + 1, int(warm[1]) + 1]])
    net = model.net_
    net.zero_grad()
    next_item_loss(net, seq, net.item_table(), warm, pos).backward()
    assert torch.count_nonzero(net.id_emb.weight.grad[torch.from_numpy(cold) + 1]) == 0
    with pytest.raises(ValueError, match="train_negatives"):
        create_model("sasrec-id", train_negatives="some")


def test_sasrec_last_target_and_recbole_init_learn_the_ring(tiny_dataset):
    """RecBole's objective (prefix augmentation, last position only) and its N(0, 0.02)
    initialisation train a model that beats popularity on the ring, and are refused when misspelt."""
    split = leave_one_out(tiny_dataset)
    pop = _fit("pop", split, None)
    model = _fit("sasrec-id", split, None, epochs=40, patience=40, lr=5e-3, dropout=0.1, train_target="last",
                 init="recbole")
    ndcg = {name: evaluate_ranking(m.score, split.test, split.n_items, ks=(10,))["metrics"]["ndcg@10"]
            for name, m in (("pop", pop), ("sasrec", model))}
    assert ndcg["sasrec"] > ndcg["pop"] + 0.2
    w = model.net_.encoder.layers[0].linear1.weight
    assert model.config["init"] == "recbole" and w.std().item() < 0.2  # N(0, 0.02) start, not kaiming
    with pytest.raises(ValueError, match="train_target"):
        create_model("sasrec-id", train_target="first")
    with pytest.raises(ValueError, match="init"):
        create_model("sasrec-id", init="xavier")


def test_text_id_concat_fusion_uses_text_alone_for_cold_items(tiny_dataset, tmp_path):
    import torch

    split = cold_start_items(tiny_dataset, cold_frac=0.25, seed=0)
    vectors = _vectors(split.n_items)
    model = _fit("sasrec-text-id", split, vectors, fusion="concat")
    cold = np.flatnonzero(~split.warm_items)
    with torch.no_grad():
        before = model.net_.item_table()[cold + 1].clone()
        model.net_.id_emb.weight[cold + 1] += 100.0  # an untrained ID row must not matter
        after = model.net_.item_table()[cold + 1]
        assert model.net_.item_table()[0].abs().sum() == 0  # padding row stays zero
    torch.testing.assert_close(before, after)
    model.save(tmp_path / "m")
    again = load_recommender(tmp_path / "m", vectors)
    np.testing.assert_allclose(again.score(split.test.users[:4], split.test.histories[:4]),
                               model.score(split.test.users[:4], split.test.histories[:4]), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="fusion"):
        create_model("sasrec-text-id", fusion="product")


@pytest.mark.parametrize("name", ["unisrec", "fusion"])
def test_text_sequence_models_accept_the_recbole_objective(name, tiny_dataset):
    split = leave_one_out(tiny_dataset)
    model = create_model(name, train_target="last", epochs=2, patience=2, hidden=16, inner=32, batch_size=32)
    model.fit(TrainData(split=split, item_vectors=_vectors(split.n_items), seed=0))
    assert model.config["train_target"] == "last" and len(model.history_["epochs"]) == 2
    with pytest.raises(ValueError, match="train_target"):
        create_model(name, train_target="every")


def test_start_positions_make_every_window_position_equal_its_prefix():
    """With positions counted from the first item and a causal mask, the state at position t of a
    window is the state of the prefix that ends at t — so all-positions training trains exactly
    the prefix-augmented (RecBole) examples in one pass. Counted from the end, it is not."""
    import torch

    from lmrec.models.sasrec import build_sasrec_net

    window, prefix = torch.tensor([[0, 0, 3, 5, 7, 9]]), torch.tensor([[0, 0, 0, 0, 3, 5]])
    same = {}
    for positions in ("start", "end"):
        torch.manual_seed(0)
        net = build_sasrec_net(20, "id", None, 16, 2, 2, 32, 0.0, 10, None, positions=positions).eval()
        with torch.no_grad():
            same[positions] = torch.allclose(net(window)[0, 3], net(prefix)[0, -1], atol=1e-5)
    assert same == {"start": True, "end": False}
    with pytest.raises(ValueError, match="positions"):
        create_model("sasrec-id", positions="middle")


@pytest.mark.parametrize("name", ["sasrec-id", "sasrec-text-id", "unisrec", "fusion", "zesrec"])
def test_fit_is_determined_by_the_seed_alone(name, tiny_dataset):
    """``TrainData.seed`` fixes the initial weights too: the global torch state before ``fit``
    (whatever ran earlier in the process) must not change the trained model."""
    import torch

    split = leave_one_out(tiny_dataset)
    vectors = _vectors(split.n_items)
    params = {"epochs": 2, "hidden": 16, "batch_size": 32}
    if name != "zesrec":
        params.update(patience=2, inner=32)
    scores = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        model = create_model(name, **params)
        model.fit(TrainData(split=split, item_vectors=vectors if model.needs_item_vectors else None, seed=0))
        scores.append(model.score(split.test.users[:5], split.test.histories[:5]))
    np.testing.assert_array_equal(scores[0], scores[1])
