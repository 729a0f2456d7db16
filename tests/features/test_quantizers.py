"""Scalar (fp16 / int8) and product quantization: code shapes, dtypes, bytes per item, error."""

import numpy as np
import pytest

from lmrec.features import ProductQuantizer, ScalarQuantizer


def test_int8_codes_are_one_byte_per_dimension_within_half_a_step():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 3, size=(500, 12)).astype(np.float32)
    sq = ScalarQuantizer("int8").fit(x)
    codes = sq.encode(x)
    assert codes.dtype == np.int8 and codes.shape == (500, 12) and sq.bytes_per_item == 12.0
    assert codes.min() == -128 and codes.max() == 127
    step = (x.max(0) - x.min(0)) / 256
    assert (np.abs(sq.decode(codes) - x) <= step / 2 + 1e-6).all()
    # a value of a new item outside the training range is clipped to the range
    out = sq.transform(np.full((1, 12), 100.0, np.float32))
    assert (out <= x.max(0) + 1e-5).all()


def test_fp16_halves_the_bytes():
    x = np.array([[1.0, 1 / 3, 60000.0]], np.float32)
    sq = ScalarQuantizer("fp16").fit(x)
    assert sq.encode(x).dtype == np.float16 and sq.bytes_per_item == 6.0
    np.testing.assert_allclose(sq.transform(x)[0], [1.0, 0.33325195, 60000.0], rtol=1e-6)
    with pytest.raises(ValueError, match="row 1 has values beyond the float16 range"):
        sq.encode(np.array([[0, 0, 0], [0, 70000.0, 0]], np.float32))


@pytest.mark.parametrize("opq", [False, True])
def test_pq_encode_decode_shapes_and_bytes(opq):
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 16)).astype(np.float32) * 3
    x = (centres[rng.integers(20, size=600)] + 0.05 * rng.normal(size=(600, 16))).astype(np.float32)
    pq = ProductQuantizer(8, nbits=8, opq=opq).fit(x[:400])
    codes = pq.encode(x)
    assert codes.dtype == np.uint8 and codes.shape == (600, 8) and pq.bytes_per_item == 8.0
    y = pq.decode(codes)
    assert y.shape == (600, 16) and y.dtype == np.float32
    # 20 tight clusters, 256 codewords per 2-d sub-space: reconstruction is close
    rel = np.linalg.norm(y - x, axis=1) / np.linalg.norm(x, axis=1)
    assert np.median(rel) < 0.1
    with pytest.raises(ValueError, match=r"shape \[n, 8\]"):
        pq.decode(codes[:, :4])


def test_pq_4bit_codes_pack_two_per_byte_and_small_catalogs_are_refused():
    pytest.importorskip("faiss")
    x = np.random.default_rng(0).normal(size=(300, 16)).astype(np.float32)
    pq = ProductQuantizer(8, nbits=4, opq=False).fit(x)
    assert pq.encode(x).shape == (300, 4) and pq.bytes_per_item == 4.0
    with pytest.raises(ValueError, match="at least 256 training vectors"):
        ProductQuantizer(8, nbits=8).fit(x[:100])
    with pytest.raises(ValueError, match="not divisible by 5"):
        ProductQuantizer(5).fit(x)
