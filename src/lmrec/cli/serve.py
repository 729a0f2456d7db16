"""``lmrec serve``: the HTTP recommendation service of :mod:`lmrec.serving` under uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def serve(run: Path = typer.Option(..., "--run", help="Run directory from `lmrec train` (a text model or sasrec-id), or of `lmrec ensemble`."),
          host: str = typer.Option("127.0.0.1", help="Interface to listen on (0.0.0.0 for all)."),
          port: int = typer.Option(8000, help="TCP port."),
          index_kind: str = typer.Option("flat", "--index-kind", help="flat (exact) | hnsw | ivfpq (compressed)."),
          data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Data directory (default: the run's)."),
          ef_search: Optional[int] = typer.Option(None, "--ef-search", help="hnsw: candidates per query (default "
                                                  "64); larger = slower and closer to exact."),
          log_level: str = typer.Option("warning", help="uvicorn log level.")) -> None:
    """Serve recommendations, similar items and item ingestion for a trained or fused run (docs at /docs)."""
    from lmrec.cli._common import USER_ERRORS, fail as _fail

    try:
        from lmrec.serving import create_app

        app = create_app(run, index_kind=index_kind, data_dir=data_dir, ef_search=ef_search)
    except USER_ERRORS as exc:
        _fail(exc)
    import uvicorn

    typer.echo(f"serving {run} on http://{host}:{port} (API docs: /docs)")
    uvicorn.run(app, host=host, port=port, log_level=log_level)
