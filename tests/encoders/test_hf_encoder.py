"""HFEncoder on tiny random-weight models built in tmp dirs (BERT, Llama, GPT-2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmrec.encoders.hf import HFEncoder

TEXTS = ["hello", "", "hello world, this is a longer text", "x", "a medium sized sentence", "  "]


def _manual(enc: HFEncoder, text: str, pooling: str) -> np.ndarray:
    """Run the raw model on one unpadded text and pool by hand (no lmrec pooling code)."""
    ids = enc.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        h = enc.model(input_ids=ids["input_ids"], attention_mask=ids["attention_mask"]).last_hidden_state[0]
    v = {"cls": h[0], "mean": h.mean(0), "last_token": h[-1]}[pooling]
    return (v / v.norm()).numpy()


@pytest.mark.parametrize("pooling", ["cls", "mean", "last_token"])
def test_bert_poolings_match_hand_computation(tiny_bert_dir, pooling):
    enc = HFEncoder(tiny_bert_dir, pooling=pooling, max_length=64)
    out = enc.encode(TEXTS, batch_size=3)
    assert out.shape == (6, 32) and out.dtype == np.float32 and enc.dim == 32
    assert (out[[1, 5]] == 0).all()
    for i in (0, 2, 3, 4):
        np.testing.assert_allclose(out[i], _manual(enc, TEXTS[i], pooling), atol=1e-5)


def test_poolings_differ_and_key_identity(tiny_bert_dir):
    encs = {p: HFEncoder(tiny_bert_dir, pooling=p, max_length=64) for p in ("cls", "mean", "last_token")}
    vecs = {p: e.encode(["hello world"])[0] for p, e in encs.items()}
    assert float(vecs["cls"] @ vecs["mean"]) < 0.9999
    assert len({e.identity_hash() for e in encs.values()}) == 3
    assert encs["mean"].identity()["pooling"] == "mean"


def test_batch_size_invariance(tiny_bert_dir):
    enc = HFEncoder(tiny_bert_dir, pooling="mean", max_length=64)
    texts = [f"item number {i} " + "word " * (i % 9) for i in range(25)]
    ref = enc.encode(texts, batch_size=64)
    for bs in (1, 7):
        assert ((enc.encode(texts, batch_size=bs) * ref).sum(1)).min() >= 0.9999


def test_prefix_changes_vectors_identity_and_token_count(tiny_bert_dir):
    plain = HFEncoder(tiny_bert_dir, max_length=64)
    pre = HFEncoder(tiny_bert_dir, max_length=64, prefix="query: ")
    a, b = plain.encode(["hello", ""]), pre.encode(["hello", ""])
    assert float(a[0] @ b[0]) < 0.9999 and (b[1] == 0).all()
    assert pre.identity_hash() != plain.identity_hash() and pre.identity()["prefix"] == "query: "
    assert pre.count_tokens(["hello"])[0] == plain.count_tokens(["hello"])[0] + 2
    np.testing.assert_allclose(b[0], _manual(plain, "query: hello", "mean"), atol=1e-5)


def test_max_length_truncates_and_is_clamped(tiny_bert_dir):
    with pytest.warns(UserWarning, match="using 64"):
        enc = HFEncoder(tiny_bert_dir, max_length=1000)
    assert enc.max_length == 64
    long = "word " * 200
    assert enc.count_tokens([long])[0] == 202  # untruncated: 200 words + [CLS] + [SEP]
    assert np.isfinite(enc.encode([long])).all()
    short = HFEncoder(tiny_bert_dir, max_length=8)
    assert short.identity_hash() != HFEncoder(tiny_bert_dir, max_length=9).identity_hash()


def test_normalize_false_gives_raw_pooled_vectors(tiny_bert_dir):
    raw = HFEncoder(tiny_bert_dir, max_length=64, normalize=False).encode(["hello world"])[0]
    unit = HFEncoder(tiny_bert_dir, max_length=64).encode(["hello world"])[0]
    assert abs(np.linalg.norm(raw) - 1) > 0.01
    np.testing.assert_allclose(raw / np.linalg.norm(raw), unit, atol=1e-5)


@pytest.mark.parametrize("fixture", ["tiny_llama_dir", "tiny_gpt2_dir"])
@pytest.mark.parametrize("pooling", ["last_token", "mean"])
def test_decoder_left_and_right_padding_agree(request, fixture, pooling):
    path = request.getfixturevalue(fixture)
    right = HFEncoder(path, pooling=pooling, max_length=64, padding_side="right")
    left = HFEncoder(path, pooling=pooling, max_length=64, padding_side="left")
    assert right.tokenizer.pad_token == "[SEP]"  # no pad token in the folder: EOS used
    texts = ["short", "a much longer text that forces padding of the others", "mid length text", ""]
    a, b = right.encode(texts, batch_size=4), left.encode(texts, batch_size=4)
    np.testing.assert_allclose(a, b, atol=1e-5)
    alone = np.stack([right.encode([t])[0] for t in texts[:3]])  # no padding at all
    np.testing.assert_allclose(a[:3], alone, atol=1e-5)
    assert right.identity_hash() == left.identity_hash()  # padding side does not change vectors


def test_weights_fingerprint_changes_with_weights(tmp_path, tiny_bert_dir):
    import shutil

    from safetensors.torch import load_file, save_file

    copy = tmp_path / "bert-copy"
    shutil.copytree(tiny_bert_dir, copy)
    same = HFEncoder(copy, max_length=64).identity()
    orig = HFEncoder(tiny_bert_dir, max_length=64).identity()
    assert same["weights"] == orig["weights"] and same["model"] != orig["model"]
    state = load_file(copy / "model.safetensors")
    first = next(iter(state))
    state[first] = state[first] + 1
    save_file(state, copy / "model.safetensors", metadata={"format": "pt"})
    assert HFEncoder(copy, max_length=64).identity()["weights"] != orig["weights"]


def test_bad_arguments(tiny_bert_dir):
    with pytest.raises(ValueError, match="pooling"):
        HFEncoder(tiny_bert_dir, pooling="max")
    with pytest.raises(ValueError, match="dtype"):
        HFEncoder(tiny_bert_dir, dtype="int8")
    with pytest.raises(FileNotFoundError, match="GGUF"):
        HFEncoder(tiny_bert_dir, gguf_file="missing.gguf")


def test_tokenizer_without_pad_or_eos_is_refused(tmp_path, tiny_bert_dir, minilm_tokenizer):
    import shutil

    folder = tmp_path / "nopad"
    shutil.copytree(tiny_bert_dir, folder)
    tok = minilm_tokenizer.__class__.from_pretrained(minilm_tokenizer.name_or_path)
    tok.pad_token = None
    tok.save_pretrained(folder)
    with pytest.raises(ValueError, match="neither a pad nor an EOS"):
        HFEncoder(folder)


def test_repr_is_cheap_and_readable(tiny_bert_dir):
    enc = HFEncoder(tiny_bert_dir, pooling="cls", max_length=16)
    assert repr(enc) == (f"HFEncoder(model={str(tiny_bert_dir)!r}, pooling='cls', max_length=16, "
                         f"normalize=True, prefix='', dtype='float32', dim=32)")
    assert enc._identity is None  # repr did not hash the weights
