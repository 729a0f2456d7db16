"""Common interface of news recommenders (impression ranking) and their registry.

A news model is fitted on a labeled :class:`~lmrec.data.news.NewsDataset` and scores the
candidates of every impression of another one; it never sees ids other than the news ids in
the data it is given, so news unseen in training (the normal case in news) are scored from
their text. Saved models are a directory with ``config.json`` (``{"model": name, "config":
{...}, "fit": {...}}``) plus weights (``model.safetensors``) where the model has any.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lmrec.data.news import NewsDataset

#: CLI name → "module:Class"
NEWS_MODELS: dict[str, str] = {
    "nrms": "lmrec.models.nrms:NRMS",
    "plm-nr": "lmrec.models.plm_nr:PLMNR",
    "unbert": "lmrec.models.unbert:UNBERT",
    "pop": "lmrec.models.news_baselines:NewsPopularity",
    "random": "lmrec.models.news_baselines:NewsRandom",
    "text-sim": "lmrec.models.news_baselines:NewsTextSimilarity",
    "topic-match": "lmrec.models.news_baselines:NewsTopicMatch",
    "slot-position": "lmrec.models.news_baselines:NewsSlotPosition",
}


class NewsModel:
    """Base class: ``fit(train) -> self``, ``score(data) -> list of [n_candidates] arrays``.

    Subclasses set ``name`` (the registry key), keep their hyper-parameters in ``self.config``
    (JSON-serialisable, the constructor's keyword arguments) and implement :meth:`fit`,
    :meth:`score` and, if they have weights, :meth:`_save_weights` / :meth:`_load_weights`.
    """

    name = "news-model"

    def __init__(self, **config: Any) -> None:
        self.config = dict(config)
        self.fit_info_: dict[str, Any] = {}

    def fit(self, data: NewsDataset, log: Callable[[str], None] | None = None) -> "NewsModel":
        raise NotImplementedError

    def score(self, data: NewsDataset) -> list[np.ndarray]:
        """Scores ``[n_candidates_i]`` float32 for every impression of ``data`` (candidates in the
        order shown; higher = more likely clicked)."""
        raise NotImplementedError

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path/config.json`` (atomically) and the weights."""
        from lmrec.evaluation.results import write_json_atomic

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self._save_weights(path)
        write_json_atomic(path / "config.json", {"model": self.name, "config": self.config,
                                                 "fit": self.fit_info_})
        return path

    def _save_weights(self, path: Path) -> None:  # pragma: no cover - no weights by default
        pass

    def _load_weights(self, path: Path) -> None:  # pragma: no cover - no weights by default
        pass


def _class(name: str):
    import importlib

    if name not in NEWS_MODELS:
        raise ValueError(f"unknown news model {name!r}; choose one of {', '.join(NEWS_MODELS)}")
    module, cls = NEWS_MODELS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def create_news_model(name: str, **params: Any) -> NewsModel:
    """Instantiate a news model by CLI name, e.g. ``create_news_model("plm-nr", pooling="cls")``.

    Raises
    ------
    ValueError
        Unknown name (known ones listed) or unknown parameter.
    """
    cls = _class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"news model {name!r}: {exc}") from None


def load_news_model(path: str | os.PathLike) -> NewsModel:
    """Load a model written by :meth:`NewsModel.save`.

    Raises
    ------
    FileNotFoundError
        If ``path/config.json`` is missing.
    """
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"no saved news model at {path} (missing config.json)")
    cfg = json.loads(cfg_file.read_text())
    model = _class(cfg["model"])(**cfg["config"])
    model.fit_info_ = cfg.get("fit", {})
    model._load_weights(path)
    return model
