"""NeMig user-study click logs (Iana et al., "NeMig – A Bilingual News Collection and Knowledge
Graph about Migration", 2022/23) in their MIND-like layout.

Differences from MIND (see ``DATASETS.md``): ``behaviors.tsv`` has **4 columns** (no time):
``impression_id user_id history impressions``; ``news.tsv`` has a **header row**
(``news_id title abstract subtopic_id subtopic_label sentiment outlet political_orientation
date_published``). There are no MIND categories; ``subtopic_label`` is mapped to
``subcategory`` and ``category`` is the constant ``"migration"``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lmrec.data.loaders.mind import read_behaviors
from lmrec.data.news import NewsDataset

REQUIRED = ("news_id", "title")


def read_nemig_news(path: str | Path) -> pd.DataFrame:
    """Read NeMig's derived ``news.tsv`` (header row) into a frame indexed by ``news_id``.

    Returns
    -------
    pandas.DataFrame
        Columns ``title``, ``abstract``, ``category`` (``"migration"``), ``subcategory``
        (``subtopic_label``) plus every other column of the file, all str.

    Raises
    ------
    ValueError
        If the header lacks ``news_id``/``title`` or an id repeats.
    """
    path = Path(path)
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: header lacks {missing}; expected a NeMig news.tsv with columns "
                         f"news_id, title, abstract, …")
    dup = df["news_id"][df["news_id"].duplicated()]
    if len(dup):
        raise ValueError(f"{path}: news id {dup.iloc[0]!r} appears more than once")
    df = df.set_index("news_id")
    if "abstract" not in df:
        df["abstract"] = ""
    df["category"] = "migration"
    df["subcategory"] = df.get("subtopic_label", pd.Series("", index=df.index)).str.replace("_", " ")
    return df


def load_nemig(folder: str | Path, name: str | None = None) -> NewsDataset:
    """Load one NeMig language folder (``nemig/en`` or ``nemig/de``) as a :class:`NewsDataset`.

    Raises
    ------
    FileNotFoundError
        If ``news.tsv`` or ``behaviors.tsv`` is missing.
    """
    folder = Path(folder)
    for f in ("news.tsv", "behaviors.tsv"):
        if not (folder / f).is_file():
            raise FileNotFoundError(f"{folder}: no {f} (NeMig layout needs news.tsv and behaviors.tsv)")
    news = read_nemig_news(folder / "news.tsv")
    imps = read_behaviors(folder / "behaviors.tsv", with_time=False)
    language = folder.name if folder.name in ("en", "de") else None
    return NewsDataset(name=name or f"nemig-{folder.name}", news=news, impressions=imps,
                       source_format="nemig", language=language)
