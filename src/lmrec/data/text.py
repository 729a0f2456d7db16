"""Item text: cleaning and templating of text fields into one string per item.

Cleaning (:func:`clean_text`), in this order: HTML entities decoded once (``&amp;amp;`` stays
``&amp;``), tags stripped, Unicode NFC, whitespace collapsed. Missing values (``None``, NaN,
empty or whitespace-only strings, empty lists) render as nothing — never as ``"nan"``.
Numbers render canonically (``3.0`` → ``"3"``, ``2.50`` → ``"2.5"``), list-valued fields as
comma-joined items, dicts as ``key: value`` pairs. "List-valued" means any of: ``list``,
``tuple``, ``set`` (sorted, so the text is the same in every process), a numpy array (what
pandas returns for a Parquet list column), a pandas ``Series``/``Index``/extension array, and a
pyarrow array or scalar; they all render alike, and missing elements inside them are dropped.

**Placeholder texts.** A field value such as ``"unknown"``, ``"N/A"``, ``"none"``, ``"null"``,
``"-"``, ``"?"`` or ``"(no genres listed)"`` says nothing about the item
(:func:`is_placeholder`): the template drops it like a missing value. An item whose whole text
carries no information — empty, or made only of placeholders, digits and punctuation
(:func:`is_uninformative_text`, e.g. ``"unknown"``, ``"n/a, -"``, ``"1995"``) — gets the empty
text ``""`` and so follows the empty-text policy: a zero vector (``encoders/base.py``), counted
and listed with its ids in :class:`TextReport`, and never recommended when nothing else is
known about it (:func:`lmrec.pipeline.unrecommendable_items`). Real titles that contain such a
word are kept (``"The Unknown Soldier"``, ``"Unknown (2011)"``).

A :class:`TextTemplate` joins the cleaned fields of an item, e.g.
``"Toy Story (1995). Animation, Children's, Comedy"``. Its :attr:`TextTemplate.version` is
a hash of its configuration and of :data:`CLEANING_VERSION`; the embedding cache is keyed by
it so a changed template never serves stale vectors.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

CLEANING_VERSION = "1"
_TAG = re.compile(r"<[^>]{0,2000}>")
_WS = re.compile(r"\s+")


def as_list(value: Any) -> list | None:
    """The elements of a list-valued field as a Python ``list``; ``None`` for anything else.

    List-valued: ``list``, ``tuple``, ``set``/``frozenset`` (sorted by rendered text, so the
    result does not depend on hash randomisation), numpy arrays of rank ≥ 1 (pandas returns
    ``object`` arrays for Parquet list columns), pandas ``Series``/``Index``/extension arrays and
    pyarrow arrays/chunked arrays/list scalars. Strings, bytes and dicts are not list-valued.
    Elements keep their own types (numpy scalars become Python scalars).
    """
    if isinstance(value, (str, bytes, dict)):
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=render_value)
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim else None
    if isinstance(value, (pd.Series, pd.Index, pd.api.extensions.ExtensionArray)):
        return list(value.tolist())
    if type(value).__module__.startswith("pyarrow"):
        if hasattr(value, "to_pylist"):          # Array, ChunkedArray
            return list(value.to_pylist())
        py = value.as_py() if hasattr(value, "as_py") else None   # ListScalar → list, others → scalar
        return as_list(py) if isinstance(py, (list, tuple)) else None
    return None


def _pyarrow_scalar(value: Any) -> bool:
    return type(value).__module__.startswith("pyarrow") and hasattr(value, "as_py")


def is_missing(value: Any) -> bool:
    """True for ``None``, NaN/NaT, ``pd.NA``, empty/whitespace strings and list-valued fields
    (see :func:`as_list`) or dicts whose elements are all missing (empty ones included)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, dict):
        return all(is_missing(v) for v in value.values())
    items = as_list(value)
    if items is not None:
        return all(is_missing(v) for v in items)
    if _pyarrow_scalar(value):
        return is_missing(value.as_py())
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def clean_text(text: str) -> str:
    """Decode HTML entities once, strip tags, NFC-normalise and collapse whitespace."""
    text = html.unescape(text)
    text = _TAG.sub(" ", text)
    text = unicodedata.normalize("NFC", text)
    return _WS.sub(" ", text).strip()


