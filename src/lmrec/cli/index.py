"""``lmrec index build|query``: faiss ANN indexes over item vectors (:class:`lmrec.index.AnnIndex`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Build and query ANN indexes (exact, HNSW, IVF-PQ) over item vectors.")


@app.command()
def build(vectors: Path = typer.Option(..., "--vectors", help="float32 [n, dim] .npy (e.g. `lmrec encode --out`)."),
          out: Path = typer.Option(..., "--out", help="Index directory to write."),
          ids: Optional[Path] = typer.Option(None, "--ids", help="int64 [n] .npy of ids (default 0..n-1)."),
          kind: str = typer.Option("hnsw", "--kind", help="flat (exact) | hnsw | ivfpq"),
          metric: str = typer.Option("cosine", "--metric", help="cosine | ip"),
          param: list[str] = typer.Option([], "--param",
                                          help="Index parameter key=value, e.g. M=32, nlist=256, nprobe=16."),
          overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out.")) -> None:
    """Build an index over VECTORS and save it to OUT."""
    import time

    import numpy as np

    from lmrec.cli._common import USER_ERRORS, fail as _fail, parse_params as _parse_params, refuse_existing
    from lmrec.index import AnnIndex

    try:
        refuse_existing(out, overwrite)
        x = np.load(vectors, allow_pickle=False)
        id_arr = np.load(ids, allow_pickle=False) if ids is not None else np.arange(len(x), dtype=np.int64)
        t0 = time.perf_counter()
        index = AnnIndex.build(x, id_arr, kind=kind, metric=metric, **_parse_params(param))
        index.save(out)
    except USER_ERRORS as exc:
        _fail(exc)
    typer.echo(f"{index!r} built in {time.perf_counter() - t0:.1f} s; wrote {out}")


@app.command()
def query(index_dir: Path = typer.Option(..., "--index", help="Index directory from `lmrec index build`."),
          vectors: Optional[Path] = typer.Option(None, "--vectors", help="float32 [q, dim] or [dim] .npy queries."),
          item: Optional[int] = typer.Option(None, "--id", help="Query with the stored vector of this id "
                                                                 "(similar items; the id itself is left out)."),
          k: int = typer.Option(10, "-k", help="Neighbours per query."),
          as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
    """Top-k ids and scores for each query vector, or for a stored item (--id)."""
    import numpy as np

    from lmrec.cli._common import USER_ERRORS, fail as _fail
    from lmrec.evaluation.results import format_table
    from lmrec.index import AnnIndex

    try:
        if (vectors is None) == (item is None):
            raise ValueError("pass exactly one of --vectors FILE.npy or --id ID")
        if k < 1:
            raise ValueError(f"-k must be a positive integer, got {k}")
        index = AnnIndex.load(index_dir)
        if item is not None:
            q = index.reconstruct(item)[None, :]
            scores, ids = index.search(q, k + 1)
            keep = ids[0] != item
            scores, ids = scores[:, keep][:, :k], ids[:, keep][:, :k]
        else:
            scores, ids = index.search(np.load(vectors, allow_pickle=False), k)
    except (*USER_ERRORS, KeyError) as exc:
        _fail(exc)
    rows = [{"query": qi, "rank": r + 1, "id": int(ids[qi, r]), "score": round(float(scores[qi, r]), 5)}
            for qi in range(ids.shape[0]) for r in range(ids.shape[1])]
    if as_json:
        typer.echo(json.dumps(rows))
    else:
        typer.echo(format_table(rows, ["query", "rank", "id", "score"]))
