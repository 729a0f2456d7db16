"""Pooling functions on hand-made tensors: every expected value can be checked by eye."""

from __future__ import annotations

import pytest
import torch

from lmrec.encoders.pooling import POOLINGS, cls_pool, last_token_pool, mean_pool

# hidden[b, t] = [10*b + t]  → the pooled value tells which position was taken
HIDDEN = torch.tensor([[[0.0], [1.0], [2.0], [3.0]],
                       [[10.0], [11.0], [12.0], [13.0]]])
RIGHT = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])  # lengths 2 and 4, right padding
LEFT = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])  # length 2 left-padded


def test_registry_names():
    assert set(POOLINGS) == {"cls", "mean", "last_token"}
    assert POOLINGS["mean"] is mean_pool


def test_cls_takes_first_real_token():
    assert cls_pool(HIDDEN, RIGHT).squeeze(-1).tolist() == [0.0, 10.0]
    assert cls_pool(HIDDEN, LEFT).squeeze(-1).tolist() == [2.0, 10.0]


def test_mean_is_mask_weighted():
    assert mean_pool(HIDDEN, RIGHT).squeeze(-1).tolist() == [0.5, 11.5]  # (0+1)/2, (10+..+13)/4
    assert mean_pool(HIDDEN, LEFT).squeeze(-1).tolist() == [2.5, 11.5]  # (2+3)/2


def test_mean_ignores_nan_in_padding_and_all_pad_row_is_zero():
    hidden = HIDDEN.clone()
    hidden[0, 3] = float("nan")  # a padded position
    assert mean_pool(hidden, RIGHT).squeeze(-1).tolist() == [0.5, 11.5]
    empty = torch.zeros(1, 4, dtype=torch.long)
    assert mean_pool(HIDDEN[:1], empty).tolist() == [[0.0]]


def test_last_token_right_left_and_mixed_padding():
    assert last_token_pool(HIDDEN, RIGHT).squeeze(-1).tolist() == [1.0, 13.0]
    assert last_token_pool(HIDDEN, LEFT).squeeze(-1).tolist() == [3.0, 13.0]
    mixed = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]])
    assert last_token_pool(HIDDEN, mixed).squeeze(-1).tolist() == [2.0, 13.0]


def test_bool_mask_and_dtype_preserved():
    h = HIDDEN.to(torch.bfloat16)
    for fn in POOLINGS.values():
        out = fn(h, RIGHT.bool())
        assert out.shape == (2, 1) and out.dtype == torch.bfloat16


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="hidden"):
        mean_pool(HIDDEN, RIGHT[:, :3])
    with pytest.raises(ValueError):
        cls_pool(HIDDEN[0], RIGHT)
