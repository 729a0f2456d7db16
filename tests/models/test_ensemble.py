"""Late fusion (lmrec.models.ensemble): log-softmax scores summed with weights
chosen on validation cases."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.data.evalset import EvalSet
from lmrec.data.splits import leave_one_out
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.models import TrainData, create_model
from lmrec.models.ensemble import ScoreEnsemble, log_softmax_scores, tune_ensemble_weights, weight_grid
from lmrec.seed import seed_everything


class Fixed:
    """A fitted stand-in: the scores of case ``u`` are row ``u`` of a fixed matrix."""

    name = "fixed"

    def __init__(self, scores: np.ndarray):
        self.scores = scores

    def score(self, users, histories):
        return self.scores[np.asarray(users)]

    def has_usable_input(self, users, histories, item_has_text=None):
        return np.array([len(h) > 0 for h in histories])


def _cases(n_cases: int, n_items: int, seed: int = 0) -> EvalSet:
    rng = np.random.default_rng(seed)
    return EvalSet(np.arange(n_cases), [np.array([0]) for _ in range(n_cases)],
                   [np.array([int(t)]) for t in rng.integers(1, n_items, n_cases)])


def _expert(cases: EvalSet, n_items: int, right: np.ndarray, seed: int) -> Fixed:
    """Noise in [0, 1) everywhere, the target at 5 on the cases where ``right`` is True."""
    s = np.random.default_rng(seed).random((len(cases), n_items))
    for i in np.flatnonzero(right):
        s[i, cases.targets[i][0]] = 5.0
    return Fixed(s.astype(np.float32))


def test_log_softmax_is_a_normalised_shift_invariant_log_distribution():
    s = np.random.default_rng(0).normal(size=(4, 7)).astype(np.float32) * 30
    lp = log_softmax_scores(s)
    assert lp.dtype == np.float32 and lp.shape == (4, 7)
    np.testing.assert_allclose(np.exp(lp.astype(np.float64)).sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(log_softmax_scores(s + 1000.0), lp, atol=1e-4)
    assert (np.argsort(-lp, axis=1) == np.argsort(-s, axis=1)).all()
    with pytest.raises(ValueError, match="non-finite"):
        log_softmax_scores(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"\[b, n_items\]"):
        log_softmax_scores(np.zeros(3))


def test_ensemble_checks_members_and_weights():
    a, b = Fixed(np.zeros((2, 3))), Fixed(np.zeros((2, 4)))
    for members, weights, msg in [([a], [1.0], "at least two"), ([a, a], [1.0], "one weight per member"),
                                  ([a, a], [0.7, 0.7], "sum to 1"), ([a, a], [1.5, -0.5], "≥ 0")]:
        with pytest.raises(ValueError, match=msg):
            ScoreEnsemble(members, weights)
    with pytest.raises(ValueError, match="different catalogue sizes"):
        ScoreEnsemble([a, b], [0.5, 0.5]).score(np.array([0]), [np.array([1])])
    with pytest.raises(ValueError, match="names must differ"):
        ScoreEnsemble([a, a], [0.5, 0.5], names=["x", "x"])
    # two runs of one model class (both named "sasrec") stay apart in describe()
    assert ScoreEnsemble([a, a], [0.25, 0.75]).describe() == {"fixed[0]": 0.25, "fixed[1]": 0.75}
    usable = ScoreEnsemble([a, a], [0.5, 0.5]).has_usable_input(np.array([0, 1]), [np.array([], dtype=np.int64),
                                                                                   np.array([2])])
    assert usable.tolist() == [False, True]


def test_a_corner_weight_ranks_exactly_like_its_member():
    cases = _cases(30, 12)
    a = _expert(cases, 12, np.arange(30) % 2 == 0, seed=1)
    b = _expert(cases, 12, np.arange(30) % 2 == 1, seed=2)
    ens = ScoreEnsemble([a, b], [1.0, 0.0])
    for excl in (False, True):
        alone = evaluate_ranking(a.score, cases, 12, ks=(10,), exclude_history=excl)["metrics"]
        fused = evaluate_ranking(ens.score, cases, 12, ks=(10,), exclude_history=excl)["metrics"]
        assert fused == alone


def test_weight_grid_covers_the_simplex():
    g = weight_grid(2, 0.1)
    assert g.shape == (11, 2) and np.allclose(g.sum(axis=1), 1) and [0.0, 1.0] in g.tolist()
    g3 = weight_grid(3, 0.5)
    assert g3.shape == (6, 3) and np.allclose(g3.sum(axis=1), 1) and (g3 >= 0).all()
    for bad in (0.3, 0.0, -0.1):
        with pytest.raises(ValueError, match="step"):
            weight_grid(2, bad)
    with pytest.raises(ValueError, match="two members"):
        weight_grid(1, 0.1)


def test_complementary_experts_are_fused_and_beat_both():
    """Each member knows the target of half the validation cases: only a mix retrieves all of them."""
    cases = _cases(40, 15)
    a = _expert(cases, 15, np.arange(40) % 2 == 0, seed=1)
    b = _expert(cases, 15, np.arange(40) % 2 == 1, seed=2)
    fit = tune_ensemble_weights([a, b], cases, 15, exclude_history=True, names=["id", "text"])
    corners = {tuple(r["weights"]): r["ndcg@10"] for r in fit.grid}
    assert fit.best == 1.0 and max(corners[(1.0, 0.0)], corners[(0.0, 1.0)]) < 0.9
    assert fit.ensemble.describe() == {"id": 0.5, "text": 0.5}   # a plateau: the tie goes to uniform weights
    assert evaluate_ranking(fit.ensemble.score, cases, 15, ks=(10,))["metrics"]["ndcg@10"] == 1.0


def test_a_useless_member_gets_no_weight():
    cases = _cases(40, 15)
    good = _expert(cases, 15, np.ones(40, dtype=bool), seed=1)
    noise = Fixed(np.random.default_rng(3).normal(size=(40, 15)).astype(np.float32) * 20)
    fit = tune_ensemble_weights([noise, good], cases, 15, exclude_history=True, metric="recall@1")
    assert fit.metric == "recall@1" and fit.best == 1.0
    assert fit.ensemble.weights[1] > fit.ensemble.weights[0]
    with pytest.raises(ValueError, match="unknown validation metric"):
        tune_ensemble_weights([noise, good], cases, 15, exclude_history=True, metric="auc@10")


def test_a_tie_goes_to_the_fusion_with_fewer_members():
    """A member whose weight changes no validation ranking (its scores are tiny next to the other's)
    is left out, not given the weight closest to uniform."""
    cases = _cases(40, 15)
    good = _expert(cases, 15, np.ones(40, dtype=bool), seed=1)
    faint = Fixed(np.random.default_rng(3).normal(size=(40, 15)).astype(np.float32) * 1e-4)
    fit = tune_ensemble_weights([faint, good], cases, 15, exclude_history=True, metric="recall@1")
    tied = [r["weights"] for r in fit.grid if r["recall@1"] == fit.best]
    assert fit.best == 1.0 and [0.0, 1.0] in tied and [0.5, 0.5] in tied
    assert fit.ensemble.weights.tolist() == [0.0, 1.0]


def test_real_members_corners_reproduce_their_own_validation_metric(tiny_dataset):
    """SASRec-ID and SASRec-text on the tiny data: the grid's corners are each member's own validation NDCG@10
    (the cached log-probabilities stay aligned with the cases), and the chosen weights are the grid's best."""
    split = leave_one_out(tiny_dataset)
    vec = np.random.default_rng(0).normal(size=(split.n_items, 8)).astype(np.float32)
    members = []
    for name in ("sasrec-id", "sasrec-text"):
        seed_everything(0)
        model = create_model(name, hidden=16, inner=32, n_layers=1, epochs=3, batch_size=16)
        members.append(model.fit(TrainData(split=split, item_vectors=vec if model.needs_item_vectors else None,
                                           seed=0)))
    fit = tune_ensemble_weights(members, split.valid, split.n_items, exclude_history=True, batch_size=7)
    corners = {tuple(r["weights"]): r["ndcg@10"] for r in fit.grid}
    for m, corner in zip(members, [(1.0, 0.0), (0.0, 1.0)]):
        own = evaluate_ranking(m.score, split.valid, split.n_items, ks=(10,))["metrics"]["ndcg@10"]
        assert corners[corner] == pytest.approx(own, abs=1e-9)
    assert fit.best == max(corners.values()) and len(fit.grid) == 11
