"""SASRec text + ID with ID dropout (``id_dropout``, DropoutNet): training steps that see items as text alone."""

import numpy as np
import pytest

from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model, load_recommender
from lmrec.models.sasrec import build_sasrec_net

SMALL = {"hidden": 16, "inner": 32, "batch_size": 32, "dropout": 0.1, "lr": 5e-3}


def test_config_records_the_rate_and_refuses_models_without_an_id_part():
    assert create_model("sasrec-text-id").config["id_dropout"] == 0.0
    assert create_model("sasrec-text-id", id_dropout=0.5).config["id_dropout"] == 0.5
    for name in ("sasrec-id", "sasrec-text"):
        with pytest.raises(ValueError, match="sasrec-text-id"):
            create_model(name, id_dropout=0.5)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"id_dropout must be in \[0, 1\)"):
            create_model("sasrec-text-id", id_dropout=bad)


def test_training_steps_drop_the_id_part_of_about_p_of_the_items_and_inference_never():
    import torch

    n, p = 400, 0.5
    text = np.random.default_rng(0).normal(size=(n, 8)).astype(np.float32)
    warm = np.ones(n, dtype=bool)
    warm[:40] = False                       # cold items have no ID part in any mode
    torch.manual_seed(0)
    net = build_sasrec_net(n, "text-id", text, 16, 1, 2, 32, 0.0, 10, warm, id_dropout=p)
    text_only = net.text_proj(net.text).detach()
    net.eval()
    full = net.item_table().detach()
    assert torch.equal(net.item_table().detach(), full)  # inference is deterministic
    has_id = ~torch.isclose(full, text_only).all(dim=1)
    assert not has_id[1:41].any() and has_id[41:].all()
    net.train()
    shares = []
    for _ in range(20):
        table = net.item_table().detach()
        dropped = torch.isclose(table, text_only).all(dim=1)[41:]   # warm items shown as text alone
        kept = torch.isclose(table, full).all(dim=1)[41:]
        assert bool((dropped | kept).all())                         # all or nothing per item, no rescaling
        shares.append(dropped.float().mean().item())
    assert abs(np.mean(shares) - p) < 0.03 and len(set(shares)) > 1  # a fresh draw per step


def test_id_dropout_round_trips_and_scores_like_any_text_id_model(tiny_dataset, tmp_path):
    split = leave_one_out(tiny_dataset)
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    model = create_model("sasrec-text-id", **SMALL, epochs=2, patience=2, id_dropout=0.3)
    model.fit(TrainData(split=split, item_vectors=vectors, seed=0))
    cases = split.test
    scores = model.score(cases.users[:4], cases.histories[:4])
    assert np.isfinite(scores).all()
    model.save(tmp_path / "run")
    again = load_recommender(tmp_path / "run", vectors)
    assert again.config["id_dropout"] == 0.3
    np.testing.assert_allclose(again.score(cases.users[:4], cases.histories[:4]), scores, rtol=1e-6, atol=1e-6)

