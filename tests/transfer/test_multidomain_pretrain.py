"""Multi-domain dataset, overlap check, LLMCDSR loader, and a short pre-train + fine-tune."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from lmrec.data.dataset import RecDataset
from lmrec.data.loaders.llmcdsr import load_llmcdsr
from lmrec.data.multidomain import DomainOverlapError, MultiDomainDataset, check_domain_overlap, normalise_title
from lmrec.data.splits import make_split
from lmrec.models.base import TrainData
from lmrec.models.fusion import Fusion
from lmrec.models.unisrec import UniSRec, finetune_unisrec, pretrain_unisrec
from lmrec.training.pretrain import PretrainConfig, subsample_train_users
from lmrec.transfer import encode_domains, encode_word_drop
from test_transfer_zero_shot import ring_dataset


def test_domains_get_separate_id_maps_and_one_global_table():
    # u1 alternates food/kitchen (8 items, 6 in training), u2 buys food only (5 items, 3 in training)
    inter = pd.DataFrame({"user_id": ["u1"] * 8 + ["u2"] * 5,
                          "item_id": ["f1", "k1", "f2", "k2", "f3", "k1", "f1", "k2", "f2", "f1", "f3", "f1", "f2"]})
    inter["domain"] = np.where(inter["item_id"].str.startswith("f"), "food", "kitchen")
    items = pd.DataFrame({"title": ["apple", "pan", "pear", "pot", "fig"]}, index=["f1", "k1", "f2", "k2", "f3"])
    ds = RecDataset("fk", inter, items, text_fields=["title"])
    md = MultiDomainDataset.from_datasets([ds, ring_dataset("g", n_users=5, n_items=4)], min_seq_len=2)
    names = [d.name for d in md.domains]
    assert names == ["fk:food", "fk:kitchen", "g"]
    food, kitchen, g = md.domains
    # training parts: u1 food [f1, f2, f3], kitchen [k1, k2, k1]; u2 food [f2, f1, f3]
    assert [food.item_map.ids[i] for i in food.train[0]] == ["f1", "f2", "f3"]
    assert [kitchen.item_map.ids[i] for i in kitchen.train[0]] == ["k1", "k2", "k1"]
    assert len(food.train) == 2 and len(kitchen.train) == 1 and kitchen.n_items == 2
    assert kitchen.offset == food.n_items and g.offset == food.n_items + kitchen.n_items
    assert md.n_items == food.n_items + kitchen.n_items + g.n_items
    seqs, dom = md.sequences()
    assert all(((s >= md.domains[d].offset) & (s < md.domains[d].offset + md.domains[d].n_items)).all()
               for s, d in zip(seqs, dom))
    assert len(md.texts) == md.n_items


def test_overlap_check_refuses_same_products_and_reports_counts():
    a = ring_dataset("x")
    same = RecDataset("x-other-format", a.interactions.assign(item_id=lambda d: "other-" + d["item_id"]),
                      a.items.set_axis(["other-" + i for i in a.items.index]).assign(
                          title=lambda d: d["title"] + " Industrial & Scientific"), text_fields=["title"])
    with pytest.raises(DomainOverlapError, match="10 shared titles") as err:
        check_domain_overlap([same], a)
    assert err.value.report["sources"][0]["share"] == 1.0
    unrelated = ring_dataset("q")
    rep = check_domain_overlap([unrelated], a)
    assert rep["sources"][0]["shared_ids"] == 0 and rep["sources"][0]["shared_titles"] == 0


def test_small_overlap_is_reported_and_excluded():
    a = ring_dataset("x", n_items=10)
    b = ring_dataset("y", n_items=200, n_users=60)
    b.items.loc["y0", "title"] = "x product 3"  # one product listed in both categories
    rep = check_domain_overlap([b], a, max_share=0.2)
    assert rep["sources"][0]["excluded_item_ids"] == ["y0"]
    md = MultiDomainDataset.from_datasets([b], exclude_items={"y": {"y0"}})
    assert "y0" not in md.domains[0].item_map
    assert md.report["n_interactions_excluded"] > 0


def test_normalise_title():
    assert normalise_title("Foo &amp; Bar-Baz (2 pk)") == "foo bar baz 2 pk"


def test_llmcdsr_loader(tmp_path):
    (tmp_path / "num.txt").write_text("2\n3\n")
    (tmp_path / "item_set_A.json").write_text(json.dumps({"FA": 0, "FB": 1}))
    (tmp_path / "item_set_B.json").write_text(json.dumps({"KA": 0, "KB": 1, "KC": 2}))
    (tmp_path / "text_A.json").write_text(json.dumps({"FA": "apple", "FB": "pear"}))
    (tmp_path / "text_B.json").write_text(json.dumps({"KA": "pan", "KB": "pot", "KC": "cup"}))
    (tmp_path / "train_A.txt").write_text("1\t0,1,0\n")
    (tmp_path / "train_B.txt").write_text("1\t2,3,\n")
    (tmp_path / "train_overlap.txt").write_text("1\t0,2,1,4\n")
    (tmp_path / "valid.txt").write_text("1\t0,3,4\n")
    (tmp_path / "test.txt").write_text("1\t1,2\n")
    ds = load_llmcdsr(tmp_path, "fk")
    inter = ds.interactions
    assert inter["user_id"].nunique() == 5  # A:1, B:1, O:1, V:1, T:1 are different people
    assert inter[inter.user_id == "O:1"]["item_id"].tolist() == ["FA", "KA", "FB", "KC"]
    assert inter[inter.user_id == "O:1"]["domain"].tolist() == ["food", "kitchen", "food", "kitchen"]
    assert inter[inter.user_id == "V:1"]["split"].tolist() == ["train", "train", "valid"]
    assert inter[inter.user_id == "T:1"]["split"].tolist() == ["train", "test"]
    assert ds.items.loc["KC", "title"] == "cup"
    (tmp_path / "train_A.txt").write_text("1\t0,9\n")
    with pytest.raises(ValueError, match=r"train_A.txt, line 1: item id '9'"):
        load_llmcdsr(tmp_path)


def test_short_multidomain_pretrain_then_finetune_learns_the_ring():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    # one shared "text" space: item k of every domain has the same text vector, so what is
    # learned on the sources (k → k+1) transfers to the target
    base = rng.normal(size=(10, 16)).astype(np.float32)
    md = MultiDomainDataset.from_datasets([ring_dataset("a", n_users=60), ring_dataset("b", n_users=60, seed=1)])
    order = np.array([int(i[1:]) for d in md.domains for i in d.item_map.ids])
    vec = base[order]
    cfg = PretrainConfig(hidden=16, inner=32, n_heads=2, dropout=0.1, epochs=20, batch_size=64, lr=3e-3)
    pre = pretrain_unisrec(md, vec, vec[None], cfg, encoder_identity={"model": "f"}, encoder_hash="f")
    losses = [e["seq_item"] for e in pre.pretraining["training"]["epochs"] if e["epoch"] >= 0]  # -1: untrained
    assert losses[-1] < losses[0]
    target = ring_dataset("t", n_users=30, seed=5)
    split = make_split(target, "leave-one-out")
    tvec = base[np.array([int(i[1:]) for i in target.item_map.ids])]
    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.models.unisrec import unisrec_zero_shot

    zero = evaluate_ranking(unisrec_zero_shot(pre, tvec).score, split.test, split.n_items, ks=(1,))
    assert zero["metrics"]["recall@1"] > 0.5  # the ring learned on the sources transfers; random: 1/5
    model = finetune_unisrec(pre, TrainData(split, tvec, seed=0), mode="inductive", epochs=3, patience=3)
    assert model.history_["trainable_parameters"] < sum(p.numel() for p in model.net_.parameters())  # frozen
    r = evaluate_ranking(model.score, split.test, split.n_items, ks=(1,))
    assert r["metrics"]["recall@1"] > 0.5


def test_unisrec_from_scratch_must_not_freeze():
    split = make_split(ring_dataset("t"), "leave-one-out")
    with pytest.raises(ValueError, match="freeze_transformer=False"):
        UniSRec(mode="inductive", freeze_transformer=True).fit(
            TrainData(split, np.ones((split.n_items, 4), dtype=np.float32)))


def test_fewshot_subsample_keeps_cases():
    split = make_split(ring_dataset("t", n_users=40), "leave-one-out")
    sub = subsample_train_users(split, 0.25, seed=0)
    assert sum(len(t) > 0 for t in sub.train) == 10
    assert len(sub.test) == len(split.test)


def test_fusion_cold_items_fall_back_to_text():
    split = make_split(ring_dataset("t", n_users=20), "cold-start-items", cold_frac=0.2)
    vec = np.random.default_rng(0).normal(size=(split.n_items, 8)).astype(np.float32)
    model = Fusion(hidden=8, inner=16, epochs=1).fit(TrainData(split, vec))
    g = model.net_.gates()[1:].detach()
    cold = ~split.warm_items
    assert cold.sum() == 2
    assert torch.all(g[torch.from_numpy(cold)] == 1.0)  # text only
    assert model.history_["gate"]["text_share_cold_items"] == 1.0


def test_fusion_across_domains_reports_the_gate_per_domain():
    split = make_split(ring_dataset("t", n_users=12, n_items=6), "leave-one-out")
    md = MultiDomainDataset.from_datasets([ring_dataset("src", n_users=10, n_items=5)], min_seq_len=2)
    rng = np.random.default_rng(0)
    vec = rng.normal(size=(split.n_items, 8)).astype(np.float32)
    src_vec = rng.normal(size=(md.n_items, 8)).astype(np.float32)
    model = Fusion(hidden=8, inner=16, epochs=1).fit_multidomain(TrainData(split, vec), md, src_vec)
    assert model.score(split.test.users[:2], split.test.histories[:2]).shape == (2, split.n_items)
    per = model.history_["gate"]["per_domain"]
    assert [d["domain"] for d in per] == ["target", "src"]
    assert per[0]["n_items"] == split.n_items and per[1]["n_items"] == md.n_items
    assert per[0]["n_train_interactions"] == sum(len(t) for t in split.train)
    assert per[1]["n_train_interactions"] == sum(len(t) for t in md.domains[0].train)
    g = model.net_.gates()[1:].mean(dim=1).detach().numpy()
    warm = split.warm_items
    assert per[0]["text_share_warm_items"] == pytest.approx(float(g[:split.n_items][warm].mean()), abs=1e-4)


class WordCountEncoder:
    """Stand-in text encoder for the cache: vector = [number of words, number of characters]."""

    backend = "fake"
    dim = 2
    max_length = 16

    def identity(self):
        return {"backend": "fake", "model": "word-count", "dim": 2}

    def identity_hash(self):
        return "wordcount0000000"

    def count_tokens(self, texts):
        return np.array([len(t.split()) for t in texts])

    def encode(self, texts, batch_size=64, show_progress=False):
        return np.array([[len(t.split()), len(t)] for t in texts], dtype=np.float32).reshape(-1, 2)


def test_encode_and_word_drop_variants_go_through_the_cache(tmp_path):
    md = MultiDomainDataset.from_datasets([ring_dataset("a", n_items=4)])  # titles "a product k": 3 words
    enc = WordCountEncoder()
    vec = encode_domains(md, enc, tmp_path)
    assert vec.shape == (md.n_items, 2) and (vec[:, 0] == 3).all()
    aug = encode_word_drop(md, enc, tmp_path, n_variants=2, p=0.5, seed=0)
    assert aug.shape == (2, md.n_items, 2)
    assert (aug[..., 0] >= 1).all() and (aug[..., 0] <= 3).all() and (aug[..., 0] < 3).any()
    assert any((tmp_path / "embeddings").rglob("chunk-*.npz"))
