"""Download public datasets into a data folder, where :mod:`lmrec.data.registry` finds them.

Known names:

``ml-100k``, ``ml-1m``, ``ml-latest-small``
    zip files of GroupLens (https://files.grouplens.org/datasets/movielens/), unpacked into
    ``<data_dir>/<name>/``. Read the MovieLens licence (no redistribution).
``amazon2018/<Category>`` (e.g. ``amazon2018/Gift_Cards``)
    the 5-core reviews ``<Category>_5.json.gz`` and the metadata ``meta_<Category>.json.gz`` of
    Amazon Review Data (2018), McAuley lab, UCSD, saved into ``<data_dir>/amazon2018-raw/``
    (loaded as ``amazon2018-raw/<Category>``). Category names are case-sensitive, as on
    https://nijianmo.github.io/amazon/.

Every file is written to a temporary name in the destination folder and renamed when complete,
so an interrupted download never leaves a half-written dataset behind.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)

MOVIELENS_URLS = {
    "ml-100k": "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    "ml-1m": "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    "ml-latest-small": "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
}
AMAZON2018_REVIEWS_URL = ("https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/"
                          "categoryFilesSmall/{category}_5.json.gz")
AMAZON2018_META_URL = ("https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2/"
                       "metaFiles2/meta_{category}.json.gz")
AMAZON2018_PREFIX = "amazon2018/"
AMAZON2018_FOLDER = "amazon2018-raw"
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z_]*$")
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A dataset could not be fetched; the message names the URL and the way out."""


def available_downloads() -> list[str]:
    """Names :func:`download_dataset` knows; Amazon categories are shown as a pattern."""
    return sorted(MOVIELENS_URLS) + [AMAZON2018_PREFIX + "<Category>"]


def _fetch(url: str, dest: Path, timeout: float) -> Path:
    """Stream ``url`` into ``dest`` atomically (temporary file in the same folder, then rename)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, out, _CHUNK)
        os.replace(tmp_name, dest)
    except urllib.error.HTTPError as exc:
        raise DownloadError(f"could not download {url}: HTTP {exc.code} {exc.reason} — check the "
                            f"dataset name (known: {', '.join(available_downloads())})") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"could not download {url}: {reason}. If this machine has no internet "
                            f"access, fetch and unpack it elsewhere so that the dataset's files sit in a folder named "
                            f"after it under the data directory (e.g. data/ml-100k/u.data), then pass "
                            f"--data-dir or set LMREC_DATA_DIR to that data directory") from exc
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return dest


def _unzip_into(archive: Path, target: Path) -> None:
    """Unpack ``archive`` so its content lands in ``target`` (a single top folder is dropped)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                resolved = (staging / member).resolve()
                if not resolved.is_relative_to(staging.resolve()):
                    raise DownloadError(f"{archive}: unsafe path {member!r} in the zip; not unpacked")
            zf.extractall(staging)
        entries = [p for p in staging.iterdir() if not p.name.startswith("__MACOSX")]
        content = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
        if target.exists():
            shutil.rmtree(target)
        os.replace(content, target)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{archive}: not a valid zip file ({exc}); download it again") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _download_movielens(name: str, data_dir: Path, timeout: float, force: bool) -> Path:
    target = data_dir / name
    if target.is_dir() and any(target.iterdir()) and not force:
        logger.info("%s already present in %s", name, target)
        return target
    url = MOVIELENS_URLS[name]
    archive = _fetch(url, data_dir / f".{name}.zip", timeout)
    try:
        _unzip_into(archive, target)
    finally:
        archive.unlink(missing_ok=True)
    return target


def _download_amazon2018(category: str, data_dir: Path, timeout: float, force: bool) -> Path:
    if not _CATEGORY.match(category):
        raise DownloadError(f"{category!r} is not an Amazon 2018 category name (e.g. Gift_Cards, "
                            f"Magazine_Subscriptions, Industrial_and_Scientific)")
    folder = data_dir / AMAZON2018_FOLDER
    reviews = folder / f"{category}_5.json.gz"
    if force or not reviews.is_file():
        _fetch(AMAZON2018_REVIEWS_URL.format(category=category), reviews, timeout)
    meta = folder / f"meta_{category}.json.gz"
    if force or not meta.is_file():
        try:
            _fetch(AMAZON2018_META_URL.format(category=category), meta, timeout)
        except DownloadError as exc:
            if not isinstance(exc.__cause__, urllib.error.HTTPError):
                raise
            logger.warning("no metadata for %s (%s); items will have no text", category, exc)
    return folder


def download_dataset(name: str, data_dir: str | os.PathLike, *, timeout: float = 60.0,
                     force: bool = False) -> Path:
    """Fetch dataset ``name`` into ``data_dir`` and return the folder holding it.

    Parameters
    ----------
    name:
        ``"ml-100k"``, ``"ml-1m"``, ``"ml-latest-small"`` or ``"amazon2018/<Category>"``.
    data_dir:
        Data folder (created if missing).
    timeout:
        Seconds to wait for the server on each connection/read.
    force:
        Download again even if the files are already there.

    Returns
    -------
    Path
        ``data_dir/<name>`` for MovieLens, ``data_dir/amazon2018-raw`` for Amazon.

    Raises
    ------
    DownloadError
        Unknown name, unreachable server (the URL is named, with the offline way out), HTTP
        error, or a corrupt archive.
    """
    data_dir = Path(data_dir).expanduser()
    data_dir.mkdir(parents=True, exist_ok=True)
    if name in MOVIELENS_URLS:
        return _download_movielens(name, data_dir, timeout, force)
    if name.startswith(AMAZON2018_PREFIX):
        return _download_amazon2018(name[len(AMAZON2018_PREFIX):], data_dir, timeout, force)
    raise DownloadError(f"unknown dataset {name!r} — known: {', '.join(available_downloads())}")
