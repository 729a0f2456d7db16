"""API contract of the recommendation service (FastAPI TestClient, tiny run, word-hash encoder)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lmrec.serving import Limits, create_app


@pytest.fixture
def knn_run(make_serving_run, encoder):
    return make_serving_run("embknn", encoder)


@pytest.fixture
def client(knn_run, encoder):
    app = create_app(knn_run, encoder=encoder, limits=Limits(max_k=50, max_history=5, max_text_chars=100,
                                                             max_batch=3))
    return TestClient(app, raise_server_exceptions=False)


def _ids(resp):
    return [r["item_id"] for r in resp.json()["items"]]


def test_healthz_and_openapi(client):
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["n_items"] == 12 and h["model"] == "embknn" and h["dim"] == 16
    assert h["accepts_new_items"] is True
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/recommend", "/items", "/items/{item_id}", "/items/{item_id}/similar"} <= set(paths)


def test_recommend_known_user_matches_model_scores(client, knn_run):
    from lmrec.pipeline import load_run, recommend_for_user

    got = client.post("/recommend", json={"user_id": "u3", "k": 5}).json()["items"]
    want = recommend_for_user(load_run(knn_run), "u3", 5)
    assert [g["item_id"] for g in got] == [w["item_id"] for w in want]
    np.testing.assert_allclose([g["score"] for g in got], [w["score"] for w in want], rtol=1e-5, atol=1e-5)
    assert got[0]["rank"] == 1 and got[0]["title"].startswith("Movie number")


def test_history_and_text_queries(client):
    # history [0]: item 0 is a space opera; items 4 and 8 share the genre words, so they rank first
    top = _ids(client.post("/recommend", json={"history": ["0"], "k": 2}))
    assert sorted(top) == ["4", "8"]
    with_hist = _ids(client.post("/recommend", json={"history": ["0"], "k": 12, "exclude_history": False}))
    assert with_hist[0] == "0"
    by_text = _ids(client.post("/recommend", json={"text": "Movie number 7. documentary", "k": 1}))
    assert by_text == ["7"]


def test_bad_ids_are_404(client):
    r = client.post("/recommend", json={"user_id": "nobody"})
    assert r.status_code == 404 and "nobody" in r.json()["detail"]
    r = client.post("/recommend", json={"history": ["0", "no-such-item"]})
    assert r.status_code == 404 and "no-such-item" in r.json()["detail"]
    assert client.get("/items/nope/similar").status_code == 404
    assert client.delete("/items/nope").status_code == 404


@pytest.mark.parametrize("body", [
    {},                                                # nothing at all (an empty history is a cold user: 200)
    {"user_id": "u1", "history": ["0"]},               # two sources
    {"history": ["0"], "k": 0},
    {"history": ["0"], "k": 51},                       # over max_k
    {"history": [str(i) for i in range(6)]},           # over max_history
    {"text": "x" * 101},                               # over max_text_chars
    {"history": ["0"], "unknown": 1},
])
def test_invalid_or_oversized_recommend_is_422(client, body):
    r = client.post("/recommend", json=body)
    assert r.status_code == 422
    assert "Traceback" not in r.text


def test_oversized_item_batch_and_similar_k_are_422(client):
    items = [{"item_id": f"n{i}", "text": "new thing"} for i in range(4)]
    assert client.post("/items", json={"items": items}).status_code == 422
    assert client.get("/items/0/similar", params={"k": 51}).status_code == 422
    assert client.post("/items", json={"item_id": "n1"}).status_code == 422        # no text
    assert client.post("/items", json={"item_id": "", "text": "t"}).status_code == 422
    # the errors are those of the form sent (one item or {"items": [...]}), not of both, located
    # as in the JSON sent (no union tag)
    one = client.post("/items", json={"item_id": "n1"}).json()["detail"]
    assert [e["loc"] for e in one] == [["body"]] and "'text' or its 'fields'" in one[0]["msg"]
    batch = client.post("/items", json={"items": [{"text": "t"}]}).json()["detail"]
    assert [e["loc"] for e in batch] == [["body", "items", 0, "item_id"]]


def test_add_item_errors_say_how_to_send_it(client):
    bare = client.post("/items", json=[{"item_id": "n1", "text": "a new film"}])
    assert bare.status_code == 422
    assert '{"items": [...]}' in bare.json()["detail"][0]["msg"]
    titled = client.post("/items", json={"item_id": "n1", "title": "A new film"})
    assert titled.status_code == 422
    assert "'title' is only the name shown" in titled.json()["detail"][0]["msg"]
    assert client.get("/items/n1").status_code == 404           # nothing was added
    ok = client.post("/items", json={"item_id": "n1", "title": "A new film", "text": "A new film. drama"})
    assert ok.status_code == 201
    # /recommend keeps FastAPI's locations
    assert client.post("/recommend", json={"history": ["0"], "k": 0}).json()["detail"][0]["loc"] == ["body", "k"]


def test_k_larger_than_catalog_and_outputs_finite(client):
    items = client.post("/recommend", json={"history": ["0", "1"], "k": 50}).json()["items"]
    assert len(items) == 10                     # 12 items, history excluded
    assert all(math.isfinite(r["score"]) for r in items)
    sim = client.get("/items/3/similar", params={"k": 50}).json()["items"]
    assert len(sim) == 11 and "3" not in [r["item_id"] for r in sim]


def test_add_item_then_recommend_and_delete(client):
    r = client.post("/items", json={"item_id": "new-1", "title": "Zorblax", "text": "zorblax quantum saga"})
    assert r.status_code == 201 and r.json()["added"][0]["index_id"] == 12
    # servable right away: the profile text shares its words
    assert _ids(client.post("/recommend", json={"text": "zorblax quantum saga", "k": 1})) == ["new-1"]
    assert client.get("/items/new-1").json()["title"] == "Zorblax"
    assert client.post("/items", json={"item_id": "new-1", "text": "again"}).status_code == 409
    batch = [{"item_id": "b1", "text": "zorblax quantum saga two"}, {"item_id": "b2", "fields": {"title": "Other"}}]
    assert client.post("/items", json={"items": batch}).status_code == 201
    assert _ids(client.get("/items/new-1/similar", params={"k": 1})) == ["b1"]
    assert client.get("/healthz").json()["n_items"] == 15
    assert client.delete("/items/b1").status_code == 200
    assert "b1" not in _ids(client.get("/items/new-1/similar", params={"k": 50}))
    assert client.delete("/items/3").status_code == 200          # a run item
    assert "3" not in _ids(client.post("/recommend", json={"history": ["0"], "k": 50}))
    gone = client.get("/items/3")
    assert gone.status_code == 404 and "was deleted" in gone.json()["detail"]
    assert "unknown item id" in client.get("/items/nope").json()["detail"]
    assert client.get("/healthz").json()["n_items"] == 13


def test_restart_keeps_added_and_deleted_items(knn_run, encoder):
    c1 = TestClient(create_app(knn_run, encoder=encoder))
    c1.post("/items", json={"item_id": "kept", "text": "zorblax quantum saga"})
    c1.delete("/items/5")
    c2 = TestClient(create_app(knn_run, encoder=encoder))
    assert c2.get("/healthz").json()["n_items"] == 12
    assert _ids(c2.post("/recommend", json={"text": "zorblax quantum saga", "k": 1})) == ["kept"]
    assert c2.get("/items/5").status_code == 404


@pytest.mark.parametrize("model, adaptor", [
    ("sasrec-text", {"text_adaptor": "linear", "scores": "dot"}),
    ("sasrec-text", {"text_adaptor": "mlp", "adaptor_hidden": 16, "scores": "dot"}),
    ("sasrec-text", {"adaptor_hidden": 16}),                          # the name's defaults: MLP, cosine scores
    ("sasrec-text-id", {"scores": "cosine"})], ids=["linear", "mlp", "default-mlp-cosine", "text-id-cosine"])
def test_sasrec_text_run_serves_model_scores_and_new_items(make_serving_run, encoder, fast_sasrec, model, adaptor):
    from lmrec.pipeline import load_run, recommend_for_user

    run = make_serving_run(model, encoder, **fast_sasrec, **adaptor)
    client = TestClient(create_app(run, encoder=encoder))
    got = client.post("/recommend", json={"user_id": "u0", "k": 5}).json()["items"]
    loaded = load_run(run)
    want = recommend_for_user(loaded, "u0", 5)
    assert [g["item_id"] for g in got] == [w["item_id"] for w in want]
    np.testing.assert_allclose([g["score"] for g in got], [w["score"] for w in want], rtol=1e-4, atol=1e-4)
    assert client.post("/items", json={"item_id": "x", "text": "Movie number 3. documentary"}).status_code == 201
    items = client.post("/recommend", json={"history": ["4"], "k": 13, "exclude_history": False}).json()["items"]
    score = {r["item_id"]: r["score"] for r in items}
    assert len(score) == 13 and all(math.isfinite(v) for v in score.values())
    if model == "sasrec-text":  # the new item has the same text as item 3, so it gets item 3's representation
        assert score["x"] == pytest.approx(score["3"], abs=1e-5)
    if loaded.model.config["scores"] == "cosine":  # cosine / τ
        assert max(abs(v) for v in score.values()) <= 1 / 0.07 + 1e-3
    assert client.post("/recommend", json={"history": ["x", "4"], "k": 3}).status_code == 200


def test_id_only_run_refuses_new_items_and_text(make_serving_run, encoder, fast_sasrec):
    run = make_serving_run("sasrec-id", encoder, **fast_sasrec)
    client = TestClient(create_app(run))
    assert client.get("/healthz").json()["accepts_new_items"] is False
    r = client.post("/items", json={"item_id": "x", "text": "anything"})
    assert r.status_code == 409 and "reads no item text" in r.json()["detail"]
    assert client.post("/recommend", json={"text": "anything"}).status_code == 422
    assert len(client.post("/recommend", json={"history": ["1", "2"], "k": 3}).json()["items"]) == 3


def test_internal_errors_are_one_line_without_trace(knn_run, encoder):
    app = create_app(knn_run, encoder=encoder)
    service = app.state.service

    def boom(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    service.similar = boom
    r = TestClient(app, raise_server_exceptions=False).get("/items/1/similar")
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error (RuntimeError); see the server log"}


def test_hnsw_ef_search_reaches_the_index_and_bad_values_are_refused(knn_run, encoder):
    from lmrec.serving.service import RecommendationService

    exact = RecommendationService(knn_run, encoder=encoder)
    svc = RecommendationService(knn_run, encoder=encoder, index_kind="hnsw", ef_search=200)
    assert svc._snap.main._params["ef_search"] == 200 and svc.info().ef_search == 200
    assert TestClient(create_app(service=svc)).get("/healthz").json()["ef_search"] == 200
    assert exact.info().ef_search is None
    want = [r.item_id for r in exact.recommend(text="space opera", k=5)]
    assert [r.item_id for r in svc.recommend(text="space opera", k=5)] == want   # 12 items: HNSW is exact here
    again = RecommendationService(knn_run, encoder=encoder, index_kind="hnsw", ef_search=32)  # from the cache
    assert again._snap.main._params["ef_search"] == 32
    for kind, ef in (("flat", 64), ("hnsw", 0)):
        with pytest.raises(ValueError, match="ef_search applies to an hnsw index"):
            RecommendationService(knn_run, encoder=encoder, index_kind=kind, ef_search=ef)
