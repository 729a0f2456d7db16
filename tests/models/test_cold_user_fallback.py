"""The one cold-user policy (lmrec.models.fallback): users without usable history get training
popularity, flagged, in model scoring, `lmrec recommend`, evaluation and metrics.json."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lmrec.data.dataset import RecDataset
from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model
from lmrec.models.fallback import POPULARITY, PopularityFallback, popularity_order

runner = CliRunner()


def write_shop(root, dataset):
    """``dataset`` as a generic CSV dataset folder ``root/shop``; returns ``root``."""
    folder = root / "shop"
    folder.mkdir(parents=True)
    dataset.interactions[["user_id", "item_id", "timestamp"]].to_csv(folder / "events.csv", index=False)
    items = dataset.items.copy()
    items["genres"] = items["genres"].map(lambda g: "|".join(g))
    items.index.name = "item_id"
    items.reset_index().to_csv(folder / "items.csv", index=False)
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.csv",
        "columns": {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp"},
        "items": "items.csv", "item_id": "item_id", "text_fields": ["title", "genres"]}))
    return root


def _ring_vectors(ids: list[str], n_ring: int) -> np.ndarray:
    """Ring-position text vectors for numeric ids; zero rows (empty text) for the others."""
    out = np.zeros((len(ids), 4), dtype=np.float32)
    for row, i in enumerate(ids):
        if i.isdigit():
            a = 2 * np.pi * int(i) / n_ring
            out[row] = [np.cos(a), np.sin(a), np.cos(2 * a), np.sin(2 * a)]
    return out


def _with_textless_user(make_tiny) -> RecDataset:
    """The tiny ring dataset plus items b1..b3 with empty text and a user 'mute' who only
    consumed them (train b1, valid b2, test b3 under leave-one-out)."""
    base = make_tiny()
    rows = base.interactions[["user_id", "item_id", "timestamp"]].copy()
    extra = pd.DataFrame({"user_id": ["mute"] * 3, "item_id": ["b1", "b2", "b3"], "timestamp": [1000, 1001, 1002]})
    items = pd.concat([base.items, pd.DataFrame({"title": ["", "", ""], "genres": [[], [], []]},
                                                index=["b1", "b2", "b3"])])
    return RecDataset("tiny", pd.concat([rows, extra], ignore_index=True), items, text_fields=["title", "genres"])


def test_popularity_order_breaks_ties_by_index():
    np.testing.assert_array_equal(popularity_order(np.array([1.0, 3.0, 1.0, 3.0, 0.0])), [1, 3, 0, 2, 4])
    np.testing.assert_array_equal(popularity_order(np.array([1.0, 3.0, 1.0]), np.array([2, 0])), [0, 2])


def test_embknn_history_of_textless_items_gets_popularity_not_first_rows(make_tiny):
    ds = _with_textless_user(make_tiny)
    split = leave_one_out(ds)
    vectors = _ring_vectors(ds.item_map.ids, 12)
    model = create_model("embknn").fit(TrainData(split, vectors))
    mute = ds.user_map.index("mute")
    blanks = np.array([ds.item_map.index(b) for b in ("b1", "b2")])
    # what the model alone answers: an all-zero user vector, every item at 0.0
    assert np.all(model.score(np.array([mute]), [blanks]) == 0.0)
    scorer = PopularityFallback(model, split.train_item_counts, vectors)
    ring_user = ds.user_map.index("u0")
    scores, fell_back = scorer.score(np.array([mute, ring_user]), [blanks, split.train[ring_user]])
    assert fell_back.tolist() == [True, False]
    np.testing.assert_array_equal(scores[0], split.train_item_counts.astype(np.float32))
    np.testing.assert_allclose(scores[1], model.score(np.array([ring_user]), [split.train[ring_user]])[0])
    assert scorer.report() == {"policy": "popularity", "n_cases": 2, "n_cases_fallback": 1}


def test_sasrec_empty_history_falls_back_and_pop_never_does(tiny_dataset):
    split = leave_one_out(tiny_dataset)
    vectors = _ring_vectors(tiny_dataset.item_map.ids, 12)
    sasrec = create_model("sasrec-text", epochs=1, hidden=16, inner=32).fit(TrainData(split, vectors))
    empty = np.zeros(0, dtype=np.int64)
    scorer = PopularityFallback(sasrec, split.train_item_counts, vectors)
    scores, fell_back = scorer.score(np.array([0, 1]), [empty, split.train[1]])
    assert fell_back.tolist() == [True, False]
    np.testing.assert_array_equal(scores[0], split.train_item_counts)
    pop = create_model("pop").fit(TrainData(split))
    assert not PopularityFallback(pop, split.train_item_counts).needs_fallback(np.array([0]), [empty]).any()


def test_lightgcn_user_with_edges_needs_no_history(tiny_dataset):
    split = leave_one_out(tiny_dataset)
    model = create_model("lightgcn", epochs=1, hidden=8, batch_size=64).fit(TrainData(split))
    empty = np.zeros(0, dtype=np.int64)
    usable = model.has_usable_input(np.array([0, 10_000]), [empty, empty])
    assert usable.tolist() == [True, False]       # a trained user vs an unknown user index


@pytest.fixture
def mute_run(tmp_path, make_tiny):
    """An embknn run (passed-in vectors, no encoder) on the dataset with the text-less user."""
    from lmrec.pipeline import ExperimentConfig, run_experiment

    ds = _with_textless_user(make_tiny)
    data = write_shop(tmp_path / "data", ds)
    from lmrec.data.registry import load_dataset

    shop = load_dataset("shop", data)
    cfg = ExperimentConfig(dataset="shop", model="embknn", data_dir=str(data))
    run = tmp_path / "run"
    result = run_experiment(cfg, run, dataset=shop, item_vectors=_ring_vectors(shop.item_map.ids, 12),
                            encode_report={"encoder": {"model": "ring"}})
    return run, data, result


def test_evaluation_counts_fallback_cases_in_metrics_json(mute_run):
    run, _, result = mute_run
    cold = json.loads((run / "metrics.json").read_text())["extra"]["cold_users"]
    assert cold["policy"] == POPULARITY
    assert cold["n_cases_fallback"] == {"valid": 1, "test": 1}      # user 'mute', one case each
    assert cold["n_cases_dropped_empty_history"] == 0


def test_recommend_for_a_user_without_usable_history_is_flagged_popularity(mute_run):
    from lmrec.cli.main import app
    from lmrec.pipeline import load_run, recommend_for_user

    run, data, result = mute_run
    loaded = load_run(run)
    recs = recommend_for_user(loaded, "mute", k=3)
    counts = loaded.split.train_item_counts
    history = {loaded.dataset.item_map.index(b) for b in ("b1", "b2", "b3")}
    expected = [i for i in popularity_order(counts) if i not in history][:3]
    assert [r["item_id"] for r in recs] == [loaded.dataset.item_map.external(i) for i in expected]
    assert [r["score"] for r in recs] == [float(counts[i]) for i in expected]
    assert {r["fallback"] for r in recs} == {"popularity"}
    assert {r["fallback"] for r in recommend_for_user(loaded, "u0", k=3)} == {None}

    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "mute", "-k", "3"])
    assert out.exit_code == 0, out.output
    assert "fallback" in out.output and out.output.count("popularity") >= 3
    out = runner.invoke(app, ["evaluate", "--run", str(run)])
    assert out.exit_code == 0, out.output
    report = json.loads((run / "eval-full.json").read_text())["cold_users"]
    assert report["n_cases_fallback"] == 1 and report["policy"] == "popularity"
