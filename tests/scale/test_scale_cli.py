"""``lmrec encode --shards`` (local engine) on a catalog file and on a dataset, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from lmrec.cli.main import app
from lmrec.scale import read_embeddings


def test_encode_catalog_to_shards(catalog_factory, tiny_bert_path, tmp_path):
    path = catalog_factory("cat.csv", 9)
    out = tmp_path / "shards"
    res = CliRunner().invoke(app, ["encode", "--catalog", str(path), "--shards", str(out), "--encoder",
                                   str(tiny_bert_path), "--text-column", "title", "--shard-size", "4"])
    assert res.exit_code == 0, res.output
    assert "9 items in 3 shards" in res.output
    ids, vectors = read_embeddings(out)
    assert ids[:2] == ["i0", "i1"] and vectors.shape == (9, 32)


def test_encode_dataset_to_shards_equals_default_path(tiny_bert_path, tmp_path):
    from lmrec.data.registry import load_dataset
    from lmrec.pipeline import ExperimentConfig, encode_items

    folder = tmp_path / "data" / "tiny"
    folder.mkdir(parents=True)
    pd.DataFrame({"user_id": ["u1", "u1", "u2"], "item_id": ["a", "b", "c"], "timestamp": [1, 2, 3]}).to_csv(
        folder / "events.csv", index=False)
    pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["Alpha film", "Beta show", ""]}).to_csv(
        folder / "items.csv", index=False)
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.csv", "columns": {"user_id": "user_id", "item_id": "item_id",
                                                                     "timestamp": "timestamp"},
        "items": "items.csv", "item_id": "item_id", "text_fields": ["title"]}))
    out = tmp_path / "shards"
    res = CliRunner().invoke(app, ["encode", "--dataset", "tiny", "--data-dir", str(tmp_path / "data"), "--shards",
                                   str(out), "--encoder", str(tiny_bert_path)])
    assert res.exit_code == 0, res.output
    ids, vectors = read_embeddings(out)
    ds = load_dataset("tiny", tmp_path / "data")
    default, _ = encode_items(ds, ExperimentConfig(dataset="tiny", model="embknn", encoder=str(tiny_bert_path),
                                                   cache_dir=str(tmp_path / "cache")))
    assert ids == ds.item_map.ids
    np.testing.assert_allclose(vectors, default, atol=1e-5)
    assert not vectors[ids.index("c")].any()             # empty text → zero vector, as the default path
    assert "warning: 1 of the 3 encoded items have empty text" in res.output


def test_encode_shard_errors_are_one_line():
    runner = CliRunner()
    res = runner.invoke(app, ["encode", "--engine", "ray"])
    assert res.exit_code == 2 and "--shards" in res.output
    res = runner.invoke(app, ["encode", "--shards", "x", "--engine", "spark", "--catalog", "c.csv"])
    assert res.exit_code == 2 and "unknown engine 'spark'" in res.output
    res = runner.invoke(app, ["encode"])
    assert res.exit_code == 2 and "--dataset" in res.output


def test_a_failed_start_leaves_no_manifest_and_overwrite_replaces(catalog_factory, tiny_bert_path, tmp_path):
    path = catalog_factory("cat.csv", 6)
    out = tmp_path / "shards"
    base = ["encode", "--catalog", str(path), "--shards", str(out), "--encoder", str(tiny_bert_path),
            "--shard-size", "4"]
    res = CliRunner().invoke(app, base)                       # no 'text' column: refused before any write
    assert res.exit_code == 2 and "no column" in res.output
    assert not (out / "manifest.json").exists()
    assert CliRunner().invoke(app, base + ["--text-column", "title"]).exit_code == 0
    res = CliRunner().invoke(app, base + ["--text-column", "genre"])       # other settings: refused …
    assert res.exit_code == 2 and "--overwrite" in res.output
    res = CliRunner().invoke(app, base + ["--text-column", "genre", "--overwrite"])   # … unless --overwrite
    assert res.exit_code == 0, res.output
    assert json.loads((out / "manifest.json").read_text())["spec"]["text_column"] == "genre"
