"""AnnIndex: exact / HNSW / IVF-PQ against brute force, edge cases, updates, persistence."""

import numpy as np
import pytest

pytest.importorskip("faiss")

from lmrec.index import AnnIndex, IndexCorruptError  # noqa: E402

KINDS = ["flat", "hnsw", "ivfpq"]
# ivfpq on 8-d vectors with one sub-quantizer per dimension (256 levels each) is nearly exact
SMALL = {"flat": {}, "hnsw": {"ef_search": 200}, "ivfpq": {"m": 8, "nlist": 4, "nprobe": 4}}


def _data(n=600, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dim)).astype(np.float32)
    ids = rng.permutation(10 * n)[:n].astype(np.int64)  # arbitrary, non-contiguous ids
    return x, ids


def _brute_force(x, ids, q, k, metric):
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
    s = q @ x.T
    top = np.argsort(-s, axis=1)[:, :k]
    return np.take_along_axis(s, top, 1), ids[top]


@pytest.mark.filterwarnings("ignore:ivfpq")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("metric", ["ip", "cosine"])
def test_search_matches_brute_force(kind, metric):
    x, ids = _data()
    q = np.random.default_rng(1).normal(size=(25, 8)).astype(np.float32)
    index = AnnIndex.build(x, ids, kind=kind, metric=metric, **SMALL[kind])
    scores, got = index.search(q, 10)
    ref_scores, ref = _brute_force(x, ids, q, 10, metric)
    assert scores.shape == got.shape == (25, 10) and scores.dtype == np.float32 and got.dtype == np.int64
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, ref)])
    if kind == "flat":
        np.testing.assert_array_equal(got, ref)
        np.testing.assert_allclose(scores, ref_scores, rtol=1e-5, atol=1e-5)
    elif kind == "hnsw":
        assert recall == 1.0
    else:
        assert recall >= 0.9
    assert (np.diff(scores, axis=1) <= 1e-6).all()  # best first


@pytest.mark.filterwarnings("ignore:ivfpq")
@pytest.mark.parametrize("kind", KINDS)
def test_k_larger_than_catalog_returns_all_items_and_no_missing_ids(kind):
    x, ids = _data(n=300)
    index = AnnIndex.build(x, ids, kind=kind, metric="cosine", **{**SMALL[kind], "nprobe": 1} if kind == "ivfpq"
                           else SMALL[kind])
    scores, got = index.search(x[:3], 1000)
    assert got.shape == (3, 300)
    assert (got >= 0).all()
    for row in got:
        assert sorted(row) == sorted(ids)  # every item exactly once
    # a single [dim] query is a batch of one
    assert index.search(x[0], 5)[1].shape == (1, 5)


def test_nan_query_is_refused_naming_the_row():
    x, ids = _data(n=50)
    index = AnnIndex.build(x, ids)
    q = np.ones((4, 8), np.float32)
    q[2, 3] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        index.search(q, 5)
    with pytest.raises(ValueError, match="dimension 7"):
        index.search(np.ones((1, 7), np.float32), 5)
    with pytest.raises(ValueError, match="k must be"):
        index.search(q[:1], 0)


