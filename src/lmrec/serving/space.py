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
