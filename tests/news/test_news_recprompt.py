"""RecPrompt's MIND CSV samples (``mind-recprompt``): multi-line quoted parallel lists, ``C<j>``
labels, one news table across the three files, errors naming file/record/impression, CLI."""

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.data.loaders.mind_recprompt import (RecPromptFormatError, load_mind_recprompt,
                                               read_recprompt_csv)
from lmrec.data.news_registry import load_news_dataset

HEADER = ["impression_id", "history", "candidate", "label", "history_news_id", "history_title",
          "history_category", "history_subvert", "history_abstract", "candidate_news_id",
          "candidate_title", "candidate_category", "candidate_subvert", "candidate_abstract"]

#: news id → (title, category, subcategory, abstract)
NEWS = {"N1": ("Lakers win again", "sports", "basketball_nba", "LeBron scores 30."),
        "N2": ("Senate passes bill", "news", "newspolitics", ""),          # no abstract
        "N3": ("Storm hits coast", "weather", "weathertopstories", "Heavy rain, \"wind\", floods."),
        "N4": ("Celtics beat Knicks", "sports", "basketball_nba", "Boston, again."),
        "N5": ("Vote count continues", "news", "newspolitics", "Officials count.")}


def record(imp, hist, cands, label, news=NEWS):
    """One CSV record: parallel lists joined with newlines (quoted, multi-line, by csv.writer)."""
    def side(ids, tag):
        rows = [news[n] for n in ids]
        return {tag: "\n".join(f"{tag[0].upper()}{j}: {r[0]}" for j, r in enumerate(rows, 1)),
                f"{tag}_news_id": "\n".join(ids), f"{tag}_title": "\n".join(r[0] for r in rows),
                f"{tag}_category": "\n".join(r[1] for r in rows),
                f"{tag}_subvert": "\n".join(r[2] for r in rows),
                f"{tag}_abstract": "\n".join(r[3] for r in rows)}
    return {"impression_id": imp, "label": label, **side(hist, "history"), **side(cands, "candidate")}


def write_csv(path, records):
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER)
        w.writeheader()
        for r in records:
            w.writerow(r)
    return path


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "mind-recprompt"
    d.mkdir()
    write_csv(d / "MIND_test.csv", [record("11", ["N1", "N2"], ["N3", "N4", "N5"], "C2"),
                                    record("12", ["N2"], ["N1", "N3", "N5"], "C3")])
    write_csv(d / "MIND_valid.csv", [record(str(20 + i), ["N1", "N4"], ["N4", "N2", "N3"], "C1")
                                     for i in range(10)])
    other = {**NEWS, "N3": ("A different article", "movies", "movies-celebrity", "Sued.")}
    write_csv(d / "MIND_case.csv", [record("31", ["N3"], ["N1", "N2", "N5", "N4"], "C1,C4", news=other)])
    return d


def test_multiline_quoted_fields_parse_into_parallel_lists(folder):
    raw = (folder / "MIND_test.csv").read_text()
    assert '"H1: Lakers win again\nH2: Senate passes bill"' in raw      # really multi-line quoted
    records, news = read_recprompt_csv(folder / "MIND_test.csv")
    assert [r["impression_id"] for r in records] == ["11", "12"]
    assert records[0]["history"] == ["N1", "N2"]
    assert records[0]["candidates"] == ["N3", "N4", "N5"]
    assert records[0]["labels"].tolist() == [0, 1, 0] and records[0]["labels"].dtype == np.int8
    assert records[1]["labels"].tolist() == [0, 0, 1]
    assert news["N2"] == ("Senate passes bill", "", "news", "newspolitics")     # empty abstract kept
    assert news["N3"][1] == 'Heavy rain, "wind", floods.'


def test_one_news_table_across_parts_and_conflicting_ids_renamed(folder):
    test = load_mind_recprompt(folder)                    # test part; news from all three files
    assert test.name == "mind-recprompt" and len(test.impressions) == 2
    assert test.impressions.user_ids == ["11", "12"]      # no user ids: one user per impression
    assert test.news.loc["N1", "title"] == "Lakers win again"
    assert test.news.loc["N2", "subcategory"] == "newspolitics"
    # MIND_case gives N3 another article: it is kept apart as N3@case, N3 keeps the test text
    assert test.news.loc["N3", "title"] == "Storm hits coast"
    assert test.news.loc["N3@case", "title"] == "A different article"
    assert test.split["renamed_news"] == {"case": ["N3"]}
    case = load_mind_recprompt(folder, ["case"])
    assert case.impressions.histories == [["N3@case"]]
    assert case.impressions.labels[0].tolist() == [1, 0, 0, 1]          # "C1,C4": two clicks
    assert case.texts(["N3@case", "N3"]) == ["A different article", "Storm hits coast"]
    both = load_mind_recprompt(folder, ["valid", "case"])
    assert len(both.impressions) == 11 and both.name == "mind-recprompt-valid+case"
    assert test.text_coverage()["coverage_news"] == 1.0


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r.update(candidate_title="only one line"),
     r"MIND_test.csv: record 1 \(impression 11\): candidate_title has 1 lines but candidate_news_id has 3"),
    (lambda r: r.update(label="C4"), r"record 1 \(impression 11\): label 'C4' is not C1 … C3"),
    (lambda r: r.update(label="N4"), r"label 'N4'"),
    (lambda r: r.update(label=""), r"empty label"),
    (lambda r: r.update(candidate=r["candidate"].replace("C2:", "C7:")), r"line 2 of candidate .*'C2:'"),
    (lambda r: r.update(impression_id=""), r"empty impression_id"),
])
def test_malformed_records_name_file_record_and_impression(tmp_path, mutate, message):
    r = record("11", ["N1", "N2"], ["N3", "N4", "N5"], "C2")
    mutate(r)
    path = write_csv(tmp_path / "MIND_test.csv", [r])
    with pytest.raises(RecPromptFormatError, match=message):
        read_recprompt_csv(path)


