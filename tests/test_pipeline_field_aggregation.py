"""``ExperimentConfig.field_aggregation`` end to end: template | mean | attention on tiny data with
a tiny random BERT (``tiny_bert_path``): refusals, the mean vectors, and an attention run that
saves, reloads and scores identically."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app
from lmrec.pipeline import ExperimentConfig

runner = CliRunner()
FIELDS = ["title", "genres", "brand"]


@pytest.fixture
def data_dir(shop_data_dir):
    """The tiny CSV dataset ``shop`` (items "0".."11") with a ``brand`` field missing for items 0, 3, 6, 9."""
    import pandas as pd

    path = shop_data_dir / "shop" / "items.csv"
    items = pd.read_csv(path, dtype={"item_id": str})
    items["brand"] = [None if int(i) % 3 == 0 else f"brand {'red green blue'.split()[int(i) % 3]}"
                      for i in items["item_id"]]
    items.to_csv(path, index=False)
    return shop_data_dir


def _cfg(data_dir, tmp_path, model, aggregation, **kw):
    return ExperimentConfig(dataset="shop", model=model, data_dir=str(data_dir), text_fields=FIELDS,
                            field_aggregation=aggregation, cache_dir=str(tmp_path / "cache"), **kw)


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "sasrec-text", "field_aggregation": "max"},
     "field_aggregation must be one of template, mean, attention"),
    ({"model": "embknn", "field_aggregation": "attention"}, "model 'embknn' cannot use it"),
    ({"model": "sasrec-id", "field_aggregation": "attention"}, "model 'sasrec-id' cannot use it"),
    ({"model": "unisrec", "field_aggregation": "attention"}, "field-aggregation mean"),
])
def test_bad_field_aggregation_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ExperimentConfig(dataset="shop", **kwargs)
    ExperimentConfig(dataset="shop", model="sasrec-text-id", field_aggregation="attention")   # accepted
    ExperimentConfig(dataset="shop", model="embknn", field_aggregation="mean")


def test_cli_refuses_bad_values_before_writing(data_dir, tmp_path):
    for model, value, match in (("sasrec-text", "sum", "must be one of"), ("embknn", "attention", "cannot use it"),
                                ("pop", "mean", "reads no item text")):
        run = tmp_path / f"run-{model}"
        out = runner.invoke(app, ["train", "--dataset", "shop", "--model", model, "--out", str(run), "--data-dir",
                                  str(data_dir), "--field-aggregation", value, "--quiet"])
        assert out.exit_code == 2, out.output
        assert match in out.output
        assert not (run / "run.json").exists()


def test_mean_vectors_average_the_fields_each_item_has(data_dir, tmp_path, tiny_bert_path):
    from lmrec.data.registry import load_dataset
    from lmrec.encoders.factory import load_encoder
    from lmrec.pipeline import encode_item_inputs, encode_items, run_experiment

    cfg = _cfg(data_dir, tmp_path, "embknn", "mean", encoder=str(tiny_bert_path))
    ds = load_dataset("shop", str(data_dir))
    vectors, fields, report = encode_item_inputs(ds, cfg)
    assert fields.fields == tuple(FIELDS) and fields.vectors.shape == (12, 3, 32)
    assert fields.mask[:, 2].tolist() == [i % 3 != 0 for i in range(12)]          # brand missing for 0, 3, 6, 9
    enc = load_encoder(str(tiny_bert_path))
    title, genre, brand = enc.encode(["Movie number 1", "romantic comedy", "brand green"])
    np.testing.assert_allclose(vectors[1], (title + genre + brand) / 3, atol=1e-5)
    t0, g0 = enc.encode(["Movie number 0", "space opera"])
    np.testing.assert_allclose(vectors[0], (t0 + g0) / 2, atol=1e-5)              # two fields, not three
    assert report["fields"]["aggregation"] == "mean"
    assert report["fields"]["fields"]["brand"]["n_present"] == 8
    same, _ = encode_items(ds, cfg)
    assert np.array_equal(same, vectors)
    result = run_experiment(cfg, tmp_path / "run-mean")
    saved = json.loads((tmp_path / "run-mean" / "run.json").read_text())
    assert saved["config"]["field_aggregation"] == "mean" and "fields" in saved["encoding"]
    assert np.array_equal(np.load(tmp_path / "run-mean" / "item_vectors.npy"), vectors)
    assert not (tmp_path / "run-mean" / "item_field_vectors.npy").exists()
    assert result.metrics["extra"]["encoding"]["fields"]["aggregation"] == "mean"


@pytest.mark.parametrize("model", ["sasrec-text", "sasrec-text-id"])
def test_attention_run_saves_reloads_and_scores_identically(data_dir, tmp_path, tiny_bert_path, model):
    from lmrec.models import load_recommender
    from lmrec.pipeline import evaluate_run, load_run, run_experiment

    cfg = _cfg(data_dir, tmp_path, model, "attention", encoder=str(tiny_bert_path),
               model_params={"epochs": 2, "hidden": 8, "max_len": 6})
    run_dir = tmp_path / "run"
    result = run_experiment(cfg, run_dir)
    assert result.model.net_.field_attention is not None
    fv = np.load(run_dir / "item_field_vectors.npy")
    mask = np.load(run_dir / "item_field_mask.npy")
    assert fv.shape == (12, 3, 32) and fv.dtype == np.float32 and mask.dtype == bool
    assert mask[:, 2].tolist() == [i % 3 != 0 for i in range(12)]
    run_info = json.loads((run_dir / "run.json").read_text())
    assert run_info["config"]["field_aggregation"] == "attention"
    assert list(run_info["encoding"]["fields"]["fields"]) == FIELDS

    loaded = load_run(run_dir)
    assert loaded.config.field_aggregation == "attention"
    histories = [np.array([0, 1, 2]), np.array([5]), np.array([7, 8, 9, 10, 11, 0, 1])]
    users = np.arange(3)
    np.testing.assert_array_equal(loaded.model.score(users, histories), result.model.score(users, histories))
    # the reloaded run evaluates to the metrics written at training time
    again = evaluate_run(loaded)
    for key, value in result.metrics["metrics"]["test"].items():
        assert again["metrics"][key] == pytest.approx(value, abs=1e-9), key
    # the model cannot be loaded without its per-field vectors, nor a template model with them
    with pytest.raises(ValueError, match="attends over per-field item vectors"):
        load_recommender(run_dir / "model", loaded.item_vectors)
    (run_dir / "item_field_mask.npy").unlink()
    with pytest.raises(FileNotFoundError, match="item_field_mask.npy"):
        load_run(run_dir)


def test_attention_run_through_the_cli(data_dir, tmp_path, tiny_bert_path):
    run = tmp_path / "run"
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "sasrec-text", "--out", str(run), "--data-dir",
                              str(data_dir), "--encoder", str(tiny_bert_path), "--text-fields", ",".join(FIELDS),
                              "--field-aggregation", "attention", "--epochs", "2", "--param", "hidden=8",
                              "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert out.exit_code == 0, out.output
    assert (run / "item_field_vectors.npy").exists()
    for args in (["recommend", "--run", str(run), "--user", "u2", "-k", "3"], ["evaluate", "--run", str(run)]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output


def test_serving_an_attention_run_refuses_new_item_text(data_dir, tmp_path, tiny_bert_path):
    from lmrec.pipeline import run_experiment
    from lmrec.serving.space import ItemSpace

    cfg = _cfg(data_dir, tmp_path, "sasrec-text", "attention", encoder=str(tiny_bert_path),
               model_params={"epochs": 1, "hidden": 8})
    result = run_experiment(cfg)
    space = ItemSpace(result.model, result.item_vectors)
    assert space.base_item_vectors(result.item_vectors).shape == (12, 8)
    with pytest.raises(ValueError, match="field_aggregation 'attention'"):
        space.item_vectors_from_text(np.ones((1, 32), np.float32))
