"""How a trained run scores a user with an ANN index: user vector · item vector.

The service answers ``/recommend`` with one inner-product search, so every served model is
written as a *user vector* and an *item table* in one space, giving exactly the model's own
scores (:meth:`lmrec.models.base.Recommender.score`) for an exact (``flat``) index:

**Text-similarity models** (``embknn``, ``last-item``, ``recency-knn``)
    item vector = the L2-normalised text vector; user vector = the normalised output of the
    model's own ``user_vector(history item vectors)``: the mean of the history (the last
    ``last_n`` items when the run sets it), the last item with text, or the recency-weighted sum.
    Profile text is encoded and counted as one more (the latest) history item.
**SASRec** (``sasrec-text``, ``sasrec-text-id``, ``sasrec-id``)
    item vector = the model's item representation (the row of ``net.input_table()``, i.e.
    ``text_proj(standardised text vector)`` [+ the ID embedding for items trained with one]);
    user vector = the Transformer output at the last position of the history (Kang & McAuley,
    ICDM 2018). Profile text is encoded, projected like an item, and placed as the last
    history item.

New items (``POST /items``) need their item vector from text alone. For ``embknn`` that is the
normalised text vector; for the SASRec text variants it is the text projection applied to the
text vector standardised with the *run's* per-dimension statistics (those the model was trained
with, :func:`lmrec.models.sasrec.standardize_text_vectors`), passed through the fusion layer with a
zero ID part for text + ID trained with ``fusion="concat"``; an item without training
interactions has no ID part in ``sasrec-text-id`` either, exactly as for the run's cold items.
``sasrec-id`` has no text input: its items can be served but none can be added, and profile
text is refused. A SASRec trained with ``field_aggregation="attention"`` (per-field vectors)
serves its own items, but refuses new items and profile text: one text is not its input.
A SASRec trained with ``scores="cosine"`` keeps two forms of each item: its item vector is the
row the Transformer reads (:meth:`SASRecNet.input_table`, what histories are built from) and its
*index vector* (:meth:`ItemSpace.index_vectors`) that row L2-normalised and scaled by ``1/√τ``;
the user vector is the normalised output scaled the same way, so inner products in the index are
the model's scores (cosine / τ). For dot-product runs and text-similarity models both forms are
the same. Other models (``pop``) have no item representation and are not served.

**Late fusion** (``lmrec ensemble``; :class:`FusedItemSpace`)
    the members' item vectors side by side; user vector = the members' user vectors side by side,
    each scaled by its weight, so the inner product is the weighted sum of the members' scores,
    which ranks like the fused log-probabilities (the log-softmax only subtracts a per-user constant).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Models whose user vector is built from normalised text vectors by ``model.user_vector(rows)``.
TEXT_KNN_MODELS = ("embknn", "last-item", "recency-knn")
SERVED_MODELS = (*TEXT_KNN_MODELS, "sasrec")


def _normalise(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


class ItemSpace:
    """User and item vectors of a trained model, for inner-product retrieval.

    Parameters
    ----------
    model:
        A fitted text-similarity model (:data:`TEXT_KNN_MODELS`) or :class:`~lmrec.models.sasrec.SASRec`.
    base_text_vectors:
        ``float32 [n_base, dim_text]`` the run's item text vectors (``None`` for ``sasrec-id``).

    Attributes
    ----------
    dim:
        Dimension of user/item vectors (``hidden`` for SASRec, the text dimension for embknn).
    reads_text:
        Whether items (and profiles) can be represented from text.

    Raises
    ------
    ValueError
        For a model that has no item representation (e.g. ``pop``).
    """

    def __init__(self, model: Any, base_text_vectors: np.ndarray | None):
        self.model = model
        self.kind = model.name
        if self.kind not in SERVED_MODELS:
            raise ValueError(f"model {model.name!r} has no item representation to retrieve with; "
                             f"serve one of: {', '.join(TEXT_KNN_MODELS)}, sasrec-id, sasrec-text, sasrec-text-id")
        if self.kind in TEXT_KNN_MODELS:
            self.reads_text = True
            self.dim = int(base_text_vectors.shape[1])
        else:
            import torch

            self.reads_text = "text" in model.config["item_input"]
            self.max_len = int(model.config["max_len"])
            self.net = model.net_.eval()
            with torch.inference_mode():
                self._base_table = self.net.input_table().detach().clone()  # [n_base + 1, hidden]
            self.dim = int(self._base_table.shape[1])
            if self.reads_text:
                x = np.asarray(base_text_vectors, dtype=np.float32)
                if model.config.get("text_norm", "none") == "standardize":
                    nonzero = np.abs(x).sum(axis=1) > 0
                    self._mean = x[nonzero].mean(axis=0)
                    self._std = x[nonzero].std(axis=0) + 1e-6
                else:
                    self._mean, self._std = np.zeros(x.shape[1], np.float32), np.ones(x.shape[1], np.float32)

    # ------------------------------------------------------------------ items
    @property
    def cosine(self) -> bool:
        """Whether the model scores by cosine (a SASRec trained with ``scores="cosine"``)."""
        return self.kind == "sasrec" and bool(self.net.cosine)

    def index_vectors(self, item_vectors: np.ndarray) -> np.ndarray:
        """``float32 [n, dim]`` vectors to put in the inner-product index for ``item_vectors``
        (``[n, dim]``, this space): the same rows, or for a cosine-score SASRec the rows
        L2-normalised and scaled by ``1/√τ`` (module docstring)."""
        x = np.asarray(item_vectors, dtype=np.float32)
        return _normalise(x) * np.float32(self.net.scale) if self.cosine else x

    def similar_query(self, index_vector: np.ndarray) -> np.ndarray:
        """``float32 [dim]`` query for the items closest to an item whose index vector is
        ``index_vector``: the vector itself (inner product of index vectors)."""
        return np.asarray(index_vector, dtype=np.float32)

    def base_item_vectors(self, base_text_vectors: np.ndarray | None) -> np.ndarray:
        """``float32 [n_base, dim]`` item vectors of the run's items (the rows the model reads)."""
        if self.kind in TEXT_KNN_MODELS:
            return _normalise(np.asarray(base_text_vectors, dtype=np.float32))
        return self._base_table[1:].numpy().astype(np.float32)

    def item_vectors_from_text(self, text_vectors: np.ndarray) -> np.ndarray:
        """``float32 [n, dim]`` item vectors of new items from their text vectors ``[n, dim_text]``.

        Raises
        ------
        ValueError
            For a model without text input.
        """
        if not self.reads_text:
            raise ValueError("this run's model (sasrec-id) reads no item text, so items cannot be represented "
                             "from text; serve a text model (embknn, sasrec-text, sasrec-text-id)")
        x = np.asarray(text_vectors, dtype=np.float32)
        if self.kind in TEXT_KNN_MODELS:
            return _normalise(x)
        if getattr(self.net, "field_attention", None) is not None:
            raise ValueError("this run's SASRec attends over per-field item vectors (field_aggregation 'attention'), "
                             "so one text cannot be represented like its items; new items and profile text need a "
                             "run trained with --field-aggregation template or mean")
        import torch

        empty = np.abs(x).sum(axis=1) == 0
        z = (x - self._mean) / self._std
        z[empty] = 0.0  # empty text stays a zero input, as in training
        with torch.inference_mode():
            text = self.net.text_proj(torch.from_numpy(z.astype(np.float32)))
            if self.net.item_input == "text-id" and self.net.fusion == "concat":
                # a cold item's row: Linear([text ; zero ID part]), zero for an empty text (SASRecNet.input_table)
                text = self.net.fuse(torch.cat([text, torch.zeros_like(text)], dim=-1))
                text = text * torch.from_numpy(~empty)[:, None]
            return text.numpy().astype(np.float32)

    # ------------------------------------------------------------------ users
    def user_vector(self, history_vectors: np.ndarray, profile_vector: np.ndarray | None = None) -> np.ndarray:
        """``float32 [dim]`` user vector from item vectors of the history (oldest first).

        Parameters
        ----------
        history_vectors:
            ``float32 [h, dim]`` *item vectors* (this space) of the history, chronological.
        profile_vector:
            Optional ``float32 [dim]`` item vector of free profile text, treated as the latest item.

        Raises
        ------
        ValueError
            If there is neither history nor profile.
        """
        rows = np.asarray(history_vectors, dtype=np.float32).reshape(-1, self.dim)
        if profile_vector is not None:
            rows = np.concatenate([rows, np.asarray(profile_vector, dtype=np.float32).reshape(1, self.dim)])
        if len(rows) == 0:
            raise ValueError("empty history: give at least one item id or some profile text")
        if self.kind in TEXT_KNN_MODELS:
            return _normalise(self.model.user_vector(rows))
        import torch

        rows = rows[-self.max_len:]
        table = torch.cat([torch.zeros(1, self.dim), torch.from_numpy(np.ascontiguousarray(rows))])
        seq = torch.arange(1, len(rows) + 1).unsqueeze(0)
        with torch.inference_mode():
            return self.net.encode(seq, table)[0, -1].numpy().astype(np.float32)


