"""Loaders on tiny hand-written files of every format (real data: test_loaders_real.py)."""

from __future__ import annotations

import gzip
import json
import math

import pandas as pd
import pytest
from loader_files import (write_amazon2018, write_lcrec, write_ml1m, write_ml100k,
                          write_ml_latest, write_recbole, write_table)

from lmrec.data.loaders import (load_amazon2018, load_lcrec, load_movielens, load_recbole,
                                load_table, load_table_folder)
from lmrec.data.text import is_missing


# ------------------------------------------------------------------------------ MovieLens
def test_ml100k_items_users_and_latin1(tmp_path):
    ds = load_movielens(write_ml100k(tmp_path / "ml-100k"))
    assert ds.name == "ml-100k"
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (3, 3, 4)
    assert ds.items.loc["2", "title"] == "Misérables, Les (1995)"
    assert ds.items.loc["1", "genres"] == ["Animation", "Children's", "Comedy"]
    assert ds.items.loc["3", "genres"] is None  # only the "unknown" flag
    assert ds.items.loc["1", "release_date"] == "01-Jan-1995"
    assert ds.text_fields == ["title", "genres"]
    assert ds.users.loc["2"].to_dict() == {"age": 53, "gender": "female", "occupation": "other",
                                           "zip": "94043"}
    first = ds.interactions.iloc[0]
    assert (first["user_id"], first["item_id"], first["rating"], first["timestamp"]) == (
        "1", "1", 5.0, 881250949.0)
    assert ds.ordered and not ds.has_given_split


def test_ml100k_without_genre_file_uses_standard_names(tmp_path):
    ds = load_movielens(write_ml100k(tmp_path / "ml", with_genre_file=False))
    assert ds.items.loc["2", "genres"] == ["Drama", "War"]


def test_ml100k_wrong_field_count_names_file_and_line(tmp_path):
    folder = write_ml100k(tmp_path / "ml")
    with open(folder / "u.data", "a") as fh:
        fh.write("4\t1\t5\n")
    with pytest.raises(ValueError, match=r"u\.data, line 5: expected 4 fields"):
        load_movielens(folder)


def test_ml1m_with_ratings_dat(tmp_path):
    ds = load_movielens(write_ml1m(tmp_path / "ml-1m"))
    assert len(ds.interactions) == 3 and ds.ordered and not ds.has_given_split
    assert ds.items.loc["2", "title"] == "Misérables, Les (1995)"
    assert ds.items.loc["3", "genres"] == ["Action", "Crime", "Thriller"]
    assert ds.users.loc["1"].to_dict() == {"age": "Under 18", "gender": "female",
                                           "occupation": "K-12 student", "zip": "48067"}
    assert ds.users.loc["2", "age"] == "56+" and ds.users.loc["2", "occupation"] == "self-employed"


def test_ml1m_colakg_split_maps_ids_back(tmp_path):
    ds = load_movielens(write_ml1m(tmp_path / "ml-1m", colakg=True))
    inter = ds.interactions
    # train.txt "0 0 1" = user 1 → movies 3, 1; test.txt "1 0" = user 2 → movie 3
    assert list(zip(inter["user_id"], inter["item_id"], inter["split"])) == [
        ("1", "3", "train"), ("1", "1", "train"), ("2", "2", "train"),
        ("1", "2", "test"), ("2", "3", "test")]
    assert not ds.ordered and not ds.has_timestamps
    assert any("no timestamps" in n and "non-sequential" in n for n in ds.notes)
    assert ds.n_items == 3  # catalog = movies.dat


def test_ml1m_colakg_unknown_remapped_id(tmp_path):
    folder = write_ml1m(tmp_path / "ml-1m", colakg=True)
    (folder / "colakg_implicit" / "test.txt").write_text("0 2\n1 7\n")
    with pytest.raises(ValueError, match=r"test\.txt, line 2: item '7' is not in item_map"):
        load_movielens(folder)


