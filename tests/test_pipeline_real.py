"""Integration: the main job on a real dataset from ../shared/datasets, small epoch budget."""

import json

import pytest

from lmrec.pipeline import ExperimentConfig, load_run, recommend_for_user, run_experiment

pytestmark = pytest.mark.integration


def test_main_job_on_ml100k_cold_start(shared_datasets, tmp_path):
    cfg = ExperimentConfig(dataset="ml-100k", model="sasrec-text", data_dir=str(shared_datasets),
                           split="cold-start-items", cache_dir=str(tmp_path / "cache"),
                           model_params={"epochs": 2, "hidden": 32, "inner": 64})
    res = run_experiment(cfg, tmp_path / "run")
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["dataset"]["n_users"] == 943 and m["dataset"]["n_items"] == 1682
    assert m["split"]["name"] == "cold-start-items" and m["split"]["n_test_targets_cold"] > 0
    test = m["metrics"]["test"]
    assert 0.0 <= test["ndcg@10"] <= test["recall@10"] <= 1.0
    assert m["slices"]["test"]["cold_items"]["n_cases"] == m["split"]["n_test_targets_cold"]
    # text vectors let the model rank cold items above the bottom of the list
    pop = run_experiment(ExperimentConfig(dataset="ml-100k", model="pop", data_dir=str(shared_datasets),
                                          split="cold-start-items"), None, dataset=res.dataset)
    assert pop.metrics["slices"]["test"]["cold_items"]["metrics"]["recall@50"] == 0.0
    recs = recommend_for_user(load_run(tmp_path / "run"), "196", 5)
    assert len(recs) == 5 and all(r["title"] for r in recs)


def test_recbole_protocol_on_scientific_embknn(shared_datasets):
    cfg = ExperimentConfig(dataset="amazon-unisrec-scientific", model="pop", data_dir=str(shared_datasets),
                           exclude_history=False)
    res = run_experiment(cfg, None)
    assert res.split.name == "given"
    assert res.metrics["protocol"]["exclude_history"] is False
    assert len(res.split.test) == 8442