class FusedItemSpace:
    """A late fusion of fitted models (:class:`lmrec.models.ensemble.ScoreEnsemble`, ``lmrec ensemble``)
    as one user vector · item vector space.

    The fused score ``Σ_m w_m · log_softmax(s_m(u, ·))_i`` is ``Σ_m w_m · s_m(u, i)`` minus a
    per-user constant (each member's log-partition, the same for every item), so it ranks items
    exactly as the inner product of

    * the item vector ``[x_1 ; … ; x_M]``: the members' item vectors side by side (each the row its
      member reads, :meth:`ItemSpace.base_item_vectors`), put in the index as the members' index
      vectors side by side (:meth:`ItemSpace.index_vectors`), and
    * the user vector ``[w_1 · u_1 ; … ; w_M · u_M]``: each member's user vector from its own part of
      the history rows (:meth:`ItemSpace.user_vector`), scaled by its weight.

    A served score is therefore the fused log-probability plus that per-user constant: it orders one
    user's items like ``lmrec recommend`` on the same ensemble, but is not itself a log-probability.

    New items and profile text need every member to represent an item from text: the fusion reads
    text only when each member does and all of them read the same item text vectors (one encoder
    and template). With an ID-only member (``sasrec-id``, also the one started from text) the
    fused run serves its own catalogue and refuses new items (:attr:`no_text_reason` says why).

    Parameters
    ----------
    members:
        ``[(model, base_text_vectors)]`` for each member, in the ensemble's order; each is
        accepted by :class:`ItemSpace` (``base_text_vectors`` ``float32 [n_items, dim_text]`` or
        ``None``).
    weights:
        ``float [n_members]``, ``≥ 0``, summing to 1 (the ensemble's weights). A member of weight 0
        changes no score, so it is left out (:attr:`kept` lists the indices of the others): it adds
        no dimensions and does not stop a text fusion from taking new items.
    names:
        The members' display names (used in error messages).

    Raises
    ------
    ValueError
        Fewer than two members, a weight count that differs from the member count, no positive
        weight, or a member of positive weight that :class:`ItemSpace` cannot serve (e.g. ``pop``;
        the message names the member).
    """

    kind = "ensemble"

    def __init__(self, members: list[tuple[Any, np.ndarray | None]], weights: Any, names: list[str]):
        if len(members) < 2 or len(weights) != len(members) or len(names) != len(members):
            raise ValueError(f"a fused space needs two or more members with one weight and one name each, got "
                             f"{len(members)} members, {len(weights)} weights, {len(names)} names")
        w = np.asarray(weights, dtype=np.float32)
        # a weight-0 member adds nothing to any score: leave it out of the index (and of the text check)
        self.kept = [i for i in range(len(members)) if w[i] > 0]
        if not self.kept:
            raise ValueError(f"a fused space needs a member with a positive weight, got weights {w.tolist()}")
        members, names, weights = ([members[i] for i in self.kept], [names[i] for i in self.kept], w[self.kept])
        self.members: list[ItemSpace] = []
        for (model, vectors), name in zip(members, names):
            try:
                self.members.append(ItemSpace(model, vectors))
            except ValueError:
                raise ValueError(f"ensemble member {name!r} cannot be served: its model ({model.name!r}) has no item "
                                 "representation to retrieve with; fuse only models the service can serve "
                                 f"({', '.join(TEXT_KNN_MODELS)}, sasrec-id, sasrec-text, sasrec-text-id), or rank "
                                 "this fusion without the service (`lmrec recommend --run DIR`)") from None
        self.names = list(names)
        self.weights = np.asarray(weights, dtype=np.float32)
        self.dims = [m.dim for m in self.members]
        self._cuts = np.cumsum(self.dims)[:-1]
        self.dim = int(sum(self.dims))
        self._text_vectors = [v for _, v in members]
        self.no_text_reason: str | None = None
        no_text = [n for m, n in zip(self.members, names) if not m.reads_text]
        if no_text:
            self.no_text_reason = (f"ensemble member {no_text[0]!r} reads no item text (an ID-only model), so the "
                                   "fused model cannot represent new items or profile text; recommend from a user id "
                                   "or a history of known items, or fuse text models only")
        elif any(np.shape(v) != np.shape(self._text_vectors[0]) or not np.array_equal(v, self._text_vectors[0])
                 for v in self._text_vectors[1:]):
            self.no_text_reason = ("the ensemble's members read different item text vectors (another encoder or "
                                   "template), so one encoding of a new item or profile text cannot serve them all")
        self.reads_text = self.no_text_reason is None

    def _split(self, x: np.ndarray) -> list[np.ndarray]:
        return np.split(np.asarray(x, dtype=np.float32), self._cuts, axis=-1)

    def index_vectors(self, item_vectors: np.ndarray) -> np.ndarray:
        """``float32 [n, dim]``: each member's :meth:`ItemSpace.index_vectors` of its part, side by side."""
        return np.concatenate([m.index_vectors(x) for m, x in zip(self.members, self._split(item_vectors))], axis=-1)

    def similar_query(self, index_vector: np.ndarray) -> np.ndarray:
        """``float32 [dim]`` query for the items closest to an item whose index vector is
        ``index_vector``: each member's part scaled by its weight (the fused item-item similarity is
        the weighted sum of the members')."""
        return np.concatenate([w * x for w, x in zip(self.weights, self._split(index_vector))])

    def base_item_vectors(self, base_text_vectors: np.ndarray | None = None) -> np.ndarray:
        """``float32 [n_items, dim]`` the members' item vectors of the run's items, side by side
        (``base_text_vectors`` is ignored: each member keeps its own)."""
        return np.concatenate([m.base_item_vectors(v) for m, v in zip(self.members, self._text_vectors)], axis=1)

    def item_vectors_from_text(self, text_vectors: np.ndarray) -> np.ndarray:
        """``float32 [n, dim]`` item vectors of new items from their text vectors ``[n, dim_text]``.

        Raises
        ------
        ValueError
            With :attr:`no_text_reason` when the fusion does not read text.
        """
        if not self.reads_text:
            raise ValueError(self.no_text_reason)
        return np.concatenate([m.item_vectors_from_text(text_vectors) for m in self.members], axis=1)

    def user_vector(self, history_vectors: np.ndarray, profile_vector: np.ndarray | None = None) -> np.ndarray:
        """``float32 [dim]``: ``[w_1 · u_1 ; … ; w_M · u_M]`` from item vectors of this space
        (``[h, dim]``, oldest first; see :meth:`ItemSpace.user_vector`).

        Raises
        ------
        ValueError
            If there is neither history nor profile, or a profile is given to a fusion that reads no text.
        """
        if profile_vector is not None and not self.reads_text:
            raise ValueError(self.no_text_reason)
        rows = self._split(np.asarray(history_vectors, dtype=np.float32).reshape(-1, self.dim))
        profiles = self._split(profile_vector) if profile_vector is not None else [None] * len(self.members)
        return np.concatenate([w * m.user_vector(h, p) for m, w, h, p
                               in zip(self.members, self.weights, rows, profiles)]).astype(np.float32)
