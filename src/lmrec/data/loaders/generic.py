"""Users' own interaction tables: CSV / TSV / Parquet / JSON, or a folder described by ``lmrec.json``.

:func:`load_table` reads an interaction table (one row per event) and optional item and user
tables; the file type follows the extension (:data:`TABLE_TYPES`: ``.csv``, ``.tsv``/``.tab``,
``.parquet``/``.pq``, ``.jsonl``/``.ndjson`` (JSON Lines: one object per line), ``.json`` (an
array of objects, or JSON Lines); text formats optionally ``.gz``-compressed). Any other
extension is refused with a message naming the file and these types, and a file pandas cannot
parse is reported with its name and the fix, never as a raw pandas error. Ids are read as
strings, so ``"007"`` and ``"0"`` survive (a whole-number float id, as Parquet or JSON give for
an integer column with gaps, is written without ``.0``). List-valued fields (Parquet list
columns, JSON arrays) are kept as they are and rendered by :mod:`lmrec.data.text`.
Timestamps may be numbers (unix seconds) or ISO 8601 date strings (converted to unix seconds;
UTC when no zone is given).

A folder holding ``lmrec.json`` is loaded by :func:`load_table_folder`::

    {"format": "table",
     "interactions": "events.csv",
     "columns": {"user_id": "uid", "item_id": "sku", "timestamp": "ts", "rating": "stars"},
     "items": "items.csv", "item_id": "sku", "text_fields": ["title", "description"],
     "users": "users.csv", "user_id": "uid", "sep": ",", "ordered": true}

Only ``interactions`` and ``columns.user_id`` / ``columns.item_id`` are required.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lmrec.data.dataset import RecDataset
from lmrec.data.loaders._common import iter_json_lines, open_text, require_columns, require_file

CONFIG_FILE = "lmrec.json"
#: File extension → table type read by :func:`load_table` (text types may end in ``.gz`` too).
TABLE_TYPES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
               ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
SUPPORTED_TYPES = "csv, tsv, parquet, jsonl (JSON Lines), json (array of objects or JSON Lines)"


def table_type(path: Path) -> str:
    """``"csv" | "tsv" | "parquet" | "jsonl" | "json"`` from the file name (``.gz`` looked through
    for text types).

    Raises
    ------
    ValueError
        For any other extension (or a gzipped Parquet file), naming the file and the supported types.
    """
    suffixes = [s.lower() for s in Path(path).suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    if gz:
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    kind = TABLE_TYPES.get(ext)
    if kind is None or (gz and kind == "parquet"):
        found = ext + (".gz" if gz else "") or "no extension"
        raise ValueError(f"{path}: unsupported table type ({found}); lmrec reads {SUPPORTED_TYPES}"
                         f"{' — text types may be .gz-compressed, Parquet not' if gz else ''}. Convert the "
                         "file, or rename it if the extension is wrong")
    return kind


def _id_str(value: object) -> str | None:
    """An id cell as a string: ``None`` for missing/blank, ``7.0`` → ``"7"``, else ``str``."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


def _read_json_records(path: Path, kind: str) -> pd.DataFrame:
    """Records of a JSON Lines file, or of a ``.json`` file holding an array of objects (or JSON Lines)."""
    with open_text(path) as fh:
        head = fh.read(4096).lstrip("\ufeff \t\r\n")
    if kind == "json" and head.startswith("["):
        with open_text(path) as fh:
            try:
                data = json.loads(fh.read().lstrip("\ufeff"))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg}) — the file may be "
                                 "truncated; a .json table is an array of objects or JSON Lines") from None
        bad = next((i for i, r in enumerate(data) if not isinstance(r, dict)), None)
        if bad is not None:
            raise ValueError(f"{path}: element {bad} of the array is a {type(data[bad]).__name__}, not an object "
                             "— a .json table is an array of objects ({\"column\": value, …}), one per row")
        return pd.DataFrame.from_records(data)
    try:
        records = [r for _, r in iter_json_lines(path)]
    except ValueError as exc:
        raise ValueError(f"{exc} (a .{kind} table has one JSON object per line"
                         f"{'; a .json table may also be one array of objects' if kind == 'json' else ''})") from None
    return pd.DataFrame.from_records(records)


