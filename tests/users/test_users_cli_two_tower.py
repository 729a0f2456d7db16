"""`lmrec train --model two-tower` end to end on a tiny CSV dataset, then `lmrec recommend` from the run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


@pytest.fixture
def data_dir(shop_data_dir):
    return shop_data_dir


def test_train_two_tower_writes_metrics_and_reloads(data_dir, tmp_path):
    run = tmp_path / "run"
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "two-tower", "--out", str(run),
                              "--data-dir", str(data_dir), "--epochs", "2", "--cache-dir", str(tmp_path / "cache"),
                              "--param", "batch_size=16", "--param", "temperature=0.1", "--quiet"])
    assert out.exit_code == 0, out.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"]["name"] == "two-tower" and metrics["model"]["temperature"] == 0.1
    assert metrics["protocol"]["candidates"] == "full"
    assert 0.0 <= metrics["metrics"]["test"]["ndcg@10"] <= 1.0
    assert len(metrics["extra"]["training"]["epochs"]) == 2
    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "u1", "-k", "3"])
    assert out.exit_code == 0, out.output
    assert out.output.count("Movie number") == 3
    from lmrec.pipeline import load_run

    loaded = load_run(run)
    vec = loaded.model.export_item_vectors()
    assert vec.shape == (12, 64) and vec.dtype == np.float32
