"""Dataset discovery by folder and loading by name (lmrec.data.registry)."""

from __future__ import annotations

import pytest
from loader_files import (write_amazon2018, write_lcrec, write_ml100k, write_ml_latest,
                          write_recbole, write_table)

from lmrec.data.registry import (UnknownDatasetError, find_datasets, load_dataset,
                                 resolve_data_dir)


@pytest.fixture
def data_dir(tmp_path):
    root = tmp_path / "data"
    write_ml100k(root / "ml-100k")
    write_ml_latest(root / "ml-latest-small")
    write_amazon2018(root / "amazon2018-raw", category="Gift_Cards")
    write_amazon2018(root / "amazon2018-raw", category="Appliances", with_meta=False)
    write_recbole(root / "amazon-unisrec-scientific", {"U1": ["a", "b", "c", "d"]}, prefix="Scientific")
    write_lcrec(root / "amazon-lcrec" / "Scientific", prefix="Scientific")
    write_table(root / "shop")
    news = root / "mind-small-subset"  # not a recommendation format we load: skipped
    news.mkdir()
    (news / "news.tsv").write_text("N1\tnews\tsports\tTitle\n")
    (news / "behaviors.tsv").write_text("1\tU1\t11/11/2019 9:05:58 AM\tN1\tN2-1\n")
    (root / ".cache" / "ml-100k").mkdir(parents=True)  # hidden folders are not searched
    return root


def test_find_datasets_names_formats_and_categories(data_dir):
    found = {(i.name, i.format, i.category) for i in find_datasets(data_dir)}
    assert found == {
        ("amazon-lcrec/Scientific", "lcrec", "Scientific"),
        ("amazon-unisrec-scientific", "recbole", "Scientific"),
        ("amazon2018-raw/Appliances", "amazon2018", "Appliances"),
        ("amazon2018-raw/Gift_Cards", "amazon2018", "Gift_Cards"),
        ("ml-100k", "movielens", None),
        ("ml-latest-small", "movielens", None),
        ("shop", "table", None),
    }


@pytest.mark.parametrize("name, n_interactions", [
    ("ml-100k", 4), ("ml-latest-small", 3), ("amazon2018-raw/Gift_Cards", 4),
    ("amazon2018/Gift_Cards", 4), ("amazon-unisrec-scientific", 4),
    ("amazon-lcrec/Scientific", 5), ("shop", 3)])
def test_load_dataset_by_name(data_dir, name, n_interactions):
    ds = load_dataset(name, data_dir)
    assert len(ds.interactions) == n_interactions
    assert ds.name == name.replace("amazon2018/", "amazon2018-raw/")


def test_load_dataset_by_absolute_path(data_dir):
    assert load_dataset(str(data_dir / "ml-100k")).name == "ml-100k"


def test_unknown_name_lists_available(data_dir):
    with pytest.raises(UnknownDatasetError, match=r"unknown dataset 'ml-20m'.*available: "
                                                  r"amazon-lcrec/Scientific, .*ml-100k"):
        load_dataset("ml-20m", data_dir)


def test_data_dir_from_environment(data_dir, monkeypatch):
    monkeypatch.setenv("LMREC_DATA_DIR", str(data_dir))
    assert resolve_data_dir(None) == data_dir
    assert load_dataset("ml-100k").n_users == 3


def test_no_data_dir_says_what_to_do(monkeypatch):
    monkeypatch.delenv("LMREC_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match=r"--data-dir.*LMREC_DATA_DIR.*lmrec download"):
        resolve_data_dir(None)


def test_missing_data_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_data_dir(tmp_path / "nope")


def test_symlinked_dataset_folders_are_found_and_cycles_skipped(tmp_path):
    """Issue 15, #6: a data folder assembled from symlinks (with a cycle in it)."""
    real = tmp_path / "corpora"
    write_ml100k(real / "movielens" / "ml-100k")
    write_table(real / "shop")
    data = tmp_path / "data"
    (data / "amazon").mkdir(parents=True)
    (data / "ml-100k").symlink_to(real / "movielens" / "ml-100k", target_is_directory=True)
    (data / "amazon" / "shop").symlink_to(real / "shop", target_is_directory=True)
    (data / "amazon" / "loop").symlink_to(data, target_is_directory=True)        # cycle back to the root
    (data / "broken").symlink_to(tmp_path / "nowhere", target_is_directory=True)
    found = {(i.name, i.format) for i in find_datasets(data)}
    assert found == {("ml-100k", "movielens"), ("amazon/shop", "table")}
    ds = load_dataset("ml-100k", data)
    assert ds.name == "ml-100k" and len(ds.interactions) == 4
    linked_root = tmp_path / "linked-data"                                     # the data folder itself a link
    linked_root.symlink_to(data, target_is_directory=True)
    assert {i.name for i in find_datasets(linked_root)} == {"ml-100k", "amazon/shop"}


def test_dataset_folder_given_as_a_relative_path(tmp_path, monkeypatch):
    """Newcomer trial: `--dataset ./mine` was looked up as a name in the data directory."""
    write_table(tmp_path / "work" / "mine")
    monkeypatch.chdir(tmp_path / "work")
    assert load_dataset("./mine", tmp_path / "empty-data-dir-unused").name == "mine"
    monkeypatch.chdir(tmp_path / "work" / "mine")
    assert load_dataset(".").name == "mine"
    with pytest.raises(UnknownDatasetError, match=r"starting with \./"):
        load_dataset("mine", tmp_path)      # a bare name is a name in the data directory, not a path
