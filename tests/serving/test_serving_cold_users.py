"""The service's cold-user policy: no usable history and no profile text → training popularity,
flagged ``"fallback": "popularity"`` (null otherwise); ``{"history": []}`` is a 200, not a 422."""

from __future__ import annotations

import re

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lmrec.serving import create_app


@pytest.fixture
def blank_encoder(encoder):
    """The word-hash encoder, except that items "0" and "1" encode to zero vectors (as empty
    texts do), so a history of only those items carries nothing for a text model."""

    class BlankFirstTwo(type(encoder)):
        def _encode_batch(self, texts):
            out = super()._encode_batch(texts)
            out[[bool(re.match(r"Movie number [01]\b", t)) for t in texts]] = 0.0
            return out

    return BlankFirstTwo()


@pytest.fixture
def knn(make_serving_run, blank_encoder):
    run = make_serving_run("embknn", blank_encoder)
    return run, TestClient(create_app(run, encoder=blank_encoder), raise_server_exceptions=False)


def _popular(run, exclude=()):
    from lmrec.models.fallback import popularity_order
    from lmrec.pipeline import load_run

    loaded = load_run(run)
    counts = loaded.split.train_item_counts
    ids = loaded.dataset.item_map.ids
    return [(ids[i], float(counts[i])) for i in popularity_order(counts) if ids[i] not in exclude]


def test_empty_history_is_answered_by_popularity(knn):
    run, client = knn
    r = client.post("/recommend", json={"history": [], "k": 4})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fallback"] == "popularity"
    assert [(x["item_id"], x["score"]) for x in body["items"]] == _popular(run)[:4]


def test_history_of_textless_items_falls_back_and_usable_history_does_not(knn):
    run, client = knn
    body = client.post("/recommend", json={"history": ["0", "1"], "k": 3}).json()
    assert body["fallback"] == "popularity"
    assert [x["item_id"] for x in body["items"]] == [i for i, _ in _popular(run, exclude={"0", "1"})][:3]
    body = client.post("/recommend", json={"history": ["0", "2"], "k": 3}).json()
    assert body["fallback"] is None
    body = client.post("/recommend", json={"history": [], "text": "space opera", "k": 3}).json()
    assert body["fallback"] is None                    # profile text given: the model answers
    assert client.post("/recommend", json={}).status_code == 422


def test_popularity_fallback_skips_deleted_items(knn):
    run, client = knn
    top = _popular(run)[0][0]
    assert client.delete(f"/items/{top}").status_code == 200
    body = client.post("/recommend", json={"history": [], "k": 50}).json()
    assert top not in [x["item_id"] for x in body["items"]] and len(body["items"]) == 11


def test_id_model_empty_history_falls_back(make_serving_run, encoder, fast_sasrec):
    run = make_serving_run("sasrec-id", encoder, **fast_sasrec)
    client = TestClient(create_app(run, encoder=encoder), raise_server_exceptions=False)
    body = client.post("/recommend", json={"history": [], "k": 2}).json()
    assert body["fallback"] == "popularity" and [x["item_id"] for x in body["items"]] == \
        [i for i, _ in _popular(run)][:2]
    assert client.post("/recommend", json={"history": ["3"], "k": 2}).json()["fallback"] is None
    assert np.isfinite([x["score"] for x in body["items"]]).all()
