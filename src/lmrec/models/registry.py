"""Model names used by the CLI and result files, and loading a saved model by its config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.models.base import Recommender

#: CLI name → (class path, fixed arguments)
MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "pop": ("lmrec.models.pop:Pop", {}),
    "embknn": ("lmrec.models.embknn:EmbeddingKNN", {}),
    "last-item": ("lmrec.models.last_item:LastItemKNN", {}),
    "recency-knn": ("lmrec.models.recency_knn:RecencyKNN", {}),
    "sasrec-id": ("lmrec.models.sasrec:SASRec", {"item_input": "id"}),
    "sasrec-text": ("lmrec.models.sasrec:SASRec", {"item_input": "text"}),
    "sasrec-text-id": ("lmrec.models.sasrec:SASRec", {"item_input": "text-id"}),
    "two-tower": ("lmrec.models.two_tower:TwoTower", {}),
    "unisrec": ("lmrec.models.unisrec:UniSRec", {}),
    "zesrec": ("lmrec.models.zesrec:ZESRec", {}),
    "fusion": ("lmrec.models.fusion:Fusion", {}),
    "lightgcn": ("lmrec.models.lightgcn:LightGCN", {"item_input": "id"}),
    "lightgcn-text": ("lmrec.models.lightgcn:LightGCN", {"item_input": "text"}),
    "multitask": ("lmrec.models.multitask:MultiTask", {}),
}

#: CLI name → defaults of that name that differ from its class's own (a ``param`` overrides them), set by
#: measurement: for ``sasrec-text`` the two-layer MLP text adaptor with cosine scores (τ 0.07) beat the
#: linear adaptor with dot products on every dataset where both ran (``bench/results/text_vs_id.md``: Amazon
#: Scientific and LC-Rec Scientific with their cold-start splits and Food, 3 seeds; ml-100k; README, "Cold-start
#: items"). The class defaults stay the old ones, so configs saved before a name default existed still load
#: as what they were.
NAME_DEFAULTS: dict[str, dict[str, Any]] = {
    "sasrec-text": {"text_adaptor": "mlp", "scores": "cosine"},
}


def name_defaults(name: str) -> dict[str, Any]:
    """Hyper-parameter values ``create_model(name)`` uses where the class default differs (a copy).

    Raises
    ------
    ValueError
        For an unknown model name.
    """
    _entry(name)
    return dict(NAME_DEFAULTS.get(name, {}))


def _entry(name: str) -> tuple[str, dict[str, Any]]:
    """``(class path, fixed arguments)`` of a CLI name; ``ValueError`` listing the names if unknown."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def _class(path: str):
    import importlib

    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def create_model(name: str, **params: Any) -> Recommender:
    """Instantiate a model by CLI name, e.g. ``create_model("sasrec-text", hidden=64)``.

    ``params`` override the class defaults and the name's own (:data:`NAME_DEFAULTS`), e.g.
    ``create_model("sasrec-text", text_adaptor="linear", scores="dot")`` for the linear adaptor.

    Raises
    ------
    ValueError
        For an unknown name (the known names are listed), an unknown parameter (the model's
        parameters are listed) or a non-number where the default is a number.
    """
    path, fixed = _entry(name)
    cls = _class(path)
    clash = set(fixed) & set(params)
    if clash:
        raise ValueError(f"model {name!r} fixes {sorted(clash)}; pick another model name instead")
    defaults = _defaults(cls, fixed)
    if params and not defaults:                          # no hyper-parameters of its own
        raise ValueError(f"model {name!r} takes no parameters; got {', '.join(sorted(params))}")
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(f"model {name!r} has no parameter(s) {unknown}; its parameters: {', '.join(defaults)}")
    for key, value in params.items():
        default = defaults[key]
        if (isinstance(default, (int, float)) and not isinstance(default, bool)
                and not (isinstance(value, (int, float)) and not isinstance(value, bool))):
            raise ValueError(f"model {name!r}: parameter {key} expects a number (default {default!r}), got {value!r}")
    try:
        return cls(**fixed, **{**NAME_DEFAULTS.get(name, {}), **params})
    except TypeError as exc:
        raise ValueError(f"model {name!r}: {exc}") from None


def model_parameters(name: str) -> list[str]:
    """Hyper-parameter names ``create_model(name, ...)`` accepts (the constructor's, minus the
    ones the name fixes), in signature order.

    Raises
    ------
    ValueError
        For an unknown model name.
    """
    path, fixed = _entry(name)
    return list(_defaults(_class(path), fixed))


def _defaults(cls, fixed: dict[str, Any]) -> dict[str, Any]:
    """Keyword parameters of ``cls.__init__`` (minus ``fixed``) → their defaults; ``{}`` for a
    model without hyper-parameters of its own."""
    import inspect

    if cls.__init__ is Recommender.__init__:
        return {}
    return {k: v.default for k, v in inspect.signature(cls.__init__).parameters.items()
            if k != "self" and k not in fixed and v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)}


def load_recommender(path: str | Path, item_vectors: np.ndarray | None = None, item_fields: Any = None
                     ) -> Recommender:
    """Load a model saved with :meth:`Recommender.save` from directory ``path``.

    ``item_fields`` (:class:`lmrec.features.fields.ItemFields`) is passed to models that attend
    over per-field item vectors (SASRec trained with ``field_aggregation="attention"``).

    Raises
    ------
    FileNotFoundError
        If ``path/config.json`` does not exist.
    ValueError
        For an unknown model type, or ``item_fields`` given to a model that reads none.
    """
    path = Path(path)
    cfg_path = path / "config.json"
    if not cfg_path.exists():
        raise FileNotFoundError(f"no saved model at {path} (missing config.json)")
    cfg = json.loads(cfg_path.read_text())
    by_class = {p.split(":")[1]: p for p, _ in MODELS.values()}
    cls = next((_class(p) for p in by_class.values() if _class(p).name == cfg["model"]), None)
    if cls is None:
        raise ValueError(f"{cfg_path}: unknown model type {cfg['model']!r}")
    model = cls(**cfg["config"])
    if item_fields is None:
        model._load_weights(path, item_vectors)
        return model
    import inspect

    if "item_fields" not in inspect.signature(model._load_weights).parameters:
        raise ValueError(f"{cfg_path}: model {cfg['model']!r} does not read per-field item vectors; "
                         "load it without item_fields (field_aggregation 'template' or 'mean')")
    model._load_weights(path, item_vectors, item_fields=item_fields)
    return model