def test_ml_latest_genres_tags_and_quoted_titles(tmp_path):
    ds = load_movielens(write_ml_latest(tmp_path / "ml-latest-small"))
    assert (ds.n_users, ds.n_items, len(ds.interactions)) == (2, 3, 3)
    assert ds.items.loc["2", "title"] == "American President, The (1995)"
    assert ds.items.loc["2", "genres"] is None  # "(no genres listed)"
    assert ds.items.loc["3", "title"] == "NaN (2001)"  # a real title, not a missing value
    assert ds.items.loc["1", "tags"] == ["pixar", "fun"]
    assert ds.items.loc["3", "tags"] is None
    assert ds.text_fields == ["title", "genres"]
    assert ds.interactions["rating"].tolist() == [4.0, 3.5, 5.0]


def test_movielens_dispatcher_rejects_other_folders(tmp_path):
    with pytest.raises(ValueError, match="not a MovieLens folder"):
        load_movielens(tmp_path)


# -------------------------------------------------------------------------- Amazon 2018
def test_amazon2018_reviews_and_deduplicated_metadata(tmp_path):
    ds = load_amazon2018(write_amazon2018(tmp_path / "amazon2018-raw"), category="Gift_Cards")
    assert ds.name == "amazon2018-raw/Gift_Cards"
    assert list(ds.items.index) == ["B001", "0", "B999"]  # reviewed items, first-seen order
    assert ds.items.loc["B001", "title"] == "Acme $10 card"  # first metadata line kept
    assert ds.items.loc["B001", "categories"] == ["Gift Cards", "Restaurants"]
    assert ds.items.loc["0", "description"] is None  # empty list → missing
    assert ds.items.loc["B999"].isna().all()  # no metadata, still in the catalog
    inter = ds.interactions
    assert inter["timestamp"].tolist() == [100.0, 200.0, 150.0, 160.0]
    assert inter["rating"].tolist() == [5.0, 3.0, 4.0, 1.0]
    assert inter.loc[3, "review_text"] == "bad" and inter.loc[1, "summary"] == "3.0 stars"
    assert any("2 duplicate ASIN line(s)" in n and "1 of them differed" in n for n in ds.notes)
    assert any("1 of 3 reviewed items have no metadata" in n for n in ds.notes)


def test_amazon2018_include_unreviewed(tmp_path):
    ds = load_amazon2018(write_amazon2018(tmp_path / "a"), category="Gift_Cards",
                         include_unreviewed=True)
    assert list(ds.items.index) == ["B001", "0", "B999", "B500"]


def test_amazon2018_without_metadata_and_several_categories(tmp_path):
    folder = write_amazon2018(tmp_path / "a", category="Gift_Cards")
    write_amazon2018(folder, category="Appliances", with_meta=False)
    ds = load_amazon2018(folder, category="Appliances")
    assert ds.statistics()["text_coverage"] == 0.0
    assert any("no metadata file meta_Appliances" in n for n in ds.notes)
    with pytest.raises(ValueError, match=r"\['Appliances', 'Gift_Cards'\]"):
        load_amazon2018(folder)
    with pytest.raises(FileNotFoundError, match="no Toys_5.json.gz"):
        load_amazon2018(folder, category="Toys")


def test_amazon2018_bad_json_line_names_file_and_line(tmp_path):
    folder = tmp_path / "a"
    folder.mkdir()
    with gzip.open(folder / "Gift_Cards_5.json.gz", "wt") as fh:
        fh.write('{"reviewerID": "A1", "asin": "B1"}\n{"reviewerID": "A2", "asin": \n')
    with pytest.raises(ValueError, match=r"Gift_Cards_5\.json\.gz, line 2: not valid JSON"):
        load_amazon2018(folder)


# ------------------------------------------------------------------------ RecBole/UniSRec
SEQS = {"AU1": ["I1", "I2", "I3", "I4", "I5", "I6", "I7"],  # longer than max_len=3: truncated
        "AU2": ["I2", "0", "I3", "I8"],
        "AU3": ["I8", "I1", "0"]}  # no train rows beyond the first item


