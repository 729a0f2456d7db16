"""Per-field item vectors: each item field (title, brand, categories, description …) encoded on
its own, and how a run combines them (``ExperimentConfig.field_aggregation``).

``"template"``
    no per-field vectors: the fields are concatenated into one text and encoded once (the
    default; :func:`lmrec.pipeline.encode_items`);
``"mean"``
    the mean of the per-field vectors over the fields an item has (:meth:`ItemFields.mean`);
    any text model reads it like a template vector;
``"attention"``
    the per-field vectors are kept (:class:`ItemFields`) and a SASRec text model learns an
    additive attention over them (``lmrec.models.sasrec``; NRMS / PLM-NR style, Wu et al.,
    EMNLP 2019 and SIGIR 2021).

The field vectors come through the embedding cache (:func:`lmrec.encoders.cache.encode_cached`),
one cache namespace per field (the one-field :class:`~lmrec.data.text.TextTemplate`'s version),
so a second run encodes nothing. A field that is missing, empty or a placeholder for an item
(``"unknown"``, ``"N/A"`` …, :mod:`lmrec.data.text`) is *absent*: a zero row, ``mask`` False.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from lmrec.data.text import TextTemplate, build_item_texts

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from lmrec.encoders.base import TextEncoder

#: The values of ``ExperimentConfig.field_aggregation``.
FIELD_AGGREGATIONS = ("template", "mean", "attention")

#: File names of :meth:`ItemFields.save` inside a run directory.
VECTORS_FILE = "item_field_vectors.npy"
MASK_FILE = "item_field_mask.npy"


@dataclass
class ItemFields:
    """Per-field text vectors of every catalog item.

    Attributes
    ----------
    fields:
        Field names, in the order of the second axis.
    vectors:
        ``float32 [n_items, n_fields, dim]``; rows of absent fields are zero.
    mask:
        ``bool [n_items, n_fields]``: the item has this field (non-empty, informative text).

    Raises
    ------
    ValueError
        If the shapes disagree with each other or with ``fields``, or a vector holds NaN/inf
        (the item index and field are named).
    """

    fields: tuple[str, ...]
    vectors: np.ndarray
    mask: np.ndarray

    def __post_init__(self) -> None:
        self.fields = tuple(self.fields)
        self.vectors = np.asarray(self.vectors, dtype=np.float32)
        self.mask = np.asarray(self.mask, dtype=bool)
        v, m = self.vectors, self.mask
        if v.ndim != 3 or m.shape != v.shape[:2] or v.shape[1] != len(self.fields):
            raise ValueError(f"per-field vectors must be [n_items, n_fields, dim] with a [n_items, n_fields] mask "
                             f"and {len(self.fields)} field name(s) {list(self.fields)}; got vectors {v.shape}, "
                             f"mask {m.shape}")
        bad = ~np.isfinite(v).all(axis=2)
        if bad.any():
            i, f = (int(x) for x in np.argwhere(bad)[0])
            raise ValueError(f"per-field vector of item {i} (internal index), field {self.fields[f]!r} holds NaN "
                             "or inf; re-encode the items (the encoder or the vector file is broken)")
        self.vectors[~m] = 0.0

    @property
    def n_items(self) -> int:
        return int(self.vectors.shape[0])

    def mean(self) -> np.ndarray:
        """``float32 [n_items, dim]``: the mean of each item's present field vectors; a zero row
        for an item with no field."""
        count = self.mask.sum(axis=1, keepdims=True).astype(np.float32)
        total = (self.vectors * self.mask[:, :, None]).sum(axis=1)
        return (total / np.maximum(count, 1.0)).astype(np.float32)

    def save(self, folder: str | os.PathLike) -> None:
        """Write ``folder/item_field_vectors.npy`` and ``folder/item_field_mask.npy`` (atomic each);
        the field names belong in the caller's config (``run.json``)."""
        from lmrec.io import save_atomic_npy

        folder = Path(folder)
        save_atomic_npy(folder / VECTORS_FILE, self.vectors)
        save_atomic_npy(folder / MASK_FILE, self.mask)

    @classmethod
    def load(cls, folder: str | os.PathLike, fields: Sequence[str], n_items: int | None = None) -> "ItemFields":
        """Read what :meth:`save` wrote.

        Raises
        ------
        FileNotFoundError
            If one of the two files is missing.
        ValueError
            If a file is not a numeric ``.npy`` or the shapes do not fit ``fields`` / ``n_items``
            (the file is named; re-create the run).
        """
        folder = Path(folder)
        arrays = []
        for name in (VECTORS_FILE, MASK_FILE):
            path = folder / name
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing; the run was trained with per-field vectors — "
                                        "re-create the run with `lmrec train`")
            try:
                arrays.append(np.load(path, allow_pickle=False))
            except ValueError as exc:
                raise ValueError(f"{path} is not a readable numeric .npy file ({exc.__class__.__name__}); "
                                 "re-create the run") from None
        try:
            out = cls(tuple(fields), arrays[0], arrays[1])
        except ValueError as exc:
            raise ValueError(f"{folder / VECTORS_FILE}: {exc}; re-create the run") from None
        if n_items is not None and out.n_items != n_items:
            raise ValueError(f"{folder / VECTORS_FILE} has {out.n_items} item rows, expected {n_items} (one per item "
                             "of item_map.json); re-create the run")
        return out


