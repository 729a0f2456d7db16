"""Ray Data encoding on a local 2-CPU cluster with a tiny random BERT: same vectors as the
single-process path, resumable shards. Skipped only where Ray cannot start."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.scale import read_embeddings, stream_encode


@pytest.fixture(scope="module")
def ray_cluster():
    pytest.importorskip("ray", reason="ray is not installed")
    from lmrec.scale.ray_encode import start_ray

    try:
        start_ray(num_cpus=2)
    except RuntimeError as exc:
        pytest.skip(f"Ray cannot start here: {exc}")
    import ray

    yield ray
    ray.shutdown()


def test_ray_matches_single_process_and_resumes(ray_cluster, catalog_factory, tiny_bert_path, tmp_path):
    from lmrec.encoders.factory import load_encoder
    from lmrec.scale.ray_encode import ray_encode

    path = catalog_factory("cat.parquet", 30)
    out = tmp_path / "ray"
    rep = ray_encode(path, out, encoder=str(tiny_bert_path), max_length=32, text_column=None,
                     text_fields=["title", "genre"], shard_size=8, batch_size=4, concurrency=2)
    assert (rep.engine, rep.n_items, rep.n_shards, rep.n_encoded) == ("ray", 30, 4, 30)
    local = stream_encode(path, tmp_path / "local", encoder=load_encoder(str(tiny_bert_path), max_length=32),
                          text_column=None, text_fields=["title", "genre"], shard_size=8, batch_size=16)
    assert local.n_encoded == 30
    ids_r, vr = read_embeddings(out)
    ids_l, vl = read_embeddings(tmp_path / "local")
    assert ids_r == ids_l == [f"i{k}" for k in range(30)]
    cos = (vr * vl).sum(1) / np.linalg.norm(vr, axis=1) / np.linalg.norm(vl, axis=1)
    assert cos.min() >= 0.9999
    # resume: drop one finished shard; only its 8 rows are encoded again
    (out / "part-00002.parquet").unlink()
    (out / "part-00002.json").unlink()
    again = ray_encode(path, out, encoder=str(tiny_bert_path), max_length=32, text_column=None,
                       text_fields=["title", "genre"], shard_size=8, batch_size=4, concurrency=2)
    assert (again.n_shards_done_before, again.n_encoded) == (3, 8)
    np.testing.assert_allclose(read_embeddings(out)[1], vr, atol=1e-6)
    # the single-process engine resumes a Ray output folder (same shards, same manifest key)
    assert stream_encode(path, out, encoder=load_encoder(str(tiny_bert_path), max_length=32), text_column=None,
                         text_fields=["title", "genre"], shard_size=8).n_encoded == 0
