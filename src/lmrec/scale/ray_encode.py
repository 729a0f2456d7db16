"""Catalog encoding on a Ray cluster with Ray Data: an actor pool, one encoder per actor.

The catalog is cut into the same shards as the single-process path
(:func:`lmrec.scale.shards.iter_catalog`: shard ``k`` = rows ``[k·shard_size, (k+1)·shard_size)``);
finished shards (checksum verified) are skipped, so an interrupted run resumes where it stopped
— with either engine. Pending shards go to Ray in windows of ``window_shards`` shards as a Ray
Dataset (``ray.data.from_pandas``), encoded by ``Dataset.map_batches`` with a pool of
``concurrency`` actors (each loads the encoder once, runs ``batch_size`` texts per call with
``cpus_per_actor`` torch threads), and streamed back to the driver, which writes each shard
atomically as soon as all its rows are in. Vectors equal the single-process path's up to float
rounding (the same encoder code runs on the same texts; tested: cosine ≥ 0.9999).

Pointing it at a cluster
------------------------
Start Ray on the machines (``ray start --head`` on one, ``ray start --address=HEAD:6379`` on the
others), then either pass ``address="ray://HEAD:10001"`` / ``address="auto"`` (from a cluster
node) or set ``RAY_ADDRESS``; with neither, a local cluster of ``num_cpus`` CPUs is started.
Every node needs: the same Python environment with lmrec installed, the encoder model at the
same local path (or a shared filesystem), and ``HF_HUB_OFFLINE=1`` where there is no internet
(set through ``runtime_env={"env_vars": …}``). The catalog file and the output folder are read
and written by the driver only. Set ``concurrency`` to the number of encoder actors the cluster
can hold (≈ total CPUs / ``cpus_per_actor``; on GPU nodes pass ``num_gpus_per_actor=1`` and one
actor per GPU).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from lmrec.scale.shards import (EncodeManifest, TextSpec, checked_catalog, open_output, peak_rss_mb, read_shard,
                                source_info, write_manifest, write_shard)
from lmrec.scale.stream_encode import EncodeReport, count_empty, resolve_encoder, shard_vocabulary


class EncoderActor:
    """Ray Data callable class: loads the encoder once per actor, encodes a batch of texts.

    Input batch (numpy format): ``shard`` int64, ``row`` int64 (row within the shard), ``text`` str.
    Output batch: ``shard``, ``row``, ``vector`` float32 ``[b, dim]``, ``rss_mb`` (the actor's
    peak RSS, MiB, repeated per row).
    """

    def __init__(self, encoder: str | None, pooling: str | None, max_length: int | None, batch_size: int,
                 threads: int, backend: str = "st"):
        import torch

        torch.set_num_threads(max(1, int(threads)))
        self.encoder = resolve_encoder(encoder, pooling, max_length, backend)
        self.batch_size = batch_size

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        vectors = self.encoder.encode(texts, batch_size=self.batch_size)
        n = len(texts)
        return {"shard": batch["shard"], "row": batch["row"], "vector": vectors,
                "rss_mb": np.full(n, peak_rss_mb(), dtype=np.float32)}


def start_ray(address: str | None = None, num_cpus: int | None = 2, runtime_env: dict | None = None) -> None:
    """Connect to ``address`` / ``$RAY_ADDRESS``, or start a local cluster with ``num_cpus`` CPUs.

    Raises
    ------
    RuntimeError
        If Ray cannot start or connect (message says why).
    """
    import ray

    if ray.is_initialized():
        return
    address = address or os.environ.get("RAY_ADDRESS") or None
    env = {"env_vars": {k: os.environ[k] for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "LMREC_CACHE_DIR",
                                                    "OMP_NUM_THREADS") if k in os.environ}}
    if runtime_env:
        env.update(runtime_env)
    try:
        if address:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, runtime_env=env, log_to_driver=False)
    except Exception as exc:  # ray raises several types (ConnectionError, RuntimeError, …)
        raise RuntimeError(f"Ray could not start{' at ' + address if address else ''}: {exc}") from exc
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False


def ray_encode(catalog: str | os.PathLike, out: str | os.PathLike, *, encoder: str | None = None,
               id_column: str = "item_id", text_column: str | None = "text", text_fields: Sequence[str] = (),
               shard_size: int = 4096, batch_size: int = 64, concurrency: int = 2, cpus_per_actor: float = 1.0,
               num_gpus_per_actor: float = 0.0, window_shards: int = 64, pooling: str | None = None,
               max_length: int | None = None, address: str | None = None, num_cpus: int | None = 2,
               overwrite: bool = False, limit_shards: int | None = None, shutdown: bool = False,
               backend: str = "st") -> EncodeReport:
    """Encode a catalog file into Parquet embedding shards with Ray Data.

    Parameters
    ----------
    catalog, out, id_column, text_column, text_fields, shard_size, batch_size, pooling, max_length, overwrite,
    limit_shards, backend:
        As in :func:`lmrec.scale.stream_encode.stream_encode` (same shards, same output folder layout).
    encoder:
        Encoder name or local path loaded by every actor (``None``: packaged all-MiniLM-L6-v2);
        must resolve to the same model on every node.
    concurrency:
        Encoder actors (the actor pool size).
    cpus_per_actor, num_gpus_per_actor:
        Ray resources per actor; torch threads per actor = ``max(1, int(cpus_per_actor))``.
    window_shards:
        Pending shards handed to Ray at once (bounds driver memory; each window starts its own pool).
    address, num_cpus:
        Cluster to use (see the module docstring); ``num_cpus`` sizes a local cluster.
    shutdown:
        Call ``ray.shutdown()`` at the end.

    Returns
    -------
    EncodeReport
        ``extra`` holds ``actor_peak_rss_mb`` and the Ray cluster resources; ``vocabulary`` the
        vocabulary fit of the whole catalog, measured on the driver from the vectors the actors
        return (as :func:`~lmrec.scale.stream_encode.stream_encode`).

    Raises
    ------
    RuntimeError
        If Ray cannot start.
    ValueError, FileNotFoundError
        As :func:`~lmrec.scale.stream_encode.stream_encode`.
    """
    import pandas as pd

    t0 = time.perf_counter()
    catalog, out = Path(catalog), Path(out)
    spec = TextSpec(id_column, text_column, tuple(text_fields))
    shards = checked_catalog(catalog, shard_size, spec)  # a bad file/column fails before any load or write
    probe = resolve_encoder(encoder, pooling, max_length, backend)  # identity for the manifest (and fail early)
    manifest = EncodeManifest(encoder=probe.identity(), encoder_hash=probe.identity_hash(),
                              source=source_info(catalog), spec=asdict(spec), shard_size=shard_size, dim=probe.dim,
                              engine="ray", extra={"concurrency": concurrency, "batch_size": batch_size,
                                                   "limit_shards": limit_shards})
    dim = probe.dim
    from lmrec.encoders.vocab_fit import VocabularyMeter

    meter = VocabularyMeter(probe)   # keeps only the tokenizer: the driver measures what the actors return
    del probe
    done = open_output(out, manifest, overwrite)
    start_ray(address, num_cpus)
    import ray

    n_items = n_shards = n_encoded = n_empty = 0
    actor_rss = 0.0
    window: list[tuple[int, list[str], list[str]]] = []

    def flush() -> None:
        nonlocal n_encoded, actor_rss
        if not window:
            return
        frames = [pd.DataFrame({"shard": np.full(len(ids), k, dtype=np.int64), "row": np.arange(len(ids)),
                                "text": texts}) for k, ids, texts in window]
        sizes = {k: len(ids) for k, ids, _ in window}
        id_of = {k: ids for k, ids, _ in window}
        text_of = {k: texts for k, _, texts in window}
        ds = ray.data.from_pandas(frames).map_batches(
            EncoderActor, fn_constructor_args=(encoder, pooling, max_length, batch_size, cpus_per_actor, backend),
            batch_size=batch_size * 4, batch_format="numpy", concurrency=concurrency, num_cpus=cpus_per_actor,
            num_gpus=num_gpus_per_actor or None)
        pending: dict[int, np.ndarray] = {}
        filled: dict[int, int] = {}
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            actor_rss = max(actor_rss, float(np.max(batch["rss_mb"])) if len(batch["rss_mb"]) else 0.0)
            for k in np.unique(batch["shard"]):
                k = int(k)
                sel = batch["shard"] == k
                buf = pending.setdefault(k, np.zeros((sizes[k], dim), dtype=np.float32))
                buf[batch["row"][sel]] = batch["vector"][sel]
                filled[k] = filled.get(k, 0) + int(sel.sum())
                if filled[k] == sizes[k]:
                    vectors = pending.pop(k)
                    write_shard(out, k, id_of[k], vectors)
                    meter.add(id_of[k], text_of[k], vectors, start=k * shard_size)
                    n_encoded += sizes[k]
        if pending:
            raise RuntimeError(f"Ray returned incomplete shards {sorted(pending)}; rerun to resume")
        window.clear()

    for k, ids, texts in shards:
        if limit_shards is not None and k >= limit_shards:
            break
        n_items += len(ids)
        n_shards = k + 1
        if k in done:
            meter.add(ids, texts, read_shard(out, k)[1], start=k * shard_size)
            continue
        window.append((k, ids, texts))
        n_empty += count_empty(texts)
        if len(window) >= window_shards:
            flush()
    flush()
    vocabulary = shard_vocabulary(meter, out, catalog, spec, shard_size)
    manifest.n_shards = n_shards
    manifest.extra["vocabulary"] = vocabulary.to_dict()
    write_manifest(out, manifest)
    vocabulary.warn()
    resources = {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU", "memory")}
    if shutdown:
        ray.shutdown()
    wall = time.perf_counter() - t0
    return EncodeReport(out=str(out), engine="ray", n_items=n_items, n_shards=n_shards,
                        n_shards_done_before=len(done & set(range(n_shards))), n_encoded=n_encoded, dim=dim,
                        wall_s=round(wall, 3), items_per_s=round(n_encoded / wall, 2) if wall > 0 else 0.0,
                        peak_rss_mb=round(peak_rss_mb(), 1),
                        extra={"actor_peak_rss_mb": round(actor_rss, 1), "concurrency": concurrency,
                               "cluster": resources}, n_empty_text=n_empty, vocabulary=vocabulary.to_dict())
