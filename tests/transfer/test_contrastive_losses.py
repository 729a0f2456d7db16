"""Contrastive losses and augmentations of UniSRec pre-training, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lmrec.data.multidomain import word_drop
from lmrec.training.contrastive import (in_batch_softmax_loss, item_drop, seq_item_contrastive_loss,
                                        seq_seq_contrastive_loss, unisrec_pretrain_loss)


def test_seq_item_loss_orthogonal_pairs_at_unit_temperature():
    # cos = identity; each row: -log(e^1 / (e^1 + e^0)) = log(1 + e^-1)
    e = torch.eye(2)
    assert float(seq_item_contrastive_loss(e, e, temperature=1.0)) == pytest.approx(math.log(1 + math.exp(-1)), abs=1e-6)


def test_loss_uses_cosine_not_dot_product():
    # scaling a vector does not change a cosine loss
    e = torch.eye(2)
    assert float(seq_item_contrastive_loss(e * 5, e, temperature=1.0)) == pytest.approx(0.31326, abs=1e-5)


def test_temperature_sharpens():
    # τ = 0.5: logits 2 and 0 → log(1 + e^-2) = 0.126928
    e = torch.eye(2)
    assert float(seq_item_contrastive_loss(e, e, temperature=0.5)) == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-6)


def test_same_target_pairs_are_masked():
    # both sequences have target 7: the only negative is masked, so each softmax has one term → loss 0
    e = torch.eye(2)
    assert float(seq_item_contrastive_loss(e, e, torch.tensor([7, 7]), temperature=1.0)) == pytest.approx(0.0, abs=1e-6)
    # different targets: not masked
    assert float(seq_item_contrastive_loss(e, e, torch.tensor([7, 8]), temperature=1.0)) == pytest.approx(0.31326, abs=1e-5)


def test_three_rows_hand_computed():
    # s = [1,0], [0,1], [1,0]; items = [1,0], [0,1], [0,1]; τ = 1; targets distinct
    s = torch.tensor([[1., 0.], [0., 1.], [1., 0.]])
    v = torch.tensor([[1., 0.], [0., 1.], [0., 1.]])
    # row0 logits [1,0,0] label 0: -log(e/(e+2)); row1 [0,1,1] label 1: -log(e/(1+2e)); row2 [1,0,0] label 2: -log(1/(e+2))
    e1 = math.e
    want = (-math.log(e1 / (e1 + 2)) - math.log(e1 / (1 + 2 * e1)) - math.log(1 / (e1 + 2))) / 3
    assert float(seq_item_contrastive_loss(s, v, torch.tensor([0, 1, 2]), temperature=1.0)) == pytest.approx(want, abs=1e-6)


def test_total_loss_is_si_plus_lambda_ss():
    torch.manual_seed(0)
    s, v, a = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 3)
    t = torch.tensor([0, 1, 2, 3])
    total, parts = unisrec_pretrain_loss(s, v, a, t, lam=1e-3, temperature=0.07)
    si = float(seq_item_contrastive_loss(s, v, t, 0.07))
    ss = float(seq_seq_contrastive_loss(s, a, t, 0.07))
    assert parts == pytest.approx({"seq_item": si, "seq_seq": ss})
    assert float(total) == pytest.approx(si + 1e-3 * ss, rel=1e-6)


def test_in_batch_softmax_loss_hand_computed():
    q = torch.tensor([[1., 0.]])
    c = torch.tensor([[2., 0.], [0., 0.]])
    # logits [2, 0], label 0 → log(1 + e^-2)
    assert float(in_batch_softmax_loss(q, c, torch.tensor([0]))) == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-6)


def test_item_drop_keeps_order_and_at_least_one_item():
    rng = np.random.default_rng(0)
    out = item_drop([np.arange(10), np.array([5])], 0.5, rng)
    assert list(out[0]) == sorted(out[0]) and set(out[0]) <= set(range(10)) and 0 < len(out[0]) < 10
    assert out[1].tolist() == [5]
    assert len(item_drop([np.arange(3)], 0.99, rng)[0]) == 1


def test_word_drop_removes_words_and_never_empties():
    rng = np.random.default_rng(0)
    text = " ".join(f"w{i}" for i in range(200))
    dropped = word_drop([text], 0.15, rng)[0].split()
    assert 140 < len(dropped) < 195  # ≈ 170 expected
    assert word_drop(["one"], 0.9, rng) == ["one"]
    with pytest.raises(ValueError, match="word-drop"):
        word_drop(["a b"], 1.0, rng)
