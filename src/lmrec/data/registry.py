"""Find datasets in a data folder by their files, and load them by name.

A dataset is named by its folder path relative to the data folder, with ``/`` separators:
``ml-100k``, ``ml-1m``, ``ml-latest-small``, ``amazon-unisrec-scientific``,
``amazon-lcrec/Scientific``. A folder of Amazon 2018 raw files holds one dataset per category:
``amazon2018-raw/Gift_Cards`` (``amazon2018/Gift_Cards``, the name used by ``lmrec download``,
is accepted too). A folder holding several RecBole or LC-Rec sets names each ``<folder>/<X>``.
A dataset made of several domains also lists each domain as its own dataset, selected with
``:<domain>``: ``amazon-food-kitchen-llmcdsr`` (both domains) and
``amazon-food-kitchen-llmcdsr:food`` / ``amazon-food-kitchen-llmcdsr:kitchen`` (one domain each,
with the file's own split; see :mod:`lmrec.data.loaders.llmcdsr`).

Formats are recognised from file names only (nothing is parsed), so discovery is cheap:

=============  ===============================================================
``movielens``  ``u.data`` + ``u.item``; ``movies.dat`` + ``ratings.dat`` or
               ``colakg_implicit/``; ``ratings.csv`` + ``movies.csv``
``amazon2018`` ``{Category}_5.json[.gz]``
``recbole``    ``X.train.inter`` (+ ``X.valid.inter``, ``X.test.inter``, …)
``lcrec``      ``X.item.json`` + ``X.inter.json``
``table``      ``lmrec.json`` (see :mod:`lmrec.data.loaders.generic`)
``llmcdsr``    ``num.txt`` + ``train_A.txt`` + ``text_A.json`` … (:mod:`lmrec.data.loaders.llmcdsr`)
=============  ===============================================================

Folders in no known format (e.g. news data) are skipped silently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lmrec.data.dataset import RecDataset
from lmrec.data.loaders import (amazon2018_categories, detect_movielens_layout, lcrec_datasets,
                                load_amazon2018, load_lcrec, load_movielens, load_recbole,
                                load_table_folder, recbole_datasets)
from lmrec.data.loaders.generic import CONFIG_FILE

ENV_VAR = "LMREC_DATA_DIR"
MAX_DEPTH = 4
DOWNLOAD_ALIASES = {"amazon2018/": "amazon2018-raw/"}
#: Separates a multi-domain dataset's name from the selected domain: ``<dataset>:<domain>``.
DOMAIN_SEP = ":"


class UnknownDatasetError(KeyError):
    """No dataset of that name; the message lists the available ones."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class DatasetInfo:
    """One dataset found on disk.

    Attributes
    ----------
    name:
        Name to pass to :func:`load_dataset`, e.g. ``"amazon2018-raw/Gift_Cards"``.
    format:
        ``"movielens"``, ``"amazon2018"``, ``"recbole"``, ``"lcrec"``, ``"table"`` or ``"llmcdsr"``.
    path:
        Folder holding the files.
    category:
        Amazon category or RecBole/LC-Rec file prefix; for a multi-domain format (``llmcdsr``) the
        selected domain (``None``: all domains); ``None`` for other formats.
    """

    name: str
    format: str
    path: Path
    category: str | None = None

    def load(self) -> RecDataset:
        """Read the dataset with the loader of its format."""
        if self.format == "movielens":
            return load_movielens(self.path, self.name)
        if self.format == "amazon2018":
            return load_amazon2018(self.path, self.name, category=self.category)
        if self.format == "recbole":
            return load_recbole(self.path, self.name, dataset=self.category)
        if self.format == "lcrec":
            return load_lcrec(self.path, self.name, dataset=self.category)
        if self.format == "table":
            return load_table_folder(self.path, self.name)
        if self.format == "llmcdsr":
            from lmrec.data.loaders.llmcdsr import load_llmcdsr

            return load_llmcdsr(self.path, self.name, domain=self.category)
        raise ValueError(f"dataset {self.name!r}: unknown format {self.format!r}")


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """The data folder: ``data_dir`` if given, else ``$LMREC_DATA_DIR``.

    Raises
    ------
    ValueError
        If neither is set.
    FileNotFoundError
        If the folder does not exist.
    """
    chosen = data_dir if data_dir not in (None, "") else os.environ.get(ENV_VAR) or None
    if chosen is None:
        raise ValueError(f"no data folder given: pass --data-dir DIR (data_dir=… in Python) or "
                         f"set {ENV_VAR}=DIR, or fetch a dataset first with "
                         f"`lmrec download <name> --data-dir DIR`")
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"data folder {path} does not exist — check --data-dir / "
                                f"{ENV_VAR}, or create it with `lmrec download <name> --data-dir {path}`")
    return path


def detect_datasets(folder: Path, name: str) -> list[DatasetInfo]:
    """Datasets held directly in ``folder`` (file-name checks only), named from ``name``."""
    folder = Path(folder)
    if (folder / CONFIG_FILE).is_file():
        return [DatasetInfo(name, "table", folder)]
    if detect_movielens_layout(folder):
        return [DatasetInfo(name, "movielens", folder)]
    from lmrec.data.loaders.llmcdsr import is_llmcdsr_folder

    if is_llmcdsr_folder(folder):
        from lmrec.data.loaders.llmcdsr import DOMAIN_NAMES

        return [DatasetInfo(name, "llmcdsr", folder)] + [
            DatasetInfo(f"{name}{DOMAIN_SEP}{d}", "llmcdsr", folder, d) for d in DOMAIN_NAMES]
    found = [DatasetInfo(f"{name}/{c}", "amazon2018", folder, c)
             for c in amazon2018_categories(folder)]
    for fmt, prefixes in (("recbole", recbole_datasets(folder)), ("lcrec", lcrec_datasets(folder))):
        for p in prefixes:
            found.append(DatasetInfo(name if len(prefixes) == 1 else f"{name}/{p}", fmt, folder, p))
    return found


