"""The CLI end to end on a tiny dataset the test writes (generic CSV + lmrec.json)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


@pytest.fixture
def data_dir(shop_data_dir):
    return shop_data_dir


def test_help_lists_the_commands():
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    for cmd in ("datasets", "download", "encode", "train", "evaluate", "recommend", "quickstart", "ensemble"):
        assert cmd in out.output


def test_datasets_json(data_dir):
    out = runner.invoke(app, ["datasets", "--data-dir", str(data_dir), "--json"])
    assert out.exit_code == 0, out.output
    stats = json.loads(out.output)
    assert stats[0]["name"] == "shop" and stats[0]["n_users"] == 30 and stats[0]["n_items"] == 12


def test_train_evaluate_recommend_round_trip(data_dir, tmp_path):
    run = tmp_path / "run"
    cache = tmp_path / "cache"
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "sasrec-text", "--out", str(run),
                              "--data-dir", str(data_dir), "--epochs", "2", "--cache-dir", str(cache),
                              "--param", "hidden=16", "--param", "inner=32", "--quiet"])
    assert out.exit_code == 0, out.output
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("dataset", "split", "protocol", "seed", "model", "versions", "wall_s", "metrics", "slices"):
        assert key in metrics
    assert metrics["protocol"]["candidates"] == "full" and metrics["protocol"]["exclude_history"] is True
    assert "ndcg@10" in metrics["metrics"]["test"] and "recall@50" in metrics["metrics"]["valid"]
    assert metrics["dataset"]["n_items"] == 12 and metrics["model"]["hidden"] == 16
    assert metrics["extra"]["encoding"]["encoder"]["model"].endswith("all-MiniLM-L6-v2")

    out = runner.invoke(app, ["evaluate", "--run", str(run), "--protocol", "sampled", "--n-negatives", "3"])
    assert out.exit_code == 0, out.output
    sampled = json.loads((run / "eval-sampled.json").read_text())
    assert sampled["protocol"]["candidates"] == "sampled" and sampled["protocol"]["n_negatives"] == 3

    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "u3", "-k", "3"])
    assert out.exit_code == 0, out.output
    assert "Movie number" in out.output and out.output.count("| Movie number") == 3


def test_errors_name_the_problem(data_dir, tmp_path):
    out = runner.invoke(app, ["train", "--dataset", "nope", "--model", "pop", "--out", str(tmp_path / "r"),
                              "--data-dir", str(data_dir)])
    assert out.exit_code == 2 and "nope" in out.output and "shop" in out.output
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "bert4rec", "--out", str(tmp_path / "r"),
                              "--data-dir", str(data_dir)])
    assert out.exit_code == 2 and "sasrec-text" in out.output
    out = runner.invoke(app, ["recommend", "--run", str(tmp_path / "missing"), "--user", "u1"])
    assert out.exit_code == 2 and "not a run directory" in out.output


def test_cold_frac_needs_the_cold_split_and_models_are_listed(data_dir, tmp_path):
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "pop", "--out", str(tmp_path / "r"),
                              "--data-dir", str(data_dir), "--cold-frac", "0.3"])
    assert out.exit_code == 2 and "--split cold-start-items" in out.output
    assert not (tmp_path / "r").exists()
    listing = runner.invoke(app, ["models"])
    assert listing.exit_code == 0 and "sasrec-text-id" in listing.output
    line = next(x for x in listing.output.splitlines() if x.split()[0] == "sasrec-text")
    assert "default text_adaptor=mlp" in line and "default scores=cosine" in line   # the name's own defaults


def test_train_refuses_to_overwrite_a_run_and_recommend_checks_k(data_dir, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--dataset", "shop", "--model", "pop", "--out", str(run), "--data-dir", str(data_dir), "--quiet"]
    assert runner.invoke(app, args).exit_code == 0
    out = runner.invoke(app, args)
    assert out.exit_code == 2 and "--overwrite" in out.output
    assert runner.invoke(app, args + ["--overwrite"]).exit_code == 0
    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "u1", "-k", "0"])
    assert out.exit_code == 2 and "k must be" in out.output


def test_text_model_refuses_items_without_any_text(data_dir, tmp_path):
    import pandas as pd

    items = pd.read_csv(data_dir / "shop" / "items.csv")
    items["title"] = ""
    items["genres"] = ""
    items.to_csv(data_dir / "shop" / "items.csv", index=False)
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "embknn", "--out", str(tmp_path / "r"),
                              "--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "c")])
    assert out.exit_code == 2 and "every item text is empty" in out.output


def test_bad_hyper_parameters_are_user_errors(data_dir, tmp_path):
    for param in ("hidden=63", "epochs=0", "batch_size=0"):
        out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "sasrec-id", "--out",
                                  str(tmp_path / param), "--data-dir", str(data_dir), "--param", param])
        assert out.exit_code == 2, (param, out.output)
        assert "SASRec" in out.output


def test_damaged_or_foreign_run_directories_are_one_line_errors(data_dir, tmp_path):
    run = tmp_path / "run"
    args = ["train", "--dataset", "shop", "--model", "embknn", "--out", str(run), "--data-dir", str(data_dir),
            "--cache-dir", str(tmp_path / "cache"), "--quiet"]
    assert runner.invoke(app, args).exit_code == 0
    np.save(run / "item_vectors.npy", np.load(run / "item_vectors.npy")[:3])  # truncated: 3 rows, not 12
    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "u3", "-k", "3"])
    assert out.exit_code == 2 and "item_vectors.npy has shape (3, " in out.output
    (run / "run.json").write_text(json.dumps({"model": "pop", "kind": "news"}))  # e.g. a news run
    out = runner.invoke(app, ["evaluate", "--run", str(run)])
    assert out.exit_code == 2 and "lmrec news" in out.output
    (run / "run.json").write_text("{broken")
    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "u3"])
    assert out.exit_code == 2 and "run.json is not valid JSON" in out.output



def test_datasets_lists_news_folders(tmp_path):
    (tmp_path / "nemig" / "en").mkdir(parents=True)
    out = runner.invoke(app, ["datasets", "--data-dir", str(tmp_path), "--json"])
    assert out.exit_code == 0, out.output
    stats = json.loads(out.output)
    assert [s["name"] for s in stats] == ["nemig-en"]
    assert stats[0]["format"] == "news impressions" and "lmrec news train" in stats[0]["notes"][0]


def test_overwrite_keeps_the_old_run_when_the_new_one_fails(data_dir, tmp_path):
    run = tmp_path / "run"
    ok = runner.invoke(app, ["train", "--dataset", "shop", "--model", "pop", "--out", str(run),
                             "--data-dir", str(data_dir), "--quiet"])
    assert ok.exit_code == 0, ok.output
    before = (run / "metrics.json").read_text()
    bad = runner.invoke(app, ["train", "--dataset", "shop", "--model", "embknn", "--out", str(run), "--overwrite",
                              "--data-dir", str(data_dir), "--text-fields", "no_such_field",
                              "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert bad.exit_code != 0
    assert (run / "metrics.json").read_text() == before          # the previous run is intact
    assert not list(tmp_path.glob("run.replaced-*"))
    typo = runner.invoke(app, ["train", "--dataset", "shop", "--model", "sasrec-id", "--out", str(run),
                               "--overwrite", "--data-dir", str(data_dir), "--param", "hiden=3"])
    assert typo.exit_code == 2 and "has no parameter(s) ['hiden']" in typo.output and "hidden" in typo.output
    assert (run / "metrics.json").read_text() == before


def test_training_flags_a_model_does_not_use_are_noted_not_fatal(data_dir, tmp_path):
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "pop", "--out", str(tmp_path / "p"),
                              "--data-dir", str(data_dir), "--epochs", "3", "--quiet"])
    assert out.exit_code == 0, out.output
    assert "--epochs does not apply to pop" in out.output


def test_unisrec_two_stage_text_then_text_and_id(data_dir, tmp_path):
    common = ["--dataset", "shop", "--model", "unisrec", "--data-dir", str(data_dir), "--epochs", "2",
              "--cache-dir", str(tmp_path / "cache"), "--param", "hidden=16", "--param", "inner=32",
              "--param", "n_experts=2", "--quiet"]
    out = runner.invoke(app, ["train", *common, "--out", str(tmp_path / "text"), "--param", "mode=inductive"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["train", *common, "--out", str(tmp_path / "both"), "--param", "mode=transductive",
                              "--param", f"init_from={tmp_path / 'text'}"])
    assert out.exit_code == 0, out.output
    model = json.loads((tmp_path / "both" / "metrics.json").read_text())["model"]
    assert model["mode"] == "transductive" and model["init_from"] == str(tmp_path / "text")
    out = runner.invoke(app, ["train", *common, "--out", str(tmp_path / "bad"), "--param", "mode=transductive",
                              "--param", f"init_from={tmp_path / 'nothing'}"])
    assert out.exit_code != 0 and "lmrec train --model unisrec" in out.output


def test_id_model_started_from_text_trains_and_recommends(data_dir, tmp_path):
    """`--param id_init=text`: the run encodes item text once to start the ID table, then is an ID model."""
    run = tmp_path / "run"
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", "sasrec-id", "--out", str(run),
                              "--data-dir", str(data_dir), "--epochs", "2", "--cache-dir", str(tmp_path / "cache"),
                              "--param", "hidden=16", "--param", "inner=32", "--param", "id_init=text", "--quiet"])
    assert out.exit_code == 0, out.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["model"]["id_init"] == "text" and metrics["model"]["item_input"] == "id"
    assert metrics["extra"]["encoding"]["encoder"]["model"].endswith("all-MiniLM-L6-v2")
    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "u3", "-k", "3"])
    assert out.exit_code == 0, out.output
    assert out.output.count("| Movie number") == 3
    bad = runner.invoke(app, ["train", "--dataset", "shop", "--model", "sasrec-text", "--out", str(tmp_path / "b"),
                              "--data-dir", str(data_dir), "--param", "id_init=text", "--quiet"])
    assert bad.exit_code != 0 and "no ID table" in bad.output
