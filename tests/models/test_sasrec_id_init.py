"""SASRec-ID with its ID table initialised from item text (``id_init="text"``, :func:`text_pca_init`)."""

import numpy as np
import pytest

from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model, load_recommender
from lmrec.models.sasrec import text_pca_init

SMALL = {"hidden": 4, "inner": 16, "n_heads": 2, "batch_size": 32, "dropout": 0.1, "lr": 5e-3}


def test_text_pca_init_keeps_text_similarity_at_the_random_init_scale():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 16))
    vectors = np.repeat(base, 2, axis=0) + 1e-3 * rng.normal(size=(12, 16))   # items 2k and 2k+1: near twins
    vectors[5] = 0.0                                                           # an item without text
    rows = text_pca_init(vectors.astype(np.float32), 4, std=0.02)
    assert rows.shape == (12, 4) and rows.dtype == np.float32
    has = np.abs(vectors).sum(1) > 0
    assert np.all(rows[~has] == 0)
    assert rows[has].std() == pytest.approx(0.02, rel=1e-4)      # the spread asked for
    assert text_pca_init(vectors.astype(np.float32), 4)[has].std() == pytest.approx(0.1, rel=1e-4)  # default
    var = rows[has].var(axis=0)
    assert np.all(np.diff(var) <= 1e-12)                          # principal components, largest first
    d = np.linalg.norm(rows[:, None] - rows[None], axis=-1)
    for k in (0, 3, 4):                                           # a twin is nearer than any other item
        others = [j for j in range(12) if j not in (2 * k, 2 * k + 1) and has[j]]
        assert d[2 * k, 2 * k + 1] < d[2 * k, others].min()
    wide = text_pca_init(vectors[:, :3].astype(np.float32), 5)    # fewer text dimensions than hidden
    assert wide.shape == (12, 5) and np.all(wide[:, 3:] == 0)
    with pytest.raises(ValueError, match="at least two"):
        text_pca_init(np.zeros((4, 8), dtype=np.float32), 4)
    with pytest.raises(ValueError, match="dim ≥ 1"):
        text_pca_init(vectors.astype(np.float32), 0)


def test_the_id_table_starts_from_text_trains_as_ids_and_reloads_without_text(tiny_dataset, tmp_path):
    import torch

    split = leave_one_out(tiny_dataset)
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    model = create_model("sasrec-id", **SMALL, id_init="text", epochs=1, patience=1)
    assert model.needs_item_vectors and model.history_input == "id"
    torch.manual_seed(0)
    model._build(split.n_items, vectors, split.warm_items, initial=True)
    start = model.net_.id_emb.weight.detach().numpy()
    np.testing.assert_allclose(start[1:], text_pca_init(vectors, 4), rtol=1e-6)
    assert np.all(start[0] == 0)                                  # the padding row
    assert not hasattr(model.net_, "text")                        # the trained model reads IDs only
    random = create_model("sasrec-id", **SMALL)
    assert not random.needs_item_vectors
    torch.manual_seed(0)
    random._build(split.n_items, None, split.warm_items, initial=True)
    assert not np.allclose(random.net_.id_emb.weight.detach().numpy()[1:], start[1:])

    model.fit(TrainData(split=split, item_vectors=vectors, seed=0))
    cases = split.test
    scores = model.score(cases.users[:4], cases.histories[:4])
    model.save(tmp_path / "run")
    again = load_recommender(tmp_path / "run", None)              # no text needed to load and score
    np.testing.assert_allclose(again.score(cases.users[:4], cases.histories[:4]), scores, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="item text vectors"):
        create_model("sasrec-id", **SMALL, id_init="text").fit(TrainData(split=split, item_vectors=None, seed=0))


def test_id_init_is_checked():
    with pytest.raises(ValueError, match="id_init must be"):
        create_model("sasrec-id", id_init="pca")
    with pytest.raises(ValueError, match="no ID table"):
        create_model("sasrec-text", id_init="text")
    with pytest.raises(ValueError, match="id_init_std"):
        create_model("sasrec-id", id_init="text", id_init_std=0)


def test_text_plus_id_starts_its_id_part_from_text_and_leaves_the_text_part_alone(tiny_dataset):
    """``sasrec-text-id`` with ``id_init="text"``: the ID rows are :func:`text_pca_init`, the text
    projection is the same draw as the default hybrid's, and cold items still score from text alone."""
    import torch

    split = leave_one_out(tiny_dataset)
    vectors = np.random.default_rng(2).normal(size=(split.n_items, 8)).astype(np.float32)
    warm = np.ones(split.n_items, dtype=bool)
    warm[:3] = False                                              # items 0-2 cold: table rows 1-3
    plain, started = create_model("sasrec-text-id", **SMALL), create_model("sasrec-text-id", **SMALL, id_init="text")
    for m in (plain, started):
        torch.manual_seed(0)
        m._build(split.n_items, vectors, warm, initial=True)
    a, b = plain.net_.state_dict(), started.net_.state_dict()
    np.testing.assert_allclose(b["id_emb.weight"][1:].numpy(), text_pca_init(vectors, 4), rtol=1e-6)
    assert not torch.allclose(a["id_emb.weight"][1:], b["id_emb.weight"][1:])
    assert all(torch.equal(a[k], b[k]) for k in a if k != "id_emb.weight")
    net = started.net_.eval()
    table = net.input_table().detach()
    text_only = net.text_proj(net.text_input()).detach()
    torch.testing.assert_close(table[1:4], text_only[1:4])        # cold: the text part alone
    torch.testing.assert_close(table[4:], text_only[4:] + b["id_emb.weight"][4:])
    started.fit(TrainData(split=split, item_vectors=vectors, seed=0))
    assert np.isfinite(started.score(split.test.users[:3], split.test.histories[:3])).all()


def test_id_init_std_alone_redraws_only_the_id_rows(tiny_dataset):
    """The spread control: ``id_init_std`` without text draws the ID rows from N(0, std), the rest of
    the net is the same draw as the default model's."""
    import torch

    split = leave_one_out(tiny_dataset)
    plain, wide = create_model("sasrec-id", **SMALL), create_model("sasrec-id", **SMALL, id_init_std=0.5)
    assert not wide.needs_item_vectors
    for m in (plain, wide):
        torch.manual_seed(0)
        m._build(split.n_items, None, split.warm_items, initial=True)
    a, b = plain.net_.state_dict(), wide.net_.state_dict()
    assert b["id_emb.weight"][1:].std().item() > 5 * a["id_emb.weight"][1:].std().item()
    assert torch.all(b["id_emb.weight"][0] == 0)
    assert all(torch.equal(a[k], b[k]) for k in a if k != "id_emb.weight")
    with pytest.raises(ValueError, match="id_init_std"):
        create_model("sasrec-id", id_init_std=-1.0)
    with pytest.raises(ValueError, match="has none"):
        create_model("sasrec-text", id_init_std=0.1)
