"""Every registered model through the Python API (:func:`lmrec.pipeline.run_experiment`,
``Recommender.score``, :func:`lmrec.pipeline.load_run` / :func:`~lmrec.pipeline.recommend_for_user`)
on the fault dataset: finite metrics and scores, batch = single, save/load round trip, k clipped to
the catalog, string ids, the cold-user popularity fallback, placeholder items never recommended
from text alone, cold items, seeded sampled evaluation and changed datasets under a saved run.

Every model of ``lmrec models`` runs every test here (``model`` is parametrised from the registry
in ``conftest.py``). Not covered: the news models (``lmrec news``: impressions, not a
``Recommender``) and the rating models of ``lmrec users`` (``ubert``, ``mf``, ``global-mean``:
rating prediction on (user, item) pairs) — neither is in ``lmrec models`` nor takes item
histories.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pandas as pd
import pytest

from faults import DATASET, ONLY_TEST, PLACEHOLDER_COLD, PLACEHOLDER_WARM, PLACEHOLDERS, RING_USERS

SOME_USERS = ["0", "007", "7", "u3", "tied", "short1", "short2"]


@pytest.fixture
def run(runs, model):
    return runs(model)


@pytest.fixture
def loaded(run):
    from lmrec.pipeline import load_run

    return load_run(run.run_dir)


def _histories(ds, users):
    from lmrec.data.splits import user_sequences

    seqs, _ = user_sequences(ds)
    idx = np.array([ds.user_map.index(u) for u in users], dtype=np.int64)
    return idx, [seqs[i] for i in idx]


def _popularity_order(counts, exclude=()):
    order = np.lexsort((np.arange(len(counts)), -np.asarray(counts, dtype=np.float64)))
    return [int(i) for i in order if int(i) not in set(exclude)]


def test_trains_and_reports_finite_metrics(run):
    import json

    metrics = json.loads((run.run_dir / "metrics.json").read_text())
    assert metrics["dataset"]["n_items"] == 37 and metrics["dataset"]["n_users"] == 18
    for part in ("valid", "test"):
        values = metrics["metrics"][part]
        assert {"recall@10", "ndcg@10"} <= set(values)
        assert all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in values.values()), values
    cold = metrics["extra"]["cold_users"]
    assert cold["policy"] == "popularity" and set(cold["n_cases_fallback"]) == {"valid", "test"}


def test_scores_every_item_finitely(run):
    users, hists = _histories(run.dataset, RING_USERS + ["tied", "short1", "short2"])
    scores = np.asarray(run.model.score(users, hists))
    assert scores.shape == (len(users), run.dataset.n_items)
    assert np.isfinite(scores).all()


def test_batch_scores_equal_single_scores(run):
    users, hists = _histories(run.dataset, SOME_USERS)
    batch = np.asarray(run.model.score(users, hists), dtype=np.float64)
    single = np.concatenate([np.asarray(run.model.score(users[i:i + 1], hists[i:i + 1]), dtype=np.float64)
                             for i in range(len(users))])
    np.testing.assert_allclose(batch, single, rtol=1e-4, atol=1e-5)


def test_saved_run_scores_like_the_fitted_model(run, loaded):
    users, hists = _histories(run.dataset, SOME_USERS)
    np.testing.assert_allclose(np.asarray(loaded.model.score(users, hists), dtype=np.float64),
                               np.asarray(run.model.score(users, hists), dtype=np.float64), rtol=1e-4, atol=1e-5)


def _check_list(recs, n_expected_max, n_expected_min, history_ids):
    ids = [r["item_id"] for r in recs]
    assert n_expected_min <= len(recs) <= n_expected_max, (len(recs), n_expected_min, n_expected_max)
    assert len(set(ids)) == len(ids)
    assert not set(ids) & set(history_ids)
    assert [r["rank"] for r in recs] == list(range(1, len(recs) + 1))
    scores = [r["score"] for r in recs]
    assert all(math.isfinite(s) for s in scores) and scores == sorted(scores, reverse=True)
    assert all(isinstance(i, str) for i in ids)


@pytest.mark.parametrize("user", ["007", "7", "tied", "short1"])
def test_k_larger_than_the_catalog_is_clipped(loaded, user):
    from lmrec.pipeline import recommend_for_user

    ds = loaded.dataset
    hist = set(ds.interactions.loc[ds.interactions["user_id"] == user, "item_id"])
    recs = recommend_for_user(loaded, user, k=1000)
    # every item but the history, minus at most the items nothing can be recommended from
    # (placeholder text and nothing else known about them)
    _check_list(recs, ds.n_items - len(hist), ds.n_items - len(hist | set(PLACEHOLDERS)), hist)


def test_string_ids_are_never_confused(loaded):
    """User "007" is not user "7": each list leaves out its own user's history, not the other's."""
    from lmrec.pipeline import recommend_for_user

    ds = loaded.dataset
    hist = {u: set(ds.interactions.loc[ds.interactions["user_id"] == u, "item_id"]) for u in ("007", "7")}
    assert hist["007"] != hist["7"]
    got = {u: {r["item_id"] for r in recommend_for_user(loaded, u, k=1000)} for u in ("007", "7")}
    for u, other in (("007", "7"), ("7", "007")):
        assert not got[u] & hist[u]
        assert hist[other] - hist[u] <= got[u] | set(PLACEHOLDERS)
    with pytest.raises(KeyError, match="'07'"):
        recommend_for_user(loaded, "07", k=5)


def test_user_without_usable_history_gets_flagged_popularity(loaded):
    """``ph-user`` interacted only with placeholder items (no text): a model that reads items only
    through their text has nothing to go on and must answer with training popularity, flagged;
    whenever any model's answer is flagged, it must be exactly the popularity order. (A model with
    per-user state, e.g. LightGCN over the user's training edges, may still know the user.)"""
    from lmrec.pipeline import recommend_for_user

    recs = recommend_for_user(loaded, "ph-user", k=1000)
    flags = {r["fallback"] for r in recs}
    assert len(flags) == 1
    if getattr(loaded.model, "history_input", None) == "text" and not getattr(loaded.model, "has_user_state", False):
        assert flags == {"popularity"}
    if flags == {"popularity"}:
        ds = loaded.dataset
        hist = [ds.item_map.index(i) for i in PLACEHOLDER_WARM]
        want = [ds.item_map.external(i) for i in _popularity_order(loaded.split.train_item_counts, hist)]
        got = [r["item_id"] for r in recs]
        assert got == [w for w in want if w in set(got)][:len(got)]
    for user in ("007", "short1"):                     # real histories are never answered by popularity
        assert {r["fallback"] for r in recommend_for_user(loaded, user, k=3)} == {None}


