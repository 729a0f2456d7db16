"""Transfer jobs as single library calls: pre-train on several domains, fine-tune, zero-shot.

The CLI (``lmrec pretrain`` / ``lmrec finetune`` / ``lmrec transfer``) calls these; a notebook
gets the same behaviour.

``run_pretrain(domains, out)``
    loads the source datasets, optionally checks them against a ``target`` (refusing a source
    that is the target's domain, removing the few shared items otherwise), builds a
    :class:`~lmrec.data.multidomain.MultiDomainDataset`, encodes item texts (and one
    word-dropped variant) through the cache, pre-trains UniSRec or ZESRec and writes ``out``
    with :meth:`~lmrec.models.pretrained.PretrainedModel.save_pretrained`.
``run_finetune(from_dir, dataset, mode)``
    fine-tunes a pre-trained UniSRec on a target (inductive / transductive, Transformer frozen
    by default) and writes a run directory with ``metrics.json``.
``run_transfer(from_dir, dataset)``
    zero-shot: encodes the target's item texts and evaluates the pre-trained model on the
    target's valid and test cases without reading its training data (asserted).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np


def encode_domains(md, encoder, cache_dir: str | Path | None = None, *, batch_size: int = 64,
                   show_progress: bool = False) -> np.ndarray:
    """Text vectors of every item of ``md`` (a :class:`~lmrec.data.multidomain.MultiDomainDataset`),
    ``float32 [md.n_items, dim]`` in global item order, through the embedding cache
    (namespace ``"multidomain"``).

    ``encoder`` is a :class:`~lmrec.encoders.base.TextEncoder`; ``cache_dir`` ``None`` means
    ``$LMREC_CACHE_DIR`` or the default cache root.
    """
    from lmrec.encoders.cache import encode_cached

    return encode_cached(encoder, md.texts, Path(cache_dir) if cache_dir else None, namespace="multidomain",
                         batch_size=batch_size, show_progress=show_progress)


def encode_word_drop(md, encoder, cache_dir: str | Path | None = None, *, n_variants: int = 1, p: float = 0.15,
                     seed: int = 0, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
    """Text vectors of word-dropped item texts, ``float32 [n_variants, md.n_items, dim]``.

    The texts are :meth:`~lmrec.data.multidomain.MultiDomainDataset.word_drop_texts` (each word
    dropped with probability ``p``, seeded, at least one kept) — UniSRec's word-drop
    augmentation, encoded once through the cache (namespace ``"multidomain-worddrop"``) because
    re-encoding every step is far too slow on CPU (the original code also stores one augmented
    vector per item).

    Raises
    ------
    ValueError
        If ``p`` is not in ``[0, 1)``.
    """
    from lmrec.encoders.cache import encode_cached

    root = Path(cache_dir) if cache_dir else None
    return np.stack([encode_cached(encoder, texts, root, namespace="multidomain-worddrop", batch_size=batch_size,
                                   show_progress=show_progress)
                     for texts in md.word_drop_texts(n_variants, p, seed)])


def _encode_target(dataset, encoder_name: str | None, data_dir: str | None, cache_dir: str | None):
    from lmrec.pipeline import ExperimentConfig, encode_items

    cfg = ExperimentConfig(dataset=dataset.name, model="unisrec", data_dir=data_dir, encoder=encoder_name,
                           cache_dir=cache_dir)
    return encode_items(dataset, cfg)


def _check_not_source(pretrained, dataset_name: str) -> None:
    """Refuse a target that is (or contains, or is a domain of) a pre-training domain.

    Domain names are ``<dataset>`` or ``<dataset>:<domain>`` (a multi-domain source is cut per
    domain; a single-domain selection such as ``amazon-food-kitchen-llmcdsr:kitchen`` keeps its
    name), so ``…:food`` is refused after pre-training on the whole Food-Kitchen set or on
    ``…:food``, and accepted after pre-training on ``…:kitchen`` alone.
    """
    full = [d["name"] for d in pretrained.pretraining.get("domains", {}).get("domains", [])]
    bases = {n.split(":")[0] for n in full}
    if dataset_name in full or dataset_name in bases or dataset_name.split(":")[0] in full:
        raise ValueError(f"{dataset_name!r} is one of the pre-training domains of {pretrained.path} "
                         f"({sorted(set(full))}); transfer results on it would not be on an unseen domain")


def run_pretrain(domains: list[str], out: str | Path, *, model: str = "unisrec", target: str | None = None,
                 encoder: str | None = None, data_dir: str | None = None, cache_dir: str | None = None,
                 max_users_per_domain: int | None = None, epochs: int = 100, patience: int = 10,
                 valid_users: int = 500, checkpoint: str | Path | None = None, max_train_seconds: float = 0.0,
                 batch_size: int = 512, seed: int = 0, echo: Callable[[str], Any] = print) -> Path:
    """Pre-train ``model`` (``"unisrec"`` or ``"zesrec"``) on ``domains``; write ``out``.

    Parameters
    ----------
    domains:
        Dataset names (``lmrec datasets``); a dataset with several ``domain`` values contributes
        one domain per value.
    target:
        Dataset the model will be transferred to: sources are checked against it
        (:func:`~lmrec.data.multidomain.check_domain_overlap`) and shared items removed.
    max_users_per_domain, batch_size, seed:
        Cost bound, batch size and the seed.
    epochs, patience, valid_users:
        Epoch cap; early stopping after ``patience`` epochs without a better NDCG@10 on
        ``valid_users`` held-out users per source domain (``0`` turns either off); see
        :class:`~lmrec.training.pretrain.PretrainConfig`.
    checkpoint:
        Resumable checkpoint file, written after every epoch; a rerun with the same settings
        resumes from it (a killed run loses at most one epoch).
    max_train_seconds:
        Optional wall-clock cap (0 = none).

    The written model's ``pretraining.training`` holds the history: per-epoch loss, held-out
    Recall/NDCG@10 and seconds, ``best_epoch``, ``stopped``, ``peak_rss_mib``,
    ``n_valid_per_domain``.

    Raises
    ------
    DomainOverlapError
        If a source is the target's domain.
    ValueError
        For unknown datasets or models, or a checkpoint written by another run.
    """
    from lmrec.data.multidomain import MultiDomainDataset, check_domain_overlap
    from lmrec.data.registry import load_dataset
    from lmrec.encoders.factory import load_encoder
    from lmrec.seed import seed_everything
    from lmrec.models.unisrec import pretrain_unisrec
    from lmrec.models.zesrec import pretrain_zesrec
    from lmrec.training.pretrain import PretrainConfig

    if model not in ("unisrec", "zesrec"):
        raise ValueError(f"pre-training model must be unisrec or zesrec, got {model!r}")
    if not domains:
        raise ValueError("give at least one source domain (--domains A,B,C)")
    seed_everything(seed)
    t0 = time.perf_counter()
    sources = [load_dataset(d, data_dir) for d in domains]
    overlap, exclude = None, None
    if target:
        overlap = check_domain_overlap(sources, load_dataset(target, data_dir))
        exclude = {s["dataset"]: set(s["excluded_item_ids"]) for s in overlap["sources"]}
        for s in overlap["sources"]:
            echo(f"overlap with {target}: {s['dataset']}: {s['shared_ids']} shared ids, {s['shared_titles']} "
                 f"shared titles ({s['share']:.2%}) — removed from its sequences")
    md = MultiDomainDataset.from_datasets(sources, max_users_per_domain=max_users_per_domain, seed=seed,
                                          exclude_items=exclude)
    for d in md.describe()["domains"]:
        echo(f"domain {d['name']}: {d['n_users']} users, {d['n_items']} items, {d['n_interactions']} interactions")
    enc = load_encoder(encoder)
    vectors = encode_domains(md, enc, cache_dir)
    cfg = PretrainConfig(epochs=epochs, patience=patience, valid_users=valid_users, max_train_seconds=max_train_seconds,
                         checkpoint_path=str(checkpoint) if checkpoint else None, batch_size=batch_size, seed=seed)
    ident, ihash = enc.identity(), enc.identity_hash()
    if model == "unisrec":
        aug = encode_word_drop(md, enc, cache_dir, n_variants=cfg.n_word_drop_variants, p=cfg.word_drop, seed=seed)
        pre = pretrain_unisrec(md, vectors, aug, cfg, encoder_identity=ident, encoder_hash=ihash,
                               show_progress=True)
    else:
        pre = pretrain_zesrec(md, vectors, cfg, encoder_identity=ident, encoder_hash=ihash, show_progress=True)
    h = pre.pretraining["training"]
    echo(f"{model}: stopped by {h['stopped']} after {h['epochs_run']} epoch(s) "
         f"({h['seconds_per_epoch']} s/epoch), best epoch {h.get('best_epoch', '—')} "
         f"(held-out ndcg@10 {h.get('best_valid_ndcg@10', '—')}, {h.get('n_valid', 0)} users), "
         f"peak RSS {h['peak_rss_mib']} MiB")
    if overlap is not None:
        pre.pretraining["overlap_check"] = {**overlap, "sources": [
            {k: v for k, v in s.items() if k != "excluded_item_ids"} for s in overlap["sources"]]}
    pre.pretraining["wall_s"] = round(time.perf_counter() - t0, 2)
    pre.pretraining["source_datasets"] = list(domains)
    return pre.save_pretrained(out)


def _write_run(out: Path | None, dataset, split, model, results: dict, wall: float, extra: dict) -> None:
    if out is None:
        return
    from lmrec.evaluation.results import write_metrics_json

    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model")
    write_metrics_json(out, dataset_stats=dataset.statistics(), split=split.describe(),
                       protocol=results["test"]["protocol"], seed=extra.get("seed", 0),
                       model_config={"name": model.name, **model.config}, wall_s=round(wall, 2),
                       valid=results["valid"], test=results["test"], extra=extra)


def run_finetune(from_dir: str | Path, dataset: str, *, mode: str = "inductive", train_transformer: bool = False,
                 out: str | Path | None = None, data_dir: str | None = None, cache_dir: str | None = None,
                 encoder: str | None = None, include_history: bool = False, seed: int = 0,
                 train_fraction: float = 1.0, max_train_seconds: float = 0.0, epochs: int = 100,
                 show_progress: bool = False) -> dict[str, Any]:
    """Fine-tune a pre-trained UniSRec on ``dataset``; returns the ``metrics.json`` payload pieces.

    ``train_fraction`` < 1 keeps only that share of the target's training users (few-shot).
    ``metrics.json`` records ``mode``, ``freeze_transformer`` and the pre-trained directory.
    """
    from lmrec.data.registry import load_dataset
    from lmrec.data.splits import make_split
    from lmrec.encoders.factory import load_encoder
    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.models.base import TrainData
    from lmrec.models.fallback import POPULARITY, PopularityFallback
    from lmrec.models.pretrained import PretrainedModel
    from lmrec.seed import seed_everything
    from lmrec.models.unisrec import finetune_unisrec
    from lmrec.training.pretrain import subsample_train_users

    t0 = time.perf_counter()
    seed_everything(seed)
    pre = PretrainedModel.from_pretrained(from_dir, encoder=load_encoder(encoder))
    _check_not_source(pre, dataset)
    ds = load_dataset(dataset, data_dir)
    split = subsample_train_users(make_split(ds, "auto", seed=seed), train_fraction, seed=seed)
    vectors, enc_report = _encode_target(ds, encoder, data_dir, cache_dir)
    model = finetune_unisrec(pre, TrainData(split, vectors, seed=seed, exclude_history=not include_history,
                                            show_progress=show_progress),
                             mode=mode, freeze_transformer=not train_transformer, epochs=epochs,
                             max_train_seconds=max_train_seconds)
    scorers = {p: PopularityFallback(model, split.train_item_counts, vectors) for p in ("valid", "test")}
    results = {p: evaluate_ranking(scorers[p], getattr(split, p), split.n_items, ks=(5, 10, 20, 50),
                                   exclude_history=not include_history, item_slices=split.item_slices())
               for p in ("valid", "test")}
    extra = {"seed": seed, "transfer": {"setting": f"fine-tune ({mode})", "pretrained_from": str(from_dir),
                                        "freeze_transformer": not train_transformer,
                                        "train_fraction": train_fraction,
                                        "train_subsample_seed": seed if train_fraction < 1.0 else None,
                                        "n_train_users_kept": split.report.get("n_train_users_kept"),
                                        "pretraining_domains": pre.pretraining.get("source_datasets")},
             "training": model.history_, "encoding": enc_report,
             "cold_users": {"policy": POPULARITY, "n_cases_fallback": {p: sc.n_fallback for p, sc in scorers.items()},
                            "n_cases_dropped_empty_history": int(split.report.get("n_cases_dropped_empty_history", 0))}}
    wall = time.perf_counter() - t0
    _write_run(Path(out) if out else None, ds, split, model, results, wall, extra)
    return {"metrics": {p: results[p]["metrics"] for p in results}, "extra": extra, "wall_s": wall}


def run_transfer(from_dir: str | Path, dataset: str, *, out: str | Path | None = None,
                 data_dir: str | None = None, cache_dir: str | None = None, encoder: str | None = None,
                 include_history: bool = False) -> dict[str, Any]:
    """Zero-shot evaluation of a pre-trained model (UniSRec or ZESRec) on ``dataset``.

    Only the target's item texts and its valid/test cases (histories + targets) are used; its
    training sequences are guarded by :class:`~lmrec.training.pretrain.TrainAccessGuard` and
    the result records ``"train_accesses": 0``.

    Raises
    ------
    TrainAccessError
        If anything read the target's training data.
    EncoderMismatchError
        If ``encoder`` is not the pre-training encoder.
    """
    from lmrec.data.registry import load_dataset
    from lmrec.data.splits import make_split
    from lmrec.encoders.factory import load_encoder
    from lmrec.models.pretrained import PretrainedModel
    from lmrec.models.unisrec import unisrec_zero_shot
    from lmrec.models.zesrec import ZESRec
    from lmrec.training.pretrain import zero_shot_evaluate

    t0 = time.perf_counter()
    pre = PretrainedModel.from_pretrained(from_dir, encoder=load_encoder(encoder))
    _check_not_source(pre, dataset)
    ds = load_dataset(dataset, data_dir)
    split = make_split(ds, "auto")
    vectors, enc_report = _encode_target(ds, encoder, data_dir, cache_dir)
    vectors = np.asarray(vectors, dtype=np.float32)
    model = unisrec_zero_shot(pre, vectors) if pre.kind == "unisrec" else ZESRec.from_pretrained(pre).set_catalog(vectors)
    results = {p: zero_shot_evaluate(model, split, ks=(5, 10, 20, 50), exclude_history=not include_history, part=p)
               for p in ("valid", "test")}
    extra = {"transfer": {"setting": "zero-shot (no target training)", "pretrained_from": str(from_dir),
                          "kind": pre.kind, "train_accesses": 0,
                          "pretraining_domains": pre.pretraining.get("source_datasets")},
             "encoding": enc_report}
    wall = time.perf_counter() - t0
    _write_run(Path(out) if out else None, ds, split, model, results, wall, extra)
    return {"metrics": {p: results[p]["metrics"] for p in results}, "extra": extra, "wall_s": wall}