def test_recbole_rebuilds_truncated_sequences(tmp_path):
    ds = load_recbole(write_recbole(tmp_path / "uni", SEQS, max_len=3))
    inter = ds.interactions
    for user, seq in SEQS.items():
        rows = inter[inter["user_id"] == user]
        assert rows["item_id"].tolist() == seq
        assert rows["split"].tolist() == ["train"] * (len(seq) - 2) + ["valid", "test"]
    assert len(inter) == 14 and ds.ordered and inter["timestamp"].isna().all()
    assert list(ds.items.index) == ["I1", "I2", "I3", "I4", "I5", "I6", "I7", "0", "I8"]
    assert ds.items.loc["0", "text"] == "Text of 0. "
    assert ds.text_fields == ["text"]
    assert ds.notes[0].startswith("split as given in the RecBole atomic files")
    # AU1's test history shows only its last 3 items, so I1..I3 (3 items) are rebuilt
    assert any("1 user(s) (3 interactions" in n for n in ds.notes)


def test_recbole_inconsistent_valid_row(tmp_path):
    folder = write_recbole(tmp_path / "uni", SEQS, max_len=3)
    valid = folder / "Toy.valid.inter"
    lines = valid.read_text().splitlines()
    lines[2] = "1\t0 1 5\t2"  # AU2's valid history does not end its train sequence
    valid.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"Toy\.valid\.inter, line 3: history of user '1'"):
        load_recbole(folder)


def test_recbole_bad_header(tmp_path):
    folder = write_recbole(tmp_path / "uni", SEQS)
    path = folder / "Toy.test.inter"
    path.write_text("user\titems\ttarget\n" + "".join(path.read_text().splitlines(True)[1:]))
    with pytest.raises(ValueError, match=r"Toy\.test\.inter, line 1: header"):
        load_recbole(folder)


# ------------------------------------------------------------------------------- LC-Rec
def test_lcrec_items_and_sequences(tmp_path):
    ds = load_lcrec(write_lcrec(tmp_path / "Toy"))
    assert list(ds.items.index) == ["0", "1", "2"]
    assert is_missing(ds.items.loc["0", "description"]) and ds.items.loc["0", "brand"] == "Acme"
    assert ds.items.loc["0", "categories"] == "Tools,Hand Tools"
    inter = ds.interactions
    assert list(zip(inter["user_id"], inter["item_id"])) == [
        ("0", "2"), ("0", "0"), ("0", "1"), ("1", "1"), ("1", "0")]
    assert ds.ordered and not ds.has_given_split
    assert ds.item_map.index("0") == 0  # "0" is an ordinary id


def test_lcrec_invalid_json(tmp_path):
    folder = write_lcrec(tmp_path / "Toy")
    (folder / "Toy.inter.json").write_text('{"0": [1, 2,\n')
    with pytest.raises(ValueError, match=r"Toy\.inter\.json, line 2: not valid JSON"):
        load_lcrec(folder)


# ---------------------------------------------------------------------- generic tables
def test_table_keeps_string_ids_and_extra_columns(tmp_path):
    folder = write_table(tmp_path / "shop")
    ds = load_table(folder / "events.csv", user_col="uid", item_col="sku", time_col="ts",
                    rating_col="stars", items_path=folder / "items.csv", text_cols=["name", "blurb"])
    inter = ds.interactions
    assert inter["user_id"].tolist() == ["007", "007", "8"]
    assert inter["item_id"].tolist() == ["0", "12", "0"]
    assert inter["timestamp"].tolist() == [100.0, 200.0, 150.0]
    assert math.isnan(inter.loc[2, "rating"])
    assert inter["device"].tolist() == ["web", "app", "web"]  # extra column survives
    assert ds.items.loc["0", "name"] == "Zero" and ds.text_fields == ["name", "blurb"]
    assert ds.ordered


def test_table_missing_columns_names_file_and_columns(tmp_path):
    folder = write_table(tmp_path / "shop")
    with pytest.raises(ValueError, match=r"events\.csv: missing column\(s\) \['user'\]; the file "
                                         r"has columns \['uid', 'sku', 'ts', 'stars', 'device'\]"):
        load_table(folder / "events.csv", user_col="user", item_col="sku")


