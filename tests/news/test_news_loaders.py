"""MIND and NeMig parsers: empty histories, unlabeled impressions, text coverage, user split."""

import numpy as np
import pytest

from lmrec.data.loaders.mind import load_mind, parse_impression_list, read_behaviors
from lmrec.data.loaders.nemig import load_nemig
from lmrec.data.news import InsufficientTextError, split_by_user
from lmrec.data.news_registry import load_news_dataset

NEWS = ("N1\tnews\tnewsus\tFirst title\tAbstract one\thttp://a\t[]\t[]\n"
        "N2\tsports\tsoccer\tSecond title\t\thttp://b\t[]\t[]\n"
        "N3\tnews\tnewsworld\tThird title\tAbstract three\thttp://c\t[]\t[]\n")


def write_mind(folder, behaviors):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "news.tsv").write_text(NEWS)
    (folder / "behaviors.tsv").write_text(behaviors)
    return folder


def test_mind_rows_with_empty_history(tmp_path):
    d = load_mind(write_mind(tmp_path / "m", "1\tU1\t11/11/2019 9:05:58 AM\t\tN1-1 N2-0\n"
                                             "2\tU2\t11/12/2019 1:00:00 PM\tN1 N3\tN2-0 N3-1 N1-0\n"))
    imp = d.impressions
    assert imp.histories == [[], ["N1", "N3"]]
    assert imp.candidates == [["N1", "N2"], ["N2", "N3", "N1"]]
    assert [lab.tolist() for lab in imp.labels] == [[1, 0], [0, 1, 0]]
    assert imp.times[0] == "11/11/2019 9:05:58 AM"
    assert d.news.loc["N2", "abstract"] == ""
    assert d.statistics()["n_empty_histories"] == 1


def test_mind_unlabeled_impressions(tmp_path):
    d = load_mind(write_mind(tmp_path / "m", "9\tU1\t11/15/2019 8:00:00 AM\tN1\tN2 N3\n"))
    assert d.impressions.labels is None
    assert d.impressions.candidates == [["N2", "N3"]]
    assert d.statistics()["labeled"] is False


def test_mixed_labels_are_rejected_with_location(tmp_path):
    with pytest.raises(ValueError, match=r"behaviors.tsv:1.*mixes"):
        read_behaviors(write_mind(tmp_path / "m", "1\tU1\tt\t\tN1-1 N2\n") / "behaviors.tsv")
    with pytest.raises(ValueError, match="expected 5"):
        read_behaviors(write_mind(tmp_path / "n", "1\tU1\t\tN1-1 N2-0\n") / "behaviors.tsv")


def test_parse_keeps_dashes_inside_ids():
    ids, labels = parse_impression_list("news_12-1 news_7-0", "x")
    assert ids == ["news_12", "news_7"] and labels.tolist() == [1, 0]


def test_text_coverage_refuses_below_threshold(tmp_path):
    # 3 of 5 referenced ids have text (N8, N9 do not): 60 % < 90 %
    d = load_mind(write_mind(tmp_path / "m", "1\tU1\tt\tN8 N9\tN1-1 N2-0 N3-0\n"))
    cov = d.text_coverage()
    assert cov["referenced_news"] == 5 and cov["news_with_text"] == 3
    assert cov["missing_share"] == pytest.approx(0.4)
    with pytest.raises(InsufficientTextError, match="60.0%"):
        d.check_text_coverage(0.9)
    assert d.check_text_coverage(0.9, allow_missing_text=True)["coverage_news"] == pytest.approx(0.6)


def test_nemig_four_columns_and_header(tmp_path):
    f = tmp_path / "en"
    f.mkdir()
    (f / "news.tsv").write_text("news_id\ttitle\tabstract\tsubtopic_id\tsubtopic_label\n"
                                "news_1\tBorder news\tAbs\t3\tborder_crisis\n"
                                "news_2\tAsylum news\t\t-1\tasylum_law\n")
    (f / "behaviors.tsv").write_text("5\tU7\tnews_1\tnews_2-1 news_1-0\n6\tU8\t\tnews_1-0 news_2-0\n")
    d = load_nemig(f)
    assert d.name == "nemig-en" and d.language == "en"
    assert d.impressions.histories == [["news_1"], []]
    assert d.statistics()["n_no_click"] == 1
    assert d.news.loc["news_1", "subcategory"] == "border crisis"
    assert load_news_dataset(str(f)).source_format == "nemig"      # detected from 4 columns


def test_user_split_is_disjoint_and_seeded(tmp_path):
    rows = "".join(f"{i}\tU{i % 20}\tt\tN1\tN1-1 N2-0\n" for i in range(60))
    d = load_mind(write_mind(tmp_path / "m", rows))
    parts = split_by_user(d, (0.8, 0.1, 0.1), seed=3)
    users = {p: set(x.impressions.user_ids) for p, x in parts.items()}
    assert [len(users[p]) for p in ("train", "valid", "test")] == [16, 2, 2]
    assert not users["train"] & users["test"] and not users["valid"] & users["test"]
    assert sum(len(x.impressions) for x in parts.values()) == 60
    again = split_by_user(d, (0.8, 0.1, 0.1), seed=3)
    assert set(again["test"].impressions.user_ids) == users["test"]


@pytest.mark.integration
def test_real_mind_subset_is_refused():
    import os
    from pathlib import Path

    root = Path(os.environ.get("LMREC_DATA_DIR", "/work/shared/datasets"))
    if not (root / "mind-small-subset").is_dir():
        pytest.skip("no shared datasets")
    d = load_news_dataset("mind-small-subset", root)
    with pytest.raises(InsufficientTextError, match="838 of 22,592"):
        d.check_text_coverage()
