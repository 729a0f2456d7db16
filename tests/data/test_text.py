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


# ------------------------------------------------------------ list-valued fields (issue 15, #1)
def _list_forms():
    """The same list as every container a loader can hand over."""
    import pyarrow as pa

    return {
        "list": ["Home", "Kitchen", None],
        "tuple": ("Home", "Kitchen", float("nan")),
        "numpy object array (pandas' Parquet list cell)": np.array(["Home", "Kitchen", None], dtype=object),
        "numpy str array": np.array(["Home", "Kitchen"]),
        "pandas Series": pd.Series(["Home", "Kitchen", None]),
        "pandas StringArray": pd.array(["Home", "Kitchen", None], dtype="string"),
        "pyarrow array": pa.array(["Home", "Kitchen", None]),
        "pyarrow list scalar": pa.scalar(["Home", "Kitchen", None]),
        "pyarrow chunked array": pa.chunked_array([["Home"], ["Kitchen", None]]),
    }


def test_every_list_form_renders_like_a_list():
    for name, value in _list_forms().items():
        assert render_value(value) == "Home, Kitchen", name
        assert not is_missing(value), name
        assert TextTemplate(("title", "category")).render({"title": "Pan", "category": value}) == \
            "Pan. Home, Kitchen", name


def test_empty_and_all_missing_list_forms_are_missing():
    import pyarrow as pa

    for value in (np.array([], dtype=object), np.array([None, np.nan], dtype=object), pd.Series([], dtype=object),
                  pa.array([], type=pa.string()), pa.array([None], type=pa.string()), ()):
        assert is_missing(value) and render_value(value) == ""


def test_numbers_sets_and_dicts_inside_lists():
    assert render_value(np.array([1.0, 2.5, np.nan])) == "1, 2.5"
    assert render_value(np.array([[1, 2], [3, 4]])) == "1, 2, 3, 4"
    assert render_value({"Kitchen", "Home", "Bath"}) == "Bath, Home, Kitchen"   # sorted: same in every process
    assert render_value({"size": {"w": 2, "h": None}, "tags": np.array(["a", "b"], dtype=object),
                         "empty": np.array([], dtype=object)}) == "size: (w: 2); tags: a, b"
    assert render_value(np.float32(2.5)) == "2.5" and render_value(np.bool_(True)) == "yes"
    assert render_value(np.array(7)) == "7"                                       # 0-d array: a scalar


def test_parquet_list_column_round_trip(tmp_path):
    """What pandas really returns for a Parquet list column written by pyarrow."""
    pd.DataFrame({"category": [["Home", "Kitchen"], [], None, ["Tools", None]]}).to_parquet(tmp_path / "i.parquet")
    cells = pd.read_parquet(tmp_path / "i.parquet")["category"].tolist()
    assert isinstance(cells[0], np.ndarray)
    assert [render_value(c) for c in cells] == ["Home, Kitchen", "", "", "Tools"]


# ------------------------------------------------------------ placeholder texts (issue 15, #5)
def test_placeholder_field_values_are_dropped_and_real_titles_kept():
    from lmrec.data.text import is_placeholder, is_uninformative_text

    for text in ("unknown", "Unknown", "N/A", "n/a", "none", "NULL", "-", "?", "...", "(no genres listed)", " ",
                 "unknown. 1995", "n/a, -", "1995", "(no genres listed). unknown"):
        assert is_uninformative_text(text), text
    for text in ("The Unknown Soldier", "Unknown (2011)", "187 (1997). Drama", "X", "NA", "ก๋วยเตี๋ยวเรือ",
                 "東京物語", "Drill. n/a"):
        assert not is_uninformative_text(text), text
    assert is_placeholder("(No Genres Listed)") and not is_placeholder("1995")   # digits inform inside a field
    t = TextTemplate(("title", "brand", "year"))
    assert t.render({"title": "Drill", "brand": "N/A", "year": 1995}) == "Drill. 1995"
    assert t.render({"title": "The Unknown Soldier", "brand": "unknown"}) == "The Unknown Soldier"


def test_placeholder_items_get_empty_text_and_are_reported_with_ids():
    # ml-100k's item 267: title "unknown", no genre, no date
    items = pd.DataFrame({"title": ["Toy Story (1995)", "unknown", "-", "The Unknown Soldier", None],
                          "genres": [["Animation"], None, ["(no genres listed)"], ["War"], None]},
                         index=["1", "267", "x", "y", "z"])
    texts, report = build_item_texts(items, ["1", "267", "x", "y", "z"], TextTemplate(("title", "genres")))
    assert texts == ["Toy Story (1995). Animation", "", "", "The Unknown Soldier. War", ""]
    assert report.n_empty == 3 and report.empty_examples == ["267", "x", "z"]
    assert report.n_placeholder == 2
    assert report.placeholder_examples == {"267": "unknown", "x": "-. (no genres listed)"}
    assert report.to_dict()["placeholder_examples"]["267"] == "unknown"


def test_field_names_do_not_make_a_placeholder_informative():
    t = TextTemplate(("title", "year"), with_field_names=True)
    assert t.render({"title": "unknown", "year": 1995}) == ""
    assert t.render({"title": "Heat", "year": 1995}) == "title: Heat. year: 1995"


def test_placeholder_titles_never_make_two_domains_share_an_item():
    from lmrec.data.multidomain import normalise_title

    assert normalise_title("unknown") == "" and normalise_title("N/A") == ""
    assert normalise_title("The Unknown Soldier") == "the unknown soldier"
    assert normalise_title(np.array(["Chef", "knife"], dtype=object)) == "chef knife"