def render_value(value: Any) -> str:
    """Render one field value as clean text; ``""`` for missing values.

    Floats that are whole numbers drop the ``.0``; other floats use the shortest round-trip
    form (``repr``); list-valued fields (:func:`as_list`: lists, tuples, sets, numpy/pandas/
    pyarrow arrays) are flattened and joined with ``", "``, missing elements dropped; dicts
    become ``"key: value; key: value"`` (a nested dict in parentheses); booleans become
    ``"yes"``/``"no"``. ``["Home", "Kitchen"]``, ``("Home", "Kitchen")`` and
    ``np.array(["Home", "Kitchen"], dtype=object)`` all give ``"Home, Kitchen"``.

    Returns
    -------
    ``str`` — cleaned (:func:`clean_text`), ``""`` for a missing value. Never raises for a
    value pandas or pyarrow can put in a cell.
    """
    if is_missing(value):
        return ""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    items = as_list(value)
    if items is not None:
        parts = [render_value(v) for v in items]
        return ", ".join(p for p in parts if p)
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            if is_missing(v):
                continue
            text = render_value(v)
            parts.append(f"{clean_text(str(k))}: {f'({text})' if isinstance(v, dict) else text}")
        return "; ".join(parts)
    if _pyarrow_scalar(value):
        return render_value(value.as_py())
    if isinstance(value, np.generic) or (isinstance(value, np.ndarray) and value.ndim == 0):
        return render_value(value.item())    # numpy scalar / 0-d array
    return clean_text(str(value))


#: Field values that say nothing about an item, compared by :func:`placeholder_key`
#: (casefolded, every run of non-alphanumeric characters replaced by one space). A bare ``"NA"``
#: is not among them: item tables keep it as a name (:mod:`lmrec.data.loaders.generic`).
PLACEHOLDERS = frozenset({
    "unknown", "n a", "none", "null", "nil", "nan", "undefined", "missing", "not available",
    "not applicable", "no title", "unknown title", "no description", "no description available",
    "no genres listed", "no genre", "no genres", "no category", "no brand", "unknown brand", "tbd", "tba",
})
_NON_ALNUM = re.compile(r"[\W_]+")
_LETTER = re.compile(r"[^\W\d_]")
#: Where an item text is cut into segments for :func:`is_uninformative_text` (field and list separators).
_SEGMENT = re.compile(r"[.,;|]\s+|\s+[|/·–—-]\s+|[.,;|]$")


def placeholder_key(text: str) -> str:
    """``text`` casefolded with every run of non-alphanumeric characters turned into one space
    (``"(No genres listed)"`` → ``"no genres listed"``, ``"N/A"`` → ``"n a"``)."""
    return _NON_ALNUM.sub(" ", text.casefold()).strip()


def is_placeholder(value: str) -> bool:
    """True if a cleaned field value is a placeholder: one of :data:`PLACEHOLDERS`
    (``"unknown"``, ``"N/A"``, ``"(no genres listed)"`` …) or only punctuation/whitespace.

    Digits are information inside a field (a year, a size), so ``"1995"`` is not a placeholder
    here; :func:`is_uninformative_text` judges whole texts. ``"The Unknown Soldier"`` and
    ``"Unknown (2011)"`` are not placeholders.
    """
    key = placeholder_key(value)
    return not key or key in PLACEHOLDERS


def is_uninformative_text(text: str) -> bool:
    """True if a whole item text carries no information: empty after cleaning, or every segment
    (cut at ``". "``, ``", "``, ``"; "``, ``" | "``, ``" - "``) is a placeholder (:func:`is_placeholder`)
    or holds no letter (only digits, punctuation, symbols).

    Examples: ``""``, ``"unknown"``, ``"N/A"``, ``"?"``, ``"-"``, ``"1995"``, ``"unknown. 1995"``,
    ``"(no genres listed)"`` → ``True``; ``"The Unknown Soldier"``, ``"Unknown (2011)"``,
    ``"187 (1997). Drama"``, ``"ก๋วยเตี๋ยว"`` (letters of any script count) → ``False``.
    A title made only of digits (``"1984"``) is uninformative by this rule: with no other field
    an encoder reads it as a number, not as the book.
    """
    text = clean_text(text)
    segments = [s for s in _SEGMENT.split(text) if s.strip()]
    return all(is_placeholder(s) or not _LETTER.search(s) for s in segments)


