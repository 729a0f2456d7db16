"""Shapes and arithmetic of UniSRec's parametric-whitening MoE adaptor."""

from __future__ import annotations

import pytest
import torch

from lmrec.models.unisrec import MoEAdaptor, PWLayer, UniSRecNet


def test_whitening_expert_is_w_times_x_minus_b():
    layer = PWLayer(3, 2, dropout=0.0)
    with torch.no_grad():
        layer.bias.copy_(torch.tensor([1., 1., 1.]))
        layer.lin.weight.copy_(torch.tensor([[1., 0., 0.], [0., 2., 1.]]))
    out = layer(torch.tensor([[2., 3., 4.]]))
    # x - b = [1, 2, 3]; W @ that = [1, 2*2 + 3] = [1, 7]
    assert out.tolist() == [[1.0, 7.0]]


def test_adaptor_shapes_and_gate_rows_sum_to_one():
    moe = MoEAdaptor(16, 300, n_experts=8, dropout=0.2)
    x = torch.randn(5, 7, 16)
    assert moe(x).shape == (5, 7, 300)
    assert len(moe.experts) == 8
    g = moe.gate(x)
    assert g.shape == (5, 7, 8)
    assert torch.allclose(g.sum(-1), torch.ones(5, 7))


def test_gate_is_uniform_at_init_in_eval_and_noisy_in_training():
    moe = MoEAdaptor(4, 6, n_experts=8)
    x = torch.randn(3, 4)
    moe.eval()
    assert torch.allclose(moe.gate(x), torch.full((3, 8), 1 / 8))  # zero gate weights → uniform, no noise
    moe.train()
    torch.manual_seed(0)
    assert not torch.allclose(moe.gate(x), torch.full((3, 8), 1 / 8))  # input-dependent Gaussian noise


def test_adaptor_output_is_gate_weighted_sum_of_experts():
    moe = MoEAdaptor(4, 3, n_experts=2, dropout=0.0).eval()
    x = torch.randn(2, 4)
    want = 0.5 * moe.experts[0](x) + 0.5 * moe.experts[1](x)
    assert torch.allclose(moe(x), want, atol=1e-6)


def test_unisrec_net_scores_are_cosine_over_temperature():
    net = UniSRecNet(8, hidden=12, n_heads=2, inner=16, temperature=0.25).eval()
    net.set_catalog(torch.randn(5, 8).numpy())
    with torch.no_grad():
        table = net.item_table()
    assert table.shape == (6, 12)
    assert float(table[0].abs().sum()) == 0.0
    # every item row has norm 1/sqrt(τ) = 2
    assert torch.allclose(table[1:].norm(dim=1), torch.full((5,), 2.0), atol=1e-5)
    with torch.no_grad():
        out = net(torch.tensor([[0, 1, 2]]), table)
    assert out.shape == (1, 3, 12)
    assert float(out[0, -1].norm()) == pytest.approx(2.0, abs=1e-5)


def test_transductive_id_embedding_is_zero_for_cold_items():
    import numpy as np

    net = UniSRecNet(8, hidden=12, n_heads=2, inner=16).eval()
    vecs = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    net.set_catalog(vecs, transductive=True, warm=np.array([True, False, True]))
    with torch.no_grad():
        net.id_emb.weight.fill_(1.0)
    raw = net.represent(net.text[1:], torch.arange(1, 4))
    text_only = net.adaptor(net.text[1:])
    assert torch.allclose(raw[1], text_only[1])          # cold item 1: text only
    assert torch.allclose(raw[0], text_only[0] + 1.0)    # warm item 0: text + ID