def test_table_with_another_separator_gets_a_sep_hint(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("uid;sku;ts\n1;a;100\n1;b;200\n")
    with pytest.raises(ValueError, match=r"events\.csv: read as one column 'uid;sku;ts' with separator ','.*"
                                         r"set \"sep\": \";\" in lmrec\.json"):
        load_table(path, user_col="uid", item_col="sku")
    assert load_table(path, user_col="uid", item_col="sku", sep=";").interactions["item_id"].tolist() == ["a", "b"]


def test_table_empty_id_names_line(tmp_path):
    path = tmp_path / "e.tsv"
    path.write_text("u\ti\na\tx\n\ty\n")
    with pytest.raises(ValueError, match=r"e\.tsv, line 3: empty 'u'"):
        load_table(path, user_col="u", item_col="i")


def test_table_parquet_and_date_strings(tmp_path):
    path = tmp_path / "events.parquet"
    pd.DataFrame({"u": [1, 2], "i": [0, 5], "when": ["1970-01-01 00:01:40", "1970-01-02"]}).to_parquet(path)
    ds = load_table(path, user_col="u", item_col="i", time_col="when")
    assert ds.interactions["user_id"].tolist() == ["1", "2"]
    assert ds.interactions["item_id"].tolist() == ["0", "5"]
    assert ds.interactions["timestamp"].tolist() == [100.0, 86400.0]
    assert ds.name == "events" and ds.text_fields == []


def test_table_folder_with_lmrec_json(tmp_path):
    ds = load_table_folder(write_table(tmp_path / "shop"))
    assert ds.name == "shop" and ds.n_users == 2 and ds.n_items == 2
    assert ds.text_fields == ["name", "blurb"]
    assert is_missing(ds.items.loc["12", "blurb"])
    assert ds.items.loc["12", "name"] == "NA"  # a real name, not a missing value


def test_table_folder_bad_config(tmp_path):
    folder = write_table(tmp_path / "shop")
    (folder / "lmrec.json").write_text(json.dumps({"format": "table", "interactions": "events.csv"}))
    with pytest.raises(ValueError, match="needs \"interactions\" and \"columns\""):
        load_table_folder(folder)


def test_item_table_whose_ids_match_no_interaction_is_refused(tmp_path):
    (tmp_path / "e.csv").write_text("u,i\na,x1\na,x2\n")
    (tmp_path / "items.csv").write_text("i,title\nTitle one,x1\nTitle two,x2\n")     # columns swapped
    with pytest.raises(ValueError, match=r"items\.csv: none of the 2 item ids of e\.csv has a row here"):
        load_table(tmp_path / "e.csv", user_col="u", item_col="i", items_path=tmp_path / "items.csv")


# ---------------------------------------------------- JSON tables and refusals (issue 15, #1)
def _json_folder(tmp_path, items_name: str, events_name: str = "events.jsonl"):
    folder = tmp_path / "shop"
    folder.mkdir()
    events = [{"uid": "007", "sku": "0", "ts": 100}, {"uid": "007", "sku": "12", "ts": 200},
              {"uid": 8, "sku": 0, "ts": 150}]
    items = [{"sku": "0", "title": "Pan", "category": ["Home", "Kitchen"]},
             {"sku": "12", "title": "NA", "category": [], "brand": None}]
    opener = gzip.open if events_name.endswith(".gz") else open
    with opener(folder / events_name, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(e) for e in events) + "\n\n")
    if items_name.endswith(".jsonl"):
        (folder / items_name).write_text("\n".join(json.dumps(i) for i in items) + "\n")
    else:
        (folder / items_name).write_text(json.dumps(items, indent=2))
    (folder / "lmrec.json").write_text(json.dumps({
        "format": "table", "interactions": events_name, "columns": {"user_id": "uid", "item_id": "sku",
                                                                  "timestamp": "ts"},
        "items": items_name, "item_id": "sku", "text_fields": ["title", "category"]}))
    return folder


@pytest.mark.parametrize("items_name, events_name", [("items.jsonl", "events.jsonl"),
                                                     ("items.json", "events.json"),
                                                     ("items.json", "events.jsonl.gz")])