@dataclass(frozen=True)
class TextTemplate:
    """How an item's fields become one text.

    Parameters
    ----------
    fields:
        Field names in output order (columns of ``RecDataset.items``).
    with_field_names:
        Prefix each value with its field name (``"brand: Porter-Cable"``).
    separator:
        Placed between non-empty fields.
    max_chars:
        Hard cap on characters per field value (guards against pathological descriptions
        before tokenisation; token-level truncation is the encoder's job and is reported by it).
    """

    fields: tuple[str, ...]
    with_field_names: bool = False
    separator: str = ". "
    max_chars: int = 4000
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def version(self) -> str:
        """Stable hash of the template configuration and the cleaning rules."""
        cfg = {k: v for k, v in asdict(self).items() if k != "extra"}
        cfg["cleaning"] = CLEANING_VERSION
        return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]

    def render(self, record: dict[str, Any] | pd.Series) -> str:
        """Text of one item; ``""`` if every field is missing or the text carries no information
        (placeholder fields are dropped, see the module docstring)."""
        return self.render_checked(record)[0]

    def render_checked(self, record: dict[str, Any] | pd.Series) -> tuple[str, str]:
        """``(text, placeholder)`` of one item.

        ``text`` is what :meth:`render` returns. ``placeholder`` is ``""`` unless the placeholder
        policy emptied a non-empty text: then it is the text the fields would have given (e.g.
        ``"unknown"``), for reports.
        """
        raw, kept = [], []
        for name in self.fields:
            value = record.get(name) if hasattr(record, "get") else None
            text = render_value(value)[: self.max_chars].strip()
            if not text:
                continue
            raw.append((name, text))
            if not is_placeholder(text):
                kept.append((name, text))
        if all(is_uninformative_text(text) for _, text in kept):
            return "", self._join(raw)
        return self._join(kept), ""

    def _join(self, parts: list[tuple[str, str]]) -> str:
        out = ""
        for name, text in parts:
            p = f"{name}: {text}" if self.with_field_names else text
            if out and not out.endswith(tuple(".!?")):
                out += self.separator
            elif out:
                out += " "
            out += p
        return out

    def render_items(self, items: pd.DataFrame, item_ids: Iterable[str]) -> list[str]:
        """Texts for ``item_ids`` in that order; ids absent from ``items`` get ``""``."""
        return [t for t, _ in self._render_all(items, item_ids)]

    def _render_all(self, items: pd.DataFrame, item_ids: Iterable[str]) -> list[tuple[str, str]]:
        records = items.to_dict(orient="index")
        return [self.render_checked(records.get(i, {})) for i in item_ids]


@dataclass
class TextReport:
    """What happened to the item texts of one dataset (written into ``metrics.json``).

    Attributes
    ----------
    n_items:
        Items rendered.
    n_empty:
        Items whose text is empty — missing fields *or* placeholder text; all of them are encoded
        as zero vectors (the empty-text policy).
    empty_examples:
        First 10 ids of those items.
    n_placeholder:
        How many of the ``n_empty`` items had a non-empty text that carried no information
        (``"unknown"``, ``"n/a"``, only digits/punctuation …, see :func:`is_uninformative_text`).
    placeholder_examples:
        First 10 such items: ``{item_id: the text they had}``.
    """

    n_items: int
    n_empty: int
    empty_examples: list[str]
    n_truncated: int | None = None
    max_tokens: int | None = None
    mean_chars: float = 0.0
    n_placeholder: int = 0
    placeholder_examples: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_item_texts(items: pd.DataFrame, item_ids: list[str], template: TextTemplate) -> tuple[list[str], TextReport]:
    """Render the text of every catalog item and report empty and placeholder ones.

    Returns
    -------
    texts:
        ``list[str]`` of length ``len(item_ids)``, same order; ``""`` for items without usable
        text (missing fields, or placeholder text such as ml-100k's movie titled ``"unknown"``).
    report:
        :class:`TextReport` with the count and first ids of items whose text is empty
        (they are encoded as zero vectors, see ``encoders/base.py``), and of those among them
        that had placeholder text.
    """
    rendered = template._render_all(items, item_ids)
    texts = [t for t, _ in rendered]
    empty = [i for i, t in zip(item_ids, texts) if not t]
    placeholders = {i: p for i, (t, p) in zip(item_ids, rendered) if not t and p}
    mean_chars = sum(map(len, texts)) / max(1, len(texts))
    return texts, TextReport(n_items=len(texts), n_empty=len(empty), empty_examples=empty[:10],
                             mean_chars=round(mean_chars, 1), n_placeholder=len(placeholders),
                             placeholder_examples=dict(list(placeholders.items())[:10]))


def item_text(value: Any) -> str:
    """One item's text from a single text value (a catalog's text column): :func:`render_value`,
    then ``""`` when it carries no information (:func:`is_uninformative_text`)."""
    text = render_value(value)
    return "" if is_uninformative_text(text) else text


def dataset_item_template(dataset: Any, fields: Iterable[str] | None = None, *,
                          with_field_names: bool = False) -> TextTemplate:
    """The item text template of ``dataset`` (a :class:`~lmrec.data.dataset.RecDataset`; not
    imported here, ``dataset`` imports this module): ``fields`` (default: the dataset's own
    ``text_fields``), optionally prefixed with their names.

    The one place every job builds its template from (:func:`lmrec.pipeline.item_template`,
    :func:`lmrec.training.encoder_finetune.finetune_encoder`), so an encoder tuned on a dataset's
    texts sees exactly the texts the pipeline encodes.

    Raises
    ------
    ValueError
        If a field is not a column of ``dataset.items`` (the available columns are listed).
    """
    names = list(fields or dataset.text_fields)
    unknown = [f for f in names if f not in dataset.items.columns]
    if unknown:
        raise ValueError(f"dataset {dataset.name!r} has no item field(s) {unknown}; "
                         f"available: {list(dataset.items.columns)}")
    return TextTemplate(tuple(names), with_field_names=with_field_names)
