"""Serving a late fusion (``lmrec ensemble``): user vector · item vector gives the fused model's lists."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model
from lmrec.models.ensemble import ScoreEnsemble
from lmrec.serving import create_app
from lmrec.serving.space import FusedItemSpace, ItemSpace

SMALL = {"hidden": 16, "inner": 32, "batch_size": 32, "dropout": 0.1, "lr": 5e-3, "epochs": 2, "patience": 2}


def _fit(name, split, vectors, seed=0, **params):
    model = create_model(name, **({} if name == "embknn" else SMALL), **params)
    return model.fit(TrainData(split=split, item_vectors=vectors, seed=seed))


@pytest.mark.parametrize("pair", [("sasrec-id", "sasrec-text"), ("sasrec-text", "embknn"),
                                  ("sasrec-text-id", "sasrec-text")])
def test_fused_user_vector_times_index_vectors_ranks_like_the_ensemble(pair, tiny_dataset):
    """Inner products = the fused log-probabilities plus one constant per user (the members' log-partitions)."""
    split = leave_one_out(tiny_dataset)
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    params = {"sasrec-text": {"scores": "cosine", "text_adaptor": "mlp", "adaptor_hidden": 24}}
    models = [_fit(n, split, vectors, seed=i, **params.get(n, {})) for i, n in enumerate(pair)]
    weights = [0.35, 0.65]
    cases = split.test
    want = ScoreEnsemble(models, weights).score(cases.users[:6], cases.histories[:6])
    space = FusedItemSpace([(m, vectors) for m in models], weights, ["a", "b"])
    items = space.base_item_vectors()
    assert items.shape == (split.n_items, sum(ItemSpace(m, vectors).dim for m in models)) == (split.n_items, space.dim)
    index = space.index_vectors(items)
    got = np.stack([index @ space.user_vector(items[h]) for h in cases.histories[:6]])
    shift = got - want
    np.testing.assert_allclose(shift, shift[:, :1].repeat(shift.shape[1], axis=1), rtol=1e-4, atol=2e-4)
    np.testing.assert_array_equal(np.argsort(-got, axis=1, kind="stable")[:, :5],
                                  np.argsort(-want, axis=1, kind="stable")[:, :5])
    assert space.reads_text is ("sasrec-id" not in pair)


def test_members_that_read_other_text_vectors_take_no_new_items(tiny_dataset):
    split = leave_one_out(tiny_dataset)
    rng = np.random.default_rng(2)
    a, b = (rng.normal(size=(split.n_items, 8)).astype(np.float32) for _ in range(2))
    space = FusedItemSpace([(_fit("embknn", split, a), a), (_fit("embknn", split, b), b)], [0.5, 0.5], ["a", "b"])
    assert not space.reads_text and "different item text vectors" in space.no_text_reason
    with pytest.raises(ValueError, match="different item text vectors"):
        space.item_vectors_from_text(a[:2])


def _fused(tmp_path, make_serving_run, encoder, fast_sasrec, models, weights):
    """Train ``models`` on the tiny dataset, fuse them with ``lmrec ensemble``'s code and set ``weights``."""
    from lmrec.ensemble_pipeline import ensemble_runs, write_ensemble
    from lmrec.pipeline import load_run

    runs = []
    for i, (model, params) in enumerate(models):
        runs.append(make_serving_run(model, encoder, name=f"m{i}", **({**fast_sasrec, **params}
                                                                      if model.startswith("sasrec") else params)))
    res = ensemble_runs([load_run(r) for r in runs], step=0.5)
    for m, w in zip(res["model"]["members"], weights):   # weights away from the corners, as a real fusion has
        m["weight"] = w
    write_ensemble(res, tmp_path / "fused")
    return tmp_path / "fused"


def test_the_service_serves_an_id_and_text_fusion_like_lmrec_recommend(tmp_path, make_serving_run, encoder,
                                                                        fast_sasrec):
    from lmrec.ensemble_pipeline import load_ensemble
    from lmrec.pipeline import recommend_for_user

    out = _fused(tmp_path, make_serving_run, encoder, fast_sasrec,
                 [("sasrec-id", {}), ("sasrec-text", {"scores": "cosine"})], [0.4, 0.6])
    client = TestClient(create_app(out, encoder=encoder))
    health = client.get("/healthz").json()
    assert health["model"] == "ensemble" and health["accepts_new_items"] is False
    assert health["dim"] == 32 and health["n_items"] == 12
    fused = load_ensemble(out)
    for user in ("u0", "u7", "u19"):
        want = recommend_for_user(fused, user, 5)
        got = client.post("/recommend", json={"user_id": user, "k": 5}).json()["items"]
        assert [g["item_id"] for g in got] == [w["item_id"] for w in want]
        # served scores = fused log-probabilities + one per-user constant
        diffs = np.array([g["score"] for g in got]) - np.array([w["score"] for w in want])
        np.testing.assert_allclose(diffs, diffs[0], atol=1e-3)
    r = client.post("/items", json={"item_id": "x", "text": "anything"})
    assert r.status_code == 409 and "ensemble member 'm0'" in r.json()["detail"]
    assert client.post("/recommend", json={"text": "anything"}).status_code == 422
    assert len(client.get("/items/3/similar", params={"k": 4}).json()["items"]) == 4


def test_a_fusion_of_text_models_takes_new_items_from_text(tmp_path, make_serving_run, encoder, fast_sasrec):
    out = _fused(tmp_path, make_serving_run, encoder, fast_sasrec,
                 [("sasrec-text", {"scores": "cosine"}), ("embknn", {})], [0.7, 0.3])
    client = TestClient(create_app(out, encoder=encoder))
    assert client.get("/healthz").json()["accepts_new_items"] is True
    assert client.post("/items", json={"item_id": "x", "text": "Movie number 3. documentary"}).status_code == 201
    items = client.post("/recommend", json={"history": ["4"], "k": 13, "exclude_history": False}).json()["items"]
    score = {r["item_id"]: r["score"] for r in items}
    assert len(score) == 13
    # item 3's text rendered by the run's template is "Movie number 3. documentary": the same item vector
    assert score["x"] == pytest.approx(score["3"], abs=1e-4)
    assert client.post("/recommend", json={"text": "horror", "k": 3}).status_code == 200


def test_a_weight_0_member_is_left_out_of_the_served_space(tmp_path, make_serving_run, encoder, fast_sasrec):
    """Validation may give a member weight 0 (the grid has the corners): it changes no score, so the
    service leaves it out; an ID member at weight 0 does not stop a text fusion from taking new items."""
    from lmrec.ensemble_pipeline import load_ensemble
    from lmrec.pipeline import recommend_for_user

    out = _fused(tmp_path, make_serving_run, encoder, fast_sasrec,
                 [("sasrec-id", {}), ("sasrec-text", {"scores": "cosine"})], [0.0, 1.0])
    client = TestClient(create_app(out, encoder=encoder))
    health = client.get("/healthz").json()
    fused = load_ensemble(out)
    text_member = fused.members[1]
    assert health["accepts_new_items"] is True
    assert health["dim"] == ItemSpace(text_member.model, text_member.item_vectors).dim     # no ID dimensions
    for user in ("u0", "u7"):
        got = client.post("/recommend", json={"user_id": user, "k": 5}).json()["items"]
        assert [g["item_id"] for g in got] == [w["item_id"] for w in recommend_for_user(fused, user, 5)]
    assert client.post("/items", json={"item_id": "x", "text": "anything"}).status_code == 201
    with pytest.raises(ValueError, match="positive weight"):
        FusedItemSpace([(r.model, r.item_vectors) for r in fused.members], [0.0, 0.0], ["a", "b"])
