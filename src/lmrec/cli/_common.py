"""Helpers shared by the ``lmrec`` sub-command modules (error printing, ``--param`` parsing).

The command modules (:mod:`lmrec.cli.main` and the command groups beside it) import from here,
never from each other, so the CLI package has no import cycle.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

#: Errors caused by input (bad names, files, parameters): printed as one line, exit code 2.
USER_ERRORS = (ValueError, KeyError, OSError, FloatingPointError)

DataDir = typer.Option(None, "--data-dir", help="Data directory (default: $LMREC_DATA_DIR).")


def fail(exc: Exception) -> None:
    """Print ``exc`` as one red ``error: …`` line on stderr and exit with code 2.

    Raises:
        typer.Exit: always (code 2).
    """
    msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def refuse_existing(out: Path, overwrite: bool) -> None:
    """Raise ``ValueError`` if ``out`` exists and is not empty, unless ``overwrite`` (nothing is lost
    by a mistyped ``--out``)."""
    if out.exists() and (out.is_file() or any(out.iterdir())) and not overwrite:
        raise ValueError(f"{out} already exists and is not empty; pass --overwrite to replace it")


def parse_params(params: list[str]) -> dict:
    """Parse repeated ``--param key=value`` options into a dict; values are JSON when they parse
    (``3``, ``0.5``, ``true``, ``[1, 2]``), else kept as strings.

    Raises:
        ValueError: an entry without ``=`` (names the entry).
    """
    out = {}
    for p in params:
        if "=" not in p:
            raise ValueError(f"--param expects key=value, got {p!r}")
        key, value = p.split("=", 1)
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
