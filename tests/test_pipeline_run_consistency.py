"""A saved run against a changed dataset (user-map drift) and reproducible re-evaluation seeds."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


def _train(data_dir, run, model, *params):
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", model, "--out", str(run), "--data-dir",
                              str(data_dir), "--quiet", *params])
    assert out.exit_code == 0, out.output
    return run


def _changed_copy(shop_data_dir, tmp_path, how: str):
    """A copy of the ``shop`` data directory whose users changed: ``drop`` removes user u1,
    ``reorder`` moves u0's rows to the end (same users, other first-seen order)."""
    data = tmp_path / f"data-{how}"
    shutil.copytree(shop_data_dir, data)
    events = pd.read_csv(data / "shop" / "events.csv", dtype={"user_id": str, "item_id": str})
    if how == "drop":
        events = events[events.user_id != "u1"]
    else:
        events = pd.concat([events[events.user_id != "u0"], events[events.user_id == "u0"]])
    events.to_csv(data / "shop" / "events.csv", index=False)
    return data


@pytest.mark.parametrize("how, position, expected, found", [("drop", 1, "'u1'", "'u2'"),
                                                            ("reorder", 0, "'u0'", "'u1'")])
def test_user_state_model_refuses_a_dataset_whose_users_changed(shop_data_dir, tmp_path, how, position,
                                                                 expected, found):
    from lmrec.pipeline import load_run

    run = _train(shop_data_dir, tmp_path / "run", "lightgcn", "--epochs", "2", "--param", "hidden=8")
    changed = _changed_copy(shop_data_dir, tmp_path, how)
    want = (f"position {position}: expected {expected}, found {found}")
    for args in (["recommend", "--run", str(run), "--user", "u2"], ["evaluate", "--run", str(run)]):
        out = runner.invoke(app, [*args, "--data-dir", str(changed)])
        assert out.exit_code == 2, out.output
        assert "user_map.json" in out.output and want in out.output and "retrain" in out.output
    with pytest.raises(ValueError, match="user_map.json") as err:
        load_run(run, str(changed))
    assert want in str(err.value)
    # the unchanged data still loads, and recommends for u2
    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", "u2", "-k", "2",
                              "--data-dir", str(shop_data_dir)])
    assert out.exit_code == 0, out.output


def test_a_model_without_user_state_accepts_other_users(shop_data_dir, tmp_path):
    from lmrec.pipeline import load_run

    run = _train(shop_data_dir, tmp_path / "run", "pop")
    loaded = load_run(run, str(_changed_copy(shop_data_dir, tmp_path, "drop")))
    assert "u1" not in loaded.dataset.user_map and not loaded.model.has_user_state


def test_every_per_user_model_declares_it():
    from lmrec.models import create_model

    assert create_model("lightgcn").has_user_state and create_model("lightgcn-text").has_user_state
    assert create_model("multitask").has_user_state
    assert create_model("two-tower", user_id=True).has_user_state
    assert not create_model("two-tower").has_user_state          # history and item text only
    for name in ("pop", "embknn", "sasrec-id", "sasrec-text", "unisrec", "zesrec", "fusion"):
        assert not create_model(name).has_user_state, name


def test_evaluate_sampled_seed_is_reproducible_and_recorded(shop_data_dir, tmp_path):
    run = _train(shop_data_dir, tmp_path / "run", "pop")

    def sampled(seed):
        out = runner.invoke(app, ["evaluate", "--run", str(run), "--protocol", "sampled", "--n-negatives", "3",
                                  "--seed", str(seed)])
        assert out.exit_code == 0, out.output
        return json.loads((run / "eval-sampled.json").read_text())

    a, b, c = sampled(7), sampled(7), sampled(8)
    assert a["protocol"]["seed"] == 7 and c["protocol"]["seed"] == 8
    assert a["metrics"] == b["metrics"]
    # pop scores are fixed, so any metric change comes from the negatives the seed drew
    per_seed = {s: sampled(s)["metrics"]["ndcg@5"] for s in range(6)}
    assert len(set(per_seed.values())) > 1


def test_few_shot_subsampling_records_its_seed(tiny_dataset):
    from lmrec.data.splits import leave_one_out
    from lmrec.training.pretrain import subsample_train_users

    split = leave_one_out(tiny_dataset)
    sub = subsample_train_users(split, 0.5, seed=3)
    assert sub.report["train_user_subsample_seed"] == 3
    assert sub.report["train_user_fraction"] == 0.5 and sub.report["n_train_users_kept"] == 15
    kept = [u for u, t in enumerate(sub.train) if len(t)]
    again = subsample_train_users(split, 0.5, seed=3)
    assert kept == [u for u, t in enumerate(again.train) if len(t)]
    assert sub.describe()["train_user_subsample_seed"] == 3
    assert np.array_equal(np.concatenate(sub.train), np.concatenate(again.train))
