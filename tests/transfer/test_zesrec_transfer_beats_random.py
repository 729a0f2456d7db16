"""ZESRec pre-trained on one synthetic domain must transfer, zero-shot, to another.

Regression test for near-random zero-shot ZESRec (Recall@10 0.0046 on Scientific, random
0.0023): an MLP + GRU trained from scratch with dot-product scores memorised the source items
and learned no transferable similarity. Here both domains follow the same rule — the next item
is one of the 5 text-nearest neighbours of the current one — but share no item, so only a model
that learned "text-similar to the recent items" can score the new domain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.multidomain import MultiDomainDataset
from lmrec.models.zesrec import ZESRec
from lmrec.models.zesrec import pretrain_zesrec
from lmrec.training.pretrain import PretrainConfig

N_ITEMS, DIM, K = 200, 16, 5


def neighbour_walk_domain(name: str, seed: int, n_users: int = 150, length: int = 8):
    """Unit text vectors ``{title: [DIM]}`` and a dataset whose users walk to text-nearest neighbours."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_ITEMS, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    near = np.argsort(-(x @ x.T), axis=1)[:, 1:K + 1]
    rows, seqs = [], []
    for u in range(n_users):
        s = [int(rng.integers(N_ITEMS))]
        for _ in range(length - 1):
            s.append(int(near[s[-1], rng.integers(K)]))
        seqs.append(np.array(s))
        rows += [(f"{name}u{u}", f"{name}{i}", t) for t, i in enumerate(s)]
    items = pd.DataFrame({"title": [f"{name} item {i}" for i in range(N_ITEMS)]},
                         index=[f"{name}{i}" for i in range(N_ITEMS)])
    ds = RecDataset(name, pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]), items,
                    text_fields=["title"])
    return ds, {f"{name} item {i}": x[i] for i in range(N_ITEMS)}, x, seqs


def recall_at_10(scores: np.ndarray, targets: np.ndarray) -> float:
    rank = (scores > scores[np.arange(len(targets)), targets][:, None]).sum(axis=1)
    return float((rank < 10).mean())


def test_zero_shot_zesrec_beats_random_on_an_unseen_domain():
    src, text_vec, _, _ = neighbour_walk_domain("src", seed=0)
    _, _, x_tgt, tgt_seqs = neighbour_walk_domain("tgt", seed=1)
    md = MultiDomainDataset.from_datasets([src])
    vectors = np.stack([text_vec[t] for t in md.texts])  # global order of the shared text table
    pre = pretrain_zesrec(md, vectors, PretrainConfig(epochs=8, batch_size=32, zesrec_hidden=32, seed=0),
                          encoder_identity={"model": "fake"}, encoder_hash="fake")
    model = ZESRec.from_pretrained(pre).set_catalog(x_tgt)
    hists, targets = [s[:-1] for s in tgt_seqs], np.array([s[-1] for s in tgt_seqs])
    got = recall_at_10(model.score(np.arange(len(hists)), hists), targets)
    print(f"zero-shot recall@10 {got:.3f}")
    # random: 10 / N_ITEMS = 0.05; the rule is learnable from text alone (last-item text
    # similarity scores 1.0); the old from-scratch MLP + GRU with dot products got 0.1-0.2 here
    assert got >= 0.5
    assert pre.pretraining["training"]["n_valid"] > 0  # model selection used held-out *source* sequences
