"""Item text: cleaning and templating of text fields into one string per item.

Cleaning (:func:`clean_text`), in this order: HTML entities decoded once (``&amp;amp;`` stays
``&amp;``), tags stripped, Unicode NFC, whitespace collapsed. Missing values (``None``, NaN,
empty or whitespace-only strings, empty lists) render as nothing — never as ``"nan"``.
Numbers render canonically (``3.0`` → ``"3"``, ``2.50`` → ``"2.5"``), lists as comma-joined
items, dicts as ``key: value`` pairs.

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

import pandas as pd

CLEANING_VERSION = "1"
_TAG = re.compile(r"<[^>]{0,2000}>")
_WS = re.compile(r"\s+")


def is_missing(value: Any) -> bool:
    """True for ``None``, NaN/NaT, ``pd.NA``, empty/whitespace strings and empty containers."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, dict)):
        return all(is_missing(v) for v in (value.values() if isinstance(value, dict) else value))
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
    form (``repr``); lists/tuples are flattened and joined with ``", "``; dicts become
    ``"key: value; key: value"``; booleans become ``"yes"``/``"no"``.
    """
    if is_missing(value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, (list, tuple, set)):
        parts = [render_value(v) for v in value]
        return ", ".join(p for p in parts if p)
    if isinstance(value, dict):
        parts = [f"{clean_text(str(k))}: {render_value(v)}" for k, v in value.items() if not is_missing(v)]
        return "; ".join(parts)
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalar
        return render_value(value.item())
    return clean_text(str(value))


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
        """Text of one item; ``""`` if every field is missing."""
        parts = []
        for name in self.fields:
            value = record.get(name) if hasattr(record, "get") else None
            text = render_value(value)[: self.max_chars].strip()
            if not text:
                continue
            parts.append(f"{name}: {text}" if self.with_field_names else text)
        out = ""
        for p in parts:
            if out and not out.endswith(tuple(".!?")):
                out += self.separator
            elif out:
                out += " "
            out += p
        return out

    def render_items(self, items: pd.DataFrame, item_ids: Iterable[str]) -> list[str]:
        """Texts for ``item_ids`` in that order; ids absent from ``items`` get ``""``."""
        records = items.to_dict(orient="index")
        return [self.render(records.get(i, {})) for i in item_ids]


@dataclass
class TextReport:
    """What happened to the item texts of one dataset (written into ``metrics.json``)."""

    n_items: int
    n_empty: int
    empty_examples: list[str]
    n_truncated: int | None = None
    max_tokens: int | None = None
    mean_chars: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_item_texts(items: pd.DataFrame, item_ids: list[str], template: TextTemplate) -> tuple[list[str], TextReport]:
    """Render the text of every catalog item and report empty ones.

    Returns
    -------
    texts:
        ``list[str]`` of length ``len(item_ids)``, same order.
    report:
        :class:`TextReport` with the count and first ids of items whose text is empty
        (they are encoded as zero vectors, see ``encoders/cache.py``).
    """
    texts = template.render_items(items, item_ids)
    empty = [i for i, t in zip(item_ids, texts) if not t]
    mean_chars = sum(map(len, texts)) / max(1, len(texts))
    return texts, TextReport(n_items=len(texts), n_empty=len(empty), empty_examples=empty[:10],
                             mean_chars=round(mean_chars, 1))
