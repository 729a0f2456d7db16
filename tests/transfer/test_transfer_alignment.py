"""Pre-training and transfer feed the sequence models the same item representations.

Regression tests for a pre-training/transfer mismatch: UniSRec pre-training fed its Transformer
the *raw* adaptor outputs (norm ≈ 0.5) while fine-tuning, zero-shot scoring and from-scratch
training fed it the *normalised* rows (norm 1/√τ ≈ 3.8), so a pre-trained (frozen) Transformer
read inputs 7× larger than those it was trained on.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmrec.models.unisrec import build_unisrec_net
from lmrec.training.sequences import left_pad

CFG = {"hidden": 8, "n_layers": 1, "n_heads": 2, "inner": 16, "dropout": 0.0, "max_len": 5, "n_experts": 2,
       "adaptor_dropout": 0.0, "temperature": 0.07}


def _net(n_items: int = 6, dim: int = 4):
    torch.manual_seed(0)
    vec = np.random.default_rng(0).normal(size=(n_items, dim)).astype(np.float32)
    net = build_unisrec_net(dim, CFG)
    net.set_catalog(vec)
    net.eval()
    return net, vec


def test_transformer_reads_raw_representations_as_in_pretraining():
    net, vec = _net()
    hists = [np.array([0, 1, 2]), np.array([3])]
    seq = torch.from_numpy(left_pad(hists, CFG["max_len"]))
    with torch.no_grad():
        # what pretrain_unisrec computes: Transformer over [0; raw adaptor outputs], then normalise
        raw = torch.cat([torch.zeros(1, CFG["hidden"]), net.represent(torch.from_numpy(vec))])
        pretrain_view = net.normalise(net.encode(seq, raw))
        transfer_view = net(seq, net.item_table())
        fresh_view = net(seq)
    assert torch.allclose(transfer_view, pretrain_view, atol=1e-6)
    assert torch.allclose(fresh_view, pretrain_view, atol=1e-6)


def test_input_and_output_tables_differ_only_by_normalisation():
    net, _ = _net()
    with torch.no_grad():
        raw, table = net.input_table(), net.item_table()
    assert torch.all(table[0] == 0) and torch.all(raw[0] == 0)
    # scoring rows have norm 1/sqrt(tau); the Transformer's input rows keep their own (smaller) norm
    assert table[1:].norm(dim=1).numpy() == pytest.approx(np.full(6, 1 / np.sqrt(0.07)), rel=1e-5)
    assert float(raw[1:].norm(dim=1).max()) < 1.0
    cos = torch.nn.functional.cosine_similarity(raw[1:], table[1:])
    assert cos.numpy() == pytest.approx(np.ones(6), abs=1e-5)
