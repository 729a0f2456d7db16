"""bench/cold_item_norms.py: row norms of warm vs cold items and the rescaled ranking, on a tiny
cold-start split (no data files, no saved runs)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from lmrec.data.splits import cold_start_items
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.models import TrainData, create_model

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture()
def norms_bench():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("bench_cold_item_norms", BENCH / "cold_item_norms.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def _run(dataset, **params):
    split = cold_start_items(dataset, cold_frac=0.25, seed=0)
    vectors = np.random.default_rng(1).normal(size=(split.n_items, 8)).astype(np.float32)
    model = create_model("sasrec-text-id", hidden=16, inner=32, batch_size=32, dropout=0.1, lr=5e-3, epochs=3,
                         patience=3, train_negatives="train_items", **params)
    model.fit(TrainData(split=split, item_vectors=vectors, seed=0))
    return SimpleNamespace(model=model, split=split, config=SimpleNamespace(exclude_history=True))


def test_as_trained_equals_the_model_and_rescaling_gives_cold_rows_the_warm_norm(norms_bench, tiny_dataset):
    run = _run(tiny_dataset)
    norms, ev = norms_bench.norms_and_ranks(run, rescale=False)
    same = evaluate_ranking(run.model.score, run.split.test, run.split.n_items, ks=(10,), exclude_history=True)
    assert ev["metrics"] == pytest.approx(same["metrics"]) and norms["scale"] == 1.0
    assert norms["norm_cold"] < norms["norm_warm"]              # text + ID: cold items have no ID part
    rescaled, _ = norms_bench.norms_and_ranks(run, rescale=True)
    assert rescaled["scale"] == pytest.approx(norms["norm_warm"] / norms["norm_cold"])


def test_cosine_scores_leave_nothing_to_rescale(norms_bench, tiny_dataset):
    run = _run(tiny_dataset, scores="cosine")
    norms, ev = norms_bench.norms_and_ranks(run, rescale=True)
    assert norms["scale"] == pytest.approx(1.0, abs=1e-5)
    _, plain = norms_bench.norms_and_ranks(run, rescale=False)
    np.testing.assert_allclose(ev["per_case"]["recall@10"], plain["per_case"]["recall@10"])


def test_summary_and_markdown_carry_the_paired_interval(norms_bench):
    rows = [{"dataset": "d", "model": "m", "scoring": s, "seed": seed, "norm_warm": 2.0, "norm_cold": 1.0,
             "metrics": {"recall@10": 0.1 + 0.1 * i}, "cold_items": {"recall@10": 0.0 + 0.2 * i},
             "warm_items": {"recall@10": 0.2}}
            for seed in (0, 1) for i, s in enumerate(norms_bench.SCORINGS)]
    deltas = {("d", "m", 0): np.array([0.0, 1.0]), ("d", "m", 1): np.array([0.0, 0.0])}
    (s,) = norms_bench.summarise(rows, deltas)
    assert s["seeds"] == 2 and s["as trained"] == pytest.approx([0.1, 0.0, 0.2])
    assert s["rescaled"] == pytest.approx([0.2, 0.2, 0.2]) and s["delta"] == pytest.approx(0.25)
    md = norms_bench.render({"table": "t", "command": "c", "summary": [s]})
    assert "| d | m | 2 | 2.000 / 1.000 | 0.1000 / 0.0000 / 0.2000 | 0.2000 / 0.2000 / 0.2000 | +0.2500 [" in md
