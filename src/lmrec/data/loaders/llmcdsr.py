"""LLMCDSR / C2DSR cross-domain sequence files (two Amazon domains with overlapping users).

Source: the "Food-Kitchen" set released with LLMCDSR (Xin, Sun, Wang, Xiong, "LLMCDSR: Enhancing
Cross-Domain Sequential Recommendation with Large Language Models", ACM TOIS 2025; originally
from the C2DSR line of work), built from Amazon Review Data (McAuley lab). Files:

``num.txt``
    two lines: number of items of domain A and of domain B.
``train_A.txt`` / ``train_B.txt`` / ``train_overlap.txt``
    ``user<TAB>comma-separated global item ids`` (chronological). Global id ``< n_A`` = domain A
    item, ``n_A + j`` = domain B item ``j``. User ids restart at 1 in every file.
``valid.txt`` / ``test.txt``
    same layout, mixed history; the **last id is the target**.
``text_A.json`` / ``text_B.json``
    ``{ASIN: title}``; ``item_set_A.json`` / ``item_set_B.json``: ``{ASIN: local index}``.

Result: one :class:`~lmrec.data.dataset.RecDataset` whose interactions carry ``domain`` =
``"food"`` (A) or ``"kitchen"`` (B) — names configurable — with ``user_id`` = ``"<file>:<user>"``
(users of different files are different people), ``item_id`` = ASIN, no timestamps (file
order), and a ``split`` column: the train files and the histories of valid/test users are
``train``; the last id of a ``valid.txt`` line is ``valid``, of a ``test.txt`` line ``test``.
Items have one text field, ``title``.

**Single domain** (``domain="food"`` or ``"kitchen"``; ``lmrec`` names these datasets
``amazon-food-kitchen-llmcdsr:food`` / ``:kitchen``): only that domain's items (the whole
``item_set`` of the domain is the catalog) and the interactions with them, keeping the file's
own split: the valid/test cases are the ``valid.txt`` / ``test.txt`` lines whose target is an
item of the domain, their history reduced to the domain's items; a line whose target is in the
other domain contributes its in-domain history to training. This is the single-domain setting
of the C2DSR / LLMCDSR papers' per-domain evaluation, without the cross-domain history.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.loaders._common import require_file

REQUIRED = ("num.txt", "train_A.txt", "train_B.txt", "text_A.json", "text_B.json", "item_set_A.json",
            "item_set_B.json")
TRAIN_FILES = (("train_A.txt", "A"), ("train_B.txt", "B"), ("train_overlap.txt", "O"))
#: Default names of domain A and domain B (the Food-Kitchen release).
DOMAIN_NAMES = ("food", "kitchen")
EVAL_FILES = (("valid.txt", "V", "valid"), ("test.txt", "T", "test"))


def is_llmcdsr_folder(path: Path) -> bool:
    """True when ``path`` holds the LLMCDSR files (file-name check only)."""
    path = Path(path)
    return all((path / f).is_file() for f in REQUIRED)


def _read_sequences(path: Path, n_items: int) -> list[tuple[str, list[int]]]:
    """``(user token, [global item ids])`` per non-empty line; trailing commas are ignored.

    Raises
    ------
    ValueError
        On a line without a tab or an id that is not an integer in ``[0, n_items)`` (file,
        line and token named).
    """
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.strip()
            if not line:
                continue
            if "\t" not in line:
                raise ValueError(f"{path}, line {lineno}: expected 'user<TAB>ids', got {line[:80]!r}")
            user, ids = line.split("\t", 1)
            seq = []
            for tok in ids.split(","):
                tok = tok.strip()
                if not tok:
                    continue
                if not tok.isdigit() or int(tok) >= n_items:
                    raise ValueError(f"{path}, line {lineno}: item id {tok!r} is not an integer in "
                                     f"[0, {n_items}) — is num.txt from the same release?")
                seq.append(int(tok))
            out.append((user, seq))
    return out


def load_llmcdsr(path: Path, name: str | None = None, *, domain_names: tuple[str, str] = DOMAIN_NAMES,
                 domain: str | None = None) -> RecDataset:
    """Load an LLMCDSR cross-domain folder (see module docstring).

    Parameters
    ----------
    path:
        Folder with the files listed in the module docstring.
    name:
        Dataset name (default: the folder name).
    domain_names:
        Names written in the ``domain`` column for domain A and domain B.
    domain:
        Keep one domain only (one of ``domain_names``; see "Single domain" in the module
        docstring); ``None``: both domains in one dataset.

    Raises
    ------
    FileNotFoundError
        If a required file is missing (named).
    ValueError
        On malformed lines, an item index without an ASIN in ``item_set_*.json``, or an unknown
        ``domain`` (the available ones are named).
    """
    path = Path(path)
    if domain is not None and domain not in domain_names:
        raise ValueError(f"{path}: no domain {domain!r} in this LLMCDSR set; available domains: "
                         f"{', '.join(domain_names)}")
    for f in REQUIRED:
        require_file(path / f, "an LLMCDSR cross-domain file")
    counts = [int(x) for x in (path / "num.txt").read_text().split()]
    if len(counts) != 2:
        raise ValueError(f"{path / 'num.txt'}: expected two item counts (domain A, domain B), got {counts}")
    n_a, n_b = counts
    asin_of: list[str | None] = [None] * (n_a + n_b)
    titles: dict[str, str] = {}
    domain_of: dict[str, str] = {}
    for letter, offset, dom in (("A", 0, domain_names[0]), ("B", n_a, domain_names[1])):
        index = json.loads((path / f"item_set_{letter}.json").read_text(encoding="utf-8"))
        text = json.loads((path / f"text_{letter}.json").read_text(encoding="utf-8"))
        for asin, local in index.items():
            g = offset + int(local)
            if not 0 <= g < n_a + n_b:
                raise ValueError(f"{path / f'item_set_{letter}.json'}: index {local} of {asin!r} out of range")
            asin_of[g] = asin
            domain_of[asin] = dom
            titles[asin] = text.get(asin)
    missing = [g for g, a in enumerate(asin_of) if a is None]
    if missing:
        raise ValueError(f"{path}: global item id {missing[0]} has no ASIN in item_set_*.json "
                         f"({len(missing)} ids in all)")
    users, items, splits = [], [], []
    for fname, tag in TRAIN_FILES:
        if not (path / fname).is_file():
            continue
        for user, seq in _read_sequences(path / fname, n_a + n_b):
            for g in seq:
                users.append(f"{tag}:{user}"); items.append(asin_of[g]); splits.append("train")
    for fname, tag, label in EVAL_FILES:
        if not (path / fname).is_file():
            continue
        for user, seq in _read_sequences(path / fname, n_a + n_b):
            for pos, g in enumerate(seq):
                users.append(f"{tag}:{user}"); items.append(asin_of[g])
                splits.append(label if pos == len(seq) - 1 else "train")
    inter = pd.DataFrame({"user_id": users, "item_id": items, "split": splits})
    inter["domain"] = inter["item_id"].map(domain_of)
    catalog = [a for a in asin_of if a is not None]
    notes = ["no timestamps: file order is the sequence order",
             "users of different files (train_A/train_B/train_overlap/valid/test) are distinct people",
             "titles only (no description)"]
    source = {"format": "llmcdsr", "path": str(path), "domains": list(domain_names)}
    if domain is not None:
        inter = inter[inter["domain"] == domain].reset_index(drop=True)
        catalog = [a for a in catalog if domain_of[a] == domain]
        other = domain_names[1 - domain_names.index(domain)]
        notes.append(f"single domain {domain!r}: {domain} items only; valid/test cases are the valid.txt/test.txt "
                     f"lines whose target is a {domain} item, with their {other} items removed from the history")
        source["domain"] = domain
    item_table = pd.DataFrame({"title": [titles.get(a) for a in catalog]}, index=pd.Index(catalog, name="item_id"))
    return RecDataset(name=name or path.name, interactions=inter, items=item_table, text_fields=["title"],
                      ordered=True, notes=notes, source=source)
