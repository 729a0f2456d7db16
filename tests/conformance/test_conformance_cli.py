"""Every registered model through the command line (typer ``CliRunner``, in process) on the fault
dataset: ``lmrec train`` / ``recommend`` / ``evaluate`` with k beyond the catalog, string ids,
unknown users, the cold-user fallback column, seeded sampled evaluation and changed datasets
under a saved run; plus ``lmrec datasets`` / ``encode`` in every table format and
``lmrec index query`` with NaN query vectors.

Models come from the registry (``model`` is parametrised in ``conftest.py``); the news models
(``lmrec news``) and the rating models of ``lmrec users`` are not in ``lmrec models`` and are not
covered here.
"""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from faults import DATASET, FORMATS, PLACEHOLDERS, fast_params, write_faults

runner = CliRunner()


def _app():
    from lmrec.cli.main import app

    return app


def _invoke(*args):
    return runner.invoke(_app(), [str(a) for a in args])


def _table(output: str) -> list[dict[str, str]]:
    """Rows of the markdown table ``format_table`` prints (header, rule, rows)."""
    lines = [ln for ln in output.splitlines() if ln.startswith("|")]
    if not lines:
        return []
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")))) for ln in lines[2:]]


class CliRuns:
    """``lmrec train`` once per model (session), remembering the result for every test."""

    def __init__(self, workdir, data_dir, encoder_dir, cache):
        self.workdir, self.data_dir, self.encoder_dir, self.cache = workdir, data_dir, encoder_dir, cache
        self._done: dict[str, object] = {}

    def __call__(self, model: str):
        if model not in self._done:
            out = self.workdir / "cli-runs" / model
            args = ["train", "--dataset", DATASET, "--model", model, "--out", out, "--data-dir", self.data_dir,
                    "--encoder", self.encoder_dir, "--cache-dir", self.cache, "--quiet"]
            for k, v in fast_params(model).items():
                args += ["--param", f"{k}={v}"]
            self._done[model] = (_invoke(*args), out)
        return self._done[model]


@pytest.fixture(scope="session")
def cli_runs(workdir, fault_data_dir, tiny_encoder_dir, cache_dir):
    return CliRuns(workdir, fault_data_dir, tiny_encoder_dir, cache_dir)


@pytest.fixture
def cli_run(cli_runs, model):
    result, out = cli_runs(model)
    assert result.exit_code == 0, result.output
    return out


def test_train_writes_finite_metrics(cli_runs, model):
    result, out = cli_runs(model)
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'metrics.json'}" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["name"] == model and metrics["dataset"]["n_items"] == 37
    for part in ("valid", "test"):
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in metrics["metrics"][part].values())


def test_recommend_clips_k_and_matches_the_library(cli_run):
    from lmrec.pipeline import load_run, recommend_for_user

    out = _invoke("recommend", "--run", cli_run, "--user", "007", "-k", "1000")
    assert out.exit_code == 0, out.output
    rows = _table(out.output)
    want = recommend_for_user(load_run(cli_run), "007", k=1000)
    assert [r["item_id"] for r in rows] == [w["item_id"] for w in want]
    assert 37 - 7 - len(PLACEHOLDERS) <= len(rows) <= 37 - 7          # "007" has 7 distinct items
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))


def test_recommend_unknown_user_is_a_one_line_error(cli_run):
    out = _invoke("recommend", "--run", cli_run, "--user", "07", "-k", "3")
    assert out.exit_code == 2 and "'07'" in out.output and "Traceback" not in out.output


def test_recommend_flags_the_popularity_fallback(cli_run, model):
    from lmrec.pipeline import load_run

    out = _invoke("recommend", "--run", cli_run, "--user", "ph-user", "-k", "5")
    assert out.exit_code == 0, out.output
    rows = _table(out.output)
    assert rows and "fallback" in rows[0]
    m = load_run(cli_run).model
    if getattr(m, "history_input", None) == "text" and not getattr(m, "has_user_state", False):
        assert {r["fallback"] for r in rows} == {"popularity"}
    normal = _table(_invoke("recommend", "--run", cli_run, "--user", "u3", "-k", "5").output)
    assert {r["fallback"] for r in normal} == {""}


