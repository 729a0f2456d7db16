"""FastAPI app over a :class:`~lmrec.serving.service.RecommendationService`.

Endpoints (interactive OpenAPI docs at ``/docs``, schema at ``/openapi.json``):

``GET /healthz``
    model, live item count, vector dimension, index kind.
``POST /recommend``
    ``{"user_id": …}`` or ``{"history": [item ids], "text": "profile"}`` (either or both), ``k``
    → top-k items with scores and titles. A request without usable history and without text
    (``{"history": []}``, a user whose items have no text) is answered with the items most
    popular in training and ``"fallback": "popularity"`` (``null`` otherwise).
``GET /items/{item_id}`` / ``GET /items/{item_id}/similar?k=``
    an item; the items closest to it.
``POST /items``
    one item ``{"item_id", "title", "text" | "fields"}`` or ``{"items": [...]}`` → encoded with
    the run's text encoder, journaled and indexed; servable when the answer (201) arrives.
    ``title`` is the name shown in answers; the encoder reads ``text`` or ``fields`` only.
``DELETE /items/{item_id}``
    remove a live item (added or from the run's catalog) from answers and from the ids an
    ad-hoc history may name; stored user histories keep using its vector. Journaled like
    additions; deleting ``RUN_DIR/serving/`` restores the run's catalog.

Errors: ``404`` unknown user/item id, ``409`` id already exists or the run cannot take new
items, ``413`` body too large, ``422`` invalid or oversized input (pydantic lists the fields),
``500`` with a one-line body (details go to the server log, never to the client).
"""

# no `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime

import logging
import os
from typing import Annotated, Any, Union

from pydantic import AfterValidator, Discriminator, Tag

from lmrec.serving.schemas import (Added, Deleted, Error, Health, ItemInfo, Limits, Recommendations,
                                   request_models)

log = logging.getLogger("lmrec.serving")

#: The forms of a ``POST /items`` body (:func:`_add_body_form`).
ADD_FORMS = ("one", "batch", "list")


def _add_body_form(body: Any) -> str:
    """Which form a ``POST /items`` body has: ``"batch"`` (an object with ``"items"``), ``"list"``
    (a bare JSON array, refused with how to send a batch) or ``"one"`` (one item), so that a 422
    lists the errors of that form only."""
    if isinstance(body, dict) and "items" in body:
        return "batch"
    return "list" if isinstance(body, list) else "one"


def _bare_list(body: list[Any]) -> list[Any]:
    raise ValueError('send several items as an object, {"items": [...]}, not as a bare list')


