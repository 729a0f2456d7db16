"""Request and response bodies of the HTTP API (pydantic), with the input limits.

Every limit is checked by pydantic before any work is done, so an oversized request is a
``422`` naming the field and the limit. The limits are set per app through :class:`Limits`
(:func:`lmrec.serving.app.create_app`); :func:`request_models` builds the request classes for
one set of limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator


@dataclass(frozen=True)
class Limits:
    """Input limits of one service.

    Attributes
    ----------
    max_k:
        Largest ``k`` (items per answer).
    max_history:
        Most item ids in an ad-hoc history.
    max_text_chars:
        Longest profile or item text (characters; the encoder truncates to its own token limit).
    max_batch:
        Most items per ``POST /items``.
    max_id_chars:
        Longest item id or title.
    """

    max_k: int = 1000
    max_history: int = 500
    max_text_chars: int = 5000
    max_batch: int = 256
    max_id_chars: int = 200


class RecommendedItem(BaseModel):
    """One recommended item."""

    rank: int = Field(description="1-based position.")
    item_id: str
    title: str
    score: float = Field(description="Inner product of user and item vector (the model's score; finite).")


class Recommendations(BaseModel):
    """Answer of ``/recommend`` and ``/items/{id}/similar``."""

    items: list[RecommendedItem]
    fallback: Optional[str] = Field(None, description="'popularity' when the request had no usable history and "
                                    "no profile text: the items most popular in training (score = training "
                                    "interactions; see lmrec.models.fallback); null otherwise.")


class Health(BaseModel):
    """Answer of ``/healthz``."""

    status: str
    model: str
    n_items: int
    dim: int
    index_kind: str
    accepts_new_items: bool
    text_fields: list[str]
    ef_search: Optional[int] = None
    n_unrecommendable: int = Field(0, description="catalog items left out of every result: no usable text "
                                                  "(empty or placeholder) and nothing else known about them")


class ItemInfo(BaseModel):
    item_id: str
    title: str
    index_id: int
    added: bool


class AddedItem(BaseModel):
    item_id: str
    index_id: int
    warning: Optional[str] = Field(None, description="Set when the item's text is mostly unknown tokens to the "
                                   "encoder or its vector is identical to another live item's (it cannot be told "
                                   "apart); names the fix.")


class Added(BaseModel):
    """Answer of ``POST /items``: the items are servable when it arrives."""

    added: list[AddedItem]


class Deleted(BaseModel):
    deleted: str


class Error(BaseModel):
    """Every 4xx/5xx body: one human-readable line (422 bodies list the failing fields instead)."""

    detail: str


def request_models(limits: Limits) -> dict[str, Any]:
    """Pydantic request classes enforcing ``limits``: ``{"RecommendRequest", "NewItem", "NewItems"}``."""
    strict = ConfigDict(extra="forbid")
    ItemId = (str, Field(min_length=1, max_length=limits.max_id_chars))

    class _Recommend(BaseModel):
        model_config = strict

        @model_validator(mode="after")
        def _one_source(self):
            if self.user_id is not None and (self.history is not None or self.text is not None):
                raise ValueError("give either user_id, or history and/or text — not both")
            if self.user_id is None and self.history is None and self.text is None:
                raise ValueError("empty request: give user_id, a history (may be empty: a cold user gets the "
                                 "popularity fallback), or profile text")
            return self

    RecommendRequest = create_model(
        "RecommendRequest", __base__=_Recommend,
        user_id=(Optional[str], Field(None, max_length=limits.max_id_chars, description="Known user id of the run.")),
        history=(Optional[list[str]], Field(None, max_length=limits.max_history,
                                            description="Item ids, oldest first.")),
        text=(Optional[str], Field(None, min_length=1, max_length=limits.max_text_chars,
                                   description="Free profile text (text models).")),
        k=(int, Field(10, ge=1, le=limits.max_k)),
        exclude_history=(bool, Field(True, description="Leave history items out of the answer.")),
    )

    class _NewItem(BaseModel):
        model_config = strict

        @model_validator(mode="after")
        def _has_text(self):
            if self.text is None and not self.fields:
                if self.title:  # the display name alone is not encoded: say how to make it the text
                    raise ValueError("'title' is only the name shown for the item; give what the encoder reads as "
                                     "'text' (e.g. the title itself) or 'fields' (e.g. {\"title\": ...})")
                raise ValueError("give the item's 'text' or its 'fields'")
            return self

    NewItem = create_model(
        "NewItem", __base__=_NewItem,
        item_id=ItemId,
        title=(Optional[str], Field(None, max_length=limits.max_id_chars)),
        text=(Optional[str], Field(None, min_length=1, max_length=limits.max_text_chars,
                                   description="Item text as the run renders it (e.g. 'Title. Genres').")),
        fields=(Optional[dict[str, str]], Field(None, max_length=32,
                                                description="Item fields, rendered with the run's text template.")),
    )
    NewItems = create_model(
        "NewItems", __config__=strict,
        items=(list[NewItem], Field(min_length=1, max_length=limits.max_batch)),
    )
    return {"RecommendRequest": RecommendRequest, "NewItem": NewItem, "NewItems": NewItems}
