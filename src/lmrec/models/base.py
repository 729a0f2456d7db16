"""The interface every lmrec recommender honours.

Evaluation, the CLI and serving only ever call :meth:`Recommender.fit`,
:meth:`Recommender.score`, :meth:`Recommender.save` and :func:`load_recommender`, so no model is
special-cased (cf. ``implicit``'s ``RecommenderBase`` and RecBole's ``full_sort_predict``).
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lmrec.data.splits import Split
from lmrec.io import save_atomic_npy

if TYPE_CHECKING:  # pragma: no cover
    from lmrec.data.dataset import RecDataset
    from lmrec.features.fields import ItemFields


@dataclass
class TrainData:
    """What a recommender may learn from.

    Attributes
    ----------
    split:
        The split; models train on ``split.train`` only and may early-stop on ``split.valid``.
    item_vectors:
        ``float32 [n_items, dim]`` frozen text vectors of every catalog item (cold items
        included), or ``None`` for ID-only models.
    seed:
        Seed for all randomness of the model.
    run_dir:
        Where the model may write checkpoints while it trains (``None``: keep in memory).
    exclude_history:
        The evaluation protocol's history exclusion, so early stopping matches it.
    ratings:
        Explicit ratings aligned with the split (:func:`lmrec.models.multitask.split_ratings`),
        filled in by the pipeline for models whose :meth:`Recommender.extra_train_data` asks for
        them; else ``None``.
    item_fields:
        Per-field text vectors (:class:`lmrec.features.fields.ItemFields`: ``float32 [n_items,
        n_fields, dim]`` + ``bool [n_items, n_fields]`` mask) for models that attend over item
        fields (``field_aggregation="attention"``: sasrec-text, sasrec-text-id); else ``None``.

    Raises
    ------
    ValueError
        If ``item_vectors`` is not a 2-D array or holds NaN/inf (the first bad row is named: a
        broken encoder or a damaged ``.npy`` would otherwise train silently into NaN scores), or
        ``item_fields`` has another number of items than ``item_vectors``.
    """

    split: Split
    item_vectors: np.ndarray | None = None
    seed: int = 0
    run_dir: Path | None = None
    exclude_history: bool = True
    show_progress: bool = False
    ratings: Any = None
    item_fields: "ItemFields | None" = None

    def __post_init__(self) -> None:
        if self.item_fields is not None and self.item_vectors is not None \
                and self.item_fields.n_items != len(self.item_vectors):
            raise ValueError(f"item_fields has {self.item_fields.n_items} items but item_vectors "
                             f"{len(self.item_vectors)}; encode both from the same catalog")
        if self.item_vectors is None:
            return
        v = np.asarray(self.item_vectors)
        if v.ndim != 2:
            raise ValueError(f"item_vectors must be a [n_items, dim] array, got shape {v.shape}")
        bad = ~np.isfinite(v).all(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"item_vectors row {row} (internal item index) holds NaN or inf ({int(bad.sum())} "
                             "row(s) in all); re-encode the items (the encoder or the vector file is broken)")


class Recommender(ABC):
    """Base class: ``fit`` learns from :class:`TrainData`, ``score`` rates all items.

    Subclasses set :attr:`name`, keep hyper-parameters in :attr:`config` (JSON-serialisable)
    and implement the abstract methods.
    """

    name: ClassVar[str]
    needs_item_vectors: ClassVar[bool] = False
    sequential: ClassVar[bool] = False
    #: The model keeps learned state per internal user index (an ID embedding, a bias, a graph
    #: representation, a user text vector), so a saved model is only valid with the exact user
    #: map it was trained with (:func:`lmrec.pipeline.load_run` checks ``user_map.json``).
    has_user_state: ClassVar[bool] = False
    #: What a history item must have for the model to read it: ``"id"`` (any catalog item),
    #: ``"text"`` (a non-zero text vector: items with empty text carry nothing for text-only
    #: models) or ``"none"`` (the model ignores histories, e.g. popularity).
    history_input: ClassVar[str] = "id"

    #: Hyper-parameters every model checks the same way: name → (lowest allowed value, inclusive?).
    _BOUNDS: ClassVar[dict[str, tuple[float, bool]]] = {
        "max_train_seconds": (0.0, True), "epochs": (1, True), "patience": (0, True), "batch_size": (1, True),
        "lr": (0.0, False), "hidden": (1, True), "n_layers": (0, True), "max_len": (1, True)}

    def __init__(self, **config: Any):
        """Keep ``config``.

        Raises
        ------
        ValueError
            If a common hyper-parameter is out of range (``max_train_seconds < 0``, ``epochs < 1``,
            ``lr <= 0``, …); the message names it.
        """
        for key, (low, inclusive) in self._BOUNDS.items():
            value = config.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) and (
                    value < low or (value == low and not inclusive) or value != value):
                raise ValueError(f"{self.name}: {key} must be {'≥' if inclusive else '>'} {low}, got {value!r}")
        self.config: dict[str, Any] = dict(config)
        self.history_: dict[str, Any] = {}

    @abstractmethod
    def fit(self, data: TrainData) -> "Recommender":
        """Learn from ``data``; returns ``self``."""

    @abstractmethod
    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """Scores of every catalog item for each case.

        Parameters
        ----------
        users:
            ``int64 [b]`` internal user indices.
        histories:
            ``b`` chronological ``int64`` arrays of internal item indices.

        Returns
        -------
        ``float32 [b, n_items]`` — higher is better; finite.
        """

    def has_usable_input(self, users: np.ndarray, histories: list[np.ndarray],
                         item_has_text: np.ndarray | None = None) -> np.ndarray:
        """Which cases the model can score from what it knows about them.

        A case without usable input (empty history, or — for :attr:`history_input` ``"text"``
        — a history made only of items without text) gets the cold-user fallback of
        :mod:`lmrec.models.fallback` instead of :meth:`score`, whose output would be arbitrary
        (a padding-token state, an all-zero user vector). Models with other knowledge of a user
        (per-user state, user text) override this.

        Parameters
        ----------
        users:
            ``int64 [b]`` internal user indices.
        histories:
            ``b`` ``int64`` arrays of internal item indices.
        item_has_text:
            ``bool [n_items]``: items whose text vector is non-zero (``None``: all count).

        Returns
        -------
        ``bool [b]``
        """
        if self.history_input == "none":
            return np.ones(len(histories), dtype=bool)
        if self.history_input == "text" and item_has_text is not None:
            mask = np.asarray(item_has_text, dtype=bool)
            return np.array([len(h) > 0 and bool(mask[np.asarray(h, dtype=np.int64)].any()) for h in histories],
                            dtype=bool)
        return np.array([len(h) > 0 for h in histories], dtype=bool)

    def extra_train_data(self, dataset: "RecDataset", split: Split) -> dict[str, Any]:
        """Extra :class:`TrainData` fields this model learns from, built before ``fit``.

        The pipeline calls it with the full dataset and the split and passes the result to
        ``TrainData(**…)``, so no model is special-cased there. Default: nothing. A model that
        needs more than the split and item vectors overrides it (e.g.
        :class:`~lmrec.models.multitask.MultiTask` returns ``{"ratings": SplitRatings}`` when the
        dataset has explicit ratings). Keys must be :class:`TrainData` field names; whatever is
        built must come from training (or validation) data only.
        """
        return {}

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> None:
        """Write ``config.json`` and weights into directory ``path`` (atomic per file)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        cfg = {"model": self.name, "config": self.config}
        tmp = path / "config.json.tmp"
        tmp.write_text(json.dumps(cfg, indent=2))
        os.replace(tmp, path / "config.json")
        self._save_weights(path)

    def _save_weights(self, path: Path) -> None:  # overridden by models with weights
        pass

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        pass

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"


def save_net_weights(path: Path, net: Any, warm_items: np.ndarray | None = None) -> None:
    """Write ``path/model.safetensors`` (the torch module's state) and, when given,
    ``path/warm_items.npy`` (``bool [n_items]``: items seen in training), both atomically."""
    from lmrec.training.checkpoint import save_state

    save_state(path / "model.safetensors", net.state_dict())
    if warm_items is not None:
        save_atomic_npy(path / "warm_items.npy", warm_items)


def load_net_weights(path: Path) -> tuple[dict, np.ndarray | None]:
    """Read what :func:`save_net_weights` wrote: ``(state_dict, warm_items or None)``.

    Raises
    ------
    OSError
        If ``path/model.safetensors`` is missing or unreadable.
    """
    from lmrec.training.checkpoint import load_state

    warm = path / "warm_items.npy"
    return load_state(path / "model.safetensors"), (np.load(warm) if warm.exists() else None)

