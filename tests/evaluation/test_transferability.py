"""Domain similarity from item vectors, transfer gains from results rows, MoE expert usage."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmrec.evaluation.transferability import (centroid_cosine, domain_similarity, gain_matrix, gains_from_results,
                                              mmd_rbf, nearest_source_cosine)

E1, E2 = np.array([1.0, 0.0]), np.array([0.0, 1.0])


def _cluster(centre: np.ndarray, n: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (centre[None, :] + noise * rng.normal(size=(n, len(centre)))).astype(np.float32)


# ------------------------------------------------------------------------------ similarity
def test_identical_domains_score_as_identical():
    x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    sim = domain_similarity(x, x.copy())
    assert sim["centroid_cosine"] == pytest.approx(1.0, abs=1e-9)
    assert abs(sim["mmd_rbf"]) < 0.02            # unbiased: (2/m)(mean off-diagonal k − 1) ≈ −0.006 here
    assert sim["nn_close_share"] == 1.0 and sim["nn_mean_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert sim["n_source"] == sim["n_target"] == 300 and sim["n_source_empty"] == 0


def test_disjoint_clusters_score_low_and_same_distribution_scores_near_zero_mmd():
    d = 32
    a_centre, b_centre = np.zeros(d), np.zeros(d)
    a_centre[0], b_centre[1] = 1.0, 1.0
    a1, a2 = _cluster(a_centre, 400, 0.05, 1), _cluster(a_centre, 400, 0.05, 2)
    b = _cluster(b_centre, 400, 0.05, 3)
    far, near = domain_similarity(a1, b), domain_similarity(a1, a2)
    assert far["centroid_cosine"] < 0.1 and far["nn_close_share"] == 0.0 and far["mmd_rbf"] > 0.5
    assert near["centroid_cosine"] > 0.99 and near["nn_close_share"] == 1.0 and abs(near["mmd_rbf"]) < 0.01


def test_centroid_cosine_by_hand():
    assert centroid_cosine(E1[None], E2[None]) == pytest.approx(0.0)
    assert centroid_cosine(np.stack([E1, E2]), E1[None]) == pytest.approx(1 / math.sqrt(2))
    assert centroid_cosine(np.stack([3 * E1]), np.stack([0.5 * E1])) == pytest.approx(1.0)   # scale-free


def test_mmd_by_hand():
    # pooled distances: 2 zeros, 4 × √2 → median σ = √2, k(e1, e2) = exp(−2 / 4)
    got = mmd_rbf(np.stack([E1, E1]), np.stack([E2, E2]))
    assert got["bandwidth"] == pytest.approx(math.sqrt(2), rel=1e-6)
    assert got["mmd2"] == pytest.approx(2 - 2 * math.exp(-0.5), rel=1e-6)


def test_mmd_subsample_is_capped_and_seeded():
    x = np.random.default_rng(0).normal(size=(500, 8))
    y = np.random.default_rng(1).normal(size=(300, 8)) + 0.5
    a, b = mmd_rbf(x, y, max_items=50, seed=3), mmd_rbf(x, y, max_items=50, seed=3)
    assert (a["n_source"], a["n_target"]) == (50, 50) and a == b
    assert mmd_rbf(x, y, max_items=50, seed=4)["mmd2"] != a["mmd2"]


def test_nearest_neighbour_share_by_hand_and_backends_agree():
    tgt = np.stack([E1, np.array([0.6, 0.8]), E2])
    for backend in ("numpy", "faiss"):
        if backend == "faiss":
            pytest.importorskip("faiss")
        cos, used = nearest_source_cosine(E1[None], tgt, backend=backend)
        assert used == backend
        np.testing.assert_allclose(cos, [1.0, 0.6, 0.0], atol=1e-6)
    sim = domain_similarity(np.stack([E1, E1 + 0.01 * E2]), tgt, threshold=0.8)
    assert sim["nn_close_share"] == pytest.approx(1 / 3)
    rng = np.random.default_rng(5)
    s, t = rng.normal(size=(700, 12)), rng.normal(size=(900, 12))
    a, _ = nearest_source_cosine(s, t, backend="numpy", chunk_size=128)
    b, _ = nearest_source_cosine(s, t, backend="auto")
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_empty_text_rows_are_skipped_and_counted():
    src = np.vstack([_cluster(E1, 10, 0.01, 0), np.zeros((3, 2))])
    tgt = np.vstack([np.zeros((2, 2)), _cluster(E1, 10, 0.01, 1)])
    sim = domain_similarity(src, tgt)
    assert (sim["n_source"], sim["n_source_empty"], sim["n_target"], sim["n_target_empty"]) == (10, 3, 10, 2)
    assert sim["nn_close_share"] == 1.0           # zero rows would have cosine 0 and count as far


def test_bad_input_is_named():
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match="dim 3, target vectors dim 2"):
        domain_similarity(x, np.ones((4, 2)))
    bad = x.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="target vectors: row 2 has NaN"):
        domain_similarity(x, bad)
    with pytest.raises(ValueError, match="1 non-zero rows of 3, need at least 2"):
        domain_similarity(np.vstack([E1, [0, 0], [0, 0]]), np.stack([E1, E2]))
    with pytest.raises(ValueError, match="threshold"):
        domain_similarity(x, x, threshold=1.5)
    with pytest.raises(ValueError, match="backend"):
        nearest_source_cosine(x, x, backend="gpu")


# ------------------------------------------------------------------------------ gains
def _row(dataset, model, value, seed=0, protocol="loo; full", **extra):
    return {"dataset": dataset, "model": model, "protocol": protocol, "seed": seed, "wall_s": 1.0,
            "metrics": {"ndcg@10": value}, **extra}


def test_gains_are_transfer_minus_baseline_averaged_over_seeds():
    doc = {"rows": [_row("sci", "scratch", 0.04, 0), _row("sci", "scratch", 0.06, 1),
                    _row("sci", "pre+ft", 0.07, 0, source="food"), _row("sci", "pre+ft", 0.09, 1, source="food"),
                    _row("sci", "pre+ft", 0.055, 0, sources=["food", "kitchen"]),
                    _row("sci", "scratch", 0.5, 0, protocol="other protocol"),
                    _row("food", "scratch", 0.1)]}
    g = gains_from_results(doc, ["sci"])
    single = next(e for e in g["entries"] if e["sources"] == ["food"])
    assert single["transfer"] == pytest.approx(0.08) and single["baseline"] == pytest.approx(0.05)
    assert single["gain"] == pytest.approx(0.03) and single["relative_gain"] == pytest.approx(0.6)
    assert single["seeds"] == [0, 1] and g["note"] is None
    multi = next(e for e in g["entries"] if e["sources"] == ["food", "kitchen"])
    assert multi["gain"] == pytest.approx(0.005)
    # only single-source entries are placed in the matrix
    assert gain_matrix(g, ["sci"], ["food", "kitchen"]) == [[pytest.approx(0.03), None]]


def test_gains_without_source_keys_leave_the_column_empty_and_say_so():
    g = gains_from_results({"rows": [_row("sci", "scratch", 0.04)]}, ["sci"], where="x.json")
    assert g["entries"] == [] and "x.json" in g["note"] and "source" in g["note"]


def test_gains_refuse_ambiguous_baselines_and_missing_metrics():
    doc = {"rows": [_row("sci", "scratch", 0.04), _row("sci", "embknn", 0.03), _row("sci", "pre", 0.05, source="f")]}
    with pytest.raises(ValueError, match=r"several baseline models.*\['embknn', 'scratch'\].*--baseline-model"):
        gains_from_results(doc, ["sci"])
    g = gains_from_results(doc, ["sci"], baseline_model="embknn")
    assert g["entries"][0]["gain"] == pytest.approx(0.02)
    with pytest.raises(ValueError, match="no metric 'recall@20'"):
        gains_from_results(doc, ["sci"], metric="recall@20", baseline_model="embknn")
    with pytest.raises(ValueError, match="no 'rows' list"):
        gains_from_results({"table": "t"}, ["sci"])
