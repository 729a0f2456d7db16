"""bench/_cases.py and bench/text_vs_id.py's intervals: per-case ranks small enough to commit, and
an interval that survives a machine without the case files (no data, no training)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


@pytest.fixture()
def cases():
    return _load("_cases")


def _loo(rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recall@10 and NDCG@10 of one target per case at 1-based ``rank``."""
    hit = rank <= 10
    return hit.astype(float), np.where(hit, 1.0 / np.log2(rank + 1.0), 0.0)


def test_leave_one_out_metrics_are_stored_as_one_byte_ranks_and_read_back_exactly(cases, tmp_path):
    rank = np.random.default_rng(0).integers(1, 4000, 500)
    rank[:40] = np.arange(1, 41)  # every rank of the top 10 and some beyond
    rec, ndcg = _loo(rank)
    f = tmp_path / "row.npz"
    cases.save_cases(f, {"0_recall@10": rec, "0_ndcg@10": ndcg, "1_recall@10": rec, "1_ndcg@10": ndcg})
    with np.load(f) as z:
        assert sorted(z.files) == ["0_rank10", "1_rank10"] and z["0_rank10"].dtype == np.uint8
    for e in "01":
        np.testing.assert_array_equal(cases.load_case(f, f"{e}_recall@10"), rec)
        np.testing.assert_allclose(cases.load_case(f, f"{e}_ndcg@10"), ndcg, atol=1e-12)
    assert not list(tmp_path.glob("*.tmp*"))  # written through a temporary file


def test_metrics_that_are_not_single_target_ranks_are_kept_as_floats(cases, tmp_path):
    rec = np.array([0.5, 1.0, 0.0])  # several targets per case: not a rank
    ndcg = np.array([0.4, 1.0, 0.0])
    r1, n1 = _loo(np.array([1, 3, 20]))
    f = tmp_path / "row.npz"
    cases.save_cases(f, {"0_recall@10": rec, "0_ndcg@10": ndcg, "1_recall@10": r1, "1_ndcg@10": n1})
    with np.load(f) as z:
        assert sorted(z.files) == ["0_ndcg@10", "0_recall@10", "1_rank10"]
    np.testing.assert_allclose(cases.load_case(f, "0_recall@10"), rec)
    np.testing.assert_allclose(cases.load_case(f, "1_ndcg@10"), n1)
    with pytest.raises(FileNotFoundError):
        cases.load_case(tmp_path / "missing.npz", "0_recall@10")


def test_an_interval_is_kept_when_its_case_files_are_gone_and_recomputed_when_they_are_back(tmp_path, monkeypatch):
    tv = _load("text_vs_id")
    monkeypatch.setattr(tv, "CASES", tmp_path / "cases")
    ds = "toy"
    rows = [{"dataset": ds, "model": m, "seed": 0} for m in ("sasrec-id", "sasrec-text")]
    # no case files: the interval written by an earlier machine stays, the one never computed stays absent
    name = f"{ds}|sasrec-text|kept|recall@10"
    before = {name: {"diff": 0.25, "low": 0.1, "high": 0.4, "excludes_zero": True, "seeds": [0]}}
    got = tv.paired({"rows": rows, "paired": before})
    assert got == before
    # the case files come back: the interval is recomputed from them (text hits every case, ID none)
    hit, miss = _loo(np.ones(50, dtype=int)), _loo(np.full(50, 99))
    tv.save_cases(tv.CASES / f"{tv.slug(ds, 'sasrec-text', 0)}.npz",
                  {"0_recall@10": hit[0], "0_ndcg@10": hit[1], "1_recall@10": hit[0], "1_ndcg@10": hit[1]})
    tv.save_cases(tv.CASES / f"{tv.slug(ds, 'sasrec-id', 0)}.npz",
                  {"0_recall@10": miss[0], "0_ndcg@10": miss[1], "1_recall@10": miss[0], "1_ndcg@10": miss[1]})
    got = tv.paired({"rows": rows, "paired": before})
    assert got[name]["diff"] == pytest.approx(1.0) and got[name]["excludes_zero"]
    assert set(got) == {f"{ds}|sasrec-text|{h}|{m}" for h in ("kept", "excluded") for m in ("recall@10", "ndcg@10")}


def test_an_interval_uses_the_seeds_present_unless_an_earlier_one_covered_more(tmp_path, monkeypatch):
    tv = _load("text_vs_id")
    monkeypatch.setattr(tv, "CASES", tmp_path / "cases")
    ds, name = "toy", "toy|sasrec-text|kept|recall@10"
    rows = [{"dataset": ds, "model": m, "seed": s} for m in ("sasrec-id", "sasrec-text") for s in (0, 1, 2)]
    hit, miss = _loo(np.ones(50, dtype=int)), _loo(np.full(50, 99))

    def write(model, seed, m):
        tv.save_cases(tv.CASES / f"{tv.slug(ds, model, seed)}.npz",
                      {"0_recall@10": m[0], "0_ndcg@10": m[1], "1_recall@10": m[0], "1_ndcg@10": m[1]})

    old = {name: {"diff": 0.25, "low": 0.1, "high": 0.4, "excludes_zero": True, "seeds": [0], "baseline_seeds": [0, 1, 2]}}
    write("sasrec-text", 1, hit), write("sasrec-id", 0, miss)
    assert tv.paired({"rows": rows, "paired": old})[name] == old[name]  # 1 + 1 seeds < 1 + 3: keep
    write("sasrec-id", 1, miss), write("sasrec-id", 2, miss), write("sasrec-text", 2, hit)
    got = tv.paired({"rows": rows, "paired": old})[name]  # 2 + 3 seeds present: recompute on them
    assert (got["seeds"], got["baseline_seeds"], got["diff"]) == ([1, 2], [0, 1, 2], pytest.approx(1.0))


def test_two_stage_variant_needs_its_source_run_and_adds_its_training_time(tmp_path, monkeypatch):
    tvi = _load("text_vs_id")
    monkeypatch.setattr(tvi, "MODELS_DIR", tmp_path)
    assert "unisrec-inductive" in tvi.INIT_SOURCES
    with pytest.raises(RuntimeError, match="--variants unisrec-inductive --seeds 1 --redo"):
        tvi.init_run("amazon-unisrec-scientific", "unisrec-inductive", 1)
    run = tmp_path / tvi.slug("amazon-unisrec-scientific", "unisrec-inductive", 1)
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text('{"model": "unisrec", "config": {}}')
    (run / "metrics.json").write_text('{"extra": {"training": {"train_seconds": 2281.5, "epochs": [{}, {}], '
                                      '"best_epoch": 1}}}')
    info = tvi.init_run("amazon-unisrec-scientific", "unisrec-inductive", 1)
    assert info == {"variant": "unisrec-inductive", "path": str(run), "train_s": 2281.5, "epochs": 2, "best_epoch": 1}


def test_ensemble_variants_name_trained_variants_and_need_their_saved_runs(tmp_path, monkeypatch):
    tvi = _load("text_vs_id")
    monkeypatch.setattr(tvi, "MODELS_DIR", tmp_path)
    ensembles = {v: spec for v, spec in tvi.VARIANTS.items() if "ensemble" in spec}
    assert {"ensemble:id+text", "ensemble:id+text-id", "ensemble:id+id"} <= set(ensembles)
    for v, spec in ensembles.items():
        assert all(m in tvi.VARIANTS and "ensemble" not in tvi.VARIANTS[m] for m in spec["ensemble"])
        assert (v in tvi.TEXT_AND_ID) + (v in tvi.TEXT_ONLY) + v.startswith("ensemble:id+id") == 1
    # the control fuses this seed's ID run with the next seed's: the missing one is named with its command
    run = tmp_path / tvi.slug("ml-100k", "sasrec-id", 2)
    (run / "model").mkdir(parents=True)
    (run / "model" / "config.json").write_text('{"model": "sasrec-id", "config": {}}')
    (run / "metrics.json").write_text("{}")
    with pytest.raises(RuntimeError, match="--variants sasrec-id --seeds 0 --redo"):
        tvi.run_one(None, "ml-100k", "ensemble:id+id", 2, {})