def test_empty_history_is_finite_and_falls_back_to_popularity(run):
    """The raw ``score`` stays finite on an empty history, and the shared cold-user policy answers
    it with training popularity unless the model knows the user otherwise (per-user state)."""
    from lmrec.models.fallback import PopularityFallback

    ds = run.dataset
    users = np.array([ds.user_map.index("u5"), ds.user_map.index("short1")], dtype=np.int64)
    empty = [np.zeros(0, dtype=np.int64)] * 2
    assert np.isfinite(np.asarray(run.model.score(users, empty))).all()
    scorer = PopularityFallback(run.model, run.split.train_item_counts, run.item_vectors)
    scores, flagged = scorer.score(users, empty)
    assert np.isfinite(scores).all()
    if getattr(run.model, "history_input", None) == "none":        # popularity: the fallback is the model
        np.testing.assert_array_equal(scores, np.broadcast_to(run.split.train_item_counts, scores.shape))
    elif not getattr(run.model, "has_user_state", False):
        assert flagged.all()
    for row in np.flatnonzero(flagged):
        np.testing.assert_array_equal(scores[row], run.split.train_item_counts.astype(np.float32))


def test_placeholder_items_are_not_recommended_from_text_alone(loaded):
    """Items whose text is a placeholder and that no one interacted with in training carry no
    signal: they are left out of the lists or ranked after every other item — and for a model
    that reads items only through their text, so are the placeholder items seen in training."""
    from lmrec.pipeline import recommend_for_user

    text_only = getattr(loaded.model, "history_input", None) == "text"
    for user in ("0", "u3", "short2"):
        ids = [r["item_id"] for r in recommend_for_user(loaded, user, k=1000)]
        for group in (PLACEHOLDER_COLD, PLACEHOLDERS if text_only else ()):
            positions = [ids.index(p) for p in group if p in ids]
            assert all(p >= len(ids) - len(positions) for p in positions), (user, ids)


def test_items_only_in_test_are_scored_and_flagged_cold(loaded):
    from lmrec.pipeline import recommend_for_user

    recs = {r["item_id"]: r for r in recommend_for_user(loaded, "u5", k=1000)}
    assert recs[ONLY_TEST]["cold"] is True and math.isfinite(recs[ONLY_TEST]["score"])
    assert recs["html-1"]["cold"] is False


