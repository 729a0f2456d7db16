"""TextEncoder contract (with a torch-free fake backend), batching, fingerprints, resolution."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from lmrec.encoders import base
from lmrec.encoders.base import (
    ModelNotAvailableError,
    length_sorted_batches,
    model_fingerprints,
    resolve_model,
    validate_texts,
)


def test_length_sorted_batches_longest_first_and_a_permutation():
    batches = length_sorted_batches([3, 10, 1, 10, 5], batch_size=2)
    assert [b.tolist() for b in batches] == [[1, 3], [4, 0], [2]]  # ties keep input order
    with pytest.raises(ValueError, match="batch_size"):
        length_sorted_batches([1], 0)


def test_encode_keeps_order_and_zero_rows_for_empty_texts(fake_encoder):
    enc = fake_encoder()
    texts = ["bb", "", "a", "   \n\t", "cccc", "a"]
    out = enc.encode(texts, batch_size=2)
    assert out.dtype == np.float32 and out.shape == (6, 8)
    for i, t in enumerate(texts):
        expected = fake_encoder.vector(t) if t.strip() else np.zeros(8, np.float32)
        np.testing.assert_array_equal(out[i], expected)
    assert sorted(enc.sent) == ["a", "bb", "cccc"]  # empty texts never reach the model; "a" once
    assert enc.batches[0] == ["cccc", "bb"]  # longest first


def test_encode_independent_of_batch_size(fake_encoder):
    texts = [f"text {'x' * (i % 7)} {i}" for i in range(23)] + [""]
    ref = fake_encoder().encode(texts, batch_size=64)
    for bs in (1, 7):
        np.testing.assert_array_equal(fake_encoder().encode(texts, batch_size=bs), ref)
    np.testing.assert_array_equal(fake_encoder().encode(texts, batch_size=5, show_progress=True), ref)


def test_all_empty_input_never_calls_model(fake_encoder):
    enc = fake_encoder()
    assert enc.encode(["", " "]).tolist() == np.zeros((2, 8)).tolist()
    assert enc.encode([]).shape == (0, 8)
    assert enc.sent == []


def test_bad_inputs_are_named(fake_encoder):
    enc = fake_encoder()
    with pytest.raises(TypeError, match="single string"):
        enc.encode("hello")
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        enc.encode(["ok", None])
    with pytest.raises(TypeError, match=r"texts\[0\] is float"):
        validate_texts([float("nan")])
    with pytest.raises(ValueError, match="batch_size"):
        enc.encode(["a"], batch_size=0)


def test_nan_vectors_raise(fake_encoder):
    enc = fake_encoder()
    enc._encode_batch = lambda texts: np.full((len(texts), 8), np.nan, np.float32)
    with pytest.raises(FloatingPointError, match=r"first indices \[1\]"):
        enc.encode(["", "boom"])


def test_count_tokens_zero_for_empty(fake_encoder):
    counts = fake_encoder().count_tokens(["one two", "", "a b c d"])
    assert counts.dtype == np.int64 and counts.tolist() == [4, 0, 6]


def test_identity_hash_is_short_stable_and_sensitive(fake_encoder):
    a, b = fake_encoder(salt="x"), fake_encoder(salt="x")
    assert a.identity_hash() == b.identity_hash() and len(a.identity_hash()) == 16
    assert fake_encoder(salt="y").identity_hash() != a.identity_hash()
    assert repr(a) == "FakeEncoder(model='fake/model', dim=8)"


def test_weights_fingerprint_tracks_content_and_is_memoised(tmp_path, monkeypatch):
    (tmp_path / "model.safetensors").write_bytes(b"weights-v1")
    (tmp_path / "config.json").write_text('{"hidden_size": 4}')
    (tmp_path / "README.md").write_text("not part of any fingerprint")
    w1, c1 = model_fingerprints([tmp_path], tmp_path)
    assert w1.startswith("sha256:") and c1.startswith("sha256:") and w1 != c1

    reads = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda p, *a, **k: reads.append(str(p)) or real_open(p, *a, **k))
    assert model_fingerprints([tmp_path], tmp_path) == (w1, c1)
    assert not any(r.endswith("model.safetensors") for r in reads)  # served from the memo
    monkeypatch.undo()

    (tmp_path / "README.md").write_text("changed")
    assert model_fingerprints([tmp_path], tmp_path) == (w1, c1)
    (tmp_path / "model.safetensors").write_bytes(b"weights-v2")
    w2, _ = model_fingerprints([tmp_path], tmp_path)
    assert w2 != w1


def test_gguf_fingerprint_covers_only_the_chosen_file(tmp_path):
    (tmp_path / "m-q4.gguf").write_bytes(b"q4")
    (tmp_path / "m-q8.gguf").write_bytes(b"q8")
    w4, _ = model_fingerprints([tmp_path], tmp_path, gguf_file="m-q4.gguf")
    w8, _ = model_fingerprints([tmp_path], tmp_path, gguf_file="m-q8.gguf")
    assert w4 != w8
    (tmp_path / "m-q8.gguf").write_bytes(b"q8-changed")
    assert model_fingerprints([tmp_path], tmp_path, gguf_file="m-q4.gguf")[0] == w4


def test_big_file_hashes_are_memoised_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "cache"))
    big = tmp_path / "model.safetensors"
    big.write_bytes(os.urandom(1 << 20))
    digest = base.file_sha256(big)
    memo = json.loads((tmp_path / "cache" / "fingerprints.json").read_text())
    assert digest in memo.values()


def test_resolve_local_folder_and_missing_paths(tmp_path):
    r = resolve_model(tmp_path)
    assert r.path == tmp_path.resolve() and r.revision is None and not r.from_hub
    with pytest.raises(FileNotFoundError, match="no model folder"):
        resolve_model(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no model folder"):
        resolve_model("./surely/not/here")


def test_hub_id_offline_says_pass_a_local_path():
    with pytest.raises(ModelNotAvailableError, match="not available offline") as info:
        resolve_model("lmrec-test-org/definitely-not-a-cached-model")
    assert "local path" in str(info.value)


def test_package_import_is_light():
    code = ("import sys, lmrec.encoders; "
            "print([m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_hub_model_is_pinned_by_its_revision(tmp_path, monkeypatch):
    import huggingface_hub

    snapshot = tmp_path / "models--org--model" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo_id, **kw: calls.append((repo_id, kw)) or str(snapshot))
    r = resolve_model("org/model")
    assert (r.path, r.name, r.revision, r.from_hub) == (snapshot, "org/model", "0123abcd", True)
    assert base.model_identity_fingerprints(r, [r.path]) == ("hub-revision:0123abcd",) * 2
    resolve_model("org/model", gguf_file="m-q4.gguf")
    assert "m-q4.gguf" in calls[-1][1]["allow_patterns"]  # only the chosen GGUF is fetched
