"""Downloads (lmrec.data.download), offline: file:// URLs and a patched urlopen."""

from __future__ import annotations

import gzip
import urllib.error
import urllib.request
import zipfile

import pytest
from loader_files import write_amazon2018, write_ml100k

from lmrec.data import download
from lmrec.data.download import DownloadError, download_dataset
from lmrec.data.registry import load_dataset


@pytest.fixture
def ml100k_zip(tmp_path):
    """A zip laid out like GroupLens' ml-100k.zip: one top folder ``ml-100k/``."""
    src = write_ml100k(tmp_path / "src" / "ml-100k")
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in src.iterdir():
            zf.write(f, f"ml-100k/{f.name}")
    return archive


def test_movielens_zip_is_unpacked_into_data_dir(tmp_path, ml100k_zip, monkeypatch):
    monkeypatch.setitem(download.MOVIELENS_URLS, "ml-100k", ml100k_zip.as_uri())
    data_dir = tmp_path / "data"
    path = download_dataset("ml-100k", data_dir)
    assert path == data_dir / "ml-100k"
    assert sorted(p.name for p in path.iterdir()) == ["u.data", "u.genre", "u.item", "u.user"]
    assert sorted(p.name for p in data_dir.iterdir()) == ["ml-100k"]  # no temp files left
    assert load_dataset("ml-100k", data_dir).n_items == 3


def test_existing_dataset_is_not_downloaded_again(tmp_path, ml100k_zip, monkeypatch):
    monkeypatch.setitem(download.MOVIELENS_URLS, "ml-100k", ml100k_zip.as_uri())
    data_dir = tmp_path / "data"
    download_dataset("ml-100k", data_dir)
    monkeypatch.setattr(urllib.request, "urlopen", _unreachable)
    assert download_dataset("ml-100k", data_dir) == data_dir / "ml-100k"
    with pytest.raises(DownloadError):
        download_dataset("ml-100k", data_dir, force=True)


def test_amazon_files_go_to_amazon2018_raw(tmp_path, monkeypatch):
    src = write_amazon2018(tmp_path / "src", category="Gift_Cards")
    monkeypatch.setattr(download, "AMAZON2018_REVIEWS_URL", src.as_uri() + "/{category}_5.json.gz")
    monkeypatch.setattr(download, "AMAZON2018_META_URL", src.as_uri() + "/meta_{category}.json.gz")
    data_dir = tmp_path / "data"
    path = download_dataset("amazon2018/Gift_Cards", data_dir)
    assert path == data_dir / "amazon2018-raw"
    assert sorted(p.name for p in path.iterdir()) == ["Gift_Cards_5.json.gz",
                                                      "meta_Gift_Cards.json.gz"]
    with gzip.open(path / "Gift_Cards_5.json.gz", "rt") as fh:
        assert len(fh.read().splitlines()) == 4
    assert load_dataset("amazon2018/Gift_Cards", data_dir).n_items == 3


def test_missing_amazon_metadata_is_not_fatal(tmp_path, monkeypatch):
    src = write_amazon2018(tmp_path / "src", category="Appliances", with_meta=False)
    real_urlopen = urllib.request.urlopen

    def urlopen(url, timeout=None):
        if "meta_" in url:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return real_urlopen(url, timeout=timeout)

    monkeypatch.setattr(download, "AMAZON2018_REVIEWS_URL", src.as_uri() + "/{category}_5.json.gz")
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    path = download_dataset("amazon2018/Appliances", tmp_path / "data")
    assert sorted(p.name for p in path.iterdir()) == ["Appliances_5.json.gz"]


def _unreachable(url, timeout=None):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_offline_raises_download_error_naming_url(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _unreachable)
    with pytest.raises(DownloadError, match=r"files\.grouplens\.org/datasets/movielens/ml-1m\.zip"
                                            r".*name resolution.*LMREC_DATA_DIR"):
        download_dataset("ml-1m", tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []  # nothing half-written
    with pytest.raises(DownloadError, match=r"categoryFilesSmall/Gift_Cards_5\.json\.gz"):
        download_dataset("amazon2018/Gift_Cards", tmp_path / "data")


def test_unknown_names(tmp_path):
    with pytest.raises(DownloadError, match=r"unknown dataset 'ml-20m'.*ml-100k"):
        download_dataset("ml-20m", tmp_path)
    with pytest.raises(DownloadError, match="not an Amazon 2018 category"):
        download_dataset("amazon2018/../etc", tmp_path)


def test_corrupt_zip(tmp_path, monkeypatch):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    monkeypatch.setitem(download.MOVIELENS_URLS, "ml-100k", bad.as_uri())
    with pytest.raises(DownloadError, match="not a valid zip"):
        download_dataset("ml-100k", tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []
