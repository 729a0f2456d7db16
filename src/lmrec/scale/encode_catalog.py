"""One entry point for shard encoding: a catalog file or a dataset, with the local or Ray engine.

``lmrec encode --shards DIR [--catalog FILE | --dataset NAME] [--engine local|ray]`` calls
:func:`encode_to_shards`. A dataset is first written as a catalog file (``item_id``, ``text``
rendered with the same text template as :func:`lmrec.pipeline.encode_items`), so its vectors
equal the default path's (the embedding cache) up to float rounding.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from lmrec.scale.stream_encode import EncodeReport, stream_encode

ENGINES = ("local", "ray")


def write_dataset_catalog(dataset: Any, template: Any, path: str | os.PathLike) -> Path:
    """Write ``item_id``/``text`` of every item of a :class:`~lmrec.data.dataset.RecDataset` as Parquet (atomic)."""
    import pandas as pd

    from lmrec.data.text import build_item_texts

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    texts, _ = build_item_texts(dataset.items, dataset.item_map.ids, template)
    tmp = path.with_name(path.name + ".tmp")
    pd.DataFrame({"item_id": dataset.item_map.ids, "text": texts}).to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def encode_to_shards(out: str | os.PathLike, *, engine: str = "local", catalog: str | os.PathLike | None = None,
                     dataset: str | None = None, data_dir: str | None = None, encoder: str | None = None,
                     pooling: str | None = None, text_fields: Sequence[str] | None = None,
                     id_column: str = "item_id", text_column: str | None = None, shard_size: int = 4096,
                     batch_size: int = 64, concurrency: int = 2, address: str | None = None,
                     num_cpus: int | None = 2, backend: str = "st", overwrite: bool = False) -> EncodeReport:
    """Encode a catalog file (or a dataset's items) into resumable Parquet shards in ``out``.

    Parameters
    ----------
    engine:
        ``"local"`` (:func:`~lmrec.scale.stream_encode.stream_encode`) or ``"ray"``
        (:func:`~lmrec.scale.ray_encode.ray_encode`).
    catalog, dataset:
        Exactly one: a ``.parquet``/``.csv``/``.tsv``/``.jsonl`` file, or a dataset name (its
        items are written to ``out/../<out name>-catalog.parquet`` first).
    text_column, text_fields:
        For a catalog: the text column, else the fields to render (default column ``text``).
    backend:
        Encoder runtime: ``"st"``, ``"onnx"`` or ``"onnx-int8"`` (each Ray actor builds its own).
    overwrite:
        Discard an ``out`` folder holding an encode with other settings instead of refusing.
    Others:
        See the engines.

    Raises
    ------
    ValueError
        Unknown engine, both or neither of catalog/dataset, bad columns.
    RuntimeError
        If Ray cannot start.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if (catalog is None) == (dataset is None):
        raise ValueError("give exactly one of a catalog file (--catalog) or a dataset (--dataset)")
    out = Path(out)
    fields: tuple[str, ...] = tuple(text_fields or ())
    if dataset is not None:
        from lmrec.data.registry import load_dataset
        from lmrec.pipeline import ExperimentConfig, item_template

        ds = load_dataset(dataset, data_dir)
        cfg = ExperimentConfig(dataset=dataset, model="embknn", text_fields=list(fields) or None)
        catalog = write_dataset_catalog(ds, item_template(ds, cfg), out.parent / f"{out.name}-catalog.parquet")
        id_column, text_column, fields = "item_id", "text", ()
    elif text_column is None and not fields:
        text_column = "text"
    common: dict[str, Any] = dict(encoder=encoder, id_column=id_column, text_column=text_column, text_fields=fields,
                                  shard_size=shard_size, batch_size=batch_size, pooling=pooling, backend=backend,
                                  overwrite=overwrite)
    if engine == "local":
        return stream_encode(catalog, out, **common)
    from lmrec.scale.ray_encode import ray_encode

    return ray_encode(catalog, out, concurrency=concurrency, address=address, num_cpus=num_cpus, **common)
