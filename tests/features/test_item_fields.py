"""Per-field item vectors (lmrec.features.fields): masking, the mean aggregation, the cache, files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.features.fields import FIELD_AGGREGATIONS, ItemFields, encode_item_fields


def _fields() -> ItemFields:
    vectors = np.array([[[1, 0], [3, 4], [9, 9]],      # item 0: fields 0 and 1 present
                        [[2, 2], [0, 0], [0, 0]],      # item 1: field 0 only
                        [[0, 0], [0, 0], [0, 0]]],     # item 2: no field
                       dtype=np.float32)
    mask = np.array([[True, True, False], [True, False, False], [False, False, False]])
    return ItemFields(("title", "brand", "categories"), vectors, mask)


def test_mean_averages_over_present_fields_only():
    f = _fields()
    assert f.vectors[0, 2].tolist() == [0.0, 0.0]          # an absent field's row is zeroed
    mean = f.mean()
    assert mean.dtype == np.float32 and mean.shape == (3, 2)
    assert mean.tolist() == [[2.0, 2.0], [2.0, 2.0], [0.0, 0.0]]   # (1+3)/2, (0+4)/2; item 1 alone; none


def test_shapes_are_checked_and_nan_named():
    with pytest.raises(ValueError, match=r"\[n_items, n_fields, dim\]"):
        ItemFields(("a", "b"), np.zeros((3, 2, 4)), np.ones((3, 3), bool))
    with pytest.raises(ValueError, match=r"\[n_items, n_fields, dim\]"):
        ItemFields(("a",), np.zeros((3, 2, 4)), np.ones((3, 2), bool))
    v = np.zeros((2, 2, 3), np.float32)
    v[1, 1, 0] = np.nan
    with pytest.raises(ValueError, match="item 1 .*field 'b'"):
        ItemFields(("a", "b"), v, np.ones((2, 2), bool))


def test_save_load_round_trip_and_damaged_files(tmp_path):
    f = _fields()
    f.save(tmp_path)
    g = ItemFields.load(tmp_path, f.fields, n_items=3)
    assert g.fields == f.fields and np.array_equal(g.vectors, f.vectors) and np.array_equal(g.mask, f.mask)
    with pytest.raises(ValueError, match="expected 5"):
        ItemFields.load(tmp_path, f.fields, n_items=5)
    with pytest.raises(ValueError, match="item_field_vectors.npy"):
        ItemFields.load(tmp_path, ("title", "brand"))               # 2 names for 3 fields
    (tmp_path / "item_field_mask.npy").unlink()
    with pytest.raises(FileNotFoundError, match="item_field_mask.npy"):
        ItemFields.load(tmp_path, f.fields)


def test_aggregation_names():
    assert FIELD_AGGREGATIONS == ("template", "mean", "attention")


@pytest.fixture
def tiny_encoder(tiny_bert_path):
    from lmrec.encoders.factory import load_encoder

    return load_encoder(str(tiny_bert_path), max_length=32)


def test_encode_item_fields_each_field_on_its_own_through_the_cache(tiny_encoder, tmp_path):
    items = pd.DataFrame({"title": ["Red tea cup", "Blue cup", "unknown"],
                          "brand": ["Acme", None, "Globex"],
                          "categories": [["Kitchen", "Tea"], [], ["Garden"]]}, index=["a", "b", "c"])
    ids = ["a", "b", "c"]
    cache = tmp_path / "cache"
    fields, report = encode_item_fields(tiny_encoder, items, ids, ("title", "brand", "categories"), cache_root=cache)
    assert fields.vectors.shape == (3, 3, tiny_encoder.dim) and fields.vectors.dtype == np.float32
    # "unknown" title is a placeholder, the brand of b is missing, b has no categories
    assert fields.mask.tolist() == [[True, True, True], [True, False, False], [False, True, True]]
    assert not fields.vectors[~fields.mask].any() and (np.abs(fields.vectors[fields.mask]).sum(axis=1) > 0).all()
    # a field vector is the encoder's vector of that field's text alone
    np.testing.assert_allclose(fields.vectors[0, 1], tiny_encoder.encode(["Acme"])[0], atol=1e-5)
    np.testing.assert_allclose(fields.vectors[0, 2], tiny_encoder.encode(["Kitchen, Tea"])[0], atol=1e-5)
    assert {k: v["n_present"] for k, v in report["fields"].items()} == {"title": 2, "brand": 2, "categories": 2}
    # one cache entry (namespace) per field; a second call encodes nothing
    namespaces = {v["namespace"] for v in report["fields"].values()}
    assert len(namespaces) == 3
    chunks = sorted(cache.rglob("chunk-*.npz"))
    assert len(chunks) == 3

    def refuse(*args, **kwargs):
        raise AssertionError("encoded again although every field text is cached")

    tiny_encoder.encode = refuse
    again, _ = encode_item_fields(tiny_encoder, items, ids, ("title", "brand", "categories"), cache_root=cache)
    assert np.array_equal(again.vectors, fields.vectors) and sorted(cache.rglob("chunk-*.npz")) == chunks


def test_encode_item_fields_refuses_unknown_and_all_empty_fields(tiny_encoder, tmp_path):
    items = pd.DataFrame({"title": ["x", "y"], "brand": [None, "unknown"]}, index=["a", "b"])
    with pytest.raises(ValueError, match=r"no item field\(s\) \['color'\]"):
        encode_item_fields(tiny_encoder, items, ["a", "b"], ("title", "color"), cache_root=tmp_path)
    with pytest.raises(ValueError, match="no item has any of the fields"):
        encode_item_fields(tiny_encoder, items, ["a", "b"], ("brand",), cache_root=tmp_path)
