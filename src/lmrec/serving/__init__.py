"""HTTP recommendation service over a trained run (FastAPI + uvicorn, ``lmrec serve``).

:func:`create_app` builds the app; :class:`RecommendationService` is the same service without
HTTP; :class:`ItemStore` is its persistent catalog; :mod:`lmrec.serving.space` documents how
each model scores users with an inner-product index.
"""

from lmrec.serving.app import create_app
from lmrec.serving.schemas import Limits
from lmrec.serving.service import RecommendationService
from lmrec.serving.store import ItemStore, StoreCorruptError

__all__ = ["create_app", "Limits", "RecommendationService", "ItemStore", "StoreCorruptError"]