def create_app(run_dir: str | os.PathLike | None = None, *, service: Any = None, index_kind: str = "flat",
               encoder: Any = None, limits: Limits | None = None, data_dir: str | None = None,
               state_dir: str | os.PathLike | None = None, max_body_bytes: int = 4 << 20,
               ef_search: int | None = None):
    """Build the FastAPI application for one trained run or late fusion (``lmrec ensemble``).

    Parameters
    ----------
    run_dir:
        Run directory from ``lmrec train`` or ``lmrec ensemble`` (ignored when ``service`` is given).
    service:
        An existing :class:`~lmrec.serving.service.RecommendationService` to expose.
    index_kind:
        ``flat`` (exact), ``hnsw`` or ``ivfpq`` (compressed), see :mod:`lmrec.index.ann`.
    encoder:
        Text encoder to use instead of loading the run's (tests inject a small one).
    limits:
        Input limits (:class:`~lmrec.serving.schemas.Limits`; defaults if ``None``).
    data_dir, state_dir, ef_search:
        Passed to the service.
    max_body_bytes:
        Requests with a larger ``Content-Length`` are refused with ``413``.

    Returns
    -------
    fastapi.FastAPI

    Raises
    ------
    FileNotFoundError, ValueError
        From :class:`~lmrec.serving.service.RecommendationService` (bad run, corrupt store,
        wrong encoder) — the app refuses to start rather than serve a damaged catalog.
    """
    from fastapi import FastAPI, Query, Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    from lmrec.serving.service import RecommendationService

    if service is None:
        if run_dir is None:
            raise ValueError("create_app needs run_dir or service")
        service = RecommendationService(run_dir, index_kind=index_kind, encoder=encoder, data_dir=data_dir,
                                        ef_search=ef_search,
                                        state_dir=state_dir)
    limits = limits or Limits()
    models = request_models(limits)
    RecommendRequest, NewItem, NewItems = models["RecommendRequest"], models["NewItem"], models["NewItems"]
    AddBody = Annotated[Union[Annotated[NewItems, Tag("batch")], Annotated[NewItem, Tag("one")],
                              Annotated[list[Any], AfterValidator(_bare_list), Tag("list")]],
                        Discriminator(_add_body_form)]

    app = FastAPI(title="lmrec recommendation service",
                  description=f"Recommendations from the trained run `{service.run_dir}` "
                              f"({service.run.config.model}); see lmrec.serving.space for how users are scored.",
                  version="1")
    app.state.service = service
    errors = {404: {"model": Error}, 409: {"model": Error}, 413: {"model": Error}}

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > max_body_bytes:
            return JSONResponse({"detail": f"request body over {max_body_bytes} bytes"}, status_code=413)
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        # FastAPI's 422 body, with the form tag of POST /items (_add_body_form) left out of each
        # error's location: ["body", "items", 0, "text"], as the JSON sent is laid out
        tagged = request.method == "POST" and request.url.path.endswith("/items")
        errors = [{**e, "loc": [x for i, x in enumerate(e.get("loc", ()))
                                if not (tagged and i == 1 and x in ADD_FORMS)]} for e in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(KeyError)
    async def _not_found(request: Request, exc: KeyError):
        return JSONResponse({"detail": str(exc.args[0]) if exc.args else "not found"}, status_code=404)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):  # no stack trace to clients
        log.exception("error while serving %s %s", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"},
                            status_code=500)

    def _recs(rows) -> Recommendations:
        return Recommendations(items=[r.__dict__ for r in rows], fallback=getattr(rows, "fallback", None))

    @app.get("/healthz", response_model=Health, tags=["service"])
    def healthz() -> Health:
        """Liveness and what is being served."""
        info = service.info().__dict__
        return Health(status="ok", **{k: v for k, v in info.items() if k != "run_dir"})

    @app.post("/recommend", response_model=Recommendations, responses=errors, tags=["recommend"])
    def recommend(req: RecommendRequest) -> Any:  # type: ignore[valid-type]
        """Top-k items for a known user id, an ad-hoc history of item ids, and/or free profile text."""
        try:
            return _recs(service.recommend(user_id=req.user_id, history=req.history, text=req.text, k=req.k,
                                           exclude_history=req.exclude_history))
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/items/{item_id}", response_model=ItemInfo, responses=errors, tags=["items"])
    def get_item(item_id: str) -> Any:
        """One live item."""
        return ItemInfo(**service.item(item_id))

    @app.get("/items/{item_id}/similar", response_model=Recommendations, responses=errors, tags=["items"])
    def similar(item_id: str, k: int = Query(10, ge=1, le=limits.max_k)) -> Any:
        """The k live items closest to an item (the item itself left out)."""
        return _recs(service.similar(item_id, k))

    @app.post("/items", response_model=Added, status_code=201, responses=errors, tags=["items"])
    def add_items(body: AddBody) -> Any:  # type: ignore[valid-type]
        """Add one item or a batch; encoded with the run's encoder and servable when this returns."""
        items = body.items if hasattr(body, "items") and isinstance(body.items, list) else [body]
        try:
            added = service.add_items([it.model_dump() for it in items])
        except KeyError as exc:
            return JSONResponse({"detail": str(exc.args[0])}, status_code=409)
        except ValueError as exc:
            status = 409 if not service.space.reads_text else 422
            return JSONResponse({"detail": str(exc)}, status_code=status)
        return Added(added=added)

    @app.delete("/items/{item_id}", response_model=Deleted, responses=errors, tags=["items"])
    def delete_item(item_id: str) -> Any:
        """Remove an item from the catalog and from all answers (persisted)."""
        service.delete_item(item_id)
        return Deleted(deleted=item_id)

    return app
