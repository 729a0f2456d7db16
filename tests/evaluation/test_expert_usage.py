"""Per-domain MoE expert usage of the UniSRec adaptor's gate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmrec.data.idmap import IdMap
from lmrec.data.multidomain import Domain, MultiDomainDataset
from lmrec.evaluation.expert_usage import expert_usage, expert_usage_by_domain, usage_summary
from lmrec.models.unisrec import MoEAdaptor


def _routing_adaptor(dim: int = 4, k: int = 4) -> MoEAdaptor:
    """Gate logits 20·x: a one-hot text vector on dimension j goes to expert j (weight ≈ 1)."""
    ad = MoEAdaptor(dim, 6, n_experts=k)
    with torch.no_grad():
        ad.w_gate.copy_(20.0 * torch.eye(dim, k))
        ad.w_noise.fill_(5.0)                         # large noise, which eval mode must not apply
    return ad


def test_usage_has_k_entries_summing_to_one():
    torch.manual_seed(0)
    ad = MoEAdaptor(8, 6, n_experts=5)
    with torch.no_grad():
        ad.w_gate.normal_()
    u = expert_usage(ad, np.random.default_rng(0).normal(size=(50, 8)))
    assert u.shape == (5,) and u.dtype == np.float64
    assert u.sum() == pytest.approx(1.0) and (u >= 0).all()


def test_usage_follows_the_gate_without_noise_and_restores_the_mode():
    ad = _routing_adaptor()
    ad.train()
    x = np.zeros((10, 4), dtype=np.float32)
    x[:7, 0] = 1.0
    x[7:, 2] = 1.0
    u = expert_usage(ad, x)
    np.testing.assert_allclose(u, [0.7, 0.0, 0.3, 0.0], atol=1e-6)
    assert ad.training                                 # mode restored
    np.testing.assert_array_equal(u, expert_usage(ad, x))   # deterministic despite the noise weights


def test_zero_rows_are_skipped_and_bad_input_refused():
    ad = _routing_adaptor()
    x = np.zeros((4, 4), dtype=np.float32)
    x[0, 1] = 1.0
    np.testing.assert_allclose(expert_usage(ad, x), [0, 1, 0, 0], atol=1e-6)   # the 3 empty-text rows ignored
    with pytest.raises(ValueError, match="no item has a non-zero"):
        expert_usage(ad, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="dim 3 but the adaptor's gate expects 4"):
        expert_usage(ad, np.ones((3, 3)))


def test_usage_per_domain_from_a_mapping_and_a_multidomain_dataset():
    ad = _routing_adaptor()
    a, b = np.tile(np.eye(4)[0], (3, 1)), np.tile(np.eye(4)[3], (2, 1))
    by_map = expert_usage_by_domain(ad, {"food": a, "kitchen": b})
    assert list(by_map) == ["food", "kitchen"]
    np.testing.assert_allclose(by_map["food"], [1, 0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(by_map["kitchen"], [0, 0, 0, 1], atol=1e-6)
    md = MultiDomainDataset([Domain("food", IdMap(["f1", "f2", "f3"]), ["x"] * 3, [], offset=0),
                             Domain("kitchen", IdMap(["k1", "k2"]), ["y"] * 2, [], offset=3)])
    by_md = expert_usage_by_domain(ad, md, np.vstack([a, b]))
    for name in by_map:
        np.testing.assert_allclose(by_md[name], by_map[name])
    with pytest.raises(ValueError, match="needs its global-order vectors"):
        expert_usage_by_domain(ad, md)
    with pytest.raises(ValueError, match="domain 'kitchen': no item"):
        expert_usage_by_domain(ad, {"food": a, "kitchen": np.zeros((2, 4))})


def test_usage_summary():
    assert usage_summary(np.array([0.25] * 4)) == {"top_expert": 0, "top_share": 0.25, "entropy": pytest.approx(1.0)}
    s = usage_summary(np.array([0.0, 1.0, 0.0]))
    assert s["top_expert"] == 1 and s["entropy"] == pytest.approx(0.0)
