"""Resumable sequential training: a killed run goes on from its last finished epoch and ends
exactly where an uninterrupted run ends (weights, losses, validation curve, best epoch)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import lmrec.evaluation.ranking as ranking
from lmrec.cli.main import app
from lmrec.data.splits import leave_one_out
from lmrec.models import TrainData, create_model
from lmrec.seed import seed_everything
from lmrec.training.trainer import TRAIN_STATE

# dropout > 0 and several batches per epoch: resuming must restore both random streams
SMALL = {"hidden": 16, "inner": 32, "n_layers": 1, "batch_size": 16, "dropout": 0.3, "patience": 50}
runner = CliRunner()


def _vectors(n_items: int) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n_items, 8)).astype(np.float32)


def _fit(name, split, vectors, run_dir=None, **params):
    seed_everything(3)                          # as the pipeline does: the same initial weights every time
    model = create_model(name, **{**SMALL, **params})
    return model.fit(TrainData(split=split, item_vectors=vectors if model.needs_item_vectors else None, seed=3,
                               run_dir=run_dir))


def _curve(history) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history["epochs"]]


def _same_weights(a, b) -> bool:
    sa, sb = a.net_.state_dict(), b.net_.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class Killed(Exception):
    """Stands for the process being killed."""


def _kill_at_validation(monkeypatch, n: int) -> None:
    """Raise :class:`Killed` in the ``n``-th validation (1-based), i.e. after epoch ``n - 2``'s state was saved."""
    real, calls = ranking.evaluate_ranking, [0]

    def evaluate(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            raise Killed
        return real(*args, **kwargs)

    monkeypatch.setattr(ranking, "evaluate_ranking", evaluate)


@pytest.mark.parametrize("name", ["sasrec-id", "sasrec-text-id", "unisrec"])
def test_killed_run_resumes_to_the_uninterrupted_result(name, tiny_dataset, tmp_path, monkeypatch):
    split = leave_one_out(tiny_dataset)
    vec = _vectors(split.n_items)
    straight = _fit(name, split, vec, epochs=5)
    with monkeypatch.context() as m:
        _kill_at_validation(m, 3)                       # killed while validating epoch 2
        with pytest.raises(Killed):
            _fit(name, split, vec, tmp_path, epochs=5)
    state = torch.load(tmp_path / TRAIN_STATE, weights_only=True)
    assert state["epoch"] == 1 and not (tmp_path / (TRAIN_STATE + ".tmp")).exists()
    resumed = _fit(name, split, vec, tmp_path, epochs=5)
    h, h0 = resumed.history_, straight.history_
    assert h["resumed_at_epoch"] == [2] and "resumed_at_epoch" not in h0
    assert _curve(h) == _curve(h0) and [r["epoch"] for r in h["epochs"]] == [0, 1, 2, 3, 4]
    assert (h["best_epoch"], h["stopped"], h["best_valid_ndcg@10"]) == (h0["best_epoch"], h0["stopped"],
                                                                       h0["best_valid_ndcg@10"])
    assert _same_weights(resumed, straight)


def test_a_larger_epoch_cap_extends_a_finished_run_and_early_stopping_is_final(tiny_dataset, tmp_path):
    split = leave_one_out(tiny_dataset)
    straight = _fit("sasrec-id", split, None, epochs=4)
    _fit("sasrec-id", split, None, tmp_path, epochs=2)  # ended by its cap: the state says so
    extended = _fit("sasrec-id", split, None, tmp_path, epochs=4)
    assert extended.history_["resumed_at_epoch"] == [2] and _curve(extended.history_) == _curve(straight.history_)
    assert _same_weights(extended, straight)

    stopped = tmp_path / "stopped"
    first = _fit("sasrec-id", split, None, stopped, epochs=30, patience=1)
    assert first.history_["stopped"] == "patience"
    again = _fit("sasrec-id", split, None, stopped, epochs=30, patience=1)   # nothing left to train
    assert _curve(again.history_) == _curve(first.history_) and "resumed_at_epoch" not in again.history_
    assert again.history_["best_epoch"] == first.history_["best_epoch"] and _same_weights(again, first)


def test_a_larger_patience_extends_a_run_early_stopping_ended(tiny_dataset, tmp_path):
    """Patience decides only when training ends: a run that patience 1 stopped, resumed with patience 3,
    ends exactly as a run trained with patience 3 from the start (curve, best epoch, weights)."""
    split = leave_one_out(tiny_dataset)
    straight = _fit("sasrec-id", split, None, epochs=40, patience=3)
    first = _fit("sasrec-id", split, None, tmp_path, epochs=40, patience=1)
    n_first = len(first.history_["epochs"])
    assert first.history_["stopped"] == "patience" and n_first < len(straight.history_["epochs"])
    extended = _fit("sasrec-id", split, None, tmp_path, epochs=40, patience=3)
    h, h0 = extended.history_, straight.history_
    assert h["resumed_at_epoch"] == [n_first] and _curve(h) == _curve(h0)
    assert (h["best_epoch"], h["stopped"], h["best_valid_ndcg@10"]) == (h0["best_epoch"], h0["stopped"],
                                                                       h0["best_valid_ndcg@10"])
    assert _same_weights(extended, straight)
    # a patience or cap that would have ended the saved run earlier cannot give a run trained with it: refused
    with pytest.raises(ValueError, match=r"patience=1 would have stopped the run after epoch \d+: give a larger"):
        _fit("sasrec-id", split, None, tmp_path, epochs=40, patience=1)
    with pytest.raises(ValueError, match=rf"has trained {len(h0['epochs'])} epochs; epochs=2 would have ended"):
        _fit("sasrec-id", split, None, tmp_path, epochs=2, patience=3)


def test_a_state_of_another_run_or_a_damaged_file_is_refused(tiny_dataset, tmp_path):
    split = leave_one_out(tiny_dataset)
    _fit("sasrec-id", split, None, tmp_path, epochs=1)
    with pytest.raises(ValueError, match=r"train_state\.pt belongs to another run: config\.\{hidden\} is "
                                         r"\{'hidden': 16\} there but \{'hidden': 8\} here"):
        _fit("sasrec-id", split, None, tmp_path, epochs=2, hidden=8)
    with pytest.raises(ValueError, match=r"belongs to another run: seed is 3 there but 4 here"):
        create_model("sasrec-id", **SMALL, epochs=2).fit(TrainData(split=split, seed=4, run_dir=tmp_path))
    other = leave_one_out(tiny_dataset.__class__("tiny", tiny_dataset.interactions.iloc[:-5], tiny_dataset.items,
                                                 text_fields=["title", "genres"]))
    with pytest.raises(ValueError, match=r"belongs to another run: (split|train_sha1|valid_sha1)"):
        _fit("sasrec-id", other, None, tmp_path, epochs=2)
    (tmp_path / TRAIN_STATE).write_bytes(b"half a file")
    with pytest.raises(ValueError, match=r"train_state\.pt is corrupt or truncated; delete .* --overwrite"):
        _fit("sasrec-id", split, None, tmp_path, epochs=2)


def test_a_state_saved_before_an_option_existed_resumes_at_the_option_default(tiny_dataset, tmp_path):
    # states written before SASRec had text_adaptor / adaptor_hidden / id_dropout lack those config entries
    # (and were linear with dot scores: sasrec-text's name defaults came later, so they are given here)
    split = leave_one_out(tiny_dataset)
    vec = _vectors(split.n_items)
    old = {"text_adaptor": "linear", "scores": "dot"}
    straight = _fit("sasrec-text", split, vec, epochs=3, **old)
    _fit("sasrec-text", split, vec, tmp_path, epochs=2, **old)
    state = torch.load(tmp_path / TRAIN_STATE, weights_only=True)
    for option in ("text_adaptor", "adaptor_hidden", "id_dropout", "scores", "temperature"):
        del state["key"]["config"][option]
    torch.save(state, tmp_path / TRAIN_STATE)
    resumed = _fit("sasrec-text", split, vec, tmp_path, epochs=3, **old)
    assert resumed.history_["resumed_at_epoch"] == [2] and _curve(resumed.history_) == _curve(straight.history_)
    # ... and is refused where the option is set to anything else, e.g. by the name's newer defaults
    _fit("sasrec-text", split, vec, tmp_path / "old", epochs=1, **old)
    state = torch.load(tmp_path / "old" / TRAIN_STATE, weights_only=True)
    del state["key"]["config"]["text_adaptor"]
    torch.save(state, tmp_path / "old" / TRAIN_STATE)
    with pytest.raises(ValueError, match=r"config\.\{text_adaptor\} is \{'text_adaptor': 'linear'\} there but "
                                         r"\{'text_adaptor': 'mlp'\} here"):
        _fit("sasrec-text", split, vec, tmp_path / "old", epochs=2, adaptor_hidden=1024, scores="dot")


def _train(data_dir, out, *extra, catch_exceptions: bool = True):
    return runner.invoke(app, ["train", "--dataset", "shop", "--model", "sasrec-text-id", "--out", str(out),
                               "--data-dir", str(data_dir), "--quiet", "--epochs", "4", "--param", "hidden=16",
                               "--param", "inner=32", "--param", "batch_size=16", *extra],
                         catch_exceptions=catch_exceptions)


def test_cli_resume_finishes_an_interrupted_run_with_the_uninterrupted_metrics(shop_data_dir, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "cache"))
    straight = _train(shop_data_dir, tmp_path / "straight")
    assert straight.exit_code == 0, straight.output
    assert not (tmp_path / "straight" / TRAIN_STATE).exists()         # deleted once the run is complete

    run = tmp_path / "run"
    with monkeypatch.context() as m:
        _kill_at_validation(m, 3)
        with pytest.raises(Killed):
            _train(shop_data_dir, run, catch_exceptions=False)
    assert (run / TRAIN_STATE).exists() and not (run / "metrics.json").exists()

    again = _train(shop_data_dir, run)
    assert again.exit_code != 0 and "pass --resume to continue it" in again.output
    both = _train(shop_data_dir, run, "--resume", "--overwrite")
    assert both.exit_code != 0 and "pass one of them" in both.output
    resumed = _train(shop_data_dir, run, "--resume")
    assert resumed.exit_code == 0, resumed.output
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (run, tmp_path / "straight"))
    assert a["metrics"] == b["metrics"]
    assert a["extra"]["training"]["resumed_at_epoch"] == [2] and not (run / TRAIN_STATE).exists()

    done = _train(shop_data_dir, run, "--resume")
    assert done.exit_code != 0 and "holds a complete run" in done.output and "--keep-train-state" in done.output
    fresh = _train(shop_data_dir, tmp_path / "never", "--resume")
    assert fresh.exit_code != 0 and "does not exist" in fresh.output
    (tmp_path / "empty").mkdir()
    empty = _train(shop_data_dir, tmp_path / "empty", "--resume")
    assert empty.exit_code != 0 and "has no training state" in empty.output


