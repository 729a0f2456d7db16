"""`lmrec encode --backend st|onnx|onnx-int8` on a tiny dataset the test writes."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import app

runner = CliRunner()


@pytest.fixture
def data_dir(shop_data_dir):
    return shop_data_dir


def test_encode_backends_agree_and_are_cached_apart(data_dir, tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "lmrec-cache"))  # must stay unused
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    cache = tmp_path / "emb"
    vectors = {}
    for backend in ("st", "onnx-int8"):
        out = tmp_path / f"{backend}.npy"
        res = runner.invoke(app, ["encode", "--dataset", "shop", "--data-dir", str(data_dir), "--cache-dir",
                                  str(cache), "--backend", backend, "--out", str(out)])
        assert res.exit_code == 0, res.output
        vectors[backend] = np.load(out)
    assert vectors["st"].shape == vectors["onnx-int8"].shape == (12, 384)
    cos = (vectors["st"] * vectors["onnx-int8"]).sum(1)  # both unit norm
    assert cos.min() > 0.97 and not np.allclose(vectors["st"], vectors["onnx-int8"], atol=1e-4)
    identities = [json.loads(p.read_text())["identity"]["backend"] for p in cache.glob("embeddings/*/*/config.json")]
    assert sorted(identities) == ["onnx-int8", "sentence-transformers"]  # never mixed in one folder
    assert list((cache / "onnx").glob("*/model.int8.onnx"))           # the export follows --cache-dir
    assert not (tmp_path / "lmrec-cache" / "onnx").exists()


def test_unknown_backend_is_a_user_error(data_dir):
    res = runner.invoke(app, ["encode", "--dataset", "shop", "--data-dir", str(data_dir), "--backend", "tpu"])
    assert res.exit_code == 2 and "--backend must be one of st, onnx, onnx-int8" in res.output and "'tpu'" in res.output


def test_auto_backend_says_what_it_chose(data_dir, tmp_path, monkeypatch):
    """Newcomer trial: `--backend auto` gave no sign of the runtime it picked."""
    from lmrec.encoders import cpu

    monkeypatch.setattr(cpu, "auto_backend", lambda: ("st", False))     # a CPU without int8 / bf16
    res = runner.invoke(app, ["encode", "--dataset", "shop", "--data-dir", str(data_dir), "--cache-dir",
                              str(tmp_path / "emb"), "--backend", "auto"])
    assert res.exit_code == 0, res.output
    assert "--backend auto chose sentence-transformers (float32) for this CPU" in res.output, res.output[-700:]
