import math

import numpy as np
import pandas as pd

from lmrec.data.text import TextTemplate, build_item_texts, clean_text, is_missing, render_value


def test_html_entities_decoded_once_and_tags_stripped():
    assert clean_text("Salt &amp; Pepper <b>Grinder</b>") == "Salt & Pepper Grinder"
    assert clean_text("Tom &amp;amp; Jerry") == "Tom &amp; Jerry"  # decoded once only
    assert clean_text("<p>line one</p>\n\t<br/>line   two") == "line one line two"


def test_unicode_nfc():
    decomposed = "Mise\u0301rables"
    assert clean_text(decomposed) == "Misérables"
    assert len(clean_text(decomposed)) == len("Misérables")


def test_missing_values_never_render_as_nan():
    for v in (None, float("nan"), np.nan, pd.NA, "", "   ", [], [None, float("nan")]):
        assert is_missing(v)
        assert render_value(v) == ""
    t = TextTemplate(("title", "brand"))
    assert t.render({"title": "Drill", "brand": float("nan")}) == "Drill"
    assert "nan" not in t.render({"title": np.nan, "brand": "Bosch"})


def test_numbers_and_lists_render_canonically():
    assert render_value(3.0) == "3"
    assert render_value(2.50) == "2.5"
    assert render_value(np.int64(7)) == "7"
    assert render_value(["Tools", ["Saws", "Blades"], None]) == "Tools, Saws, Blades"
    assert render_value({"Size": "L", "Color": None}) == "Size: L"


def test_template_joins_fields_and_version_tracks_config():
    t = TextTemplate(("title", "genres"))
    assert t.render({"title": "Toy Story (1995)", "genres": ["Animation", "Comedy"]}) == \
        "Toy Story (1995). Animation, Comedy"
    assert t.render({"title": "Really?", "genres": ["Drama"]}) == "Really? Drama"
    named = TextTemplate(("title", "genres"), with_field_names=True)
    assert named.render({"title": "X", "genres": "Y"}) == "title: X. genres: Y"
    assert t.version != named.version
    assert t.version == TextTemplate(("title", "genres")).version


def test_overlong_field_is_capped_and_empty_items_reported():
    items = pd.DataFrame({"title": ["a" * 10_000, None]}, index=["x", "y"])
    texts, report = build_item_texts(items, ["x", "y", "missing"], TextTemplate(("title",), max_chars=100))
    assert len(texts[0]) == 100
    assert texts[1] == "" and texts[2] == ""
    assert report.n_empty == 2 and report.empty_examples == ["y", "missing"]
