"""Recommenders: one model per file, all sharing :class:`lmrec.models.base.Recommender`."""

from lmrec.models.base import Recommender, TrainData
from lmrec.models.registry import MODELS, create_model, load_recommender

__all__ = ["MODELS", "Recommender", "TrainData", "create_model", "load_recommender"]