def _read(path: Path, sep: str | None, id_cols: list[str], *, only_empty_is_na: bool = False
          ) -> pd.DataFrame:
    """Read one table with ``id_cols`` as strings; the reader follows the extension (:func:`table_type`).

    ``only_empty_is_na`` keeps words such as ``"NA"`` or ``"null"`` as text (for item tables).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        For an unsupported extension, or a file that cannot be parsed as its type (file named,
        with the parser's reason and the fix).
    """
    path = require_file(Path(path), f"a table ({SUPPORTED_TYPES})")
    kind = table_type(path)
    if kind in ("parquet", "jsonl", "json"):
        if kind == "parquet":
            try:
                df = pd.read_parquet(path)
            except (OSError, ValueError) as exc:
                raise ValueError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0][:200]}) — "
                                 "is it really Parquet, and complete?") from None
        else:
            df = _read_json_records(path, kind)
        for c in id_cols:
            if c in df.columns:
                df[c] = df[c].map(_id_str).astype(object)
        return df
    if sep is None:
        sep = "\t" if kind == "tsv" else ","
    try:
        header = pd.read_csv(path, sep=sep, nrows=0).columns
        if len(header) == 1:
            other = next((c for c in (";", "\t", "|", ",") if c != sep and c in str(header[0])), None)
            if other is not None:
                raise ValueError(f"{path}: read as one column {str(header[0])[:80]!r} with separator {sep!r}, but "
                                 f"the header looks {other!r}-separated — set \"sep\": {json.dumps(other)} in "
                                 "lmrec.json (or pass sep= to the loader)")
        dtypes = {c: str for c in id_cols if c in header}
        if only_empty_is_na:
            return pd.read_csv(path, sep=sep, dtype=dtypes, keep_default_na=False, na_values=[""])
        return pd.read_csv(path, sep=sep, dtype=dtypes)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{path}: the file is empty — expected a header line and one row per record") from None
    except pd.errors.ParserError as exc:
        raise ValueError(f"{path}: cannot be read as a {kind.upper()} table with separator {sep!r} "
                         f"({str(exc).strip().splitlines()[-1][:200]}) — a value that contains the separator "
                         "must be quoted (\"…\"); or set \"sep\" in lmrec.json") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}) — save it as UTF-8") from None


def _where(path: Path, row: int) -> str:
    """Human position of data row ``row`` (0-based): the line for CSV/TSV (header = line 1), the
    record number for Parquet and JSON."""
    return f"line {row + 2}" if table_type(path) in ("csv", "tsv") else f"row {row}"


def _check_ids(df: pd.DataFrame, col: str, path: Path) -> None:
    bad = df[col].isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path}, {_where(path, row)}: empty {col!r} — every row needs an id; "
                         f"drop or fill such rows")


