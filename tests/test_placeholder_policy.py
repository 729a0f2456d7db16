"""Issue 15, #5: items whose text carries no information (empty, "unknown", "-", "(no genres
listed)" …) are never recommended from text alone — one rule (``pipeline.unrecommendable_items``)
for ``recommend_for_user`` (``lmrec recommend``, quickstart) and the service, for every model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

RING = [f"{k}" for k in range(8)]
GENRES = ["space opera", "romantic comedy", "horror", "documentary"]


@pytest.fixture
def data_dir(tmp_path):
    """Items 0-7 with real text; "ph" titled "unknown" (ml-100k's item 267) that only user u2's
    test target touches (cold), and "dash" titled "-" with "(no genres listed)" that several
    users watched in training (warm)."""
    rows = []
    for u in range(12):
        seq = [RING[(u + t) % 8] for t in range(6)]
        if u in (0, 1, 4):
            seq.insert(2, "dash")
        if u == 2:
            seq.append("ph")
        rows += [{"user_id": f"u{u}", "item_id": i, "timestamp": 100 * u + t} for t, i in enumerate(seq)]
    folder = tmp_path / "data" / "shop"
    folder.mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "events.csv", index=False)
    items = [{"item_id": i, "title": f"Movie number {i}", "genres": GENRES[int(i) % 4]} for i in RING]
    items += [{"item_id": "ph", "title": "unknown", "genres": ""},
              {"item_id": "dash", "title": "-", "genres": "(no genres listed)"}]
    pd.DataFrame(items).to_csv(folder / "items.csv", index=False)
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.csv",
        "columns": {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp"},
        "items": "items.csv", "item_id": "item_id", "text_fields": ["title", "genres"]}))
    return tmp_path / "data"


def _train(data_dir, tmp_path, model):
    """A run of ``model`` with text vectors as an encoder would give them (zero rows for "")."""
    from lmrec.data.registry import load_dataset
    from lmrec.data.text import TextTemplate, build_item_texts
    from lmrec.pipeline import ExperimentConfig, run_experiment

    ds = load_dataset("shop", data_dir)
    texts, report = build_item_texts(ds.items, ds.item_map.ids, TextTemplate(tuple(ds.text_fields)))
    vectors = np.random.default_rng(0).standard_normal((ds.n_items, 8)).astype(np.float32)
    vectors[[not t for t in texts]] = 0.0
    cfg = ExperimentConfig(dataset="shop", model=model, data_dir=str(data_dir), split="leave-one-out")
    run_experiment(cfg, tmp_path / model, dataset=ds, item_vectors=vectors,
                   encode_report={"text": report.to_dict()})
    return tmp_path / model, report


def test_placeholder_items_are_reported_at_text_building(data_dir, tmp_path):
    _, report = _train(data_dir, tmp_path, "pop")
    assert report.n_empty == 2 and report.n_placeholder == 2
    assert report.placeholder_examples == {"ph": "unknown", "dash": "-. (no genres listed)"}


@pytest.mark.parametrize("model, left_out", [("embknn", {"ph", "dash"}),   # text only: no text, no signal
                                             ("pop", {"ph"})])             # behaviour: warm "dash" keeps its count
def test_recommend_for_user_never_lists_items_without_usable_text(data_dir, tmp_path, model, left_out):
    from lmrec.pipeline import load_run, recommend_for_user

    run_dir, _ = _train(data_dir, tmp_path, model)
    run = load_run(run_dir, str(data_dir))
    assert {run.dataset.item_map.external(i) for i in np.flatnonzero(run.unrecommendable)} == left_out
    for user in ("u2", "u3", "u5"):
        recs = recommend_for_user(run, user, k=100)          # k > catalog: everything recommendable comes back
        hist = {r for r in pd.read_csv(data_dir / "shop" / "events.csv").query("user_id == @user")["item_id"]}
        assert {r["item_id"] for r in recs} == set(run.dataset.item_map.ids) - hist - left_out


def test_service_leaves_them_out_of_recommend_similar_and_popularity(data_dir, tmp_path):
    from lmrec.serving.service import RecommendationService

    run_dir, _ = _train(data_dir, tmp_path, "embknn")
    service = RecommendationService(run_dir, data_dir=str(data_dir), load_text_encoder=False)
    assert service.info().n_unrecommendable == 2
    served = {r.item_id for r in service.recommend(user_id="u3", k=100)}
    assert served and not served & {"ph", "dash"}
    assert not {r.item_id for r in service.similar("0", k=100)} & {"ph", "dash"}
    fallback = service.recommend(history=[], k=100)                      # cold user → popularity
    assert fallback.fallback == "popularity" and not {r.item_id for r in fallback} & {"ph", "dash"}
    with pytest.raises(ValueError, match=r"item 'new': placeholder text 'N/A' carries no information"):
        service.add_items([{"item_id": "new", "text": "N/A"}])
    with pytest.raises(ValueError, match=r"item 'new2': placeholder text"):
        service.add_items([{"item_id": "new2", "fields": {"title": "unknown", "genres": "?"}}])


def test_quickstart_policy_line_counts_and_names_placeholders():
    from lmrec.quickstart import text_policy_line

    line = text_policy_line({"n_empty": 1, "n_placeholder": 1, "placeholder_examples": {"267": "unknown"}})
    assert line.startswith("empty/placeholder-text policy: 1 item(s) without usable text (1 placeholder: "
                           "267 'unknown')")
