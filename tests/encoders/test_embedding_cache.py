"""On-disk embedding cache: hits/misses, keying, atomic writes, resume, corruption."""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest

from lmrec.encoders.cache import EmbeddingCache, default_cache_root, encode_cached

TEXTS = [f"product title {i}" for i in range(10)]


def _chunks(folder):
    return sorted(folder.glob("chunk-*.npz"))


def test_miss_then_hit(tmp_path, fake_encoder):
    enc, cache = fake_encoder(), EmbeddingCache(tmp_path)
    first = cache.encode(enc, TEXTS, namespace="tpl-v1", chunk_size=4)
    s = cache.last_stats
    assert (s.n_unique, s.n_hits, s.n_encoded, s.n_chunks_written) == (10, 0, 10, 3)
    assert len(enc.sent) == 10

    second = cache.encode(enc, TEXTS, namespace="tpl-v1", chunk_size=4, show_progress=True)
    s = cache.last_stats
    assert (s.n_hits, s.n_encoded, s.n_chunks_written) == (10, 0, 0)
    assert len(enc.sent) == 10  # nothing new reached the model
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, fake_encoder().encode(TEXTS))


def test_only_new_texts_are_encoded_and_duplicates_once(tmp_path, fake_encoder):
    enc, cache = fake_encoder(), EmbeddingCache(tmp_path)
    cache.encode(enc, TEXTS[:6])
    enc.sent.clear()
    texts = TEXTS[4:] + ["", "   "] + TEXTS[8:] * 3  # 4..9 + empties + 8,9 repeated
    out = cache.encode(enc, texts)
    assert sorted(enc.sent) == sorted(TEXTS[6:])  # 6..9 once each
    s = cache.last_stats
    assert (s.n_texts, s.n_empty, s.n_unique, s.n_hits, s.n_encoded) == (14, 2, 6, 2, 4)
    assert (out[6:8] == 0).all()
    np.testing.assert_array_equal(out, fake_encoder().encode(texts))


def test_identity_and_namespace_key_the_folder(tmp_path, fake_encoder):
    cache = EmbeddingCache(tmp_path)
    a, b = fake_encoder(salt="a"), fake_encoder(salt="b")
    va = cache.encode(a, TEXTS, namespace="v1")
    vb = cache.encode(b, TEXTS, namespace="v1")  # other identity: nothing served from a's vectors
    assert cache.last_stats.n_encoded == 10 and not np.allclose(va, vb)
    cache.encode(a, TEXTS, namespace="v2")  # template changed: re-encoded
    assert cache.last_stats.n_encoded == 10
    cache.encode(a, TEXTS, namespace="v1")
    assert cache.last_stats.n_hits == 10

    folder = cache.entry_dir(a, "v1")
    assert folder.parent.name.endswith(a.identity_hash())
    assert folder != cache.entry_dir(a, "v2") and folder.parent != cache.entry_dir(b, "v1").parent
    config = json.loads((folder / "config.json").read_text())
    assert config["identity"] == a.identity() and config["namespace"] == "v1" and config["dim"] == 8


def test_writes_are_atomic_and_leave_no_temp_files(tmp_path, fake_encoder, monkeypatch):
    cache = EmbeddingCache(tmp_path)
    enc = fake_encoder()
    cache.encode(enc, TEXTS, chunk_size=3)
    folder = cache.entry_dir(enc)
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith("chunk-")) == ["config.json"]
    assert len(_chunks(folder)) == 4

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        cache.encode(enc, ["a brand new text"])
    monkeypatch.undo()
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp-")]
    assert len(_chunks(folder)) == 4


def test_resume_after_interruption(tmp_path, fake_encoder):
    cache = EmbeddingCache(tmp_path)
    texts = [f"title {i} " + "w" * i for i in range(10)]
    flaky = fake_encoder(fail_after=2)  # chunks 1 and 2 finish, the 3rd call raises
    with pytest.raises(RuntimeError, match="simulated interruption"):
        cache.encode(flaky, texts, chunk_size=3)
    assert len(_chunks(cache.entry_dir(flaky))) == 2

    fresh = fake_encoder()
    out = cache.encode(fresh, texts, chunk_size=3)
    assert len(fresh.sent) == 4  # 10 - 2 finished chunks of 3
    assert cache.last_stats.n_hits == 6
    np.testing.assert_array_equal(out, fake_encoder().encode(texts))


@pytest.mark.parametrize("damage,reason", [("truncate", "unreadable"), ("flip", "checksum mismatch"),
                                           ("garbage", "unreadable")])
def test_corrupt_chunk_is_reported_and_reencoded(tmp_path, fake_encoder, damage, reason):
    cache = EmbeddingCache(tmp_path)
    enc = fake_encoder()
    good = cache.encode(enc, TEXTS, chunk_size=5)
    folder = cache.entry_dir(enc)
    victim = _chunks(folder)[0]
    data = bytearray(victim.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":  # a byte inside the vector data, past both array headers
        data[len(data) - 200] ^= 0xFF
    else:
        data = bytearray(b"not a zip file at all")
    victim.write_bytes(bytes(data))

    enc2 = fake_encoder()
    with pytest.warns(RuntimeWarning, match=f"{victim.name} \\(.*{reason}"):
        out = cache.encode(enc2, TEXTS, chunk_size=5)
    assert len(enc2.sent) == 5 and cache.last_stats.corrupt_files == [str(victim)]
    np.testing.assert_array_equal(out, good)
    assert victim.with_name(victim.name + ".corrupt").exists()  # kept aside for inspection

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the bad file is gone: no warning, all hits
        cache.encode(fake_encoder(), TEXTS, chunk_size=5)
    assert cache.last_stats.n_hits == 10


def test_default_root_and_encode_cached(tmp_path, fake_encoder, monkeypatch):
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "envroot"))
    assert default_cache_root() == tmp_path / "envroot"
    out = encode_cached(fake_encoder(), ["x", ""], namespace="v1")
    assert out.shape == (2, 8) and (out[1] == 0).all()
    assert list((tmp_path / "envroot" / "embeddings").iterdir())
    monkeypatch.delenv("LMREC_CACHE_DIR")
    assert default_cache_root() == default_cache_root().home() / ".cache" / "lmrec"


def test_bad_arguments(tmp_path, fake_encoder):
    with pytest.raises(ValueError, match="chunk_size"):
        encode_cached(fake_encoder(), ["x"], tmp_path, chunk_size=0)
    with pytest.raises(TypeError, match="single string"):
        encode_cached(fake_encoder(), "x", tmp_path)


def test_real_encoder_round_trip(tmp_path, minilm):
    texts = ["Toy Story (1995)", "", "Heat (1995)", "Toy Story (1995)"]
    first = encode_cached(minilm, texts, tmp_path, namespace="tpl")
    again = encode_cached(minilm, texts, tmp_path, namespace="tpl")
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, minilm.encode(texts), atol=1e-5)
