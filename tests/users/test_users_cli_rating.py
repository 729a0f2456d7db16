"""`lmrec users train` end to end on the real Gift Cards reviews (integration) and its error path."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


def test_unknown_rating_model_is_one_line_error(tmp_path, shared_datasets):
    out = runner.invoke(app, ["users", "train", "--dataset", "amazon2018-raw/Gift_Cards", "--model", "svd",
                              "--out", str(tmp_path / "run"), "--data-dir", str(shared_datasets)])
    assert out.exit_code == 2
    assert "unknown rating model 'svd'" in out.output


@pytest.mark.integration
def test_users_train_mf_writes_metrics(tmp_path, shared_datasets):
    run = tmp_path / "run"
    out = runner.invoke(app, ["users", "train", "--dataset", "amazon2018-raw/Gift_Cards", "--model", "mf",
                              "--out", str(run), "--data-dir", str(shared_datasets), "--param", "epochs=300"])
    assert out.exit_code == 0, out.output
    doc = json.loads((run / "metrics.json").read_text())
    assert doc["split"]["name"] == "random-pairs"
    assert doc["split"]["n_train"] + doc["split"]["n_valid"] + doc["split"]["n_test"] == doc["split"]["n_pairs"]
    assert 0 < doc["metrics"]["test"]["rmse"] < 1.5
    assert doc["metrics"]["test"]["mae"] <= doc["metrics"]["test"]["rmse"]
    assert (run / "model" / "factors.npz").exists()