def test_same_id_two_texts_in_one_file_and_repeated_impressions_are_refused(tmp_path):
    other = {**NEWS, "N1": ("Other text", "x", "y", "z")}
    path = write_csv(tmp_path / "MIND_test.csv", [record("11", ["N1"], ["N3", "N4"], "C1"),
                                                  record("12", ["N1"], ["N3", "N4"], "C1", news=other)])
    with pytest.raises(RecPromptFormatError, match=r"record 2 \(impression 12\): news N1 .*'Other text'"):
        read_recprompt_csv(path)
    path = write_csv(tmp_path / "MIND_test.csv", [record("11", ["N1"], ["N3", "N4"], "C1")] * 2)
    with pytest.raises(RecPromptFormatError, match="impression_id 11 appears twice"):
        read_recprompt_csv(path)
    (tmp_path / "MIND_test.csv").write_text("impression_id,history\n1,x\n")
    with pytest.raises(RecPromptFormatError, match="header lacks column.*candidate"):
        read_recprompt_csv(tmp_path / "MIND_test.csv")


def test_registered_names_and_missing_part(folder, tmp_path):
    root = folder.parent
    assert len(load_news_dataset("mind-recprompt", root).impressions) == 2
    assert len(load_news_dataset("mind-recprompt-valid", root).impressions) == 10
    assert load_news_dataset("mind-recprompt-case", root).impressions.impression_ids == ["31"]
    assert load_news_dataset(str(folder)).source_format == "mind-recprompt"    # folder → test part
    with pytest.raises(ValueError, match="unknown RecPrompt part"):
        load_mind_recprompt(folder, ["train"])
    only = tmp_path / "only"
    only.mkdir()
    (only / "MIND_test.csv").write_text((folder / "MIND_test.csv").read_text())
    with pytest.raises(FileNotFoundError, match="no MIND_valid.csv"):
        load_mind_recprompt(only, ["valid"])


def test_cli_evaluate_and_predict_on_mind_recprompt(folder, tmp_path):
    from lmrec.cli.main import app

    runner = CliRunner()
    root = str(folder.parent)
    run_dir = tmp_path / "run"
    res = runner.invoke(app, ["news", "train", "--dataset", "mind-recprompt-valid", "--model", "pop",
                              "--data-dir", root, "--out", str(run_dir), "--quiet"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["news", "evaluate", "--run", str(run_dir), "--dataset", "mind-recprompt",
                              "--data-dir", root])
    assert res.exit_code == 0, res.output
    # popularity from the 8 training impressions of the valid part (user split 80/10/10): N4 has
    # 8 impression + 8 history clicks, N1 8 history clicks, N2/N3/N5 none. Impression 11 (click N4
    # at C2) ranks it first: AUC 1; impression 12 (click N5) puts N1 first and ties N5 with N3:
    # AUC (0 + 0.5) / 2 = 0.25. Mean 0.625.
    assert "auc 0.6250" in res.output and "over 2 impressions" in res.output
    out = tmp_path / "prediction.txt"
    res = runner.invoke(app, ["news", "predict", "--run", str(run_dir), "--dataset", "mind-recprompt",
                              "--data-dir", root, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().splitlines() == ["11 [2,1,3]", "12 [1,2,3]"]
    # zero-training topic baseline from the CLI (no --seed passed to a model without one)
    res = runner.invoke(app, ["news", "train", "--dataset", "mind-recprompt-valid", "--model", "topic-match",
                              "--param", "mode=category", "--data-dir", root, "--out", str(tmp_path / "tm"),
                              "--quiet"])
    assert res.exit_code == 0, res.output
    # its one test impression: history N1, N4 (sports); candidates N4 (sports, clicked), N2, N3 → AUC 1
    assert "auc 1.0000" in res.output


def test_real_recprompt_files(shared_datasets):
    folder = shared_datasets / "mind-recprompt"
    if not (folder / "MIND_test.csv").is_file():
        pytest.skip(f"{folder} has no MIND_test.csv")
    test = load_news_dataset("mind-recprompt", shared_datasets)
    st = test.statistics()
    assert st["n_impressions"] == 400 and st["n_impression_entries"] == 4000 and st["n_clicks"] == 400
    assert all(len(c) == 10 for c in test.impressions.candidates)
    hist = [len(h) for h in test.impressions.histories]
    assert min(hist) >= 1 and max(hist) <= 25
    assert test.text_coverage()["coverage_news"] == 1.0
    assert test.impressions.impression_ids[0] == "33744"
    assert test.impressions.candidates[0][4] == "N60215" and test.impressions.labels[0][4] == 1
    assert test.news.loc["N512", "title"] == "Bill Russell finally accepts Basketball Hall of Fame ring"
    assert len(test.split["renamed_news"]["case"]) == 13      # MIND_case reuses 13 ids for other news
    valid = load_news_dataset("mind-recprompt-valid", shared_datasets)
    case = load_news_dataset("mind-recprompt-case", shared_datasets)
    assert len(valid.impressions) == 100 and len(case.impressions) == 100
    assert not set(test.impressions.impression_ids) & set(valid.impressions.impression_ids + case.impressions.impression_ids)
