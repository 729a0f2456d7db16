"""The fastest CPU paths: fused int8 ONNX backend, token-budget batching, CPU-feature detection
and the ``auto`` backend with its fallbacks (tiny random-weight models; no timing)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lmrec.encoders import cpu, factory
from lmrec.encoders.base import token_budget_batches

pytest.importorskip("onnxruntime")

TEXTS = [
    "Toy Story (1995)",
    "a much longer product title with many more words so that the batch needs padding here",
    "digital caliper 150 mm",
    "",
    "pipette tips, 200 microlitre, sterile, racked",
    "Toy Story (1995)",
]


def test_token_budget_batches_by_hand():
    # lengths 10, 3, 7, 3, 2 → order by length desc: 0 (10), 2 (7), 1 (3), 3 (3), 4 (2)
    batches = token_budget_batches([10, 3, 7, 3, 2], max_tokens=10, batch_size=8)
    assert [b.tolist() for b in batches] == [[0], [2], [1, 3, 4]]  # 3 texts padded to 3 = 9 ≤ 10
    capped = token_budget_batches([10, 3, 7, 3, 2], max_tokens=100, batch_size=2)
    assert [b.tolist() for b in capped] == [[0, 2], [1, 3], [4]]
    # a text longer than the budget still gets a batch of its own
    assert [b.tolist() for b in token_budget_batches([50, 1], max_tokens=8, batch_size=4)] == [[0], [1]]
    with pytest.raises(ValueError, match="max_tokens"):
        token_budget_batches([1], max_tokens=0, batch_size=1)


@pytest.fixture(scope="module")
def tiny_st_dir(tmp_path_factory, tiny_bert_dir):
    from sentence_transformers import SentenceTransformer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sentence_transformers import models

    word = models.Transformer(str(tiny_bert_dir), max_seq_length=48)
    pool = models.Pooling(32, pooling_mode="mean")
    path = tmp_path_factory.mktemp("tiny-st-fast")
    SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu").save(str(path))
    return path


@pytest.fixture(scope="module")
def encoders(tiny_st_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx-fast-cache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32 = factory.load_encoder(tiny_st_dir, backend="onnx", cache_root=root, num_threads=1)
        int8 = factory.load_encoder(tiny_st_dir, backend="onnx-int8", cache_root=root, num_threads=1)
        fused = factory.load_encoder(tiny_st_dir, backend="onnx-int8-fused", cache_root=root, num_threads=1)
    return fp32, int8, fused


def test_fused_int8_backend_graph_identity_and_vectors(encoders):
    import onnx

    fp32, int8, fused = encoders
    assert fused.backend == "onnx-int8-fused" and fused.model_path.name == "model.int8-fused.onnx"
    assert fused.max_batch_tokens == factory.DEFAULT_MAX_BATCH_TOKENS
    ops = {n.op_type for n in onnx.load(str(fused.model_path)).graph.node}
    assert "QAttention" in ops and "MatMulInteger" in ops  # int8 attention projections + weight MatMuls
    hashes = {e.identity_hash() for e in encoders}
    assert len(hashes) == 3  # each backend its own cache identity
    assert fused.identity()["dtype"] == "int8-dynamic-fused"
    ref, got = fp32.encode(TEXTS), fused.encode(TEXTS)
    assert np.all(got[3] == 0)
    np.testing.assert_array_equal(got[0], got[5])
    keep = [0, 1, 2, 4]
    cos = (ref[keep] * got[keep]).sum(1)
    assert cos.min() > 0.95, cos  # int8 weights: close to, not equal to, fp32


def test_token_budget_batching_changes_only_the_batches(encoders):
    fp32 = encoders[0]
    by_count = fp32.encode(TEXTS, batch_size=2)
    fp32.max_batch_tokens = 12
    try:
        by_tokens = fp32.encode(TEXTS, batch_size=64)
    finally:
        fp32.max_batch_tokens = None
    np.testing.assert_allclose(by_tokens, by_count, atol=1e-5)


def test_fused_needs_quantize(tiny_st_dir, tmp_path):
    from lmrec.encoders.onnx import OnnxEncoder

    with pytest.raises(ValueError, match="quantize=True"):
        OnnxEncoder(tiny_st_dir, fused_int8=True, cache_root=tmp_path)


def _fake_cpu(monkeypatch, flags, bf16):
    monkeypatch.setattr(cpu, "_cpu_flags", lambda: set(flags))
    monkeypatch.setattr(cpu, "bf16_supported", lambda: bf16)


def test_cpu_features_and_auto_backend(monkeypatch):
    _fake_cpu(monkeypatch, {"avx2", "avx512f", "avx512_vnni"}, False)
    f = cpu.cpu_features()
    assert f["avx512_vnni"] and f["int8_dot"] and not f["amx_int8"] and not f["bf16"]
    assert cpu.auto_backend() == ("onnx-int8-fused", False)
    assert cpu.int8_fallback_message("onnx-int8") is None
    _fake_cpu(monkeypatch, {"avx2", "avx512_bf16"}, True)  # bf16 but no VNNI
    assert cpu.auto_backend() == ("st", True)
    _fake_cpu(monkeypatch, {"avx2"}, False)  # neither: ONNX fp32
    assert cpu.auto_backend() == ("onnx", False)
    msg = cpu.int8_fallback_message("onnx-int8-fused")
    assert "no int8 dot-product instructions" in msg and "backend='onnx'" in msg


def test_int8_on_a_cpu_without_vnni_warns_and_still_runs(monkeypatch, tiny_st_dir, tmp_path):
    _fake_cpu(monkeypatch, {"avx2"}, False)
    with pytest.warns(UserWarning, match="no int8 dot-product"):
        enc = factory.load_encoder(tiny_st_dir, backend="onnx-int8", cache_root=tmp_path, num_threads=1)
    assert enc.encode(["digital caliper"]).shape == (1, 32)
    auto = factory.load_encoder(tiny_st_dir, backend="auto", cache_root=tmp_path, num_threads=1)
    assert auto.backend == "onnx"  # fallback picked for this (faked) CPU, its own identity


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        factory.load_encoder(None, backend="onnx-static")
