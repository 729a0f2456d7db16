"""The service serves the zero-training text models (last-item, recency-knn) with their own scores."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from lmrec.serving import create_app


@pytest.mark.parametrize("model, params", [("last-item", {}), ("recency-knn", {}), ("recency-knn", {"decay": 0.5})])
def test_recommend_matches_model_scores(make_serving_run, encoder, model, params):
    from lmrec.pipeline import load_run, recommend_for_user

    run = make_serving_run(model, encoder, **params)
    client = TestClient(create_app(run, encoder=encoder), raise_server_exceptions=False)
    assert client.get("/healthz").json()["model"] == model
    for user in ("u3", "u7"):
        got = client.post("/recommend", json={"user_id": user, "k": 5}).json()["items"]
        want = recommend_for_user(load_run(run), user, 5)
        assert [g["item_id"] for g in got] == [w["item_id"] for w in want]
        np.testing.assert_allclose([g["score"] for g in got], [w["score"] for w in want], rtol=1e-5, atol=1e-5)


def test_last_item_serves_the_neighbours_of_the_latest_item(make_serving_run, encoder):
    run = make_serving_run("last-item", encoder)
    client = TestClient(create_app(run, encoder=encoder), raise_server_exceptions=False)
    # items 4 and 8 share item 0's genre words ("space opera"); 0 is the last item of the history
    top = [r["item_id"] for r in client.post("/recommend", json={"history": ["3", "0"], "k": 2}).json()["items"]]
    assert sorted(top) == ["4", "8"]
    # free profile text counts as the latest item
    by_text = client.post("/recommend", json={"history": ["0"], "text": "Movie number 7. documentary", "k": 1})
    assert [r["item_id"] for r in by_text.json()["items"]] == ["7"]
