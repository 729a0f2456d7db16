"""``lmrec encode --shards DIR`` (catalog shard encoding, local or Ray): the command body."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def encode_shards(shards: Path, *, engine: str, catalog: Optional[Path], dataset: Optional[str],
                  data_dir: Optional[str], encoder: Optional[str], pooling: Optional[str],
                  text_fields: Optional[str], id_column: str, text_column: Optional[str], shard_size: int,
                  batch_size: int, concurrency: int, ray_address: Optional[str], backend: str = "st",
                  overwrite: bool = False) -> None:
    """Run :func:`lmrec.scale.encode_catalog.encode_to_shards` and print its report."""
    import warnings

    from lmrec.cli._common import USER_ERRORS, fail as _fail
    from lmrec.encoders.vocab_fit import VocabularyFitWarning, summary_line
    from lmrec.scale.encode_catalog import encode_to_shards

    try:
        with warnings.catch_warnings():      # printed below from the report, once
            warnings.simplefilter("ignore", VocabularyFitWarning)
            rep = encode_to_shards(shards, engine=engine, catalog=catalog, dataset=dataset, data_dir=data_dir,
                                   encoder=encoder, pooling=pooling,
                                   text_fields=text_fields.split(",") if text_fields else None, id_column=id_column,
                                   text_column=text_column, shard_size=shard_size, batch_size=batch_size,
                                   concurrency=concurrency, address=ray_address,
                                   backend=backend, overwrite=overwrite)
    except (*USER_ERRORS, RuntimeError) as exc:
        _fail(exc)
    typer.echo(f"{rep.engine}: {rep.n_items} items in {rep.n_shards} shards ({rep.n_shards_done_before} already done), "
               f"encoded {rep.n_encoded} at {rep.items_per_s} items/s; peak RSS {rep.peak_rss_mb} MiB; wrote {shards}")
    if rep.vocabulary:
        typer.echo(summary_line(rep.vocabulary))
        if rep.vocabulary["warning"]:
            typer.secho(f"warning: {rep.vocabulary['warning']}", fg=typer.colors.YELLOW, err=True)
    if rep.n_empty_text:
        typer.echo(f"warning: {rep.n_empty_text} of the {rep.n_encoded} encoded items have empty text and got an "
                   "all-zero vector (they score 0 against every query); check the text column/fields", err=True)
