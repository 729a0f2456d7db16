"""`lmrec ensemble`: late fusion of saved runs, weights chosen on validation (lmrec.ensemble_pipeline)."""

import json

import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


def train(data_dir, run, model, *extra):
    out = runner.invoke(app, ["train", "--dataset", "shop", "--model", model, "--out", str(run),
                              "--data-dir", str(data_dir), "--cache-dir", str(run.parent / "cache"), "--quiet",
                              *extra])
    assert out.exit_code == 0, out.output
    return run


@pytest.fixture
def two_runs(shop_data_dir, tmp_path):
    return (train(shop_data_dir, tmp_path / "pop", "pop"),
            train(shop_data_dir, tmp_path / "knn", "embknn"))


def test_fused_runs_are_evaluated_with_weights_chosen_on_validation(shop_data_dir, two_runs, tmp_path):
    pop, knn = two_runs
    out = tmp_path / "fused"
    res = runner.invoke(app, ["ensemble", "--run", str(pop), "--run", str(knn), "--out", str(out),
                              "--data-dir", str(shop_data_dir)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    members = metrics["model"]["members"]
    assert [m["name"] for m in members] == ["pop", "knn"] and [m["model"] for m in members] == ["pop", "embknn"]
    assert sum(m["weight"] for m in members) == pytest.approx(1.0)
    assert metrics["protocol"]["candidates"] == "full" and metrics["protocol"]["exclude_history"] is True
    grid = metrics["extra"]["weights"]["grid"]
    assert len(grid) == 11                      # step 0.1, two members
    best = max(g["ndcg@10"] for g in grid)      # the chosen weights are the best validation point
    assert metrics["extra"]["weights"]["best_valid"] == pytest.approx(best)
    assert metrics["metrics"]["valid"]["ndcg@10"] == pytest.approx(best)
    for key in ("recall@10", "ndcg@10"):
        assert 0.0 <= metrics["metrics"]["test"][key] <= 1.0
    assert "| ensemble" in res.output and "wrote" in res.output
    again = runner.invoke(app, ["ensemble", "--run", str(pop), "--run", str(knn), "--out", str(out),
                                "--data-dir", str(shop_data_dir)])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_a_weight_grid_of_corners_gives_one_members_own_test_metrics(shop_data_dir, two_runs, tmp_path):
    """step=1: the fused model is one of the members (log-softmax keeps each member's ranking)."""
    from lmrec.ensemble_pipeline import ensemble_runs
    from lmrec.pipeline import load_run

    runs = [load_run(r, str(shop_data_dir)) for r in two_runs]
    res = ensemble_runs(runs, step=1.0)
    chosen = next(m for m in res["model"]["members"] if m["weight"] == 1.0)
    own = json.loads((two_runs[0].parent / chosen["name"] / "metrics.json").read_text())["metrics"]
    assert res["test"]["metrics"] == pytest.approx(own["test"])
    assert res["valid"]["metrics"] == pytest.approx(own["valid"])
    assert res["extra"]["members_test"][chosen["name"]] == pytest.approx(own["test"])


def test_runs_that_cannot_be_fused_are_refused_by_name(shop_data_dir, two_runs, tmp_path):
    pop, knn = two_runs
    d = str(shop_data_dir)

    def ensemble(*runs):
        args = ["ensemble", "--out", str(tmp_path / "f"), "--data-dir", d]
        for r in runs:
            args += ["--run", str(r)]
        return runner.invoke(app, args)

    out = ensemble(pop)
    assert out.exit_code == 2 and "at least two runs" in out.output
    out = ensemble(pop, pop)
    assert out.exit_code == 2 and "the same run is given twice" in out.output
    kept = train(shop_data_dir, tmp_path / "pop-kept", "pop", "--include-history")
    out = ensemble(pop, kept)
    assert out.exit_code == 2 and "different protocols" in out.output and "pop-kept" in out.output
    cold = [train(shop_data_dir, tmp_path / f"cold{s}", "pop", "--split", "cold-start-items", "--cold-frac", "0.3",
                  "--seed", str(s)) for s in (0, 1)]
    out = ensemble(*cold)
    assert out.exit_code == 2 and "different splits" in out.output and "cold1" in out.output
    out = ensemble(pop, tmp_path / "missing")
    assert out.exit_code == 2 and "not a run directory" in out.output
    for flag, value, says in (("--metric", "ndcg@x", "unknown validation metric"), ("--metric", "auc@10", "ndcg@10"),
                              ("--step", "0.3", "step must divide 1")):
        out = runner.invoke(app, ["ensemble", "--run", str(pop), "--run", str(knn), "--out", str(tmp_path / "f"),
                                  "--data-dir", d, flag, value])
        assert out.exit_code == 2 and says in out.output, (flag, value, out.output)
    assert not (tmp_path / "f").exists()        # nothing written on a refusal
    before = (pop / "metrics.json").read_bytes()
    out = runner.invoke(app, ["ensemble", "--run", str(pop), "--run", str(knn), "--out", str(pop), "--overwrite",
                              "--data-dir", d])
    assert out.exit_code == 2 and "is a run directory" in out.output
    assert (pop / "metrics.json").read_bytes() == before     # a member's own results are never overwritten
