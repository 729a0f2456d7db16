"""The main job as one library call: data → item text → LM vectors (cached) → split → model →
full-ranking evaluation → run directory with ``metrics.json``.

The CLI (``lmrec train``, ``lmrec quickstart``) and the benchmarks call :func:`run_experiment`;
``lmrec evaluate`` / ``lmrec recommend`` call :func:`load_run` (or, for the output of
``lmrec ensemble``, :func:`lmrec.ensemble_pipeline.load_ensemble`). A run directory holds::

    run.json            the ExperimentConfig + encoder identity + text report
    model/              config.json + weights of the recommender
    item_map.json       internal item index → external item id
    user_map.json       internal user index → external user id
    item_vectors.npy    float32 [n_items, dim] text vectors (text models only; under
                        field_aggregation mean/attention the mean of the per-field vectors)
    item_field_vectors.npy, item_field_mask.npy
                        float32 [n_items, n_fields, dim] + bool [n_items, n_fields] per-field
                        vectors (field_aggregation="attention" only; lmrec.features.fields)
    metrics.json        results (see lmrec.evaluation.results.write_metrics_json)
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.data.dataset import RecDataset
from lmrec.data.splits import Split, make_split
from lmrec.data.text import TextTemplate, build_item_texts, dataset_item_template

DEFAULT_KS = (5, 10, 20, 50)
#: Models that learn an attention over per-field item vectors (``field_aggregation="attention"``).
FIELD_ATTENTION_MODELS = ("sasrec-text", "sasrec-text-id")


@dataclass
class ExperimentConfig:
    """Everything that determines a run (written to ``run.json``).

    Parameters
    ----------
    dataset:
        Dataset name under the data directory (``ml-100k``, ``amazon-lcrec/Scientific`` …).
    model:
        ``pop | embknn | sasrec-id | sasrec-text | sasrec-text-id``.
    data_dir:
        Data directory (``None``: ``LMREC_DATA_DIR``).
    split:
        ``auto | leave-one-out | temporal | cold-start-items | given`` (auto: the source's own
        split when it has one, else leave-one-out).
    seed:
        The one seed for the split, the model and sampling.
    encoder:
        Text encoder name or path (``None``: the packaged all-MiniLM-L6-v2).
    pooling:
        Pooling for Hugging Face ``AutoModel`` encoders (``cls | mean | last_token``).
    backend:
        Encoder runtime for sentence-transformers models: ``st`` (PyTorch), ``onnx`` or
        ``onnx-int8``, ``onnx-int8-fused`` or ``auto`` (see :func:`lmrec.encoders.factory.load_encoder`).
    text_fields:
        Item fields of the text template (``None``: the dataset's default fields).
    field_aggregation:
        How the text fields become an item's text input (:mod:`lmrec.features.fields`):
        ``"template"`` (one concatenated text, encoded once), ``"mean"`` (each field encoded
        separately, vectors averaged over the fields the item has) or ``"attention"`` (fields
        encoded separately; ``sasrec-text`` / ``sasrec-text-id`` learn an additive attention
        over them).
    exclude_history:
        Remove the user's history items from the ranked candidates (``False`` = RecBole's
        full-sort protocol for sequential models).
    cold_frac:
        Share of items made cold by the ``cold-start-items`` split.
    model_params:
        Hyper-parameter overrides for the model (e.g. ``{"epochs": 20}``).
    """

    dataset: str
    model: str
    data_dir: str | None = None
    split: str = "auto"
    seed: int = 0
    encoder: str | None = None
    pooling: str | None = None
    backend: str = "st"
    text_fields: list[str] | None = None
    field_aggregation: str = "template"
    with_field_names: bool = False
    exclude_history: bool = True
    ks: tuple[int, ...] = DEFAULT_KS
    cold_frac: float = 0.1
    max_text_tokens: int | None = None
    model_params: dict[str, Any] = field(default_factory=dict)
    cache_dir: str | None = None
    batch_size: int = 64

    def __post_init__(self) -> None:
        """Raises ``ValueError`` for an unknown ``field_aggregation``, or ``"attention"`` with a
        model that cannot attend over fields."""
        from lmrec.features.fields import FIELD_AGGREGATIONS

        if self.field_aggregation not in FIELD_AGGREGATIONS:
            raise ValueError(f"field_aggregation must be one of {', '.join(FIELD_AGGREGATIONS)}; "
                             f"got {self.field_aggregation!r}")
        if self.field_aggregation == "attention" and self.model not in FIELD_ATTENTION_MODELS:
            raise ValueError(f"field_aggregation 'attention' is learned inside {' / '.join(FIELD_ATTENTION_MODELS)}; "
                             f"model {self.model!r} cannot use it — use --field-aggregation mean (or template), "
                             "or one of those models")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ks"] = list(self.ks)
        return d


@dataclass
class RunResult:
    """Return value of :func:`run_experiment`: the ``metrics.json`` payload and where it lives."""

    run_dir: Path | None
    metrics: dict[str, Any]
    model: Any
    dataset: RecDataset
    split: Split
    item_vectors: np.ndarray | None


def item_template(dataset: RecDataset, cfg: ExperimentConfig) -> TextTemplate:
    """Text template for ``dataset`` under ``cfg`` (unknown field names raise ``ValueError``);
    see :func:`lmrec.data.text.dataset_item_template`."""
    return dataset_item_template(dataset, cfg.text_fields, with_field_names=cfg.with_field_names)


def encode_items(dataset: RecDataset, cfg: ExperimentConfig, *, show_progress: bool = False
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """Text vectors of every catalog item, through the embedding cache.

    Under ``cfg.field_aggregation`` ``"mean"`` / ``"attention"`` each field is encoded on its own
    and the vectors are the mean over the fields an item has (:func:`encode_item_inputs` also
    returns the per-field vectors).

    Returns
    -------
    vectors:
        ``float32 [n_items, dim]`` in internal item order; items with empty text get a zero row.
    report:
        ``{"encoder": identity, "template": {...}, "text": TextReport, "vocabulary":
        VocabularyFit, "wall_s": …}``; ``vocabulary`` (:mod:`lmrec.encoders.vocab_fit`) counts
        unknown tokens, mostly-unknown texts and distinct texts with identical vectors, and a
        :class:`~lmrec.encoders.vocab_fit.VocabularyFitWarning` is issued when they are too many.
        ``run_experiment`` writes it into ``metrics.json`` (``extra.encoding.vocabulary``).
        Per-field encoding adds ``"fields": {"aggregation", "fields": {name: {"n_present",
        "n_truncated", "namespace"}}}``; then ``text.n_truncated`` counts truncated field texts
        and ``vocabulary`` reads each item's template text with its mean field vector.
    """
    vectors, _, report = encode_item_inputs(dataset, cfg, show_progress=show_progress)
    return vectors, report


def encode_item_inputs(dataset: RecDataset, cfg: ExperimentConfig, *, show_progress: bool = False
                       ) -> tuple[np.ndarray, Any, dict[str, Any]]:
    """:func:`encode_items` plus the per-field vectors.

    Returns
    -------
    ``(vectors, item_fields, report)``: ``vectors`` and ``report`` as :func:`encode_items`;
    ``item_fields`` a :class:`lmrec.features.fields.ItemFields` (``float32 [n_items, n_fields,
    dim]`` + ``bool [n_items, n_fields]`` mask) when ``cfg.field_aggregation`` is ``"mean"`` or
    ``"attention"``, else ``None``.

    Raises
    ------
    ValueError
        For unknown text fields, or when every item text is empty.
    """
    from lmrec.encoders.cache import encode_cached
    from lmrec.encoders.factory import load_encoder

    t0 = time.perf_counter()
    template = item_template(dataset, cfg)
    texts, text_report = build_item_texts(dataset.items, dataset.item_map.ids, template)
    kwargs: dict[str, Any] = {}
    if cfg.pooling:
        kwargs["pooling"] = cfg.pooling
    if cfg.max_text_tokens:
        kwargs["max_length"] = cfg.max_text_tokens
    if cfg.backend != "st":
        kwargs["backend"] = cfg.backend
        kwargs["cache_root"] = cfg.cache_dir        # the ONNX export lives beside the embedding cache
    encoder = load_encoder(cfg.encoder, **kwargs)
    if texts and text_report.n_empty == len(texts):
        raise ValueError(f"dataset {dataset.name!r}: every item text is empty for fields {list(template.fields)} "
                         f"(e.g. item {text_report.empty_examples[0]!r}); a text model has nothing to read — "
                         "choose other --text-fields or an ID model (pop, sasrec-id)")
    if text_report.n_empty > 0.5 * len(texts):
        import warnings

        warnings.warn(f"dataset {dataset.name!r}: {text_report.n_empty} of {len(texts)} items have empty text "
                      "(zero vectors); text models will barely tell them apart", stacklevel=2)
    text_report.max_tokens = int(encoder.max_length)
    cache = Path(cfg.cache_dir) if cfg.cache_dir else None
    item_fields, fields_block = None, None
    ids = dataset.item_map.ids
    if cfg.field_aggregation == "template":
        tokens = encoder.count_tokens(texts)
        text_report.n_truncated = int((tokens > encoder.max_length).sum())
        vectors = encode_cached(encoder, texts, cache, namespace=template.version, batch_size=cfg.batch_size,
                                show_progress=show_progress)
    else:                                  # each field encoded on its own (one cache namespace per field)
        from lmrec.features.fields import encode_item_fields

        item_fields, frep = encode_item_fields(encoder, dataset.items, ids, template.fields,
                                               with_field_names=cfg.with_field_names, cache_root=cache,
                                               batch_size=cfg.batch_size, show_progress=show_progress)
        vectors = item_fields.mean()
        text_report.n_truncated = sum(f["n_truncated"] for f in frep["fields"].values())
        fields_block = {"aggregation": cfg.field_aggregation, "fields": frep["fields"]}
    from lmrec.encoders.vocab_fit import measure_vocabulary

    # unknown tokens and colliding vectors (e.g. Thai titles under an English vocabulary): warns.
    # Per-field runs are measured per item too: the item's whole text and its mean field vector
    # (two items with the same brand are no collision; two items with identical vectors are).
    vocabulary = measure_vocabulary(encoder, texts, vectors, ids=ids, stacklevel=2)
    report = {
        "encoder": encoder.identity(),
        "template": {"fields": list(template.fields), "with_field_names": template.with_field_names,
                     "version": template.version},
        "text": text_report.to_dict(),
        "vocabulary": vocabulary.to_dict(),
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    if fields_block is not None:
        report["fields"] = fields_block
    return vectors, item_fields, report


def evaluate_model(model: Any, split: Split, cfg: ExperimentConfig, item_vectors: np.ndarray | None = None
                   ) -> dict[str, Any]:
    """Full-ranking evaluation of ``model`` on valid and test, with cold/warm item slices,
    history-length case slices and seen/unseen-transition case slices
    (:func:`lmrec.evaluation.transitions.transition_slices`).

    Cases without usable history are scored by the cold-user policy
    (:class:`lmrec.models.fallback.PopularityFallback`; ``item_vectors`` ``float32 [n_items, dim]``
    tells which items have text). Returns ``{"valid": result, "test": result}`` as produced by
    :func:`lmrec.evaluation.ranking.evaluate_ranking`, each with ``result["cold_users"] =
    {"policy", "n_cases", "n_cases_fallback"}``."""
    from lmrec.evaluation.ranking import evaluate_ranking, history_length_slices
    from lmrec.evaluation.transitions import transition_slices
    from lmrec.models.fallback import PopularityFallback

    out = {}
    for part in ("valid", "test"):
        cases = getattr(split, part)
        scorer = PopularityFallback(model, split.train_item_counts, item_vectors)
        out[part] = evaluate_ranking(scorer, cases, split.n_items, ks=cfg.ks,
                                     exclude_history=cfg.exclude_history, item_slices=split.item_slices(),
                                     case_slices={**history_length_slices(cases),
                                                  **transition_slices(split.train, cases, split.n_items)},
                                     seed=cfg.seed)
        out[part]["cold_users"] = scorer.report()
    return out


def cold_user_report(results: dict[str, Any], split: Split) -> dict[str, Any]:
    """``metrics.json`` block ``extra.cold_users``: the policy, the cases each part scored by it
    (``n_cases_fallback``) and the cases the split dropped for an empty history (not evaluated)."""
    from lmrec.models.fallback import POPULARITY

    return {"policy": POPULARITY,
            "policy_doc": "cases without usable history (empty, or only items without text for text-only "
                          "models) are ranked by training popularity (lmrec.models.fallback)",
            "n_cases_fallback": {p: r["cold_users"]["n_cases_fallback"] for p, r in results.items()},
            "n_cases_dropped_empty_history": int(split.report.get("n_cases_dropped_empty_history", 0))}


def check_tuned_encoder(cfg: ExperimentConfig, split: Split) -> None:
    """Refuse an encoder fine-tuned (``lmrec finetune-encoder``) on this dataset with another split.

    A tuned encoder has seen the training interactions of the split it was tuned on; used with a
    different split (or another seed of a random split) of the same dataset, it would have seen
    some of this run's validation or test interactions.

    Raises
    ------
    ValueError
        Naming the encoder folder, the split it was tuned on and the one asked for.
    """
    if not cfg.encoder:
        return
    from lmrec.training.encoder_finetune import read_finetune_info

    info = read_finetune_info(cfg.encoder)
    if not info or info.get("dataset") != cfg.dataset:
        return
    tuned = info.get("split", {})
    same = tuned.get("name") == split.name and tuned.get("n_train_interactions") == sum(len(t) for t in split.train)
    if split.name == "cold-start-items":
        same = same and info.get("seed") == cfg.seed
    if not same:
        raise ValueError(f"encoder {cfg.encoder} was fine-tuned on {cfg.dataset!r} with split {tuned.get('name')!r} "
                         f"(seed {info.get('seed')}, {tuned.get('n_train_interactions')} training interactions); this "
                         f"run uses split {split.name!r} (seed {cfg.seed}) whose validation/test interactions the "
                         "encoder may have trained on — tune it again on this split (lmrec finetune-encoder "
                         "--split … --seed …)")


def run_experiment(cfg: ExperimentConfig, run_dir: str | os.PathLike | None = None, *,
                   show_progress: bool = False, dataset: RecDataset | None = None,
                   item_vectors: np.ndarray | None = None, encode_report: dict | None = None,
                   item_fields: Any = None, keep_train_state: bool = False) -> RunResult:
    """Train and evaluate one model; write the run directory when ``run_dir`` is given.

    Sequential models keep a resumable training state in ``run_dir/train_state.pt`` while they
    train (:func:`lmrec.training.trainer.train_sequential`): called again on the same directory
    with the same config after a crash or a kill, the run goes on from its last finished epoch.
    The file is deleted once the run directory is complete, unless ``keep_train_state``: then a
    later call with a larger ``epochs`` or ``patience`` extends the complete run exactly as if it
    had been trained with them (the file holds the weights, the optimizer state and the best
    weights, about 4× the model's size).

    ``dataset`` / ``item_vectors`` may be passed in to share them between several runs (the
    quickstart and the benchmarks do); otherwise they are loaded and encoded here. Under
    ``cfg.field_aggregation="attention"`` the per-field vectors (``item_fields``, a
    :class:`lmrec.features.fields.ItemFields`) are needed too; when they are not passed, both
    are encoded here (through the cache).

    Raises
    ------
    ValueError
        For unknown datasets, models, splits or text fields, for sequential models on
        unordered data, and for ``field_aggregation`` other than ``"template"`` with a model
        that reads no item text.
    """
    from lmrec.data.registry import load_dataset, resolve_data_dir
    from lmrec.evaluation.results import write_json_atomic, write_metrics_json
    from lmrec.io import save_atomic_npy
    from lmrec.models import TrainData, create_model
    from lmrec.seed import seed_everything
    from lmrec.training.trainer import TRAIN_STATE

    t0 = time.perf_counter()
    seed_everything(cfg.seed)
    # run.json keeps an absolute path; a dataset passed in memory needs no data folder at all
    if dataset is None and (cfg.data_dir or os.environ.get("LMREC_DATA_DIR")):
        cfg = replace(cfg, data_dir=str(resolve_data_dir(cfg.data_dir).resolve()))
    ds = dataset if dataset is not None else load_dataset(cfg.dataset, cfg.data_dir)
    model = create_model(cfg.model, **cfg.model_params)
    if getattr(model, "sequential", False) and not ds.ordered:
        raise ValueError(f"{cfg.model} is a sequential model but dataset {ds.name!r} has no timestamps or "
                         "sequence order; use pop or embknn")
    if cfg.field_aggregation != "template" and not model.needs_item_vectors:
        raise ValueError(f"--field-aggregation {cfg.field_aggregation} applies to text models; {cfg.model} reads no "
                         "item text (leave it at 'template')")
    split = make_split(ds, cfg.split, seed=cfg.seed, cold_frac=cfg.cold_frac)
    if model.needs_item_vectors:
        check_tuned_encoder(cfg, split)
    vectors, report = item_vectors, encode_report
    fields = item_fields if cfg.field_aggregation == "attention" else None
    if model.needs_item_vectors and (vectors is None or (cfg.field_aggregation == "attention" and fields is None)):
        vectors, fields, report = encode_item_inputs(ds, cfg, show_progress=show_progress)
        if cfg.field_aggregation != "attention":
            fields = None                  # "mean": the mean vectors are the model's whole text input
    from lmrec.training.distributed import context

    # Under torchrun every rank trains; only rank 0 writes the run directory.
    out = Path(run_dir) if run_dir is not None and context().is_main else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    extra = model.extra_train_data(ds, split)  # e.g. ratings aligned with the split (multitask)
    seed_everything(cfg.seed)
    model.fit(TrainData(split=split, item_vectors=vectors if model.needs_item_vectors else None, seed=cfg.seed,
                        run_dir=out, exclude_history=cfg.exclude_history, show_progress=show_progress,
                        item_fields=fields, **extra))
    results = evaluate_model(model, split, cfg, vectors if model.needs_item_vectors else None)
    wall = time.perf_counter() - t0
    protocol = dict(results["test"]["protocol"])
    payload_extra = {"training": model.history_, "encoding": report if model.needs_item_vectors else None,
                     "n_targets_in_history": {p: results[p]["n_targets_in_history"] for p in results},
                     "cold_users": cold_user_report(results, split)}
    metrics = {
        "dataset": ds.statistics(), "split": split.describe(), "protocol": protocol, "seed": cfg.seed,
        "model": {"name": cfg.model, **model.config}, "wall_s": round(wall, 2),
        "metrics": {p: results[p]["metrics"] for p in results},
        "slices": {p: results[p]["slices"] for p in results}, "extra": payload_extra,
    }
    if out is not None:
        model.save(out / "model")
        ds.item_map.save(out / "item_map.json")
        ds.user_map.save(out / "user_map.json")
        if model.needs_item_vectors:
            save_atomic_npy(out / "item_vectors.npy", vectors)
        if fields is not None:
            fields.save(out)               # item_field_vectors.npy + item_field_mask.npy
        write_json_atomic(out / "run.json", {"config": cfg.to_dict(), "encoding": report})
        write_metrics_json(out, dataset_stats=metrics["dataset"], split=metrics["split"], protocol=protocol,
                           seed=cfg.seed, model_config=metrics["model"], wall_s=metrics["wall_s"],
                           valid=results["valid"], test=results["test"], extra=payload_extra)
        if not keep_train_state:
            (out / TRAIN_STATE).unlink(missing_ok=True)  # the run is complete: nothing left to resume
    return RunResult(out, metrics, model, ds, split, vectors)


@dataclass
class LoadedRun:
    """A run directory loaded back: config, dataset, split and model.

    ``unrecommendable`` is ``bool [n_items]``: the items no recommendation list of this run
    contains (:func:`unrecommendable_items`).
    """

    run_dir: Path
    config: ExperimentConfig
    dataset: RecDataset
    split: Split
    model: Any
    item_vectors: np.ndarray | None
    unrecommendable: np.ndarray | None = None
    members: list["LoadedRun"] | None = None    # a late fusion's member runs (lmrec.ensemble_pipeline.load_ensemble)


def load_run(run_dir: str | os.PathLike, data_dir: str | None = None) -> LoadedRun:
    """Reload a run written by :func:`run_experiment` (dataset re-read, split re-made with the
    run's seed, model weights loaded).

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` has no ``run.json`` (not a run directory; e.g. the output of ``lmrec ensemble``).
    ValueError
        If the dataset's item ids no longer match the run's ``item_map.json``, or — for a model
        with per-user state — its user ids (dropped, added, re-ordered) no longer match
        ``user_map.json`` (:func:`check_user_map`).
    """
    from lmrec.data.idmap import IdMap
    from lmrec.data.registry import load_dataset
    from lmrec.models import load_recommender

    run_dir = Path(run_dir)
    if not (run_dir / "run.json").exists():
        if (run_dir / "metrics.json").is_file():
            raise FileNotFoundError(f"{run_dir} has a metrics.json but no run.json: not a run of `lmrec train` (a fused "
                                    "model of `lmrec ensemble` is loaded with lmrec.ensemble_pipeline.load_ensemble; "
                                    "or pass one of its member runs)")
        raise FileNotFoundError(f"{run_dir} is not a run directory (no run.json); create one with `lmrec train --out`")
    try:
        run_info = json.loads((run_dir / "run.json").read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{run_dir / 'run.json'} is not valid JSON ({exc}); the run directory is damaged") from None
    if "config" not in run_info:
        raise ValueError(f"{run_dir} was not written by `lmrec train` (run.json has no 'config'); news runs are "
                         "read by `lmrec news evaluate|predict`")
    raw = dict(run_info["config"])
    raw["ks"] = tuple(raw["ks"])
    cfg = ExperimentConfig(**raw)
    ds = load_dataset(cfg.dataset, data_dir or cfg.data_dir)
    try:
        run_items = IdMap.load(run_dir / "item_map.json")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{run_dir / 'item_map.json'} is not valid JSON ({exc}); the run directory is damaged") from None
    if run_items != ds.item_map:
        raise ValueError(f"dataset {cfg.dataset!r} changed since run {run_dir} was trained "
                         "(item ids differ from item_map.json); retrain")
    split = make_split(ds, cfg.split, seed=cfg.seed, cold_frac=cfg.cold_frac)
    vec_path = run_dir / "item_vectors.npy"
    vectors = None
    if vec_path.exists():
        try:
            vectors = np.load(vec_path, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"{vec_path} is not a readable numeric .npy file ({exc.__class__.__name__}); "
                             "re-create the run") from None
        if vectors.ndim != 2 or len(vectors) != ds.n_items:
            raise ValueError(f"{vec_path} has shape {vectors.shape}, expected [{ds.n_items}, dim] "
                             "(one row per item of item_map.json); re-create the run")
    item_fields = None
    if cfg.field_aggregation == "attention":     # the model attends over per-field vectors
        from lmrec.features.fields import ItemFields

        names = ((run_info.get("encoding") or {}).get("fields") or {}).get("fields") or \
            (run_info.get("encoding") or {}).get("template", {}).get("fields", [])
        item_fields = ItemFields.load(run_dir, list(names), n_items=ds.n_items)
    model = load_recommender(run_dir / "model", vectors, item_fields=item_fields)
    if model.has_user_state:
        check_user_map(run_dir / "user_map.json", ds, model.name)
    return LoadedRun(run_dir, cfg, ds, split, model, vectors, unrecommendable_items(ds, cfg, split, model))


def unrecommendable_items(dataset: RecDataset, cfg: ExperimentConfig, split: Split, model: Any = None
                          ) -> np.ndarray:
    """``bool [n_items]``: items never put in a recommendation list — the one rule of the
    empty/placeholder-text policy, the same for every model.

    An item qualifies when its text, rendered with the run's template, is empty or carries no
    information (``"unknown"``, ``"n/a"``, only digits/punctuation …; :mod:`lmrec.data.text`)
    **and** the model knows nothing else about it: the item has no training interaction
    (``split.warm_items`` is False), or the model reads items only through their text
    (``model.history_input == "text"``: embknn, sasrec-text, unisrec, zesrec …). Its score would
    then be an artefact — the projection of a zero text vector, an untrained ID embedding — so
    a text model would recommend it "from text alone"; ml-100k's movie titled ``"unknown"`` is
    the real case. Items with usable text are never affected, nor are warm items of models that
    learn from behaviour (IDs, graph, popularity).

    :func:`recommend_for_user` (``lmrec recommend``, ``lmrec quickstart``) and the service
    (:mod:`lmrec.serving.service`: ``/recommend`` and ``/items/{id}/similar``) leave these
    items out of every top-k. Evaluation is unchanged: it ranks the full catalog, so its numbers
    stay comparable with published ones.
    """
    from lmrec.data.text import TextTemplate

    fields = tuple(f for f in (cfg.text_fields or dataset.text_fields) if f in dataset.items.columns)
    texts, _ = build_item_texts(dataset.items, dataset.item_map.ids,
                                TextTemplate(fields, with_field_names=cfg.with_field_names))
    no_text = np.array([not t for t in texts], dtype=bool)
    text_only = getattr(model, "history_input", "id") == "text"
    return no_text & (text_only | ~np.asarray(split.warm_items, dtype=bool))


def check_user_map(path: Path, dataset: RecDataset, model_name: str) -> None:
    """Refuse ``dataset`` when its users differ from the run's ``user_map.json``.

    A model with per-user state (``Recommender.has_user_state``: LightGCN, multitask, two-tower
    with user ids or user texts, user-text KNN) looks users up by internal index, so a dataset
    whose users were dropped, added or re-ordered would score one person with another's state.

    Raises
    ------
    ValueError
        Naming the file, the first differing position with the expected and found ids, and
        what to do (retrain, or use the dataset the run was trained on).
    """
    from lmrec.data.idmap import IdMap

    if not path.exists():
        raise ValueError(f"{path} is missing; model {model_name!r} keeps per-user state and cannot be checked "
                         "against the dataset's users — re-create the run with `lmrec train`")
    try:
        run_users = IdMap.load(path).ids
    except (json.JSONDecodeError, ValueError) as exc:
        raise ValueError(f"{path} is not a valid user map ({exc}); the run directory is damaged") from None
    found = dataset.user_map.ids
    if run_users == found:
        return
    pos = next((i for i, (a, b) in enumerate(zip(run_users, found)) if a != b), min(len(run_users), len(found)))
    expected = repr(run_users[pos]) if pos < len(run_users) else "(no more users)"
    got = repr(found[pos]) if pos < len(found) else "(no more users)"
    raise ValueError(f"{path}: the users of dataset {dataset.name!r} differ from the ones model {model_name!r} "
                     f"was trained with ({len(run_users)} users in the run, {len(found)} in the dataset); first "
                     f"difference at position {pos}: expected {expected}, found {got}. The model keeps per-user "
                     "state, so it would score the wrong person: retrain on this data (`lmrec train`), or point "
                     "--data-dir at the dataset the run was trained on")


def recommend_for_user(run: LoadedRun, user_id: str, k: int = 10, *, exclude_history: bool = True
                       ) -> list[dict[str, Any]]:
    """Top-``k`` items for an external user id, using all the user's known interactions as history.

    A user without usable history (see :mod:`lmrec.models.fallback`) gets the items most
    popular in training, flagged ``"fallback": "popularity"`` (``None`` otherwise). Items
    without usable text that the model knows nothing else about (``run.unrecommendable``,
    :func:`unrecommendable_items`) are never returned; fewer than ``k`` rows come back when the
    catalog runs out.

    Returns a list of ``{"rank", "item_id", "title", "score", "cold", "fallback"}`` dicts.

    Raises
    ------
    KeyError
        If the user id is unknown (the message gives a few valid ids).
    """
    from lmrec.data.splits import user_sequences
    from lmrec.models.fallback import PopularityFallback

    ds = run.dataset
    if k < 1:
        raise ValueError(f"k must be ≥ 1, got {k}")
    if user_id not in ds.user_map:
        raise KeyError(f"unknown user {user_id!r} in {ds.name}; e.g. {ds.user_map.ids[:5]}")
    u = ds.user_map.index(user_id)
    seqs, _ = user_sequences(ds)
    hist = seqs[u]
    scorer = PopularityFallback(run.model, run.split.train_item_counts, run.item_vectors)
    raw, fell_back = scorer.score(np.array([u]), [hist])
    scores = np.asarray(raw, dtype=np.float64)[0]
    if np.isnan(scores).any():
        raise ValueError(f"the model in {run.run_dir} returns NaN scores (corrupt or diverged weights); retrain it")
    if exclude_history and len(hist):
        scores[hist] = -np.inf
    if run.unrecommendable is not None:
        scores[run.unrecommendable] = -np.inf      # no usable text, nothing else known: never recommended
    k = min(k, int(np.isfinite(scores).sum()))
    top = np.argsort(-scores, kind="stable")[:k]
    titles = ds.item_titles()
    warm = run.split.warm_items
    flag = scorer.policy if bool(fell_back[0]) else None
    return [{"rank": r + 1, "item_id": ds.item_map.external(i), "title": titles[i], "score": float(scores[i]),
             "cold": bool(not warm[i]), "fallback": flag} for r, i in enumerate(top)]


def evaluate_run(run: LoadedRun, *, protocol: str = "full", n_negatives: int = 100, seed: int | None = None,
                 exclude_history: bool = True) -> dict[str, Any]:
    """Re-evaluate a loaded run on its test cases (what ``lmrec evaluate`` writes).

    Parameters
    ----------
    protocol:
        ``"full"`` (every item a candidate) or ``"sampled"`` (``n_negatives`` uniform negatives
        per case, drawn with ``numpy.random.default_rng(seed)``).
    seed:
        Seed of the negative sampler (``None``: the run's own seed); the same seed gives the
        same negatives, and it is written in ``result["protocol"]["seed"]``.
    exclude_history:
        Remove history items from the candidates.

    Returns
    -------
    The :func:`lmrec.evaluation.ranking.evaluate_ranking` result plus ``"cold_users"`` (cases
    scored by the popularity fallback, and cases the split dropped for an empty history).

    Raises
    ------
    ValueError
        For an unknown protocol, too few items to sample from, or NaN scores.
    """
    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.models.fallback import PopularityFallback

    split = run.split
    scorer = PopularityFallback(run.model, split.train_item_counts, run.item_vectors)
    res = evaluate_ranking(scorer, split.test, split.n_items, ks=run.config.ks, exclude_history=exclude_history,
                           protocol=protocol, n_negatives=n_negatives, item_popularity=split.train_item_counts,
                           seed=run.config.seed if seed is None else int(seed), item_slices=split.item_slices())
    res["cold_users"] = {**scorer.report(), "n_cases_dropped_empty_history":
                         int(split.report.get("n_cases_dropped_empty_history", 0))}
    return res