def test_cli_a_kept_training_state_extends_a_complete_run(shop_data_dir, tmp_path, monkeypatch):
    """--keep-train-state: a complete 2-epoch run, resumed with --epochs 4, ends as a 4-epoch run."""
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "cache"))
    straight = _train(shop_data_dir, tmp_path / "straight")                  # 4 epochs
    assert straight.exit_code == 0, straight.output
    run = tmp_path / "run"
    short = _train(shop_data_dir, run, "--epochs", "2", "--keep-train-state")
    assert short.exit_code == 0 and (run / "metrics.json").exists() and (run / TRAIN_STATE).exists()
    longer = _train(shop_data_dir, run, "--resume")
    assert longer.exit_code == 0, longer.output
    a, b = (json.loads((d / "metrics.json").read_text()) for d in (run, tmp_path / "straight"))
    assert a["metrics"] == b["metrics"] and a["extra"]["training"]["resumed_at_epoch"] == [2]
    assert not (run / TRAIN_STATE).exists()                                   # not kept this time
    pop = runner.invoke(app, ["train", "--dataset", "shop", "--model", "pop", "--out", str(tmp_path / "pop"),
                              "--data-dir", str(shop_data_dir), "--quiet", "--keep-train-state"])
    assert pop.exit_code == 0 and "--keep-train-state does not apply to pop" in pop.output
