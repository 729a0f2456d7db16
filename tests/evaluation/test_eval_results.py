"""metrics.json, atomic JSON writes, environment record, markdown tables."""

import json
import os
from dataclasses import dataclass

import numpy as np
import pytest

from lmrec.evaluation import results
from lmrec.evaluation.results import environment_info, format_table, write_json_atomic, write_metrics_json


@dataclass
class Cfg:
    name: str = "pop"
    dim: int = 64


def ranking_result(recall):
    return {"protocol": {"candidates": "full"}, "n_cases": 3, "n_targets": 3, "n_targets_in_history": 1,
            "metrics": {"recall@10": recall, "ndcg@10": 0.25},
            "slices": {"cold_items": {"n_cases": 1, "metrics": {"recall@10": 0.0}}}}


def test_metrics_json_has_required_keys(tmp_path):
    path = write_metrics_json(tmp_path / "run", dataset_stats={"n_users": 3, "n_items": np.int64(10)},
                              split={"name": "leave_one_out"}, protocol={"candidates": "full"}, seed=0,
                              model_config=Cfg(), wall_s=1.5, valid=ranking_result(0.5),
                              test=ranking_result(np.float32(0.75)), extra={"note": "x"})
    assert path == tmp_path / "run" / "metrics.json"
    doc = json.loads(path.read_text())
    assert list(doc) == ["dataset", "split", "protocol", "seed", "model", "versions", "wall_s",
                         "metrics", "slices", "extra"]
    assert doc["metrics"] == {"valid": {"recall@10": 0.5, "ndcg@10": 0.25},
                              "test": {"recall@10": 0.75, "ndcg@10": 0.25}}
    assert doc["slices"]["test"]["cold_items"]["metrics"] == {"recall@10": 0.0}
    assert doc["model"] == {"name": "pop", "dim": 64}
    assert doc["dataset"]["n_items"] == 10
    assert doc["extra"]["note"] == "x"
    assert doc["extra"]["eval_counts"]["test"]["n_targets_in_history"] == 1
    assert doc["versions"]["lmrec"] is not None
    assert "NaN" not in path.read_text()
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]   # no temp file left


def test_flat_metric_dicts_and_missing_valid(tmp_path):
    path = write_metrics_json(tmp_path, dataset_stats={}, split="temporal", protocol="full", seed=1,
                              model_config={}, wall_s=0.1, valid=None, test={"hit@10": 1.0})
    doc = json.loads(path.read_text())
    assert doc["metrics"] == {"valid": None, "test": {"hit@10": 1.0}}
    assert doc["slices"] == {"valid": None, "test": {}}
    assert doc["extra"] == {}


def test_nan_refused_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"metrics\.test\.recall@10"):
        write_metrics_json(tmp_path, dataset_stats={}, split="s", protocol="full", seed=0, model_config={},
                           wall_s=1.0, valid=None, test={"recall@10": float("nan")})
    with pytest.raises(ValueError, match=r"a\[1\]"):
        write_json_atomic(tmp_path / "x.json", {"a": [1.0, np.float64("inf")]})
    assert list(tmp_path.iterdir()) == []


def test_atomic_replace_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    write_json_atomic(path, {"v": 1})
    write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2}

    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(results.os, "replace", boom)
    with pytest.raises(OSError):
        write_json_atomic(path, {"v": 3})
    assert json.loads(path.read_text()) == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_unserialisable_value_named():
    with pytest.raises(TypeError, match="model.fn"):
        results._plain({"model": {"fn": object()}}, "")


def test_environment_info(monkeypatch):
    info = environment_info()
    assert set(info) == {"python", "platform", "lmrec", "torch", "transformers", "sentence-transformers",
                         "numpy", "pandas", "cpu_count"}
    assert info["numpy"] == np.__version__ and info["cpu_count"] == os.cpu_count()

    def missing(name):
        raise results.metadata.PackageNotFoundError(name)
    monkeypatch.setattr(results.metadata, "version", missing)
    assert environment_info()["torch"] is None


def test_format_table():
    rows = [{"model": "pop", "recall@10": 0.05, "n": 3}, {"model": "sas|rec", "recall@10": None, "n": 12}]
    assert format_table(rows, ["model", "recall@10", "n"]) == "\n".join([
        "| model    | recall@10 | n   |",
        "| :------- | --------: | --: |",
        "| pop      |    0.0500 |   3 |",
        "| sas\\|rec |         — |  12 |",
    ])
    with pytest.raises(ValueError):
        format_table(rows, [])