def test_table_folder_with_json_lines_and_json_arrays(tmp_path, items_name, events_name):
    from lmrec.data.text import TextTemplate, build_item_texts

    ds = load_table_folder(_json_folder(tmp_path, items_name, events_name))
    assert ds.interactions["user_id"].tolist() == ["007", "007", "8"]
    assert ds.interactions["item_id"].tolist() == ["0", "12", "0"]
    assert ds.interactions["timestamp"].tolist() == [100.0, 200.0, 150.0]
    assert list(ds.items.loc["0", "category"]) == ["Home", "Kitchen"]
    texts, _ = build_item_texts(ds.items, ds.item_map.ids, TextTemplate(tuple(ds.text_fields)))
    assert texts == ["Pan. Home, Kitchen", "NA"]


def test_unsupported_table_types_are_refused_by_name(tmp_path):
    for name in ("events.xlsx", "events.txt", "events", "events.parquet.gz"):
        (tmp_path / name).write_bytes(b"uid,sku\n1,a\n")
        with pytest.raises(ValueError, match=rf"{name.replace('.', r'[.]')}: unsupported table type .*csv, tsv, "
                                             r"parquet, jsonl .*json"):
            load_table(tmp_path / name, user_col="uid", item_col="sku")


def test_unparsable_files_name_the_file_not_a_pandas_error(tmp_path):
    bad_jsonl = tmp_path / "e.jsonl"
    bad_jsonl.write_text('{"u": "a", "i": "x"}\n{"u": "a", "i": \n')
    with pytest.raises(ValueError, match=r"e\.jsonl, line 2: not valid JSON .*one JSON object per line"):
        load_table(bad_jsonl, user_col="u", item_col="i")
    not_records = tmp_path / "e.json"
    not_records.write_text('[{"u": "a", "i": "x"}, ["a", "y"]]')
    with pytest.raises(ValueError, match=r"e\.json: element 1 of the array is a list, not an object"):
        load_table(not_records, user_col="u", item_col="i")
    ragged = tmp_path / "e.csv"
    ragged.write_text("u,i\na,x\na,y,Rock, Pop\n")
    with pytest.raises(ValueError, match=r"e\.csv: cannot be read as a CSV table with separator ','.*quoted"):
        load_table(ragged, user_col="u", item_col="i")
    fake = tmp_path / "e.parquet"
    fake.write_text("u,i\na,x\n")
    with pytest.raises(ValueError, match=r"e\.parquet: not a readable Parquet file"):
        load_table(fake, user_col="u", item_col="i")
    latin = tmp_path / "l.csv"
    latin.write_bytes("u,i\na,caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"l\.csv: not UTF-8 text .*save it as UTF-8"):
        load_table(latin, user_col="u", item_col="i")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        load_table(tmp_path / "empty.csv", user_col="u", item_col="i")


def test_parquet_list_column_and_float_ids_in_item_table(tmp_path):
    pd.DataFrame({"u": ["a", "a"], "i": ["1", "2"]}).to_parquet(tmp_path / "e.parquet")
    pd.DataFrame({"i": [1.0, 2.0, None], "category": [["Home", "Kitchen"], None, ["x"]]}).to_parquet(
        tmp_path / "items.parquet")
    with pytest.raises(ValueError, match=r"items\.parquet, row 2: empty 'i'"):
        load_table(tmp_path / "e.parquet", user_col="u", item_col="i", items_path=tmp_path / "items.parquet")
    pd.DataFrame({"i": [1.0, 2.0], "category": [["Home", "Kitchen"], None]}).to_parquet(tmp_path / "items.parquet")
    ds = load_table(tmp_path / "e.parquet", user_col="u", item_col="i", items_path=tmp_path / "items.parquet")
    assert list(ds.items.index) == ["1", "2"]                     # 1.0 → "1", matching the interactions
    assert ds.statistics()["text_coverage_by_field"] == {"category": 0.5}


@pytest.mark.parametrize("config, match", [
    ([{"interactions": "events.csv"}], r"lmrec\.json: must be one JSON object.*found a JSON list"),
    ({"interactions": "events.csv", "columns": ["u", "i"]}, r"\"columns\" must be an object"),
])
def test_table_folder_config_of_the_wrong_shape_is_named(tmp_path, config, match):
    """Newcomer trial: valid JSON that is not an object gave a raw AttributeError."""
    folder = write_table(tmp_path / "shop")
    (folder / "lmrec.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=match):
        load_table_folder(folder)
