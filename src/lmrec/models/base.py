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
from typing import Any, ClassVar

import numpy as np

from lmrec.data.splits import Split


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
        given to models with ``needs_ratings = True`` when the dataset has ratings; else ``None``.
    """

    split: Split
    item_vectors: np.ndarray | None = None
    seed: int = 0
    run_dir: Path | None = None
    exclude_history: bool = True
    show_progress: bool = False
    ratings: Any = None


class Recommender(ABC):
    """Base class: ``fit`` learns from :class:`TrainData`, ``score`` rates all items.

    Subclasses set :attr:`name`, keep hyper-parameters in :attr:`config` (JSON-serialisable)
    and implement the abstract methods.
    """

    name: ClassVar[str]
    needs_item_vectors: ClassVar[bool] = False
    sequential: ClassVar[bool] = False

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


def save_atomic_npy(path: Path, array: np.ndarray) -> None:
    """``np.save`` to a temp file, then rename over ``path``."""
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


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