def _to_seconds(values: pd.Series, path: Path, col: str) -> np.ndarray:
    """Unix seconds ``float64``: numbers as they are, ISO 8601 date strings parsed (UTC if no zone)."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64").to_numpy()
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        try:
            parsed = pd.to_datetime(values, utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: column {col!r} is neither unix seconds nor ISO 8601 dates "
                             f"({str(exc).splitlines()[0]}) — convert it to one of these") from None
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize("UTC")
    delta = parsed.dt.tz_convert("UTC") - pd.Timestamp("1970-01-01", tz="UTC")
    return (delta / pd.Timedelta(seconds=1)).to_numpy(dtype="float64", na_value=np.nan)


def load_table(interactions_path: Path, *, user_col: str, item_col: str,
               time_col: str | None = None, rating_col: str | None = None,
               items_path: Path | None = None, item_id_col: str | None = None,
               text_cols: list[str] | None = None, users_path: Path | None = None,
               user_id_col: str | None = None, sep: str | None = None, name: str | None = None,
               ordered: bool | None = None) -> RecDataset:
    """Build a :class:`RecDataset` from one's own tables.

    Parameters
    ----------
    interactions_path:
        Table with one row per event. Columns other than the named ones are kept as extra
        interaction columns; a ``split`` column (``train``/``valid``/``test``) is taken as
        the given split.
    user_col, item_col, time_col, rating_col:
        Column names in that table (``time_col``: unix seconds or ISO 8601 dates).
    items_path, item_id_col:
        Optional item table and its id column (default: ``item_col``).
    text_cols:
        Item text fields in order (default: every item column except the id).
    users_path, user_id_col:
        Optional user-profile table and its id column (default: ``user_col``).
    sep:
        Separator for text tables (default: by extension).
    name:
        Dataset name (default: the interaction file's stem).
    ordered:
        Whether row order is meaningful (default: ``True`` iff ``time_col`` is given).

    Raises
    ------
    ValueError
        If a named column is missing (file and existing columns named) or an id is empty.
    """
    interactions_path = Path(interactions_path)
    named = [c for c in (user_col, item_col, time_col, rating_col) if c]
    df = _read(interactions_path, sep, [user_col, item_col])
    require_columns(df, named, interactions_path)
    for col in (user_col, item_col):
        _check_ids(df, col, interactions_path)
    inter = pd.DataFrame({"user_id": df[user_col].astype(str), "item_id": df[item_col].astype(str)})
    inter["timestamp"] = _to_seconds(df[time_col], interactions_path, time_col) if time_col else np.nan
    if rating_col:
        rating = pd.to_numeric(df[rating_col], errors="coerce")
        bad = rating.isna() & df[rating_col].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{interactions_path}, {_where(interactions_path, row)}: rating "
                             f"{df[rating_col].iloc[row]!r} in column {rating_col!r} is not a number")
    inter["rating"] = rating.astype("float64") if rating_col else np.nan
    reserved = set(inter.columns)
    for col in df.columns:
        if col not in named and col not in reserved:
            inter[col] = df[col]

    if items_path is not None:
        items_path = Path(items_path)
        id_col = item_id_col or item_col
        raw = _read(items_path, sep, [id_col], only_empty_is_na=True)
        require_columns(raw, [id_col] + list(text_cols or []), items_path)
        _check_ids(raw, id_col, items_path)
        dup = raw[id_col].duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            raise ValueError(f"{items_path}, {_where(items_path, row)}: item id "
                             f"{raw[id_col].iloc[row]!r} appears twice — item ids must be unique")
        items = raw.set_index(raw[id_col].astype(str)).drop(columns=[id_col])
        fields = list(text_cols) if text_cols else list(items.columns)
    else:
        items = pd.DataFrame(index=pd.Index(list(dict.fromkeys(inter["item_id"])), name="item_id"))
        fields = []
    users = None
    if users_path is not None:
        users_path = Path(users_path)
        uid_col = user_id_col or user_col
        raw_users = _read(users_path, sep, [uid_col])
        require_columns(raw_users, [uid_col], users_path)
        _check_ids(raw_users, uid_col, users_path)
        users = raw_users.set_index(raw_users[uid_col].astype(str)).drop(columns=[uid_col])
    notes = [] if fields else ["no item text: pass items_path/text_cols for text-based models"]
    if items_path is not None:
        n_absent = len(set(inter["item_id"]) - set(items.index))
        if n_absent and n_absent == inter["item_id"].nunique():
            raise ValueError(f"{items_path}: none of the {inter['item_id'].nunique()} item ids of "
                             f"{interactions_path.name} has a row here (e.g. {inter['item_id'].iloc[0]!r}; this "
                             f"table's ids look like {list(items.index[:2])}) — check the item id column and the "
                             "separator (a stray separator inside a text shifts the columns)")
        if n_absent:
            notes.append(f"{n_absent} interacted item(s) have no row in {items_path.name} (no text)")
    return RecDataset(name=name or interactions_path.stem.split(".")[0], interactions=inter,
                      items=items, users=users, text_fields=fields,
                      ordered=bool(time_col) if ordered is None else ordered, notes=notes,
                      source={"format": "table", "path": str(interactions_path)})


def load_table_folder(path: Path, name: str | None = None) -> RecDataset:
    """Load a folder described by ``lmrec.json`` (see the module docstring).

    Raises
    ------
    ValueError
        If ``lmrec.json`` is not valid JSON, its format is not ``"table"``, or it lacks
        ``interactions`` / ``columns.user_id`` / ``columns.item_id``.
    """
    path = Path(path)
    config_file = require_file(path / CONFIG_FILE, f"a {CONFIG_FILE} describing the tables")
    try:
        cfg = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{config_file}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{config_file}: must be one JSON object, e.g. {{\"interactions\": \"events.csv\", "
                         f"\"columns\": {{\"user_id\": …, \"item_id\": …}}}}; found a JSON "
                         f"{type(cfg).__name__}")
    cols = cfg.get("columns", {})
    if not isinstance(cols, dict):
        raise ValueError(f"{config_file}: \"columns\" must be an object mapping user_id / item_id / "
                         f"timestamp / rating to column names; found {cols!r}")
    if cfg.get("format", "table") != "table":
        raise ValueError(f"{config_file}: format {cfg.get('format')!r} is not supported "
                         f"(only \"table\")")
    if "interactions" not in cfg or "user_id" not in cols or "item_id" not in cols:
        raise ValueError(f"{config_file}: needs \"interactions\" and \"columns\": "
                         f"{{\"user_id\": …, \"item_id\": …}}")
    return load_table(path / cfg["interactions"], user_col=cols["user_id"],
                      item_col=cols["item_id"], time_col=cols.get("timestamp"),
                      rating_col=cols.get("rating"),
                      items_path=path / cfg["items"] if cfg.get("items") else None,
                      item_id_col=cfg.get("item_id"), text_cols=cfg.get("text_fields"),
                      users_path=path / cfg["users"] if cfg.get("users") else None,
                      user_id_col=cfg.get("user_id"), sep=cfg.get("sep"),
                      name=name or cfg.get("name") or path.name, ordered=cfg.get("ordered"))
