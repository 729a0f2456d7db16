"""SASRec with cosine scores (``scores="cosine"``): the norm of an item's row no longer moves its score."""

import numpy as np
import pytest

from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model, load_recommender

SMALL = {"hidden": 16, "inner": 32, "batch_size": 32, "dropout": 0.1, "lr": 5e-3}


def test_config_records_the_scores_and_refuses_bad_values():
    assert create_model("sasrec-text-id").config["scores"] == "dot"
    model = create_model("sasrec-text", scores="cosine", temperature=0.1)
    assert (model.config["scores"], model.config["temperature"]) == ("cosine", 0.1)
    with pytest.raises(ValueError, match="scores must be 'dot' or 'cosine'"):
        create_model("sasrec-text", scores="l2")
    with pytest.raises(ValueError, match="temperature must be > 0"):
        create_model("sasrec-text", scores="cosine", temperature=0)


@pytest.mark.parametrize("scores", ["dot", "cosine"])
def test_only_cosine_scores_ignore_the_norm_of_an_item_row(scores):
    import torch

    from lmrec.models.sasrec import build_sasrec_net

    vectors = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    torch.manual_seed(0)
    net = build_sasrec_net(10, "text", vectors, 16, 1, 2, 32, 0.0, 6, None, scores=scores, temperature=0.05)
    net.eval()
    with torch.no_grad():  # item 2 (row 3) is in no history, so the Transformer's inputs stay the same
        raw = net.input_table()
        before = net(torch.tensor([[0, 1, 2, 5], [0, 0, 6, 7]]), net.item_table())[:, -1] @ net.item_table()[1:].T
        longer = raw.clone()
        longer[3] *= 4.0                                         # row 3 = item 2
        net.input_table = lambda: longer
        after = net(torch.tensor([[0, 1, 2, 5], [0, 0, 6, 7]]), net.item_table())[:, -1] @ net.item_table()[1:].T
    others = [i for i in range(10) if i != 2]
    torch.testing.assert_close(after[:, others], before[:, others])
    if scores == "cosine":
        torch.testing.assert_close(after[:, 2], before[:, 2])
        assert float(before.abs().max()) <= 1 / 0.05 + 1e-4       # cosine / τ
    else:
        torch.testing.assert_close(after[:, 2], 4.0 * before[:, 2])


@pytest.mark.parametrize("name", ["sasrec-text", "sasrec-text-id"])
def test_cosine_scores_train_and_round_trip(name, tiny_dataset, tmp_path):
    split = leave_one_out(tiny_dataset)
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    model = create_model(name, **SMALL, epochs=2, patience=2, scores="cosine", text_adaptor="mlp", adaptor_hidden=24)
    model.fit(TrainData(split=split, item_vectors=vectors, seed=0))
    assert all(np.isfinite(r["loss"]) for r in model.history_["epochs"])
    cases = split.test
    scores = model.score(cases.users[:4], cases.histories[:4])
    assert np.abs(scores).max() <= 1 / 0.07 + 1e-4
    model.save(tmp_path / "run")
    again = load_recommender(tmp_path / "run", vectors)
    assert again.config["scores"] == "cosine"
    np.testing.assert_allclose(again.score(cases.users[:4], cases.histories[:4]), scores, rtol=1e-6, atol=1e-6)


def test_encode_reads_the_given_rows_and_forward_is_encode_of_the_input_table(tiny_dataset):
    import torch

    split = leave_one_out(tiny_dataset)
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    model = create_model("sasrec-text", **SMALL, epochs=1, patience=1, scores="cosine")
    model.fit(TrainData(split=split, item_vectors=vectors, seed=0))
    net = model.net_.eval()
    seq = torch.tensor([[0, 3, 1, 2]])
    with torch.inference_mode():
        raw = net.input_table()
        np.testing.assert_allclose(net(seq), net.encode(seq, raw), atol=1e-6)
        np.testing.assert_allclose(net(seq, net.item_table()), net.encode(seq, raw), atol=1e-6)
        assert not torch.allclose(net.encode(seq, 2 * raw), net.encode(seq, raw))
        # a table whose input rows the net cannot know is refused rather than silently replaced
        with pytest.raises(ValueError, match="encode"):
            net(seq, 2 * net.item_table())
        table = net.score_table(2 * raw)                         # ... unless it came from score_table
        np.testing.assert_allclose(net(seq, table), net.encode(seq, 2 * raw), atol=1e-6)
