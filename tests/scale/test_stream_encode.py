"""Streaming catalog encoding: formats, shards, resumption, SIGKILL mid-run, corrupt shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from lmrec.scale import ShardCorruptError, read_embeddings, stream_encode


@pytest.fixture(scope="module")
def tiny_encoder(tiny_bert_path):
    from lmrec.encoders.factory import load_encoder

    return load_encoder(str(tiny_bert_path), max_length=32)


@pytest.mark.parametrize("name", ["cat.parquet", "cat.csv", "cat.jsonl"])
def test_every_format_gives_the_direct_vectors(catalog_factory, tiny_encoder, tmp_path, name):
    path = catalog_factory(name, 23)
    rep = stream_encode(path, tmp_path / "out", encoder=tiny_encoder, text_column=None,
                        text_fields=["title", "genre"], shard_size=5, batch_size=4)
    assert (rep.n_items, rep.n_shards, rep.n_encoded, rep.dim) == (23, 5, 23, 32)
    ids, vectors = read_embeddings(tmp_path / "out")
    assert ids == [f"i{k}" for k in range(23)]
    direct = tiny_encoder.encode([f"Item number {k}. {['space opera', 'romantic comedy', 'horror', 'documentary'][k % 4]}"
                                  for k in range(23)])
    cos = (vectors * direct).sum(1) / np.linalg.norm(vectors, axis=1) / np.linalg.norm(direct, axis=1)
    assert cos.min() >= 0.9999


def test_rerun_skips_finished_shards_and_refuses_other_settings(catalog_factory, tiny_encoder, tmp_path):
    path = catalog_factory("cat.csv", 12)
    out = tmp_path / "out"
    stream_encode(path, out, encoder=tiny_encoder, text_column="title", shard_size=5)
    again = stream_encode(path, out, encoder=tiny_encoder, text_column="title", shard_size=5)
    assert (again.n_shards_done_before, again.n_encoded) == (3, 0)
    with pytest.raises(ValueError, match="shard_size"):
        stream_encode(path, out, encoder=tiny_encoder, text_column="title", shard_size=4)
    with pytest.raises(ValueError, match=r"no column\(s\) \['nope'\]"):
        stream_encode(path, tmp_path / "o2", encoder=tiny_encoder, text_column="nope")


def test_corrupt_shard_is_reencoded_and_never_read(catalog_factory, tiny_encoder, tmp_path):
    path = catalog_factory("cat.parquet", 12)
    out = tmp_path / "out"
    stream_encode(path, out, encoder=tiny_encoder, text_column="title", shard_size=5)
    ids, want = read_embeddings(out)
    shard = out / "part-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:-20])                    # truncated
    with pytest.raises(ShardCorruptError, match="part-00001.parquet"):
        read_embeddings(out)
    with pytest.warns(UserWarning, match="part-00001.parquet"):
        rep = stream_encode(path, out, encoder=tiny_encoder, text_column="title", shard_size=5)
    assert rep.n_encoded == 5 and (out / "part-00001.parquet.corrupt").exists()
    np.testing.assert_allclose(read_embeddings(out)[1], want, atol=1e-6)


SCRIPT = textwrap.dedent("""
    import sys, time
    from lmrec.encoders.factory import load_encoder
    from lmrec.scale import stream_encode
    enc = load_encoder(sys.argv[3], max_length=32)
    plain = enc.encode
    def slow(texts, **kw):
        time.sleep(0.4)            # slow enough to be killed mid-run
        return plain(texts, **kw)
    enc.encode = slow
    stream_encode(sys.argv[1], sys.argv[2], encoder=enc, text_column="title", shard_size=4)
""")


def test_sigkill_mid_run_then_restart_equals_uninterrupted_run(catalog_factory, tiny_bert_path, tiny_encoder,
                                                                tmp_path):
    path = catalog_factory("cat.parquet", 40)                      # 10 shards of 4
    out = tmp_path / "killed"
    script = tmp_path / "encode.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script), str(path), str(out), str(tiny_bert_path)], env=env)
    try:
        deadline = time.time() + 120
        while len(list(out.glob("part-*.json"))) < 3:
            assert proc.poll() is None, "the encoder finished or died before it could be killed"
            assert time.time() < deadline, "no shard written within 120 s"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.glob("part-*")}
    n_before = len([n for n in before if n.endswith(".json")])
    assert 3 <= n_before < 10
    rep = stream_encode(path, out, encoder=tiny_encoder, text_column="title", shard_size=4)
    assert rep.n_shards_done_before == n_before and rep.n_encoded == 40 - 4 * n_before
    for name, (mtime, data) in before.items():                     # no finished shard was lost or redone
        p = out / name
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data
    assert not list(out.glob(".tmp-*")) or all(p.stat().st_size >= 0 for p in out.glob(".tmp-*"))
    ref = stream_encode(path, tmp_path / "clean", encoder=tiny_encoder, text_column="title", shard_size=4)
    assert ref.n_encoded == 40
    ids_a, va = read_embeddings(out)
    ids_b, vb = read_embeddings(tmp_path / "clean")
    assert ids_a == ids_b == [f"i{k}" for k in range(40)]
    np.testing.assert_allclose(va, vb, atol=1e-6)
    assert json.loads((out / "manifest.json").read_text())["n_shards"] == 10