def test_sampled_evaluation_is_reproducible_by_seed(loaded):
    from lmrec.pipeline import evaluate_run

    a = evaluate_run(loaded, protocol="sampled", n_negatives=5, seed=3)
    b = evaluate_run(loaded, protocol="sampled", n_negatives=5, seed=3)
    c = evaluate_run(loaded, protocol="sampled", n_negatives=5, seed=4)
    assert a["metrics"] == b["metrics"] and a["protocol"]["seed"] == 3 and c["protocol"]["seed"] == 4
    assert a["protocol"]["candidates"] == "sampled" and a["protocol"]["n_negatives"] == 5
    assert all(math.isfinite(v) for v in c["metrics"].values())
    with pytest.raises(ValueError, match="only .* items can be"):
        evaluate_run(loaded, protocol="sampled", n_negatives=1000, seed=3)


# ------------------------------------------------------------------------ changed dataset, saved run

def _changed_copy(src_root, dst_root, change):
    shutil.copytree(src_root, dst_root)
    folder = dst_root / DATASET
    events = pd.read_parquet(folder / "events.parquet")
    items = pd.read_parquet(folder / "items.parquet")
    events, items = change(events, items)
    events.to_parquet(folder / "events.parquet", index=False)
    items.to_parquet(folder / "items.parquet", index=False)
    return dst_root


def test_changed_items_refuse_the_saved_run(run, fault_data_dir, tmp_path):
    from lmrec.pipeline import load_run

    def rename(events, items):
        events["item_id"] = events["item_id"].replace({"27": "27b"})
        items["item_id"] = items["item_id"].replace({"27": "27b"})
        return events, items

    changed = _changed_copy(fault_data_dir, tmp_path / "data", rename)
    with pytest.raises(ValueError, match="item_map.json"):
        load_run(run.run_dir, str(changed))


def test_reordered_users_never_score_the_wrong_person(run, fault_data_dir, tmp_path):
    """The same interactions with users in another first-seen order: a saved run either refuses
    (naming user_map.json) — which it must when the model keeps per-user state — or gives every
    user exactly the list it gave before."""
    from lmrec.pipeline import load_run, recommend_for_user

    def reorder(events, items):
        first = events["user_id"].isin(["u5", "u9"])
        return pd.concat([events[first], events[~first]]), items

    changed = _changed_copy(fault_data_dir, tmp_path / "data", reorder)
    before = load_run(run.run_dir)
    try:
        after = load_run(run.run_dir, str(changed))
    except ValueError as exc:
        assert "user_map.json" in str(exc) and "retrain" in str(exc)
        return
    assert not getattr(run.model, "has_user_state", False), "a model with per-user state loaded a re-ordered user map"
    assert after.dataset.user_map.ids != before.dataset.user_map.ids
    for user in ("u5", "u9", "0", "007"):
        want = [(r["item_id"], round(r["score"], 4)) for r in recommend_for_user(before, user, k=10)]
        got = [(r["item_id"], round(r["score"], 4)) for r in recommend_for_user(after, user, k=10)]
        assert got == want, user


def test_dropped_user_refuses_only_models_with_user_state(run, fault_data_dir, tmp_path):
    from lmrec.pipeline import load_run

    changed = _changed_copy(fault_data_dir, tmp_path / "data",
                            lambda events, items: (events[events["user_id"] != "u13"], items))
    if getattr(run.model, "has_user_state", False):
        with pytest.raises(ValueError, match="user_map.json"):
            load_run(run.run_dir, str(changed))
    else:
        assert "u13" not in load_run(run.run_dir, str(changed)).dataset.user_map


# ----------------------------------------------------------------------------- NaN in, clear error out

def test_nan_item_vectors_are_refused_before_training(run, model):
    """A NaN text vector (a broken encoder or a damaged .npy) must be refused at the boundary with
    the row named, never silently train into NaN scores."""
    from lmrec.models import TrainData

    if not run.model.needs_item_vectors:
        pytest.skip(f"{model} reads no item vectors")
    vectors = np.array(run.item_vectors, copy=True)
    bad = run.dataset.item_map.index("html-1")
    vectors[bad, 3] = np.nan
    fresh = _fresh(model)
    try:
        fresh.fit(TrainData(split=run.split, item_vectors=vectors, seed=0))
    except ValueError as exc:
        assert str(bad) in str(exc) or "html-1" in str(exc), str(exc)
        return
    users, hists = _histories(run.dataset, SOME_USERS)
    assert np.isfinite(np.asarray(fresh.score(users, hists))).all(), "NaN vectors gave NaN scores silently"


def _fresh(model):
    from faults import fast_params
    from lmrec.models import create_model

    return create_model(model, **fast_params(model))


def test_nan_scores_are_a_clear_evaluation_error(run):
    from lmrec.evaluation.ranking import evaluate_ranking

    def broken(users, histories):
        s = np.asarray(run.model.score(users, histories), dtype=np.float32)
        s[0, 0] = np.nan
        return s

    with pytest.raises(ValueError, match="NaN for user index"):
        evaluate_ranking(broken, run.split.test, run.split.n_items, ks=(10,))
