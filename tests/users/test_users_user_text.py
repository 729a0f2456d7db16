"""User-text builder: profile words, tags, reviews from allowed rows only, truncation, fallback."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import RecDataset
from lmrec.data.user_text import (UserTextConfig, age_bucket, build_user_texts, fallback_vectors, read_user_tags,
                                  render_profile)


def _dataset() -> RecDataset:
    inter = pd.DataFrame({
        "user_id": ["a", "a", "b", "c"], "item_id": ["i1", "i2", "i1", "i2"], "timestamp": [1, 2, 3, 4],
        "rating": [5, 3, 4, 2],
        "review_text": ["Loved it &amp; <b>more</b>", "Meh", None, "Bad"],
        "summary": ["Great", None, None, "Nope"],
    })
    items = pd.DataFrame({"title": ["First Movie", "Second Movie"]}, index=["i1", "i2"])
    users = pd.DataFrame({"age": [23, 61], "gender": ["female", None], "occupation": ["programmer", None]},
                         index=["a", "b"])
    return RecDataset("toy", inter, items, users=users)


def test_age_buckets_are_words_not_codes():
    assert age_bucket(23) == "18-24"
    assert age_bucket(17) == "Under 18"
    assert age_bucket(61) == "56+"
    assert age_bucket("25-34") == "25-34"
    assert render_profile({"age": 23, "gender": "female", "occupation": "programmer"}) == \
        "Age 18-24. Gender: female. Occupation: programmer."


def test_sources_and_cleaning():
    ds = _dataset()
    texts, report = build_user_texts(ds, UserTextConfig(sources=("profile", "reviews", "history_titles")))
    a = texts[ds.user_map.index("a")]
    assert a.startswith("Age 18-24. Gender: female. Occupation: programmer.")
    assert "Great. Loved it & more." in a            # entity decoded once, tag stripped
    assert "Watched or bought: First Movie; Second Movie." in a
    assert texts[ds.user_map.index("b")].startswith("Age 56+.")
    assert report.n_with_source == {"profile": 2, "reviews": 2, "history_titles": 3}


def test_only_allowed_rows_are_read():
    ds = _dataset()
    rows = [np.array([0]), np.array([], dtype=np.int64), np.array([], dtype=np.int64)]  # a: row 0 only
    texts, report = build_user_texts(ds, UserTextConfig(sources=("reviews",)), rows_of_user=rows)
    assert texts[ds.user_map.index("a")] == "Reviews: Great. Loved it & more."
    assert "Meh" not in texts[ds.user_map.index("a")]
    assert report.n_fallback == 2                     # b and c have no readable text
    assert set(report.fallback_examples) == {"b", "c"}


def test_truncation_is_reported():
    ds = _dataset()
    texts, report = build_user_texts(ds, UserTextConfig(sources=("history_titles",), max_items_per_source=1,
                                                        max_chars_per_source=20))
    assert report.n_truncated_items == 1              # user a has 2 titles, cap 1
    assert texts[ds.user_map.index("a")] == "Watched or bought: S"  # 20 characters
    assert report.n_truncated_chars == 3


def test_user_without_any_text_gets_finite_flagged_fallback():
    vectors = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    empty = np.array([False, True, False])
    out = fallback_vectors(vectors, empty)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[1], [0.5, 0.5])    # mean of the users with text
    np.testing.assert_allclose(fallback_vectors(np.zeros((2, 3), np.float32), np.array([True, True])), 0.0)


def test_read_user_tags(tmp_path):
    (tmp_path / "tags.csv").write_text("userId,movieId,tag,timestamp\n1,10,funny,5\n1,11, ,6\n2,10,dark,7\n")
    tags = read_user_tags(tmp_path)
    assert tags["tag"].tolist() == ["funny", "dark"]
    with pytest.raises(FileNotFoundError):
        read_user_tags(tmp_path / "nope")


def test_unknown_source_is_refused():
    with pytest.raises(ValueError, match="unknown user text source"):
        UserTextConfig(sources=("zip",))


def test_tags_restricted_to_allowed_rows_only_when_rows_are_given():
    ds = _dataset()
    tags = pd.DataFrame({"user_id": ["a", "a"], "item_id": ["i1", "i9"], "tag": ["witty", "slow"],
                         "timestamp": [1.0, 2.0]})
    texts, _ = build_user_texts(ds, UserTextConfig(sources=("tags",)), tags=tags)
    assert texts[ds.user_map.index("a")] == "Tags: witty, slow."      # all of the user's tags
    rows = [np.array([1]), np.array([], dtype=np.int64), np.array([], dtype=np.int64)]  # a: item i2 only
    texts, report = build_user_texts(ds, UserTextConfig(sources=("tags",)), tags=tags, rows_of_user=rows)
    assert texts[ds.user_map.index("a")] == ""                        # neither tag is on an allowed item
    assert report.n_fallback == 3
