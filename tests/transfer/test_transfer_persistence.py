"""save_pretrained / from_pretrained round trips and the encoder-identity check."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.data.multidomain import MultiDomainDataset
from lmrec.data.splits import make_split
from lmrec.models.base import TrainData
from lmrec.models.pretrained import EncoderMismatchError, PretrainedModel
from lmrec.models.registry import load_recommender
from lmrec.models.unisrec import UniSRec
from lmrec.models.unisrec import pretrain_unisrec, unisrec_zero_shot
from lmrec.training.pretrain import PretrainConfig
from test_transfer_zero_shot import ring_dataset


class FakeEncoder:
    def __init__(self, name: str):
        self.name = name

    def identity(self):
        return {"model": self.name, "dim": 8}

    def identity_hash(self):
        return f"hash-{self.name}"


SMALL = dict(hidden=12, inner=16, n_heads=2, epochs=1, batch_size=16)


@pytest.fixture(scope="module")
def pretrained():
    rng = np.random.default_rng(0)
    md = MultiDomainDataset.from_datasets([ring_dataset("a"), ring_dataset("b", seed=1)])
    vec = rng.normal(size=(md.n_items, 8)).astype(np.float32)
    enc = FakeEncoder("enc-1")
    return pretrain_unisrec(md, vec, vec[None] + 0.01, PretrainConfig(**SMALL), encoder_identity=enc.identity(),
                            encoder_hash=enc.identity_hash())


def test_pretrained_round_trip_gives_identical_scores(pretrained, tmp_path):
    pretrained.save_pretrained(tmp_path / "pre")
    loaded = PretrainedModel.from_pretrained(tmp_path / "pre", encoder=FakeEncoder("enc-1"))
    assert loaded.kind == "unisrec" and loaded.encoder_hash == "hash-enc-1"
    vec = np.random.default_rng(1).normal(size=(10, 8)).astype(np.float32)
    hist = [np.array([1, 2, 3]), np.array([4])]
    a = unisrec_zero_shot(pretrained, vec).score(np.array([0, 1]), hist)
    b = unisrec_zero_shot(loaded, vec).score(np.array([0, 1]), hist)
    np.testing.assert_array_equal(a, b)


def test_refuses_another_text_encoder(pretrained, tmp_path):
    pretrained.save_pretrained(tmp_path / "pre")
    with pytest.raises(EncoderMismatchError, match="enc-1.*cannot be used with encoder 'enc-2'"):
        PretrainedModel.from_pretrained(tmp_path / "pre", encoder=FakeEncoder("enc-2"))


def test_missing_directory_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="lmrec pretrain"):
        PretrainedModel.from_pretrained(tmp_path / "nothing")


def test_finetuned_recommender_save_load_identical_scores(pretrained, tmp_path):
    split = make_split(ring_dataset("t", seed=3), "leave-one-out")
    vec = np.random.default_rng(2).normal(size=(split.n_items, 8)).astype(np.float32)
    model = UniSRec.from_pretrained(pretrained, mode="transductive", epochs=1).fit(TrainData(split, vec))
    assert model.config["freeze_transformer"] is True
    model.save(tmp_path / "run")
    again = load_recommender(tmp_path / "run", item_vectors=vec)
    hist = split.test.histories[:4]
    np.testing.assert_array_equal(model.score(split.test.users[:4], hist), again.score(split.test.users[:4], hist))
