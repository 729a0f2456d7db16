"""UniSRec ``init_from``: a fit that starts from a saved UniSRec run (two-stage text → text + ID)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmrec.data.splits import make_split
from lmrec.models import TrainData
from lmrec.models.unisrec import UniSRec, trained_unisrec_state
from test_transfer_zero_shot import ring_dataset

ARCH = {"hidden": 8, "n_heads": 2, "inner": 16, "n_experts": 2}


@pytest.fixture()
def trained_run(tmp_path):
    split = make_split(ring_dataset("t", seed=1), "leave-one-out")
    vec = np.random.default_rng(0).normal(size=(split.n_items, 6)).astype(np.float32)
    model = UniSRec(mode="inductive", freeze_transformer=False, epochs=2, patience=2, **ARCH)
    model.fit(TrainData(split, vec, seed=0))
    model.save(tmp_path / "run" / "model")          # the layout lmrec train --out writes
    return tmp_path / "run", model, split, vec


def test_state_without_id_table_from_run_or_model_dir(trained_run):
    root, model, _, _ = trained_run
    cfg = UniSRec(mode="transductive", **ARCH).config
    for path in (root, root / "model"):
        state = trained_unisrec_state(path, cfg)
        assert not any(k.startswith("id_emb") for k in state)
        for k, v in model.net_.state_dict().items():
            torch.testing.assert_close(state[k], v)


def test_transductive_fit_starts_from_the_inductive_weights(trained_run):
    root, inductive, split, vec = trained_run
    two_stage = UniSRec(mode="transductive", freeze_transformer=True, epochs=1, patience=1, lr=1e-9,
                        init_from=str(root), **ARCH)
    two_stage.fit(TrainData(split, vec, seed=0))
    # frozen Transformer and a negligible lr: the text path is the inductive model's
    for k, v in inductive.net_.state_dict().items():
        torch.testing.assert_close(two_stage.net_.state_dict()[k], v, atol=1e-6, rtol=0)
    assert two_stage.net_.id_emb is not None
    assert two_stage.config["init_from"] == str(root)


def test_missing_run_names_the_command(tmp_path, trained_run):
    _, _, split, vec = trained_run
    model = UniSRec(mode="transductive", freeze_transformer=False, init_from=str(tmp_path / "nothing"), **ARCH)
    with pytest.raises(FileNotFoundError, match="lmrec train --model unisrec"):
        model.fit(TrainData(split, vec))


def test_other_architecture_names_the_keys(trained_run):
    root, _, split, vec = trained_run
    model = UniSRec(mode="transductive", freeze_transformer=False, init_from=str(root), **{**ARCH, "hidden": 12})
    with pytest.raises(ValueError, match="hidden: saved 8 vs 12"):
        model.fit(TrainData(split, vec))


def test_other_text_vector_size_is_a_clear_error(trained_run):
    root, _, split, _ = trained_run
    model = UniSRec(mode="transductive", freeze_transformer=False, init_from=str(root), **ARCH)
    with pytest.raises(ValueError, match="text vectors of size 9"):
        model.fit(TrainData(split, np.ones((split.n_items, 9), dtype=np.float32)))


def test_init_from_a_non_unisrec_run(tmp_path, trained_run):
    _, _, split, vec = trained_run
    (tmp_path / "pop").mkdir()
    (tmp_path / "pop" / "config.json").write_text('{"model": "pop", "config": {}}')
    model = UniSRec(mode="transductive", freeze_transformer=False, init_from=str(tmp_path / "pop"), **ARCH)
    with pytest.raises(ValueError, match="'pop' model"):
        model.fit(TrainData(split, vec))
