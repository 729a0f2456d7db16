"""The user vector must not depend on how much padding the history gets."""

import torch

from lmrec.models.news_attention import UserEncoder
from lmrec.models.nrms import NRMSNewsEncoder


def _padded(clicked, extra):
    b, h, d = clicked.shape
    garbage = torch.randn(b, extra, d) * 100          # padded rows hold garbage, not zeros
    mask = torch.zeros(b, h + extra, dtype=torch.bool)
    mask[:, :h] = True
    return torch.cat([clicked, garbage], dim=1), mask


def test_user_vector_is_padding_invariant():
    torch.manual_seed(0)
    enc = UserEncoder(dim=16, heads=4, query_dim=8).eval()
    clicked = torch.randn(3, 4, 16)
    base = enc(clicked, torch.ones(3, 4, dtype=torch.bool))
    for extra in (1, 7, 30):
        x, mask = _padded(clicked, extra)
        assert torch.allclose(enc(x, mask), base, atol=1e-5), extra


def test_short_history_in_a_batch_with_long_ones():
    torch.manual_seed(1)
    enc = UserEncoder(dim=16, heads=4, query_dim=8).eval()
    short = torch.randn(1, 2, 16)
    alone = enc(short, torch.ones(1, 2, dtype=torch.bool))
    batch = torch.randn(2, 9, 16)
    batch[0, :2] = short[0]
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[0, 2:] = False
    assert torch.allclose(enc(batch, mask)[0], alone[0], atol=1e-5)


def test_empty_history_gets_the_learned_empty_user():
    enc = UserEncoder(dim=8, heads=2, query_dim=4).eval()
    with torch.no_grad():
        enc.empty_user.copy_(torch.arange(8.0))
    out = enc(torch.randn(2, 3, 8), torch.tensor([[False] * 3, [True, False, False]]))
    assert out[0].tolist() == list(range(8))
    assert not torch.equal(out[1], torch.arange(8.0))
    assert enc(torch.zeros(2, 0, 8), torch.zeros(2, 0, dtype=torch.bool))[1].tolist() == list(range(8))


def test_nrms_news_vector_is_title_padding_invariant():
    torch.manual_seed(2)
    enc = NRMSNewsEncoder(vocab_size=50, emb_dim=16, heads=4, head_dim=4, query_dim=8, dropout=0.0).eval()
    ids = torch.tensor([[5, 9, 3]])
    base = enc(ids, torch.ones(1, 3, dtype=torch.bool))
    padded = torch.tensor([[5, 9, 3, 0, 0, 0, 0]])
    mask = torch.tensor([[True, True, True, False, False, False, False]])
    assert torch.allclose(enc(padded, mask), base, atol=1e-5)