def test_cosine_and_inner_product_rank_vectors_of_different_norms_differently():
    # item 0: long vector at 45° to the query; item 1: short vector aligned with the query
    x = np.array([[100.0, 100.0], [0.1, 0.0], [0.0, 1.0]], np.float32)
    ids = np.array([10, 11, 12])
    q = np.array([[1.0, 0.0]], np.float32)
    ip = AnnIndex.build(x, ids, metric="ip")
    cos = AnnIndex.build(x, ids, metric="cosine")
    s_ip, top_ip = ip.search(q, 3)
    s_cos, top_cos = cos.search(q, 3)
    assert top_ip[0].tolist() == [10, 11, 12]  # inner products 100, 0.1, 0
    np.testing.assert_allclose(s_ip[0], [100.0, 0.1, 0.0], atol=1e-5)
    assert top_cos[0].tolist() == [11, 10, 12]  # cosines 1, 0.7071, 0
    np.testing.assert_allclose(s_cos[0], [1.0, np.sqrt(0.5), 0.0], atol=1e-5)
    # the stored vector is normalised under cosine, raw under ip
    np.testing.assert_allclose(cos.reconstruct(10), [np.sqrt(0.5), np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(ip.reconstruct(10), [100.0, 100.0])


@pytest.mark.filterwarnings("ignore:ivfpq")
@pytest.mark.parametrize("kind", KINDS)
def test_remove_and_add(kind):
    x, ids = _data(n=400)
    index = AnnIndex.build(x, ids, kind=kind, metric="cosine", **SMALL[kind])
    # a few removals (HNSW: tombstones filtered inside the search), then most (HNSW: graph rebuilt)
    assert index.remove(np.concatenate([ids[:100], [10**9]])) == 100  # unknown id ignored
    assert len(index) == 300
    _, got = index.search(x[:20], 10)
    assert got.shape == (20, 10) and not np.isin(got, ids[:100]).any()
    assert sorted(index.search(x[:1], 500)[1][0]) == sorted(ids[100:])
    gone = ids[:250]
    assert index.remove(gone) == 150
    assert index.remove(gone[:3]) == 0
    assert len(index) == 150
    _, got = index.search(x[:20], 200)
    assert got.shape == (20, 150)
    assert not np.isin(got, gone).any()
    assert sorted(got[0]) == sorted(ids[250:])
    with pytest.raises(KeyError):
        index.reconstruct(int(gone[0]))
    # a removed id can come back, a present one cannot be added twice
    index.add(x[:1] * 2, gone[:1])
    assert len(index) == 151
    assert index.search(x[:1], 1)[1][0, 0] == gone[0]
    with pytest.raises(ValueError, match=f"id {ids[300]} is already"):
        index.add(x[:1], ids[300:301])


@pytest.mark.filterwarnings("ignore:ivfpq")
@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind, tmp_path):
    x, ids = _data(n=400)
    index = AnnIndex.build(x, ids, kind=kind, metric="cosine", **SMALL[kind])
    index.remove(ids[:10])
    index.save(tmp_path / "idx")
    again = AnnIndex.load(tmp_path / "idx")
    assert (again.kind, again.metric, again.dim, len(again)) == (kind, "cosine", 8, 390)
    q = x[100:110]
    for a, b in zip(index.search(q, 7), again.search(q, 7)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(again.reconstruct(int(ids[50])), index.reconstruct(int(ids[50])))
    # saving again over the same directory replaces it
    again.remove(ids[10:20])
    again.save(tmp_path / "idx")
    assert len(AnnIndex.load(tmp_path / "idx")) == 380


@pytest.mark.parametrize("name", ["index.faiss", "ids.npy", "config.json"])
def test_corrupted_or_truncated_file_is_detected(name, tmp_path):
    x, ids = _data(n=50)
    AnnIndex.build(x, ids).save(tmp_path / "idx")
    f = tmp_path / "idx" / name
    data = bytearray(f.read_bytes())
    if name == "config.json":
        f.write_bytes(bytes(data[: len(data) // 2]))  # truncated JSON
    else:
        data[-5] ^= 0xFF  # one flipped byte, same size
        f.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match=name):
        AnnIndex.load(tmp_path / "idx")
    assert issubclass(IndexCorruptError, ValueError)


def test_truncated_index_file_is_named(tmp_path):
    x, ids = _data(n=50)
    AnnIndex.build(x, ids).save(tmp_path / "idx")
    f = tmp_path / "idx" / "index.faiss"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match=r"index.faiss is truncated"):
        AnnIndex.load(tmp_path / "idx")


def test_bad_build_inputs_are_refused():
    x, ids = _data(n=100)
    with pytest.raises(ValueError, match="duplicate id 5"):
        AnnIndex.build(x[:3], np.array([5, 6, 5]))
    with pytest.raises(ValueError, match="ivfpq needs at least 256 training vectors"):
        AnnIndex.build(x, ids, kind="ivfpq")
    with pytest.raises(ValueError, match="unknown index kind"):
        AnnIndex.build(x, ids, kind="lsh")
    with pytest.raises(ValueError, match="no parameter"):
        AnnIndex.build(x, ids, kind="hnsw", nprobe=3)
    bad = x.copy()
    bad[7, 0] = np.inf
    with pytest.raises(ValueError, match="vectors row 7"):
        AnnIndex.build(bad, ids)
