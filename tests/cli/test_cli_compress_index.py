"""`lmrec compress` and `lmrec index build|query` end to end on vectors the test writes."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


@pytest.fixture
def vectors(tmp_path):
    x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    np.save(tmp_path / "items.npy", x)
    return tmp_path / "items.npy", x


def test_compress_pca_fits_on_the_mask_and_writes_codes(vectors, tmp_path):
    path, x = vectors
    mask = np.zeros(300, bool)
    mask[:200] = True
    np.save(tmp_path / "mask.npy", mask)
    out = runner.invoke(app, ["compress", "--method", "pca", "--dim", "4", "--vectors", str(path),
                              "--fit-mask", str(tmp_path / "mask.npy"), "--out", str(tmp_path / "c")])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output[: out.output.rindex("}") + 1])
    assert report["n_fit"] == 200 and report["bytes_per_item"] == 16.0
    codes = np.load(tmp_path / "c" / "codes.npy")
    assert codes.shape == (300, 4) and codes.dtype == np.float32
    from lmrec.features import PCA, load_transform

    np.testing.assert_allclose(load_transform(tmp_path / "c" / "transform").transform(x), codes)
    np.testing.assert_allclose(codes, PCA(4).fit(x[:200]).transform(x), atol=1e-5)


def test_compress_pq_bytes_and_user_errors(vectors, tmp_path):
    pytest.importorskip("faiss")
    path, _ = vectors
    out = runner.invoke(app, ["compress", "--method", "pq", "--bytes", "8", "--vectors", str(path),
                              "--param", "opq=false", "--out", str(tmp_path / "pq")])
    assert out.exit_code == 0, out.output
    codes = np.load(tmp_path / "pq" / "codes.npy")
    assert codes.shape == (300, 8) and codes.dtype == np.uint8
    bad = runner.invoke(app, ["compress", "--method", "pca", "--vectors", str(path), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "needs --dim" in bad.output


def test_index_build_and_query(vectors, tmp_path):
    pytest.importorskip("faiss")
    path, x = vectors
    ids = np.arange(300, dtype=np.int64) + 1000
    np.save(tmp_path / "ids.npy", ids)
    out = runner.invoke(app, ["index", "build", "--vectors", str(path), "--ids", str(tmp_path / "ids.npy"),
                              "--kind", "flat", "--out", str(tmp_path / "idx")])
    assert out.exit_code == 0, out.output
    np.save(tmp_path / "q.npy", x[5])
    out = runner.invoke(app, ["index", "query", "--index", str(tmp_path / "idx"), "--vectors", str(tmp_path / "q.npy"),
                              "-k", "3", "--json"])
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["rank"] for r in rows] == [1, 2, 3] and rows[0]["id"] == 1005 and rows[0]["score"] == pytest.approx(1.0)
    out = runner.invoke(app, ["index", "query", "--index", str(tmp_path / "idx"), "--id", "1005", "-k", "3", "--json"])
    rows = json.loads(out.output)
    assert len(rows) == 3 and 1005 not in [r["id"] for r in rows]
    assert rows[0]["id"] == json.loads(runner.invoke(app, ["index", "query", "--index", str(tmp_path / "idx"),
                                                          "--vectors", str(tmp_path / "q.npy"), "-k", "3",
                                                          "--json"]).output)[1]["id"]
    q = x[:2].copy()
    q[1, 0] = np.nan
    np.save(tmp_path / "bad.npy", q)
    bad = runner.invoke(app, ["index", "query", "--index", str(tmp_path / "idx"), "--vectors", str(tmp_path / "bad.npy")])
    assert bad.exit_code == 2 and "row 1" in bad.output
    again = runner.invoke(app, ["index", "build", "--vectors", str(path), "--out", str(tmp_path / "idx")])
    assert again.exit_code == 2 and "--overwrite" in again.output  # an existing index is never replaced silently
    for k in ("0", "-1"):
        zero = runner.invoke(app, ["index", "query", "--index", str(tmp_path / "idx"), "--id", "1005", "-k", k])
        assert zero.exit_code == 2 and f"got {k}" in zero.output
