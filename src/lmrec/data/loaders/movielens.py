"""MovieLens (GroupLens, https://grouplens.org/datasets/movielens/) in its three common layouts.

Cite F. M. Harper and J. A. Konstan, "The MovieLens Datasets: History and Context",
ACM TiiS 5(4), 2015. Ids stay the strings of the files (1-based numbers).

``ml-100k`` (:func:`load_ml100k`)
    ``u.data``: tab separated ``user_id item_id rating unix_timestamp``. ``u.item``: ``|``
    separated, **latin-1**, ``movie_id|title|release_date|video_release_date|IMDb_URL|`` and 19
    binary genre flags (names in ``u.genre``). ``u.user``: ``user_id|age|gender|occupation|zip``.
``ml-1m`` (:func:`load_ml1m`)
    ``movies.dat``: ``MovieID::Title::Genre|Genre`` (**latin-1**); ``users.dat``:
    ``UserID::Gender::Age::Occupation::Zip-code`` (age and occupation are codes, see the README
    of the release); ``ratings.dat``: ``UserID::MovieID::Rating::Timestamp``. Without
    ``ratings.dat``, the CoLaKG implicit split in ``colakg_implicit/`` is used (see
    :func:`load_ml1m`).
``ml-latest-small`` (:func:`load_ml_latest`)
    ``ratings.csv`` (``userId,movieId,rating,timestamp``), ``movies.csv``
    (``movieId,title,genres``), optional ``tags.csv`` (``userId,movieId,tag,timestamp``).

Every loader returns items with ``title`` (str, "Title (Year)") and ``genres`` (list of str,
``None`` when the movie has none); ``text_fields = ["title", "genres"]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.loaders._common import (none_if_empty, profile_coverage_notes, read_fields,
                                        require_columns, require_file)

ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western")
"""Genre flag order of ``u.item`` (used when ``u.genre`` is absent)."""

ML1M_AGES = {"1": "Under 18", "18": "18-24", "25": "25-34", "35": "35-44", "45": "45-49",
             "50": "50-55", "56": "56+"}
"""Age bucket codes of ``users.dat`` (ML-1M README)."""

ML1M_OCCUPATIONS = ("other", "academic/educator", "artist", "clerical/admin",
                    "college/grad student", "customer service", "doctor/health care",
                    "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
                    "programmer", "retired", "sales/marketing", "scientist", "self-employed",
                    "technician/engineer", "tradesman/craftsman", "unemployed", "writer")
"""Occupation codes 0–20 of ``users.dat`` (ML-1M README)."""

GENDERS = {"M": "male", "F": "female"}
TEXT_FIELDS = ["title", "genres"]


def detect_movielens_layout(path: Path) -> str | None:
    """``"100k"``, ``"1m"``, ``"latest"`` or ``None``, from the file names in ``path`` only."""
    path = Path(path)
    if (path / "u.data").is_file() and (path / "u.item").is_file():
        return "100k"
    if (path / "movies.dat").is_file() and ((path / "ratings.dat").is_file()
                                            or (path / "colakg_implicit").is_dir()):
        return "1m"
    if (path / "ratings.csv").is_file() and (path / "movies.csv").is_file():
        return "latest"
    return None


def load_movielens(path: Path, name: str | None = None) -> RecDataset:
    """Load any of the three MovieLens layouts, detected from the files in ``path``.

    Raises
    ------
    ValueError
        If ``path`` holds none of the layouts (the expected files are listed).
    """
    path = Path(path)
    layout = detect_movielens_layout(path)
    if layout == "100k":
        return load_ml100k(path, name)
    if layout == "1m":
        return load_ml1m(path, name)
    if layout == "latest":
        return load_ml_latest(path, name)
    raise ValueError(f"{path}: not a MovieLens folder — expected u.data + u.item (ml-100k), "
                     f"movies.dat + ratings.dat or colakg_implicit/ (ml-1m), or ratings.csv + "
                     f"movies.csv (ml-latest-small)")


def _interactions(users: list[str], items: list[str], timestamps: list[float],
                  ratings: list[float], **extra: list) -> pd.DataFrame:
    return pd.DataFrame({"user_id": users, "item_id": items,
                         "timestamp": np.asarray(timestamps, dtype="float64"),
                         "rating": np.asarray(ratings, dtype="float64"), **extra})


def _read_ratings(path: Path, sep: str) -> pd.DataFrame:
    """``user item rating timestamp`` lines (``u.data``, ``ratings.dat``) as interactions."""
    users, items, ratings, times = [], [], [], []
    for lineno, (u, i, r, t) in read_fields(path, sep, 4):
        try:
            ratings.append(float(r))
            times.append(float(t))
        except ValueError:
            raise ValueError(f"{path}, line {lineno}: rating {r!r} or timestamp {t!r} "
                             f"is not a number (user {u!r}, item {i!r})") from None
        users.append(u)
        items.append(i)
    return _interactions(users, items, times, ratings)


def _genre_names(path: Path) -> tuple[str, ...]:
    genre_file = path / "u.genre"
    if not genre_file.is_file():
        return ML100K_GENRES
    pairs = [(int(idx), name) for _, (name, idx) in read_fields(genre_file, "|", 2,
                                                                 encoding="latin-1")]
    return tuple(name for _, name in sorted(pairs))


def load_ml100k(path: Path, name: str | None = None) -> RecDataset:
    """MovieLens 100K (1998): 943 users, 1,682 movies, 100,000 ratings 1–5 with timestamps.

    Items: ``title``, ``genres`` (list of genre names; the ``unknown`` flag counts as no
    genre), ``release_date`` (str like ``"01-Jan-1995"`` or ``None``). Users: ``age`` (int),
    ``gender`` (``"male"``/``"female"``), ``occupation`` (str), ``zip`` (str).
    """
    path = Path(path)
    inter = _read_ratings(require_file(path / "u.data", "ml-100k ratings (u.data)"), "\t")
    genres = _genre_names(path)
    item_file = require_file(path / "u.item", "ml-100k movies (u.item)")
    records, ids = [], []
    for _, fields in read_fields(item_file, "|", 5 + len(genres), encoding="latin-1"):
        flags = fields[5:]
        names = [g for g, f in zip(genres, flags) if f == "1" and g != "unknown"]
        ids.append(fields[0])
        records.append({"title": none_if_empty(fields[1]), "genres": names or None,
                        "release_date": none_if_empty(fields[2])})
    items = pd.DataFrame(records, index=pd.Index(ids, name="item_id"))
    users, notes = None, []
    user_file = path / "u.user"
    if user_file.is_file():
        rows, uids = [], []
        for lineno, (uid, age, gender, occupation, zip_code) in read_fields(user_file, "|", 5,
                                                                            encoding="latin-1"):
            if not age.isdigit():
                raise ValueError(f"{user_file}, line {lineno}: age {age!r} of user {uid!r} "
                                 f"is not an integer")
            uids.append(uid)
            rows.append({"age": int(age), "gender": GENDERS.get(gender, none_if_empty(gender)),
                         "occupation": none_if_empty(occupation), "zip": none_if_empty(zip_code)})
        users = pd.DataFrame(rows, index=pd.Index(uids, name="user_id"))
        notes += profile_coverage_notes(inter["user_id"], users, user_file)
    return RecDataset(name=name or path.name, interactions=inter, items=items, users=users,
                      text_fields=list(TEXT_FIELDS), ordered=True, notes=notes,
                      source={"format": "movielens-100k", "path": str(path)})


def _read_ml1m_users(path: Path) -> pd.DataFrame:
    rows, uids = [], []
    for lineno, (uid, gender, age, occ, zip_code) in read_fields(path, "::", 5, encoding="latin-1"):
        if age not in ML1M_AGES or not occ.isdigit() or int(occ) >= len(ML1M_OCCUPATIONS):
            raise ValueError(f"{path}, line {lineno}: user {uid!r} has unknown age code {age!r} "
                             f"or occupation code {occ!r} (see the ML-1M README)")
        uids.append(uid)
        rows.append({"age": ML1M_AGES[age], "gender": GENDERS.get(gender, none_if_empty(gender)),
                     "occupation": ML1M_OCCUPATIONS[int(occ)], "zip": none_if_empty(zip_code)})
    return pd.DataFrame(rows, index=pd.Index(uids, name="user_id"))


def _read_id_map(path: Path) -> dict[str, str]:
    """CoLaKG ``original remapped`` lines as ``{remapped: original}``."""
    out: dict[str, str] = {}
    for lineno, (original, remapped) in read_fields(path, " ", 2):
        if remapped in out:
            raise ValueError(f"{path}, line {lineno}: remapped id {remapped!r} appears twice")
        out[remapped] = original
    return out


def _read_colakg(folder: Path) -> pd.DataFrame:
    """CoLaKG ``train.txt``/``test.txt`` (``uid item item …``, remapped ids) with original ids."""
    item_map = _read_id_map(require_file(folder / "item_map.txt", "CoLaKG item_map.txt"))
    user_map = _read_id_map(require_file(folder / "user_map.txt", "CoLaKG user_map.txt"))
    users, items, splits = [], [], []
    for split in ("train", "test"):
        split_file = require_file(folder / f"{split}.txt", f"CoLaKG {split}.txt")
        with open(split_file, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                tokens = line.split()
                if not tokens:
                    continue
                uid = user_map.get(tokens[0])
                if uid is None:
                    raise ValueError(f"{split_file}, line {lineno}: user {tokens[0]!r} is not in "
                                     f"user_map.txt — the split and map files do not match")
                for tok in tokens[1:]:
                    iid = item_map.get(tok)
                    if iid is None:
                        raise ValueError(f"{split_file}, line {lineno}: item {tok!r} is not in "
                                         f"item_map.txt — the split and map files do not match")
                    users.append(uid)
                    items.append(iid)
                splits.extend([split] * (len(tokens) - 1))
    n = len(users)
    return _interactions(users, items, [np.nan] * n, [np.nan] * n, split=splits)


def load_ml1m(path: Path, name: str | None = None) -> RecDataset:
    """MovieLens 1M (2003): 6,040 users, 3,883 movies; ratings from ``ratings.dat``.

    Items: ``title``, ``genres`` (list). Users: ``age`` (bucket label such as ``"25-34"``),
    ``gender`` (``"male"``/``"female"``), ``occupation`` (label), ``zip``.

    Without ``ratings.dat``, interactions come from ``colakg_implicit/`` — the implicit
    train/test split of CoLaKG (Cui et al., SIGIR 2025; ``train.txt``/``test.txt`` lines
    ``uid item item …`` in remapped 0-based ids, mapped back to MovieIDs/UserIDs through
    ``item_map.txt``/``user_map.txt``, lines ``original remapped``): 998,539 interactions with
    a ``split`` column (``"train"``/``"test"``), no ratings, no timestamps and
    ``ordered=False``. The catalog stays the whole ``movies.dat``.
    """
    path = Path(path)
    ratings_file = path / "ratings.dat"
    notes: list[str] = []
    if ratings_file.is_file():
        inter, ordered, fmt = _read_ratings(ratings_file, "::"), True, "movielens-1m"
    elif (path / "colakg_implicit").is_dir():
        inter, ordered, fmt = _read_colakg(path / "colakg_implicit"), False, "movielens-1m-colakg"
        n_movies = inter["item_id"].nunique()
        notes += ["interactions: CoLaKG implicit train/test split (colakg_implicit/), not the "
                  "official ratings.dat — no ratings, no timestamps and no guaranteed order; it "
                  "suits non-sequential models only",
                  f"the split covers {n_movies} movies; the catalog keeps all movies of movies.dat"]
    else:
        raise FileNotFoundError(f"{path}: neither ratings.dat nor colakg_implicit/ found — "
                                f"download ml-1m (`lmrec download ml-1m`)")
    movie_file = require_file(path / "movies.dat", "ml-1m movies (movies.dat)")
    ids, records = [], []
    for _, (mid, title, genres) in read_fields(movie_file, "::", 3, encoding="latin-1"):
        ids.append(mid)
        records.append({"title": none_if_empty(title),
                        "genres": [g for g in genres.split("|") if g] or None})
    items = pd.DataFrame(records, index=pd.Index(ids, name="item_id"))
    users = None
    user_file = path / "users.dat"
    if user_file.is_file():
        users = _read_ml1m_users(user_file)
        notes += profile_coverage_notes(inter["user_id"], users, user_file)
    return RecDataset(name=name or path.name, interactions=inter, items=items, users=users,
                      text_fields=list(TEXT_FIELDS), ordered=ordered, notes=notes,
                      source={"format": fmt, "path": str(path)})


def load_ml_latest(path: Path, name: str | None = None) -> RecDataset:
    """MovieLens latest(-small): ``ratings.csv``, ``movies.csv`` and optional ``tags.csv``.

    Items: ``title``, ``genres`` (list; ``"(no genres listed)"`` → ``None``), ``tags`` (list of
    the distinct tags users applied to the movie, first-use order; ``None`` if untagged). Tags
    are user behaviour, so they are not in the default ``text_fields``.
    """
    path = Path(path)
    ratings_file = require_file(path / "ratings.csv", "MovieLens ratings.csv")
    ratings = pd.read_csv(ratings_file, dtype={"userId": str, "movieId": str})
    require_columns(ratings, ["userId", "movieId", "rating", "timestamp"], ratings_file)
    inter = _interactions(ratings["userId"].tolist(), ratings["movieId"].tolist(),
                          ratings["timestamp"].tolist(), ratings["rating"].tolist())
    movie_file = require_file(path / "movies.csv", "MovieLens movies.csv")
    movies = pd.read_csv(movie_file, dtype=str, keep_default_na=False)
    require_columns(movies, ["movieId", "title", "genres"], movie_file)
    genres = [None if g == "(no genres listed)" else ([x for x in g.split("|") if x] or None)
              for g in movies["genres"]]
    items = pd.DataFrame({"title": [none_if_empty(t) for t in movies["title"]], "genres": genres},
                         index=pd.Index(movies["movieId"].tolist(), name="item_id"))
    notes = []
    tag_file = path / "tags.csv"
    if tag_file.is_file():
        tags = pd.read_csv(tag_file, dtype=str, keep_default_na=False)
        require_columns(tags, ["movieId", "tag"], tag_file)
        by_movie: dict[str, dict[str, None]] = {}
        for mid, tag in zip(tags["movieId"], tags["tag"]):
            if tag.strip():
                by_movie.setdefault(mid, {})[tag] = None
        items["tags"] = [list(by_movie[m]) if m in by_movie else None for m in items.index]
        notes.append("items.tags holds user-applied tags (user behaviour); it is not in the "
                     "default text fields")
    return RecDataset(name=name or path.name, interactions=inter, items=items,
                      text_fields=list(TEXT_FIELDS), ordered=True, notes=notes,
                      source={"format": "movielens-latest", "path": str(path)})