def encode_item_fields(encoder: "TextEncoder", items: "pd.DataFrame", item_ids: list[str], fields: Sequence[str], *,
                       with_field_names: bool = False, cache_root: str | os.PathLike | None = None,
                       batch_size: int = 64, show_progress: bool = False) -> tuple[ItemFields, dict[str, Any]]:
    """Encode each field of every item separately, through the embedding cache.

    Parameters
    ----------
    encoder:
        The text encoder (``dim`` = its output size).
    items, item_ids:
        ``RecDataset.items`` and the internal item order (``RecDataset.item_map.ids``).
    fields:
        Field names (columns of ``items``), in output order.
    with_field_names:
        Prefix each value with its field name (``"brand: Porter-Cable"``), as the template does.
    cache_root:
        Embedding cache root (``None``: ``$LMREC_CACHE_DIR`` / ``~/.cache/lmrec``).

    Returns
    -------
    item_fields:
        :class:`ItemFields` (``float32 [n_items, n_fields, dim]`` + ``bool`` mask).
    report:
        ``{"fields": {name: {"n_present", "n_truncated", "namespace"}}}``: items having the
        field, field texts longer than ``encoder.max_length`` tokens, the cache namespace.

    Raises
    ------
    ValueError
        If a field is not a column of ``items``, or no item has any of the fields.
    """
    from lmrec.encoders.cache import encode_cached

    fields = tuple(fields)
    unknown = [f for f in fields if f not in items.columns]
    if unknown:
        raise ValueError(f"no item field(s) {unknown}; available: {list(items.columns)}")
    if not fields:
        raise ValueError("per-field encoding needs at least one field")
    n = len(item_ids)
    vectors = np.zeros((n, len(fields), encoder.dim), dtype=np.float32)
    mask = np.zeros((n, len(fields)), dtype=bool)
    per_field: dict[str, Any] = {}
    for j, name in enumerate(fields):
        template = TextTemplate((name,), with_field_names=with_field_names)
        texts, _ = build_item_texts(items, item_ids, template)
        v = encode_cached(encoder, texts, Path(cache_root) if cache_root else None, namespace=template.version,
                          batch_size=batch_size, show_progress=show_progress)
        present = np.array([bool(t) for t in texts], dtype=bool)
        vectors[:, j] = v
        mask[:, j] = present
        tokens = encoder.count_tokens(texts)                 # empty texts count 0
        per_field[name] = {"n_present": int(present.sum()), "n_truncated": int((tokens > encoder.max_length).sum()),
                           "namespace": template.version}
    if n and not mask.any():
        raise ValueError(f"no item has any of the fields {list(fields)} (all empty or placeholders); a text model "
                         "has nothing to read — choose other --text-fields or an ID model (pop, sasrec-id)")
    return ItemFields(fields, vectors, mask), {"fields": per_field}
