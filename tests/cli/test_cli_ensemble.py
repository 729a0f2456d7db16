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
    # a pop member (no item vectors to retrieve with) is named at fusion time unless its weight is 0
    assert ("cannot serve this fusion" in res.output and "member 'pop'" in res.output) == (members[0]["weight"] > 0)
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


def _recommended(run, user, data_dir):
    out = runner.invoke(app, ["recommend", "--run", str(run), "--user", user, "-k", "3", "--data-dir", data_dir])
    assert out.exit_code == 0, out.output
    return [line.split("|")[2].strip() for line in out.output.splitlines() if line.startswith("| ") and
            line.split("|")[1].strip().isdigit()]


def test_a_fused_model_is_reloaded_by_recommend_and_evaluate(shop_data_dir, two_runs, tmp_path):
    from lmrec.ensemble_pipeline import load_ensemble

    pop, knn = two_runs
    d = str(shop_data_dir)
    out = tmp_path / "fused"
    res = runner.invoke(app, ["ensemble", "--run", str(pop), "--run", str(knn), "--out", str(out), "--data-dir", d])
    assert res.exit_code == 0, res.output
    written = json.loads((out / "metrics.json").read_text())
    members = written["model"]["members"]
    assert [m["run_relative"] for m in members] == ["../pop", "../knn"]
    assert [m["run"] for m in members] == [str(pop.resolve()), str(knn.resolve())]
    run = load_ensemble(out, d)
    assert run.model.weights.tolist() == pytest.approx([m["weight"] for m in members])
    ev = runner.invoke(app, ["evaluate", "--run", str(out), "--data-dir", d])
    assert ev.exit_code == 0, ev.output
    again = json.loads((out / "eval-full.json").read_text())     # same cases, same fused scores
    assert again["metrics"] == pytest.approx(written["metrics"]["test"])
    recs = _recommended(out, "u3", d)
    df = run.dataset.interactions
    seen = {str(i) for i in df.loc[df["user_id"].astype(str) == "u3", "item_id"]}
    assert seen
    assert len(recs) == 3 and len(set(recs)) == 3 and not set(recs) & seen    # history excluded
    served = runner.invoke(app, ["serve", "--run", str(out), "--data-dir", d])
    # served fused lists need an item vector per member: pop has none, and the error says which member
    assert served.exit_code == 2 and "ensemble member 'pop' cannot be served" in served.output


def test_a_corner_ensemble_recommends_what_its_chosen_member_does(shop_data_dir, two_runs, tmp_path):
    """Weight 1 on one member: log-softmax keeps that member's ranking, so the lists are the same."""
    d = str(shop_data_dir)
    out = tmp_path / "corner"
    res = runner.invoke(app, ["ensemble", "--run", str(two_runs[0]), "--run", str(two_runs[1]), "--out", str(out),
                              "--data-dir", d, "--step", "1"])
    assert res.exit_code == 0, res.output
    chosen = next(m for m in json.loads((out / "metrics.json").read_text())["model"]["members"] if m["weight"] == 1)
    for user in ("u1", "u3"):
        assert _recommended(out, user, d) == _recommended(tmp_path / chosen["name"], user, d)


def test_a_fused_model_finds_members_moved_with_it_and_names_missing_or_replaced_ones(shop_data_dir, two_runs,
                                                                                     tmp_path):
    import shutil

    from lmrec.ensemble_pipeline import load_ensemble
    from lmrec.pipeline import load_run

    d = str(shop_data_dir)
    out = tmp_path / "fused"
    res = runner.invoke(app, ["ensemble", "--run", str(two_runs[0]), "--run", str(two_runs[1]), "--out", str(out),
                              "--data-dir", d])
    assert res.exit_code == 0, res.output
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in ("pop", "knn", "fused"):
        shutil.move(str(tmp_path / name), str(moved / name))
    run = load_ensemble(moved / "fused", d)                    # found through the relative paths
    assert run.model.names == ["pop", "knn"]
    with pytest.raises(FileNotFoundError, match="lmrec ensemble"):
        load_run(moved / "fused", d)
    shutil.rmtree(moved / "knn")
    ev = runner.invoke(app, ["evaluate", "--run", str(moved / "fused"), "--data-dir", d])
    assert ev.exit_code == 2 and "member 'knn'" in ev.output and "rerun `lmrec ensemble`" in ev.output
    shutil.copytree(moved / "pop", moved / "knn")              # another run in the member's place
    ev = runner.invoke(app, ["recommend", "--run", str(moved / "fused"), "--user", "u3", "--data-dir", d])
    assert ev.exit_code == 2 and "retrained or replaced" in ev.output and "member 'knn'" in ev.output
    (moved / "fused" / "metrics.json").write_text('{"model": {"name": "ensem')        # damaged
    ev = runner.invoke(app, ["recommend", "--run", str(moved / "fused"), "--user", "u3", "--data-dir", d])
    assert ev.exit_code == 2 and "not a readable JSON file" in ev.output
    (moved / "fused" / "metrics.json").write_text("{}")                               # no model block
    ev = runner.invoke(app, ["recommend", "--run", str(moved / "fused"), "--user", "u3", "--data-dir", d])
    assert ev.exit_code == 2 and "has no 'model' block" in ev.output and "KeyError" not in ev.output