def test_transition_table_splits_hits_by_seen_and_unseen_cases(tmp_path, monkeypatch):
    from lmrec.data.evalset import EvalSet

    tv = _load("text_vs_id")
    monkeypatch.setattr(tv, "CASES", tmp_path / "cases")
    ds = "toy"

    class _Split:  # 40 cases; the first 10 follow a training pair (0 -> 1), the rest do not
        n_items = 5
        train = [np.array([0, 1, 2])]
        test = EvalSet(np.arange(40), [np.array([0])] * 10 + [np.array([3])] * 30,
                       [np.array([1])] * 10 + [np.array([4])] * 30)

    tv.save_transitions(ds, _Split)
    with np.load(tv.transitions_path(ds)) as z:
        assert z["seen"].tolist() == [True] * 10 + [False] * 30
    # ID hits the 10 seen cases only; text hits 2 seen and 25 unseen cases
    id_rank = np.r_[np.ones(10), np.full(30, 99)].astype(int)
    text_rank = np.r_[np.ones(2), np.full(8, 99), np.ones(25), np.full(5, 99)].astype(int)
    for model, rank in (("sasrec-id", id_rank), ("sasrec-text", text_rank)):
        r, n = _loo(rank)
        tv.save_cases(tv.CASES / f"{tv.slug(ds, model, 0)}.npz",
                      {"0_recall@10": r, "0_ndcg@10": n, "1_recall@10": r, "1_ndcg@10": n})
    rows = [{"dataset": ds, "model": m, "seed": 0} for m in ("sasrec-id", "sasrec-text")]
    t = tv.transition_table({"rows": rows})[ds]
    assert (t["n_cases"], t["n_seen"]) == (40, 10)
    by = {r["model"]: r for r in t["rows"]}
    assert (by["sasrec-id"]["recall@10_seen"], by["sasrec-id"]["recall@10_unseen"]) == (1.0, 0.0)
    assert (by["sasrec-text"]["recall@10_seen"], by["sasrec-text"]["recall@10_unseen"]) == (0.2, round(25 / 30, 4))
    iv = by["sasrec-text"]["vs_id_unseen"]
    assert iv["excludes_zero"] and iv["low"] > 0 and "vs_id_unseen" not in by["sasrec-id"]
    # a dataset without a mask is left out
    assert tv.transition_table({"rows": [{"dataset": "other", "model": "sasrec-id", "seed": 0}]}) == {}


def test_dataset_keys_name_the_split_and_refuse_an_unknown_one():
    tv = _load("text_vs_id")
    assert tv.dataset_and_split("amazon-food-kitchen-llmcdsr:food") == ("amazon-food-kitchen-llmcdsr:food", "auto")
    assert tv.dataset_and_split("ml-100k+cold-start-items") == ("ml-100k", "cold-start-items")
    assert "10 % of items cold" in tv.split_name("ml-100k+cold-start-items")
    with pytest.raises(ValueError, match="ml-100k\\+temporal.*cold-start-items"):
        tv.dataset_and_split("ml-100k+temporal")
    # variants built on runs of other seeds are refused on a split whose cold items differ per seed
    with pytest.raises(ValueError, match="own splits only"):
        tv.run_one(None, "ml-100k+cold-start-items", "ensemble:id+id", 0, {})


@pytest.fixture()
def tv_cases(tmp_path, monkeypatch):
    """bench/text_vs_id.py with its per-case files under ``tmp_path``."""
    module = _load("text_vs_id")
    monkeypatch.setattr(module, "CASES", tmp_path / "cases")
    return module


