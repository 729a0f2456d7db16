"""bench/transfer.py: rendering of a tiny synthetic rows file (no data, no training).

The rows and per-case vectors are made up so that every number can be checked by hand: the
pre-trained models hit every test case, the baselines none, so each paired difference is exactly
+1 (or 0) and its bootstrap interval is that point.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "transfer.py"
CHECKER = ROOT.parent / "shared" / "tools" / "check-results"
N_CASES = 20


@pytest.fixture()
def tb(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_transfer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # never read the repository's own result files: references and similarities come from tmp_path
    monkeypatch.setattr(module, "TEXT_VS_ID", tmp_path / "text_vs_id.json")
    monkeypatch.setattr(module, "TEXT_VS_ID_CASES", tmp_path / "text_vs_id_cases")
    monkeypatch.setattr(module, "TRANSFERABILITY", tmp_path / "transferability.json")
    return module


def _row(tb, model: str, seed: int, hist: str, hit: float, **extra) -> dict:
    value = float(hit)
    return {"dataset": tb.FOOD, "model": model, "seed": seed, "history": hist,
            "protocol": f"{tb.split_name(tb.FOOD)}; full ranking; "
                        f"{tb.PROTOCOLS[hist == 'excluded']}",
            "wall_s": 1.0, "metrics": {k: value for k in tb.METRICS},
            "cold_items": {"n_cases": 0}, **extra}


def _write_cases(paths, target: str, model: str, seed: int, hit: float) -> None:
    paths.cases.mkdir(parents=True, exist_ok=True)
    vec = np.full(N_CASES, hit, dtype=np.float32)
    np.savez_compressed(paths.case_file(target, model, seed),
                        **{f"{e}_{m}": vec for e in (0, 1) for m in ("recall@10", "ndcg@10")})


def _doc(tb, paths) -> dict:
    """Food rows: baselines miss everything, pre-trained models hit everything, seeds 0 and 1."""
    rows = []
    spec = {"last-item": (0.0, [0]), "recency-knn": (0.0, [0]), "embedding-knn": (0.0, [0]),
            "unisrec-zero-shot": (1.0, [0, 1]), "zesrec-zero-shot": (0.0, [0, 1]),
            "unisrec-inductive": (1.0, [0, 1]), "unisrec-scratch": (0.0, [0, 1]),
            "fewshot-pretrained@5%": (1.0, [0, 1]), "fewshot-scratch@5%": (0.0, [0, 1]),
            "fast-adaptor@1ep": (0.0, [0]), "fast-full@1ep": (1.0, [0])}
    for model, (hit, seeds) in spec.items():
        for s in seeds:
            _write_cases(paths, tb.FOOD, model, s, hit)
            for hist in ("kept", "excluded"):
                extra = {"epochs": 12, "best_epoch": 2, "stopped": "patience", "train_s": 120.0}
                if model.startswith("fewshot"):
                    extra.update(stage="fewshot", n_train_users=40, train_user_subsample_seed=s,
                                 target_fraction=0.05)
                if model.startswith("fast"):
                    extra.update(stage="fast", budget_epochs=1)
                if model.startswith(("unisrec-", "fewshot-pretrained", "fast", "zesrec")) and "scratch" not in model:
                    extra["sources"] = tb.sources_for(tb.FOOD)
                rows.append(_row(tb, model, s, hist, hit, **extra))
    rows.append({"dataset": tb.FOOD, "model": "pretrain:unisrec", "seed": 0, "history": "kept",
                 "protocol": "held-out source users", "wall_s": 300.0,
                 "metrics": {"ndcg@10": 0.05, "recall@10": 0.1}, "epochs": 15, "best_epoch": 4,
                 "stopped": "patience", "seconds_per_epoch": 20.0, "peak_rss_mib": 900.0,
                 "pretraining_sources": tb.sources_for(tb.FOOD), "refused_sources": None,
                 "unavailable_sources": {}})
    return {"table": "transfer (synthetic)", "command": "python bench/transfer.py --synthetic", "rows": rows,
            "dataset_statistics": {tb.FOOD: {"n_users": 100, "n_items": 50, "n_interactions": 700,
                                             "avg_seq_len": 7.0, "n_test_cases": N_CASES, "n_train_users": 80}}}


def test_sources_leave_the_target_out_and_lcrec_only_off_scientific(tb):
    sci = tb.sources_for(tb.SCIENTIFIC)
    assert tb.SCIENTIFIC not in sci and tb.LCREC_SCIENTIFIC not in sci
    assert sci == [tb.FOOD, tb.KITCHEN, "amazon2018-raw/Magazine_Subscriptions", "amazon2018-raw/Gift_Cards",
                   "amazon2018-raw/Appliances"]
    food = tb.sources_for(tb.FOOD)
    assert tb.FOOD not in food and {tb.KITCHEN, tb.SCIENTIFIC, tb.LCREC_SCIENTIFIC} <= set(food)
    assert tb.sources_for(tb.KITCHEN, available=[tb.FOOD, tb.KITCHEN]) == [tb.FOOD]


def test_plan_expands_fractions_and_budgets_and_skips_the_full_fraction(tb):
    plan = tb.expand(["pretrain-unisrec", "fewshot", "fast"], [0.01, 1.0], [2])
    assert plan == [("pretrain", "pretrain-unisrec"), ("fewshot", "fewshot-pretrained@1%"),
                    ("fewshot", "fewshot-scratch@1%"), ("fast", "fast-adaptor@2ep"), ("fast", "fast-full@2ep")]


def test_render_of_synthetic_rows_passes_the_checker_and_has_every_section(tb, tmp_path):
    out = tmp_path / "res" / "transfer.json"
    paths = tb.Paths(out)
    assert paths.work == tmp_path / "res" / "transfer_work"  # a non-default --out never touches .cache/bench
    doc = _doc(tb, paths)
    tb.save(doc, paths)

    saved = json.loads(out.read_text())
    pv = saved["paired"]
    # zero-shot UniSRec (hits all 20 cases, 2 seeds) vs the strongest baseline and vs last-item: +1 each
    zs = [v for k, v in pv.items()
          if k.startswith(f"{tb.FOOD}|unisrec-zero-shot|") and k.endswith("|excluded|recall@10")]
    assert len(zs) == 2 and all(v["diff"] == pytest.approx(1.0) and v["excludes_zero"] for v in zs)
    assert f"{tb.FOOD}|unisrec-zero-shot|last-item|excluded|recall@10" in pv
    assert zs[0]["seeds"] == [0, 1] and zs[0]["baseline_seeds"] == [0] and zs[0]["n_cases"] == N_CASES
    few = pv[f"{tb.FOOD}|fewshot-pretrained@5%|fewshot-scratch@5%|excluded|ndcg@10"]
    assert few["diff"] == pytest.approx(1.0) and few["low"] == pytest.approx(1.0)
    assert pv[f"{tb.FOOD}|unisrec-inductive|unisrec-scratch|kept|recall@10"]["diff"] == pytest.approx(1.0)
    assert pv[f"{tb.FOOD}|fast-full@1ep|fast-adaptor@1ep|kept|recall@10"]["diff"] == pytest.approx(1.0)
    # ZESRec hits nothing, like the baselines: difference exactly 0, interval does not exclude 0
    z0 = [v for k, v in pv.items() if k.startswith(f"{tb.FOOD}|zesrec-zero-shot|") and k.endswith("|kept|recall@10")]
    assert z0[0]["diff"] == 0.0 and not z0[0]["excludes_zero"]

    food_zero = [c for c in saved["checks"] if c["dataset"] == tb.FOOD and "last-item" in c["check"]][0]
    assert food_zero["met"] is True and food_zero["value"].startswith("1.0000")
    food_few = [c for c in saved["checks"] if c["dataset"] == tb.FOOD and "≤ 5 %" in c["check"]][0]
    assert food_few["met"] is True
    sci = [c for c in saved["checks"] if c["dataset"] == tb.SCIENTIFIC]
    assert sci and all(c["value"] == "not run" and c["met"] is None for c in sci)
    assert {c["dataset"] for c in saved["checks"]} == set(tb.TARGETS)

    res = subprocess.run([sys.executable, str(CHECKER), str(out.parent)], capture_output=True, text=True) \
        if CHECKER.exists() else None
    if res is not None:
        assert res.returncode == 0, res.stdout + res.stderr

    md = out.with_suffix(".md").read_text()
    for section in (f"## {tb.FOOD}", "### Pre-training (held-out source users)",
                    "### Zero-shot, fine-tuned and references — history kept",
                    "### Zero-shot, fine-tuned and references — history excluded",
                    "### Few-shot: pre-trained vs from scratch (history excluded)",
                    "### Fast adaptation: adaptor only vs everything (history excluded)",
                    "## Gain beside domain similarity", "## Issue 14 checks", "## Notes"):
        assert section in md, section
    assert f"## {tb.SCIENTIFIC}\n\nnot run" in md  # targets without rows say so, nothing is invented
    assert "**+1.0000 [+1.0000, +1.0000]**" in md
    food_md = md.split(f"## {tb.FOOD}")[1].split("\n## ")[0]
    assert "unisrec-transductive" in food_md and "not run" in food_md  # a variant without rows
    assert "not in transferability.json" in md  # no similarity file in tmp_path
    for png in (out.with_name("transfer_fewshot.png"), out.with_name("transfer_gain.png")):
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reference_rows_are_copied_from_text_vs_id_and_marked(tb, tmp_path):
    ref = {"table": "t", "command": "c", "rows": [
        {"dataset": tb.FOOD, "model": "sasrec-text", "seed": 0, "history": "excluded", "protocol": "p",
         "wall_s": 5.0, "metrics": {"recall@10": 0.2}},
        {"dataset": "ml-100k", "model": "sasrec-text", "seed": 0, "history": "excluded", "protocol": "p",
         "wall_s": 5.0, "metrics": {"recall@10": 0.3}},
        {"dataset": tb.FOOD, "model": "fusion-gate", "seed": 0, "history": "excluded", "protocol": "p",
         "wall_s": 5.0, "metrics": {"recall@10": 0.1}}]}
    tb.TEXT_VS_ID.write_text(json.dumps(ref))
    rows = tb.reference_rows()
    assert [(r["dataset"], r["model"], r["from"]) for r in rows] == [(tb.FOOD, "sasrec-text", "text_vs_id.json")]


def test_smoke_flags_refuse_the_real_results_file(tb):
    with pytest.raises(SystemExit, match="not results"):
        tb.main(["--smoke-epochs", "1", "--targets", tb.FOOD])


def test_intervals_are_reused_only_while_their_case_files_are_unchanged(tb, tmp_path):
    out = tmp_path / "transfer.json"
    paths = tb.Paths(out)
    doc = _doc(tb, paths)
    tb.save(doc, paths)
    name = f"{tb.FOOD}|fewshot-pretrained@5%|fewshot-scratch@5%|kept|recall@10"
    assert doc["paired"][name]["diff"] == pytest.approx(1.0)
    tb.save(doc, paths)  # nothing changed: the same interval object is kept
    assert doc["paired"][name]["diff"] == pytest.approx(1.0)
    # seed 1 of the pre-trained few-shot row is rerun and now hits nothing: mean over seeds 0.5 per case
    import os
    _write_cases(paths, tb.FOOD, "fewshot-pretrained@5%", 1, 0.0)
    f = paths.case_file(tb.FOOD, "fewshot-pretrained@5%", 1)
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    tb.save(doc, paths)
    assert doc["paired"][name]["diff"] == pytest.approx(0.5)


def test_pretrain_seed_shares_one_pretraining_across_row_seeds(tb, tmp_path):
    from types import SimpleNamespace

    paths = tb.Paths(tmp_path / "transfer.json")
    shared, own = SimpleNamespace(pretrain_seed=0), SimpleNamespace(pretrain_seed=None)
    with pytest.raises(SystemExit, match="seed0"):      # row seed 2 looks for seed 0's pre-training
        tb._load_pretrained(paths, tb.FOOD, "unisrec", 2, shared)
    with pytest.raises(SystemExit, match="seed2"):
        tb._load_pretrained(paths, tb.FOOD, "unisrec", 2, own)
    pre = SimpleNamespace(pretraining={"source_datasets": ["a"]}, path=tmp_path / "p")
    assert tb._pre_info(pre, 2, shared) == {"sources": ["a"], "pretrained_dir": str(tmp_path / "p"),
                                            "pretrain_seed": 0}
    assert tb._pre_info(pre, 2, own)["pretrain_seed"] == 2
