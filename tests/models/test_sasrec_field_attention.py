"""SASRec's additive attention over per-field item vectors (field_aggregation="attention")."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.models.sasrec import build_sasrec_net, standardize_field_vectors


def _field_inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(5, 3, 6)).astype(np.float32)
    mask = np.array([[True, True, True], [True, False, True], [False, True, False],
                     [False, False, False], [True, True, False]])
    vectors[~mask] = 0.0
    return vectors, mask


def _net(item_input="text", **kw):
    vectors, mask = _field_inputs()
    return build_sasrec_net(5, item_input, None, 8, 1, 2, 16, 0.0, 4, np.ones(5, bool),
                            field_vectors=vectors, field_mask=mask, **kw), vectors, mask


def test_standardize_field_vectors_per_field_over_present_items():
    vectors, mask = _field_inputs()
    z = standardize_field_vectors(vectors, mask)
    assert z.shape == vectors.shape and z.dtype == np.float32
    assert not z[~mask].any()                                   # absent fields stay zero
    for f in range(3):
        rows = z[mask[:, f], f]
        if len(rows) >= 2:
            np.testing.assert_allclose(rows.mean(axis=0), 0.0, atol=1e-5)
            np.testing.assert_allclose(rows.std(axis=0), 1.0, atol=1e-3)
    # field 0 is standardised with its own items' statistics, not with other fields'
    x0 = vectors[mask[:, 0], 0]
    np.testing.assert_allclose(z[mask[:, 0], 0], (x0 - x0.mean(0)) / (x0.std(0) + 1e-6), atol=1e-5)


def test_weights_sum_to_one_over_present_fields_and_zero_elsewhere():
    import torch

    net, _, mask = _net()
    with torch.no_grad():
        w = net.field_weights().numpy()
    assert w.shape == (6, 3)                                     # padding row + 5 items
    assert (w[1:][~mask] == 0).all() and (w[1:][mask] > 0).all()
    sums = w.sum(axis=1)
    np.testing.assert_allclose(sums[[1, 2, 3, 5]], 1.0, atol=1e-6)
    assert sums[0] == 0 and sums[4] == 0                         # padding row; item 3 has no field
    np.testing.assert_allclose(w[3], [0, 1, 0], atol=1e-7)        # a single present field takes all weight


def test_item_text_part_is_the_weighted_sum_of_projected_fields():
    import torch

    net, _, mask = _net()
    with torch.no_grad():
        table = net.item_table()
        w = net.field_weights()
        manual = torch.einsum("nf,nfh->nh", w, net.text_proj(net.fields))   # Σ_f a_if · proj(x_if)
    assert table.shape == (6, 8)
    np.testing.assert_allclose(table[[1, 2, 3, 5]].numpy(), manual[[1, 2, 3, 5]].numpy(), atol=1e-5)
    # an item without any field is text_proj(0), the bias — what an empty template text gives
    np.testing.assert_allclose(table[4].numpy(), net.text_proj.bias.detach().numpy(), atol=1e-6)


def test_attention_is_learned_and_masked_in_training():
    import torch

    net, _, mask = _net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    before = net.field_attention.proj.weight.detach().clone()
    loss = net.item_table()[1:].pow(2).sum()
    loss.backward()
    assert net.field_attention.proj.weight.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(before, net.field_attention.proj.weight)
    assert torch.isfinite(net.item_table()).all()


def test_text_id_net_attends_too_and_id_net_refuses_fields():
    import torch

    net, _, _ = _net("text-id")
    with torch.no_grad():
        assert net.item_table().shape == (6, 8) and net.field_attention is not None
    vectors, mask = _field_inputs()
    with pytest.raises(ValueError, match="cannot attend over item fields"):
        build_sasrec_net(5, "id", None, 8, 1, 2, 16, 0.0, 4, None, field_vectors=vectors, field_mask=mask)