def test_cold_start_table_slices_each_seed_by_its_own_cold_targets(tv_cases):
    tv, ds = tv_cases, "toy+cold-start-items"
    n = 40
    # seed 0: cases 0-9 are cold, seed 1: cases 30-39; the MLP misses every cold case and hits every warm one,
    # the linear adaptor hits every cold case and half of the warm ones
    cold = {0: np.arange(n) < 10, 1: np.arange(n) >= 30}
    for s, c in cold.items():
        warm_half = (np.arange(n) % 2 == 0) & ~c
        for model, hit in (("sasrec-text", c | warm_half), ("sasrec-text@mlp", ~c)):
            r, g = _loo(np.where(hit, 1, 99))
            tv.save_cases(tv.CASES / f"{tv.slug(ds, model, s)}.npz",
                          {"0_recall@10": r, "0_ndcg@10": g, "1_recall@10": r, "1_ndcg@10": g, "cold": c})
    rows = [{"dataset": ds, "model": m, "seed": s} for m in ("sasrec-text", "sasrec-text@mlp") for s in (0, 1)]
    # a dataset's own split has no cold-start table
    rows.append({"dataset": "toy", "model": "sasrec-text", "seed": 0})
    got = tv.cold_start_table({"rows": rows})
    assert list(got) == [ds] and got[ds]["n_cases"] == n and got[ds]["n_cold_per_seed"] == {"0": 10, "1": 10}
    ref, mlp = got[ds]["rows"]
    assert (ref["model"], ref["recall@10_cold"], ref["recall@10_warm"]) == ("sasrec-text", 1.0, 0.5)
    assert (mlp["recall@10_cold"], mlp["recall@10_warm"]) == (0.0, 1.0) and "vs_reference_cold" not in ref
    assert mlp["vs_reference_cold"]["diff"] == pytest.approx(-1.0) and mlp["vs_reference_cold"]["excludes_zero"]
    assert mlp["vs_reference_warm"]["diff"] == pytest.approx(0.5) and mlp["vs_reference_cold"]["seeds"] == [0, 1]
    md = tv.render({"table": "t", "command": "c", "rows": [], "dataset_statistics": {}, "cold_start": got})
    assert "## Cold-start items" in md and "**-1.0000 [-1.0000, -1.0000]**" in md


def test_finetune_encoder_defaults_are_the_benchmarked_tune_settings():
    """`lmrec finetune-encoder` without flags runs what bench/text_vs_id.py measured (lever a)."""
    import inspect

    from lmrec.training.encoder_finetune import finetune_encoder

    tune = _load("text_vs_id").TUNE
    defaults = {k: p.default for k, p in inspect.signature(finetune_encoder).parameters.items()}
    assert {k: defaults[k] for k in tune} == tune


