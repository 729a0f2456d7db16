"""SASRec's text adaptor: linear projection (the class default) vs a two-layer perceptron
(``text_adaptor="mlp"``, the default of the name ``sasrec-text``)."""

import numpy as np
import pytest

from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model, load_recommender

SMALL = {"hidden": 16, "inner": 32, "batch_size": 32, "dropout": 0.1, "lr": 5e-3}


def _rank_one_vectors(n_items: int, dim: int = 8, seed: int = 0) -> np.ndarray:
    """``float32 [n_items, dim]`` text vectors on one line through the origin: ``t_i · u``."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=dim)
    t = rng.permutation(n_items).astype(np.float64) + rng.uniform(0.1, 0.9, n_items)
    return (t[:, None] * u[None, :]).astype(np.float32)


def _fit(name, split, vectors, **params):
    model = create_model(name, **{**SMALL, **params})
    return model.fit(TrainData(split=split, item_vectors=vectors, seed=0))


def test_the_config_records_the_adaptor_and_refuses_unknown_ones():
    assert create_model("sasrec-text-id").config["text_adaptor"] == "linear"
    assert create_model("sasrec-text").config["text_adaptor"] == "mlp"   # the name's default (NAME_DEFAULTS)
    mlp = create_model("sasrec-text", text_adaptor="mlp", adaptor_hidden=32)
    assert mlp.config["text_adaptor"] == "mlp" and mlp.config["adaptor_hidden"] == 32
    with pytest.raises(ValueError, match="text_adaptor"):
        create_model("sasrec-text", text_adaptor="moe")
    with pytest.raises(ValueError, match="adaptor_hidden"):
        create_model("sasrec-text", text_adaptor="mlp", adaptor_hidden=0)


@pytest.mark.parametrize("name", ["sasrec-text", "sasrec-text-id"])
def test_mlp_adaptor_round_trips(name, tiny_dataset, tmp_path):
    import torch

    split = leave_one_out(tiny_dataset)
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    model = _fit(name, split, vectors, epochs=2, patience=2, text_adaptor="mlp", adaptor_hidden=24)
    proj = model.net_.text_proj
    assert isinstance(proj, torch.nn.Sequential) and proj[0].out_features == 24 and proj[-1].out_features == 16
    cases = split.test
    scores = model.score(cases.users[:4], cases.histories[:4])
    model.save(tmp_path / "run")
    again = load_recommender(tmp_path / "run", vectors)
    np.testing.assert_allclose(again.score(cases.users[:4], cases.histories[:4]), scores, rtol=1e-6, atol=1e-6)


def test_mlp_adaptor_can_put_any_item_first_where_a_linear_one_cannot():
    """Text vectors on one line: a linear adaptor maps every item onto one line of the hidden
    space, so a dot-product score ranks first only the item at one end or the other, whatever
    the query — at most 2 of 12 items can ever be top-1. The perceptron bends the line: trained
    with one free query per item, it puts every item first for its query."""
    import torch
    import torch.nn.functional as F

    from lmrec.models.sasrec import build_sasrec_net

    n = 12
    vectors = _rank_one_vectors(n)
    firsts = {}
    for adaptor in ("linear", "mlp"):
        torch.manual_seed(0)
        net = build_sasrec_net(n, "text", vectors, 16, 1, 2, 32, 0.0, 10, None, text_adaptor=adaptor,
                               adaptor_hidden=64)
        queries = torch.nn.Parameter(0.1 * torch.randn(n, 16))
        opt = torch.optim.Adam([*net.text_proj.parameters(), queries], lr=1e-2)
        for _ in range(300):
            loss = F.cross_entropy(queries @ net.item_table()[1:].T, torch.arange(n))
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            firsts[adaptor] = set((queries @ net.item_table()[1:].T).argmax(1).tolist())
    assert len(firsts["linear"]) <= 2, firsts
    assert firsts["mlp"] == set(range(n)), firsts