def find_datasets(data_dir: str | os.PathLike | None = None) -> list[DatasetInfo]:
    """Every dataset under the data folder (see :func:`resolve_data_dir`), sorted by name.

    Folders are searched up to 4 levels deep; hidden folders and the inside of a dataset's
    folder are not searched. Symbolic links to folders are followed (a data folder assembled
    from links, e.g. ``data/ml-100k -> /mnt/corpora/ml-100k``, works) and the dataset is named by
    the link's path; a link back to one of its own ancestors (a cycle) is skipped. Two links to
    the same folder give two names for the same dataset.
    """
    root = resolve_data_dir(data_dir)
    found: list[DatasetInfo] = []
    # real paths of each searched folder and of its ancestors: a child resolving into them is a cycle
    chains: dict[str, frozenset[str]] = {str(root): frozenset({os.path.realpath(root)})}
    for current, dirs, _ in os.walk(root, followlinks=True):
        here = Path(current)
        rel = here.relative_to(root).as_posix()
        infos = detect_datasets(here, root.name if rel == "." else rel)
        found += infos
        depth = 0 if rel == "." else rel.count("/") + 1
        chain = chains.pop(current, frozenset({os.path.realpath(current)}))
        if infos or depth >= MAX_DEPTH:
            dirs[:] = []
            continue
        keep = []
        for d in sorted(d for d in dirs if not d.startswith(".")):
            real = os.path.realpath(os.path.join(current, d))
            if real in chain:       # symlink cycle: the folder is already on this path
                continue
            chains[os.path.join(current, d)] = chain | {real}
            keep.append(d)
        dirs[:] = keep
    return sorted(found, key=lambda info: info.name)


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> RecDataset:
    """Load a dataset by name (see :func:`find_datasets`) or by the path of its folder: absolute,
    or relative to the working directory when it starts with ``./`` or ``../`` (a bare relative
    name is looked up in the data directory, where names such as ``amazon-lcrec/Scientific`` live).

    A multi-domain dataset's single domain is ``<name>:<domain>`` (also after an absolute path),
    e.g. ``amazon-food-kitchen-llmcdsr:food``.

    Raises
    ------
    UnknownDatasetError
        (a ``KeyError``) If no dataset has that name; the message lists the available names, or,
        for ``<name>:<domain>`` with an unknown domain, the domains ``<name>`` has.
    """
    base, sep, domain = name.rpartition(DOMAIN_SEP)
    direct_base = _as_path(base) if sep else None
    if direct_base is not None and direct_base.is_dir():
        return _pick_domain(detect_datasets(direct_base, direct_base.name), direct_base.name, domain, str(direct_base))
    direct = _as_path(name)
    if direct is not None and direct.is_dir():
        found = detect_datasets(direct, direct.name)
        if len(found) == 1:
            return found[0].load()
        raise UnknownDatasetError(
            f"{direct}: " + (f"holds several datasets ({', '.join(i.name for i in found)}); pass "
                             f"--data-dir {direct.parent} and one of these names" if found else
                             "no dataset in a known format (MovieLens, Amazon 2018, RecBole, "
                             "LC-Rec, or a folder with lmrec.json)"))
    infos = {info.name: info for info in find_datasets(data_dir)}
    candidates = [name] + [name.replace(a, b, 1) for a, b in DOWNLOAD_ALIASES.items()
                           if name.startswith(a)]
    for candidate in candidates:
        if candidate in infos:
            return infos[candidate].load()
    if sep and base in infos:
        return _pick_domain(list(infos.values()), base, domain, base)
    available = ", ".join(infos) or "none"
    raise UnknownDatasetError(f"unknown dataset {name!r} in {resolve_data_dir(data_dir)}; available: "
                   f"{available}. Fetch one with `lmrec download <name>` or point --data-dir / "
                   f"{ENV_VAR} at the folder that holds it, or give the dataset folder's own path "
                   f"(absolute, or starting with ./)")


def _as_path(name: str) -> Path | None:
    """The folder ``name`` means when it is written as a path (absolute, ``~``, ``./`` or ``../``),
    resolved against the working directory; ``None`` for a dataset name."""
    if not name or not (name.startswith(("./", "../", "~")) or name in (".", "..") or Path(name).is_absolute()):
        return None
    return Path(name).expanduser().resolve()


def _pick_domain(infos: list[DatasetInfo], base: str, domain: str, shown: str) -> RecDataset:
    """Load domain ``domain`` of dataset ``base`` from ``infos``.

    Raises
    ------
    UnknownDatasetError
        If ``base`` has no such domain (its domains are listed) or is a single-domain dataset.
    """
    prefix = f"{base}{DOMAIN_SEP}"
    domains = {i.name[len(prefix):]: i for i in infos if i.name.startswith(prefix)}
    if domain in domains:
        return domains[domain].load()
    if not domains:
        raise UnknownDatasetError(f"dataset {shown!r} has a single domain, so it takes no "
                                  f"'{DOMAIN_SEP}<domain>' selector; use {base!r}")
    raise UnknownDatasetError(f"dataset {shown!r} has no domain {domain!r}; available domains: "
                              f"{', '.join(domains)} (e.g. {prefix}{next(iter(domains))})")