def test_evaluate_sampled_is_reproducible_by_seed(cli_run):
    results = []
    for seed in (5, 5, 6):
        out = _invoke("evaluate", "--run", cli_run, "--protocol", "sampled", "--n-negatives", "5", "--seed", seed)
        assert out.exit_code == 0, out.output
        results.append(json.loads((cli_run / "eval-sampled.json").read_text()))
    assert results[0]["metrics"] == results[1]["metrics"]
    assert [r["protocol"]["seed"] for r in results] == [5, 5, 6]
    assert results[0]["protocol"]["candidates"] == "sampled"


def _changed(src, dst, change):
    """Copy of the data directory ``src`` whose interaction table went through ``change``."""
    shutil.copytree(src, dst)
    path = dst / DATASET / "events.parquet"
    change(pd.read_parquet(path)).to_parquet(path, index=False)
    return dst


def test_changed_dataset_under_a_saved_run(cli_run, fault_data_dir, tmp_path, model):
    """Users re-ordered: refuse naming user_map.json (required with per-user state) or answer as
    before; an item renamed: always refused naming item_map.json."""
    from lmrec.pipeline import load_run

    def reorder(events):
        first = events["user_id"].isin(["u5", "u9"])
        return pd.concat([events[first], events[~first]])

    before = _invoke("recommend", "--run", cli_run, "--user", "u5", "-k", "5")
    changed = _changed(fault_data_dir, tmp_path / "users", reorder)
    after = _invoke("recommend", "--run", cli_run, "--user", "u5", "-k", "5", "--data-dir", changed)
    if getattr(load_run(cli_run).model, "has_user_state", False):
        assert after.exit_code == 2 and "user_map.json" in after.output, after.output
    elif after.exit_code != 0:
        assert after.exit_code == 2 and "user_map.json" in after.output, after.output
    else:
        assert _table(after.output) == _table(before.output)
    ev = _invoke("evaluate", "--run", cli_run, "--data-dir", changed)
    assert (ev.exit_code == 0) == (after.exit_code == 0), ev.output

    renamed = _changed(fault_data_dir, tmp_path / "items",
                       lambda e: e.assign(item_id=e["item_id"].replace({"27": "27b"})))
    items = pd.read_parquet(renamed / DATASET / "items.parquet")
    items["item_id"] = items["item_id"].replace({"27": "27b"})
    items.to_parquet(renamed / DATASET / "items.parquet", index=False)
    out = _invoke("recommend", "--run", cli_run, "--user", "u5", "--data-dir", renamed)
    assert out.exit_code == 2 and "item_map.json" in out.output, out.output


# ------------------------------------------------------------------------- model-independent commands

@pytest.mark.parametrize("fmt", FORMATS)
def test_datasets_and_encode_in_every_format(tmp_path, tiny_encoder_dir, fmt):
    data = write_faults(tmp_path / "data", fmt)
    out = _invoke("datasets", "--data-dir", data, "--json")
    assert out.exit_code == 0, out.output
    stats = {s["name"]: s for s in json.loads(out.output)}
    assert "error" not in stats[DATASET], stats[DATASET]
    assert stats[DATASET]["n_users"] == 18 and stats[DATASET]["n_items"] == 37
    npy = tmp_path / "vectors.npy"
    out = _invoke("encode", "--dataset", DATASET, "--data-dir", data, "--encoder", tiny_encoder_dir,
                  "--cache-dir", tmp_path / "cache", "--out", npy)
    assert out.exit_code == 0, out.output
    vectors = np.load(npy)
    ids = json.loads(npy.with_suffix(".ids.json").read_text())
    assert vectors.shape == (37, 32) and np.isfinite(vectors).all() and "007" in ids and "7" in ids
    zero = {i for i, v in zip(ids, vectors) if not v.any()}
    assert zero == set(PLACEHOLDERS)
    assert "truncated" in out.output


def test_index_query_refuses_nan_query_vectors(tmp_path):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "items.npy", rng.standard_normal((20, 8)).astype(np.float32))
    queries = rng.standard_normal((3, 8)).astype(np.float32)
    queries[1, 2] = np.nan
    np.save(tmp_path / "queries.npy", queries)
    out = _invoke("index", "build", "--vectors", tmp_path / "items.npy", "--kind", "flat", "--out", tmp_path / "idx")
    assert out.exit_code == 0, out.output
    out = _invoke("index", "query", "--index", tmp_path / "idx", "--vectors", tmp_path / "queries.npy", "-k", "50")
    assert out.exit_code == 2 and "row 1" in out.output and "Traceback" not in out.output, out.output
