"""Small helpers shared by the loaders: reading delimited lines and JSON lines with errors
that name the file and line, checking columns, and profile-coverage notes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator

import pandas as pd


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise ``FileNotFoundError`` saying what was expected."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found — expected {what}")
    return path


def read_fields(path: Path, sep: str, n_fields: int, *, encoding: str = "utf-8",
                skip_header: bool = False) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` of a delimited text file, skipping blank lines.

    Raises
    ------
    ValueError
        If a line does not have exactly ``n_fields`` fields (file and 1-based line named).
    """
    with open(path, encoding=encoding, newline="") as fh:
        for lineno, line in enumerate(fh, start=1):
            if skip_header and lineno == 1:
                continue
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split(sep)
            if len(fields) != n_fields:
                raise ValueError(f"{path}, line {lineno}: expected {n_fields} fields separated by "
                                 f"{sep!r}, found {len(fields)}: {line[:120]!r} — is this the "
                                 f"right file, unmodified?")
            yield lineno, fields


def open_text(path: Path):
    """Open a text file for reading, transparently gunzipping ``*.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` of a JSON-lines file (optionally gzipped).

    Raises
    ------
    ValueError
        If a non-blank line is not a JSON object (file and line named).
    """
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {lineno}: not valid JSON ({exc.msg}) — the file "
                                 f"may be truncated or corrupted; download it again") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}, line {lineno}: expected a JSON object, "
                                 f"found {type(record).__name__}")
            yield lineno, record


def require_columns(df: pd.DataFrame, columns: list[str], path: Path) -> None:
    """Raise ``ValueError`` naming the file, the missing columns and the columns it has."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; the file has columns "
                         f"{list(df.columns)} — pass the right column names")


def none_if_empty(value: Any) -> Any:
    """``None`` for ``None``, empty/whitespace strings and empty lists; the value otherwise."""
    if value is None:
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if isinstance(value, (list, tuple)) and not value:
        return None
    return value


def profile_coverage_notes(user_ids: pd.Series, users: pd.DataFrame, path: Path) -> list[str]:
    """Notes about users with interactions but no profile, and profiles without interactions."""
    active = set(user_ids.astype(str))
    profiled = set(users.index.astype(str))
    notes = []
    no_profile = sorted(active - profiled)
    if no_profile:
        notes.append(f"{len(no_profile)} user(s) with interactions have no profile in "
                     f"{path.name} (e.g. {no_profile[:3]})")
    unused = sorted(profiled - active)
    if unused:
        notes.append(f"{len(unused)} profile(s) in {path.name} belong to users without "
                     f"interactions (e.g. {unused[:3]})")
    return notes