def test_extending_variants_start_from_the_kept_final_state_of_their_source_row(tmp_path, monkeypatch):
    import json

    import torch

    from lmrec.training.trainer import RESUMABLE_PARAMS, TRAIN_STATE

    tvi = _load("text_vs_id")
    monkeypatch.setattr(tvi, "MODELS_DIR", tmp_path)
    extending = {v: spec for v, spec in tvi.VARIANTS.items() if "extends" in spec}
    assert "sasrec-text@mlp-cos-p30" in extending
    for v, spec in extending.items():      # the same model and settings: only when training ends may differ
        src = tvi.VARIANTS[spec["extends"]]
        assert src["model"] == spec["model"] and src.get("config") == spec.get("config")
        changed = {k for k in {**src["params"], **spec["params"]} if src["params"].get(k) != spec["params"].get(k)}
        assert changed and changed <= set(RESUMABLE_PARAMS), (v, changed)
    target = tmp_path / tvi.slug("ml-100k", "sasrec-text@mlp-cos-p30", 0)
    assert tvi.extend_from("ml-100k", "sasrec-text@mlp-cos", 0, target) is None   # no source state: from scratch
    source = tmp_path / tvi.slug("ml-100k", "sasrec-text@mlp-cos", 0)
    (source / "model").mkdir(parents=True)
    (source / "model" / "config.json").write_text("{}")
    (source / "metrics.json").write_text("{}")
    (source / "run.json").write_text("{}")
    torch.save({"epoch": 29, "stopped": "patience", "early_stopping": {"best_epoch": 19}}, source / TRAIN_STATE)
    want = {"variant": "sasrec-text@mlp-cos", "after_epoch": 29, "stopped": "patience", "best_epoch": 19}
    assert tvi.extend_from("ml-100k", "sasrec-text@mlp-cos", 0, target) == want
    assert (target / TRAIN_STATE).exists() and (target / "model" / "config.json").exists()
    assert not (target / "metrics.json").exists() and not (target / "run.json").exists()   # not a complete run
    assert json.loads((target / "extended_from.json").read_text()) == want
    (source / TRAIN_STATE).unlink()
    assert tvi.extend_from("ml-100k", "sasrec-text@mlp-cos", 0, target) == want             # recorded once
    other = tmp_path / "other"
    (other / "model").mkdir(parents=True)
    (other / TRAIN_STATE).write_bytes(b"its own state")
    assert tvi.extend_from("ml-100k", "sasrec-text@mlp-cos", 0, other) is None               # never overwritten


def test_headroom_table_takes_the_better_member_per_case_and_the_next_seed_for_the_id_control(tv_cases):
    tv, ds = tv_cases, "toy"
    n = 20
    # per seed s: SASRec-ID hits cases [s, s + 8), the text model cases [10, 16); so ID + text covers 14 cases
    # (ID alone 8); two ID runs of seeds s and s+1 (mod 3) cover 9, 9 and, for seeds 2 and 0, 10 cases
    def save(model, seed, hit):
        r, g = _loo(np.where(hit, 1, 99))
        tv.save_cases(tv.CASES / f"{tv.slug(ds, model, seed)}.npz",
                      {"0_recall@10": r, "0_ndcg@10": g, "1_recall@10": r, "1_ndcg@10": g})
    idx = np.arange(n)
    for s in range(3):
        save("sasrec-id", s, (idx >= s) & (idx < s + 8))
        save("sasrec-text@mlp-cos", s, (idx >= 10) & (idx < 16))
        save("ensemble:id+text@mlp-cos", s, (idx >= s) & (idx < s + 11))   # 3 of the 6 text-only hits
    rows = [{"dataset": ds, "model": m, "seed": s} for m in ("sasrec-id", "sasrec-text@mlp-cos") for s in range(3)]
    rows.append({"dataset": "toy+cold-start-items", "model": "sasrec-id", "seed": 0})   # own split only
    got = tv.headroom_table({"rows": rows})
    assert list(got) == [ds] and got[ds]["id_recall@10"] == 0.4
    by = {r["model"]: r for r in got[ds]["rows"]}
    assert set(by) == {"ensemble:id+id", "ensemble:id+text@mlp-cos"}   # members with all 3 seeds only
    control, text = by["ensemble:id+id"], by["ensemble:id+text@mlp-cos"]
    assert control["members"].endswith("(next seed)") and control["oracle"] == round(28 / 60, 4)
    assert (control["fusion"], control["realised"]) == (None, None)
    assert (text["recall@10_a"], text["recall@10_b"], text["oracle"]) == (0.4, 0.3, 0.7)
    assert text["oracle_vs_id"] == 0.75 and text["fusion"] == 0.55 and text["realised"] == 0.5
    md = tv.render({"table": "t", "command": "c", "rows": [], "dataset_statistics": {}, "headroom": got})
    assert "## Headroom" in md and "| ensemble:id+text@mlp-cos" in md and "+75 %" in md and "50 %" in md
