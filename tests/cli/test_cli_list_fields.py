"""Issue 15, #1: an ``items.parquet`` whose ``category`` column holds lists (written by pyarrow, read
back by pandas as numpy arrays) encodes through the Python API, ``lmrec encode --dataset`` and
``lmrec encode --catalog … --text-fields``, and every path renders the lists the same way."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

os.environ.setdefault("HF_HUB_OFFLINE", "1")

EXPECTED = {"a": "Cast iron pan. Lodge. Home, Kitchen", "b": "Chef knife. Home, Kitchen, Cutlery",
            "c": "Kettle. Bodum"}


@pytest.fixture
def tiny_bert(tiny_bert_path) -> Path:
    """The shared random-weight BERT of tests/conftest.py."""
    return tiny_bert_path


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "data" / "kitchen"
    folder.mkdir(parents=True)
    pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2"], "item_id": ["a", "b", "b", "c"],
                  "timestamp": [1, 2, 3, 4]}).to_parquet(folder / "events.parquet")
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["Cast iron pan", "Chef knife", "Kettle"],
                          "brand": ["Lodge", None, "Bodum"],
                          "category": [["Home", "Kitchen"], ["Home", "Kitchen", None, "Cutlery"], []]})
    items.to_parquet(folder / "items.parquet")                 # pyarrow: list<string> column
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.parquet",
        "columns": {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp"},
        "items": "items.parquet", "item_id": "item_id", "text_fields": ["title", "brand", "category"]}))
    return tmp_path / "data"


def test_python_api_renders_and_encodes_parquet_lists(data_dir, tiny_bert, tmp_path):
    from lmrec.data.registry import load_dataset
    from lmrec.pipeline import ExperimentConfig, encode_items, item_template

    ds = load_dataset("kitchen", data_dir)
    assert isinstance(ds.items.loc["a", "category"], np.ndarray)          # what pandas gives for list<string>
    cfg = ExperimentConfig(dataset="kitchen", model="embknn", encoder=str(tiny_bert), cache_dir=str(tmp_path / "c"))
    assert item_template(ds, cfg).render_items(ds.items, ds.item_map.ids) == [EXPECTED[i] for i in ds.item_map.ids]
    vectors, report = encode_items(ds, cfg)
    assert vectors.shape == (3, 32) and np.isfinite(vectors).all() and report["text"]["n_empty"] == 0
    assert ds.statistics()["text_coverage_by_field"]["category"] == pytest.approx(2 / 3, abs=1e-4)


def test_cli_encode_dataset_with_parquet_lists(data_dir, tiny_bert, tmp_path):
    from lmrec.cli.main import app

    out = tmp_path / "vectors.npy"
    res = CliRunner().invoke(app, ["encode", "--dataset", "kitchen", "--data-dir", str(data_dir), "--encoder",
                                   str(tiny_bert), "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "kitchen: 3 items × 32 dims" in res.output
    assert np.load(out).shape == (3, 32)


def test_cli_encode_catalog_text_fields_with_parquet_lists(data_dir, tiny_bert, tmp_path):
    from lmrec.cli.main import app
    from lmrec.data.registry import load_dataset
    from lmrec.pipeline import ExperimentConfig, encode_items
    from lmrec.scale import read_embeddings

    shards = tmp_path / "shards"
    res = CliRunner().invoke(app, ["encode", "--catalog", str(data_dir / "kitchen" / "items.parquet"), "--shards",
                                   str(shards), "--encoder", str(tiny_bert), "--text-fields", "title,brand,category"])
    assert res.exit_code == 0, res.output
    ids, vectors = read_embeddings(shards)
    assert ids == ["a", "b", "c"]
    ds = load_dataset("kitchen", data_dir)                      # same texts → same vectors as the dataset path
    default, _ = encode_items(ds, ExperimentConfig(dataset="kitchen", model="embknn", encoder=str(tiny_bert),
                                                   cache_dir=str(tmp_path / "c")))
    np.testing.assert_allclose(vectors, default, atol=1e-5)
