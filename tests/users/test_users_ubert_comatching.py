"""U-BERT: co-matching shapes, padding invariance, finite fallback for users without reviews, pre-training."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmrec.models.ubert import UBert, UBertData, build_ubert_net, pad_rows


def _net(hidden: int = 8, dim_in: int = 6):
    torch.manual_seed(0)
    net = build_ubert_net(dim_in, hidden, n_users=3, n_items=4, dropout=0.0)
    net.eval()
    return net


def test_comatching_shapes():
    net = _net()
    b, lu, li, h = 2, 5, 7, 8
    ru, ri = torch.randn(b, lu, h), torch.randn(b, li, h)
    mu = torch.tensor([[True] * 5, [True, True, False, False, False]])
    mi = torch.tensor([[True] * 7, [True] + [False] * 6])
    cu, ci = net.comatch(ru, mu, ri, mi)
    assert cu.shape == (2, 8) and ci.shape == (2, 8)
    assert torch.isfinite(cu).all() and torch.isfinite(ci).all()


def test_comatching_ignores_padded_reviews():
    net = _net()
    ru, ri = torch.randn(1, 3, 8), torch.randn(1, 4, 8)
    mu, mi = torch.tensor([[True, True, True]]), torch.tensor([[True, True, True, True]])
    cu, ci = net.comatch(ru, mu, ri, mi)
    ru_pad = torch.cat([ru, 100 * torch.randn(1, 2, 8)], 1)          # garbage in padded slots
    mu_pad = torch.cat([mu, torch.tensor([[False, False]])], 1)
    cu2, ci2 = net.comatch(ru_pad, mu_pad, ri, mi)
    torch.testing.assert_close(cu, cu2)
    torch.testing.assert_close(ci, ci2)


def test_user_vector_invariant_to_padding_length():
    net = _net()
    table = torch.cat([torch.randn(5, 6), torch.zeros(1, 6)])          # row 5 = padding row
    adapted, _ = net.adapt(table)
    users = torch.tensor([1])
    short_idx, short_mask = pad_rows([np.array([0, 2])], 2, pad=5)
    long_idx, long_mask = pad_rows([np.array([0, 2])], 2, pad=5)
    long_idx = np.concatenate([long_idx, np.full((1, 6), 5)], 1)
    long_mask = np.concatenate([long_mask, np.zeros((1, 6), bool)], 1)
    u1, _, _ = net.encode_user(users, adapted, torch.from_numpy(short_idx), torch.from_numpy(short_mask))
    u2, _, _ = net.encode_user(users, adapted, torch.from_numpy(long_idx), torch.from_numpy(long_mask))
    torch.testing.assert_close(u1, u2)


def test_user_with_zero_reviews_gets_finite_vector_and_rating():
    rng = np.random.default_rng(0)
    n_rows = 40
    users, items = rng.integers(0, 3, n_rows), rng.integers(0, 4, n_rows)
    ratings = rng.integers(1, 6, n_rows).astype(np.float32)
    train = np.arange(30)
    by_user = [train[users[train] == u] for u in range(3)]
    by_user[2] = np.zeros(0, dtype=np.int64)                            # user 2: no review at all
    by_item = [train[items[train] == i] for i in range(4)]
    data = UBertData(rng.normal(size=(n_rows, 6)).astype(np.float32), by_user, by_item, None, 3, 4)
    model = UBert(hidden=8, epochs=3, batch_size=8).fit(data, users[train], items[train], ratings[train])
    vec = model.user_vectors(np.array([2]))
    assert vec.shape == (1, 8) and np.isfinite(vec).all()
    pred = model.predict(np.array([2, 2]), np.array([0, 3]))
    assert np.isfinite(pred).all() and ((pred >= 1) & (pred <= 5)).all()


def test_opinion_rating_pretraining_learns_rating_from_review():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)).astype(np.float32)
    y = np.clip(3 + 1.5 * x[:, 0], 1, 5).astype(np.float32)          # the rating is written in the review
    model = UBert(hidden=16, pretrain_epochs=60, pretrain_lr=1e-2).pretrain(x, y)
    assert model.pretrain_history_["best_valid_rmse"] < 0.5 * float(y.std())
    with pytest.raises(ValueError):
        UBert().pretrain(x[:5], y[:5])
