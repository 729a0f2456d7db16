"""SASRec with ID, text, or text + ID item inputs.

Self-attentive sequential recommendation (Kang & McAuley, "Self-Attentive Sequential
Recommendation", ICDM 2018): a causal Transformer over the user's last ``max_len`` items; the
output at the last position scores every catalog item by dot product with the same item
representations used as input. Trained with full softmax cross-entropy over all items at
every position (as RecBole's ``loss_type=CE``).

Item inputs (``item_input``):

``"id"``
    a learned embedding per item (cold items keep their untrained initialisation, so an ID
    model cannot rank them meaningfully — that is the point of comparing). With
    ``id_init="text"`` the table starts from the items' text instead of noise
    (:func:`text_pca_init`: the top ``hidden`` principal components of the standardised text
    vectors, scaled to a trained ID table's spread) and is then trained like any ID table:
    the model keeps an ID model's capacity to memorise item pairs and starts from text
    similarity (PLM-initialised ID embeddings: Harte et al., "Leveraging Large Language Models for
    Sequential Recommendation", RecSys 2023; Qu et al., "The Elephant in the Room: Rethinking the
    Usage of Pre-trained Language Model in Sequential Recommendation", RecSys 2024);
``"text"``
    a learned projection ``Linear(dim_text → hidden)`` of frozen text vectors: works for items
    never seen in training (cf. the text-only SASRec of the UniSRec paper, Hou et al. KDD 2022);
    with ``text_adaptor="mlp"`` the projection is a two-layer perceptron
    ``Linear(dim_text → adaptor_hidden) → GELU → Linear(adaptor_hidden → hidden)``, which can
    move two items with similar text vectors apart (a linear map keeps every item in one
    ``hidden``-dimensional linear image of the text space);
``"text-id"``
    the sum of both; the ID part is zeroed for items without training interactions, so cold
    items fall back to their text. With ``id_dropout=p`` the ID part of each item is also zeroed
    with probability ``p`` at every training step (one draw per item and step, the same in the
    input and the output table, no rescaling), so the net learns to rank items whose vector is
    text alone — what a cold item is at inference (DropoutNet, Volkovs et al., NeurIPS 2017).
    ``id_init="text"`` starts the ID part from text as for ``"id"``.

With ``scores="cosine"`` an item's score is the cosine of the sequence output and the item's
row over a temperature ``τ`` (both L2-normalised and scaled by ``1/√τ``, as UniSRec's scores,
Hou et al. KDD 2022); the Transformer still reads the raw rows. The norm of an item's row then
no longer moves its score: with dot-product scores, the MLP adaptor and text + ID give items
trained as targets longer rows than cold items, part of why they rank new items lower
(``bench/results/cold_item_norms.md``). Measured, cosine scores help the MLP adaptor on warm and
cold items alike; with the linear adaptor they gain on warm items and lose on cold ones
(``bench/results/text_vs_id.md``, "Cold-start items").

With per-field text vectors (``field_aggregation="attention"``, :mod:`lmrec.features.fields`)
the text part of an item is ``text_proj(Σ_f a_{i,f} x_{i,f})`` (``= Σ_f a_{i,f} · text_proj(x_{i,f})``
for the linear adaptor) with ``a_{i,·}`` the softmax,
over the fields item ``i`` has, of ``q · tanh(W x_{i,f} + b)`` — the additive attention of the
NRMS / PLM-NR news encoders (Wu et al., EMNLP 2019; SIGIR 2021), here over an item's fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lmrec.models.base import Recommender, TrainData, load_net_weights, save_net_weights

if TYPE_CHECKING:  # pragma: no cover
    import torch

ITEM_INPUTS = ("id", "text", "text-id")


def standardize_text_vectors(vectors: np.ndarray) -> np.ndarray:
    """Per-dimension z-scores of frozen text vectors, ``float32 [n_items, dim]``.

    Sentence-encoder vectors are anisotropic (they share a large common direction; cf. Su et
    al., "Whitening Sentence Representations", 2021), so a freshly initialised projection maps
    all items to nearly the same point and training starts on a long plateau. Centring and
    scaling each dimension (statistics over the items with non-empty text; rows of empty text
    stay zero) removes that without looking at any interaction. Uses text only, so it applies
    unchanged to cold items.
    """
    x = np.asarray(vectors, dtype=np.float32)
    nonzero = np.abs(x).sum(axis=1) > 0
    if nonzero.sum() < 2:
        return x.copy()
    mean = x[nonzero].mean(axis=0)
    std = x[nonzero].std(axis=0) + 1e-6
    out = np.zeros_like(x)
    out[nonzero] = (x[nonzero] - mean) / std
    return out


def standardize_field_vectors(vectors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:func:`standardize_text_vectors` applied to each field on its own: ``float32 [n_items,
    n_fields, dim]`` in and out, statistics of field ``f`` over the items that have it
    (``mask`` ``bool [n_items, n_fields]``); absent fields stay zero."""
    x = np.asarray(vectors, dtype=np.float32)
    m = np.asarray(mask, dtype=bool)
    out = np.zeros_like(x)
    for f in range(x.shape[1]):
        rows = m[:, f]
        if rows.sum() < 2:
            out[rows, f] = x[rows, f]
            continue
        mean = x[rows, f].mean(axis=0)
        std = x[rows, f].std(axis=0) + 1e-6
        out[rows, f] = (x[rows, f] - mean) / std
    return out


#: Entry std of an ID table started from text (:func:`text_pca_init`), ≈ a trained ID table's spread.
TEXT_INIT_STD = 0.1


def text_pca_init(vectors: np.ndarray, dim: int, std: float = TEXT_INIT_STD) -> np.ndarray:
    """Initial ID embeddings from item text: ``float32 [n_items, dim]``.

    The standardised text vectors (:func:`standardize_text_vectors`, ``float [n_items, dim_text]``)
    are projected on their top ``dim`` principal components (fitted on the items with text), then
    scaled by one factor so that the entries' standard deviation is ``std``. The default 0.1 is about
    the spread of a trained SASRec-ID table (0.09-0.10 on Amazon Food and Kitchen); it beat RecBole's
    random-init spread 0.02 on validation NDCG@10 on Amazon Scientific and Food
    (``bench/results/text_vs_id.md``, ``sasrec-id@text-init*`` rows): at 0.02 the first epochs wash
    the text structure out. Items without text get zero rows; with fewer
    text dimensions or items than ``dim`` the remaining columns are zero.

    Raises
    ------
    ValueError
        If ``vectors`` is not two-dimensional, ``dim < 1`` or ``std <= 0``, or fewer than two items
        have text.
    """
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim != 2 or int(dim) < 1 or not std > 0:
        raise ValueError(f"text_pca_init needs vectors [n_items, dim_text], dim ≥ 1 and std > 0; got shape "
                         f"{x.shape}, dim {dim}, std {std}")
    z = standardize_text_vectors(x).astype(np.float64)
    has = np.abs(x).sum(axis=1) > 0
    if has.sum() < 2:
        raise ValueError(f"text_pca_init: {int(has.sum())} of {len(x)} items have text; initialising ID "
                         "embeddings from text needs at least two")
    centred = z[has] - z[has].mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(int(dim), vt.shape[0])
    out = np.zeros((len(x), int(dim)), dtype=np.float64)
    out[has, :k] = centred @ vt[:k].T
    spread = out[has].std()
    if spread > 0:
        out *= std / spread
    return out.astype(np.float32)


def build_sasrec_net(n_items: int, item_input: str, text_vectors: np.ndarray | None, hidden: int, n_layers: int,
                     n_heads: int, inner: int, dropout: float, max_len: int, warm_items: np.ndarray | None,
                     text_norm: str = "standardize", init: str = "torch", fusion: str = "sum",
                     field_vectors: np.ndarray | None = None, field_mask: np.ndarray | None = None,
                     positions: str = "end", text_adaptor: str = "linear", adaptor_hidden: int = 1024,
                     id_dropout: float = 0.0, scores: str = "dot", temperature: float = 0.07,
                     id_init_vectors: np.ndarray | None = None, id_random_std: float | None = None):
    """Create the PyTorch module (defined lazily so importing this file does not import torch).

    ``scores`` (``"dot"`` or ``"cosine"`` over ``temperature``) is how the sequence output meets
    the item rows (module docstring); with ``"cosine"``, :meth:`item_table` returns normalised rows
    and :meth:`forward` normalised outputs, so callers keep computing ``h @ table.T``.

    ``text_adaptor`` (``"linear"`` or ``"mlp"`` with ``adaptor_hidden`` units) is the map from
    text vectors to ``hidden`` (module docstring); ``id_dropout`` the share of ID parts zeroed per
    training step (``text-id``; module docstring).

    ``field_vectors`` (``float32 [n_items, n_fields, dim]``) with ``field_mask`` (``bool
    [n_items, n_fields]``) make the text input an additive attention over the item's fields
    (module docstring); then ``text_vectors`` is not read.

    ``id_init_vectors`` (``float32 [n_items, hidden]``, e.g. :func:`text_pca_init`) replace the
    random initial rows of the ID table (``item_input`` with ``"id"``); ``id_random_std`` redraws
    them from ``N(0, id_random_std)`` instead (the control for the spread of a text start), after
    every other weight is initialised, so the rest of the net is the same draw as without it.
    """
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn

    def text_projection(dim_text: int) -> nn.Module:
        if text_adaptor == "linear":
            return nn.Linear(dim_text, hidden)
        return nn.Sequential(nn.Linear(dim_text, adaptor_hidden), nn.GELU(), nn.Linear(adaptor_hidden, hidden))

    class SASRecNet(nn.Module):
        """Causal Transformer over item sequences.

        Input ``seq``: ``int64 [b, L]`` with ``0`` = padding and item ``i`` written as ``i + 1``,
        right-aligned (last item at ``L - 1``). Output of :meth:`forward`: ``float32 [b, L, hidden]``.
        """

        def __init__(self):
            super().__init__()
            self.item_input = item_input
            if "id" in item_input:
                self.id_emb = nn.Embedding(n_items + 1, hidden, padding_idx=0)
                nn.init.normal_(self.id_emb.weight, std=0.02)
                with torch.no_grad():
                    self.id_emb.weight[0].zero_()
                warm = torch.ones(n_items + 1) if warm_items is None else \
                    torch.cat([torch.zeros(1), torch.as_tensor(warm_items, dtype=torch.float32)])
                self.register_buffer("id_mask", warm.unsqueeze(1), persistent=False)
            self.field_attention = None
            if field_vectors is not None and "text" not in item_input:
                raise ValueError(f"SASRec item_input={item_input!r} reads no text, so it cannot attend over "
                                 "item fields")
            if "text" in item_input and field_vectors is not None:
                from lmrec.models.news_attention import AdditiveAttention

                fm = np.asarray(field_mask, dtype=bool)
                fv = torch.as_tensor(standardize_field_vectors(field_vectors, fm) if text_norm == "standardize"
                                     else np.asarray(field_vectors, dtype=np.float32) * fm[:, :, None])
                n_fields, dim_text = fv.shape[1], fv.shape[2]
                self.register_buffer("fields", torch.cat([torch.zeros(1, n_fields, dim_text), fv]), persistent=False)
                self.register_buffer("field_mask", torch.cat([torch.zeros(1, n_fields, dtype=torch.bool),
                                                              torch.as_tensor(fm)]), persistent=False)
                self.field_attention = AdditiveAttention(dim_text, query_dim=hidden)
                # ``text`` (mean of the present fields) only tells which items have text (non-zero row)
                count = self.field_mask.sum(1, keepdim=True).clamp(min=1)
                self.register_buffer("text", self.fields.sum(1) / count, persistent=False)
                self.text_proj = text_projection(dim_text)
            elif "text" in item_input:
                if text_vectors is None:
                    raise ValueError(f"SASRec item_input={item_input!r} needs item text vectors")
                tv = torch.as_tensor(standardize_text_vectors(text_vectors) if text_norm == "standardize"
                                     else np.asarray(text_vectors, dtype=np.float32))
                self.register_buffer("text", torch.cat([torch.zeros(1, tv.shape[1]), tv]), persistent=False)
                self.text_proj = text_projection(tv.shape[1])
            self.fusion = fusion
            self.id_dropout = float(id_dropout)
            self.cosine = scores == "cosine"
            self.scale = 1.0 / math.sqrt(temperature)
            if item_input == "text-id" and fusion == "concat":  # [text ; id] → hidden
                self.fuse = nn.Linear(2 * hidden, hidden)
            self.pos_emb = nn.Embedding(max_len, hidden)
            nn.init.normal_(self.pos_emb.weight, std=0.02)
            self.norm = nn.LayerNorm(hidden)
            self.drop = nn.Dropout(dropout)
            layer = nn.TransformerEncoderLayer(hidden, n_heads, inner, dropout, activation="gelu", batch_first=True)
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.n_heads, self.max_len = n_heads, max_len
            self.positions = positions
            if init == "recbole":  # RecBole's SASRec._init_weights: N(0, 0.02) weights, zero biases
                for m in self.modules():
                    if isinstance(m, (nn.Linear, nn.Embedding)):
                        nn.init.normal_(m.weight, std=0.02)
                    if isinstance(m, nn.Linear) and m.bias is not None:
                        nn.init.zeros_(m.bias)
                for name, p in self.encoder.named_parameters():
                    if name.endswith("in_proj_weight"):
                        nn.init.normal_(p, std=0.02)
                    elif name.endswith("in_proj_bias"):
                        nn.init.zeros_(p)
                if "id" in item_input:
                    with torch.no_grad():
                        self.id_emb.weight[0].zero_()
            if id_init_vectors is not None:
                init_rows = torch.as_tensor(np.asarray(id_init_vectors, dtype=np.float32))
                if "id" not in item_input or tuple(init_rows.shape) != (n_items, hidden):
                    raise ValueError(f"id_init_vectors of shape {tuple(init_rows.shape)} for item_input={item_input!r}; "
                                     f"expected an ID table and shape ({n_items}, {hidden})")
                with torch.no_grad():
                    self.id_emb.weight[1:] = init_rows
            elif id_random_std is not None:
                if "id" not in item_input:
                    raise ValueError(f"id_random_std for item_input={item_input!r}: there is no ID table")
                with torch.no_grad():
                    self.id_emb.weight[1:].normal_(0.0, float(id_random_std))

        def field_weights(self) -> "torch.Tensor":
            """``float32 [n_items + 1, n_fields]`` attention weights over each item's fields: zero
            on absent fields, rows summing to 1 (all zero for an item without any field and for
            the padding row 0)."""
            has = self.field_mask.any(dim=1)
            safe = self.field_mask.clone()
            safe[:, 0] |= ~has                   # rows without fields attend to field 0, then get zeroed
            return self.field_attention.weights(self.fields, safe) * has[:, None]

        def text_input(self) -> "torch.Tensor":
            """``float32 [n_items + 1, dim_text]`` text input of every item: the (standardised) text
            vector, or with per-field vectors ``Σ_f a_{i,f} x_{i,f}`` — projected by a linear
            ``text_proj``, this is exactly ``Σ_f a_{i,f} text_proj(x_{i,f})`` since the weights sum
            to 1 (an item without any field gets ``text_proj(0)``, like an empty template text)."""
            if self.field_attention is None:
                return self.text
            return torch.einsum("nf,nfd->nd", self.field_weights(), self.fields)

        def item_table(self) -> "torch.Tensor":
            """``float32 [n_items + 1, hidden]`` item rows to score against (row 0 = padding): the
            :meth:`input_table`, or with cosine scores its rows L2-normalised and scaled by ``1/√τ``
            (the raw table is kept, so that :meth:`forward` given this table reads the same rows,
            with the same ID-dropout draw)."""
            return self.score_table(self.input_table())

        def score_table(self, inputs: "torch.Tensor") -> "torch.Tensor":
            """``float32 [n_rows, hidden]`` rows to score against for input rows ``inputs`` (same
            shape, row 0 = padding): ``inputs`` itself, or with cosine scores its rows L2-normalised
            and scaled by ``1/√τ``; remembered, so that :meth:`forward` given the returned table
            reads ``inputs`` (end-to-end tuning builds its input rows from re-encoded text)."""
            if not self.cosine:
                return inputs
            table = torch.cat([inputs[:1], F.normalize(inputs[1:], dim=-1) * self.scale])
            self._last_tables = (table, inputs)
            return table

        def input_table(self) -> "torch.Tensor":
            """``float32 [n_items + 1, hidden]`` item representations the Transformer reads (row 0 = padding)."""
            parts = []
            if self.item_input in ("id", "text-id"):
                mask = self.id_mask if self.item_input == "text-id" else 1.0
                if self.training and self.id_dropout > 0:  # DropoutNet: train on text-only items too
                    mask = mask * (torch.rand(mask.shape, device=mask.device) >= self.id_dropout)
                parts.append(self.id_emb.weight * mask)
            if "text" in self.item_input:
                parts.append(self.text_proj(self.text_input()))
            if len(parts) == 1:
                return parts[0]
            if self.fusion == "concat":
                table = self.fuse(torch.cat([parts[1], parts[0]], dim=-1))
                return table * (self.id_mask + (1 - self.id_mask) * (self.text.abs().sum(1, keepdim=True) > 0))
            return parts[0] + parts[1]

        def forward(self, seq: "torch.Tensor", table: "torch.Tensor | None" = None) -> "torch.Tensor":
            """``float32 [b, L, hidden]`` outputs for ``seq``, given the :meth:`item_table` (``None``:
            computed here); L2-normalised and scaled by ``1/√τ`` with cosine scores.

            Raises
            ------
            ValueError
                With cosine scores, for a ``table`` that is not the latest one :meth:`item_table` or
                :meth:`score_table` returned (its input rows are unknown; use :meth:`encode`)."""
            if self.cosine and table is not None:
                last = getattr(self, "_last_tables", None)
                if last is None or last[0] is not table:
                    raise ValueError("SASRec with cosine scores: forward(seq, table) takes the table that item_table() "
                                     "or score_table() returned last; for other rows call encode(seq, input rows)")
                table = last[1]
            return self.encode(seq, self.input_table() if table is None else table)

        def encode(self, seq: "torch.Tensor", inputs: "torch.Tensor") -> "torch.Tensor":
            """``float32 [b, L, hidden]`` outputs for ``seq`` read from ``inputs``, rows the Transformer
            reads (``[n_rows, hidden]``, row 0 = padding; :meth:`input_table` or rows built like it, e.g.
            by the ANN service for a history of new items); L2-normalised and scaled by ``1/√τ`` with
            cosine scores."""
            b, length = seq.shape
            if self.positions == "start":  # position t = t-th item of the row (Kang & McAuley; RecBole)
                pos = ((seq > 0).long().cumsum(1) - 1).clamp(0, self.max_len - 1)
                x = self.drop(self.norm(inputs[seq] + self.pos_emb(pos)))
            else:  # position counted from the most recent item (the last column is always max_len - 1)
                pos = torch.arange(self.max_len - length, self.max_len, device=seq.device)
                x = self.drop(self.norm(inputs[seq] + self.pos_emb(pos)[None]))
            pad = seq == 0
            causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).triu(1)
            eye = torch.eye(length, dtype=torch.bool, device=seq.device)
            # masked = future keys, or padding keys (a position may always see itself, so no row is empty)
            mask = causal[None] | (pad[:, None, :] & ~eye[None])
            mask = mask.repeat_interleave(self.n_heads, dim=0)
            out = self.encoder(x, mask=mask)
            return F.normalize(out, dim=-1) * self.scale if self.cosine else out

    return SASRecNet()



def score_last_position(net, histories: list[np.ndarray], max_len: int, n_items: int | None = None) -> np.ndarray:
    """Full-ranking scores of a sequential net: the Transformer state at the last (most recent)
    position dotted with every item row of ``net.item_table()``.

    Parameters
    ----------
    net:
        A module with ``item_table() -> [1 + n, dim]`` (row 0 = padding) and
        ``forward(seq [b, max_len] int64, table) -> [b, max_len, dim]``.
    histories:
        Per user, the item indices in time order; left-padded/truncated to ``max_len``.
    n_items:
        Score only the first ``n_items`` items (``None``: every row of the table).

    Returns
    -------
    np.ndarray
        ``float32 [len(histories), n_items]``.
    """
    import torch

    from lmrec.training.sequences import left_pad

    net.eval()
    with torch.inference_mode():
        table = net.item_table()
        seq = torch.from_numpy(left_pad(histories, max_len))
        h = net(seq, table)[:, -1]
        rows = table[1:] if n_items is None else table[1:n_items + 1]
        return (h @ rows.T).float().numpy()

class SASRec(Recommender):
    """SASRec recommender (see module docstring).

    Parameters
    ----------
    item_input:
        ``"id" | "text" | "text-id"``.
    hidden, n_layers, n_heads, inner, dropout, max_len:
        Transformer size (defaults: RecBole's SASRec: 64, 2, 2, 256; dropout 0.5; 50).
    lr, weight_decay, batch_size, epochs, patience:
        Adam optimiser and early stopping on validation NDCG@10. The defaults (lr 1e-3, batch
        2048 examples, patience 10, epoch cap 200) with ``train_target="auto"`` and
        ``init="recbole"`` are RecBole's SASRec recipe. Against lmrec's earlier defaults (every
        position, PyTorch init, lr 2e-3, batch 128) it was better on Amazon Scientific (test
        Recall@10, ID / text / text + ID) and on validation NDCG@10 of LC-Rec Scientific and Food
        (ID and text + ID; ``*@old-defaults`` rows of ``bench/results/text_vs_id.json``), at
        1.6–6 times the training time. Long histories under ``"auto"`` (every position, e.g.
        MovieLens) make few steps per epoch at this batch size and need more epochs (ml-100k:
        110–170).
    max_train_seconds:
        Stop training after this wall time (seconds; ``0`` = no limit); the best epoch so far is kept.
    train_negatives:
        Items in the training softmax: ``"all"`` catalog items, or ``"train_items"`` only
        (items with a training interaction). With ``"all"``, items held out as cold are
        pushed down as negatives in every step although no user could have met them — use
        ``"train_items"`` for cold-start experiments.
    train_target:
        ``"all-positions"``: each training window predicts the next item at every position
        (Kang & McAuley's original objective); ``"last"``: RecBole's prefix augmentation —
        every prefix of a training sequence is one example and only its last position is
        trained (same (prefix → next item) pairs, each weighted once per epoch); ``"auto"``:
        ``"last"`` when the mean training sequence is at most 20 items long, else
        ``"all-positions"`` (prefixes cost about n / 2 times the tokens of the windows); the default.
    fusion:
        How ``text-id`` combines its two item parts (both ``[n_items + 1, hidden]``): ``"sum"``
        (UniSRec's transductive text + ID) or ``"concat"`` (``Linear([text ; id])``, 2·hidden →
        hidden). Either way the ID part is zero for items without training interactions, so a
        cold item is represented by its text alone.
    positions:
        Position embeddings counted ``"end"``: from the most recent item (the last input is
        always position ``max_len - 1``), or ``"start"``: from the first item of the input (Kang
        & McAuley; RecBole). With ``"start"`` and a causal mask, the state at position ``t`` of
        a window is the state of its prefix ending at ``t``, so ``train_target="all-positions"``
        trains the prefix-augmented examples in one pass.
    init:
        ``"torch"`` (PyTorch's default layer initialisation) or ``"recbole"`` (every linear and
        embedding weight ~ N(0, 0.02), zero biases, as RecBole's SASRec; the default).
    text_norm:
        ``"standardize"`` (per-dimension z-scores of the text vectors, see
        :func:`standardize_text_vectors`) or ``"none"``.
    text_adaptor, adaptor_hidden:
        Map from text vectors to ``hidden``: ``"linear"`` (the class default) or ``"mlp"`` (two layers,
        ``adaptor_hidden`` GELU units, default 1024: 460,000 weights for 384-d text vectors, as many
        as a 64-d ID table of 7,000 items). Ignored by ``item_input="id"``. The MLP memorises
        items: on Amazon Scientific it gains on items with training interactions and loses on
        cold ones (``bench/results/text_vs_id.md``, "Cold-start items"); with ``scores="cosine"``
        it keeps them (see ``scores``). The model name ``sasrec-text`` defaults to ``"mlp"`` with
        cosine scores (:data:`lmrec.models.registry.NAME_DEFAULTS`); ``sasrec-text-id`` keeps the
        class defaults.
    id_dropout:
        ``text-id`` only: probability, ``0 ≤ p < 1``, that an item's ID part is zeroed in a training
        step (module docstring; default 0). Cold items are text alone at inference, so without it
        they are ranked by a text projection trained only as a complement to ID vectors. Measured
        with p = 0.5 on Amazon Scientific with 10 % cold items: it does not close the cold gap of
        text + ID to text alone (``bench/results/text_vs_id.md``, "Cold-start items").
    id_init, id_init_std:
        ``"random"`` (``init``'s random rows; the default) or ``"text"``: the ID table starts from the
        items' text vectors (:func:`text_pca_init`, entries scaled to standard deviation
        ``id_init_std``, by default 0.1 ≈ a trained ID table's spread; module docstring), so the
        run encodes item text like a text model, but with ``item_input="id"`` the trained model reads
        IDs only. With ``item_input="text-id"`` the ID part of the sum starts from text too (the text part is
        unchanged); ``item_input="text"`` has no ID table and raises ``ValueError``.
        ``id_init_std`` with ``id_init="random"`` draws the ID rows from ``N(0, id_init_std)`` (by
        default they keep ``init``'s spread): the control that separates what the text start brings
        from what its spread brings.
    scores, temperature:
        ``"dot"`` (Kang & McAuley; RecBole; the class default) or ``"cosine"``: cosine of sequence
        output and item row over ``temperature`` (UniSRec's 0.07 by default; module docstring).
        With ``text_adaptor="mlp"`` on Amazon Scientific and LC-Rec with 10 % cold items (3 seeds)
        cosine scores kept the MLP's gain on warm targets and lost no measurable share of the
        cold ones against the linear adaptor, where with dot products it loses up to a quarter of them
        (``bench/results/text_vs_id.md``, "Cold-start items").

    Attributes
    ----------
    net_:
        The trained ``torch.nn.Module``.
    """

    name = "sasrec"
    sequential = True

    def __init__(self, item_input: str = "id", hidden: int = 64, n_layers: int = 2, n_heads: int = 2,
                 inner: int = 256, dropout: float = 0.5, max_len: int = 50, lr: float = 1e-3,
                 weight_decay: float = 0.0, batch_size: int = 2048, epochs: int = 200, patience: int = 10,
                 max_train_seconds: float = 0.0, text_norm: str = "standardize", train_negatives: str = "all",
                 train_target: str = "auto", init: str = "recbole", fusion: str = "sum",
                 positions: str = "end", text_adaptor: str = "linear", adaptor_hidden: int = 1024,
                 id_dropout: float = 0.0, scores: str = "dot", temperature: float = 0.07,
                 id_init: str = "random", id_init_std: float | None = None):
        if id_init not in ("random", "text"):
            raise ValueError(f"SASRec id_init must be 'random' or 'text', got {id_init!r}")
        if id_init_std is not None and not float(id_init_std) > 0:
            raise ValueError(f"SASRec id_init_std must be > 0, got {id_init_std}")
        if id_init_std is not None and "id" not in item_input:
            raise ValueError(f"SASRec id_init_std sets the spread of the ID table; item_input={item_input!r} has none")
        if id_init == "text" and "id" not in item_input:
            raise ValueError(f"SASRec id_init='text' starts the ID table from text; item_input={item_input!r} has "
                             "no ID table (use sasrec-id or sasrec-text-id)")
        if scores not in ("dot", "cosine"):
            raise ValueError(f"SASRec scores must be 'dot' or 'cosine', got {scores!r}")
        if not float(temperature) > 0:
            raise ValueError(f"SASRec temperature must be > 0, got {temperature}")
        if not 0.0 <= float(id_dropout) < 1.0:
            raise ValueError(f"SASRec id_dropout must be in [0, 1), got {id_dropout}")
        if id_dropout and item_input != "text-id":
            raise ValueError(f"SASRec id_dropout drops the ID part of text + ID items; item_input={item_input!r} "
                             "has no such part (use sasrec-text-id)")
        if text_adaptor not in ("linear", "mlp"):
            raise ValueError(f"SASRec text_adaptor must be 'linear' or 'mlp', got {text_adaptor!r}")
        if int(adaptor_hidden) < 1:
            raise ValueError(f"SASRec adaptor_hidden must be ≥ 1, got {adaptor_hidden}")
        if positions not in ("start", "end"):
            raise ValueError(f"SASRec positions must be 'start' or 'end', got {positions!r}")
        if fusion not in ("sum", "concat"):
            raise ValueError(f"SASRec fusion must be 'sum' or 'concat', got {fusion!r}")
        if train_target not in ("auto", "all-positions", "last"):
            raise ValueError(f"SASRec train_target must be 'auto', 'all-positions' or 'last', got {train_target!r}")
        if init not in ("torch", "recbole"):
            raise ValueError(f"SASRec init must be 'torch' or 'recbole', got {init!r}")
        if train_negatives not in ("all", "train_items"):
            raise ValueError(f"SASRec train_negatives must be 'all' or 'train_items', got {train_negatives!r}")
        if text_norm not in ("standardize", "none"):
            raise ValueError(f"SASRec text_norm must be 'standardize' or 'none', got {text_norm!r}")
        if item_input not in ITEM_INPUTS:
            raise ValueError(f"item_input must be one of {ITEM_INPUTS}, got {item_input!r}")
        for key, value in (("hidden", hidden), ("n_layers", n_layers), ("n_heads", n_heads), ("inner", inner),
                           ("max_len", max_len), ("batch_size", batch_size), ("epochs", epochs),
                           ("patience", patience)):
            if int(value) < 1:
                raise ValueError(f"SASRec {key} must be ≥ 1, got {value}")
        if hidden % n_heads:
            raise ValueError(f"SASRec hidden ({hidden}) must be divisible by n_heads ({n_heads})")
        if not 0.0 <= dropout < 1.0 or lr <= 0:
            raise ValueError(f"SASRec needs 0 ≤ dropout < 1 and lr > 0 (got dropout={dropout}, lr={lr})")
        super().__init__(item_input=item_input, hidden=hidden, n_layers=n_layers, n_heads=n_heads, inner=inner,
                         dropout=dropout, max_len=max_len, lr=lr, weight_decay=weight_decay,
                         batch_size=batch_size, epochs=epochs, patience=patience,
                         max_train_seconds=max_train_seconds, text_norm=text_norm,
                         train_negatives=train_negatives, train_target=train_target, init=init,
                         fusion=fusion, positions=positions, text_adaptor=text_adaptor,
                         adaptor_hidden=int(adaptor_hidden), id_dropout=float(id_dropout), scores=scores,
                         temperature=float(temperature), id_init=id_init,
                         id_init_std=None if id_init_std is None else float(id_init_std))

    @property
    def needs_item_vectors(self) -> bool:  # type: ignore[override]
        """Text vectors are read by the text inputs, and by ``id_init="text"`` to start the ID table."""
        return "text" in self.config["item_input"] or self.config.get("id_init", "random") == "text"

    @property
    def history_input(self) -> str:  # type: ignore[override]
        """``"text"`` for sasrec-text (an item without text is a zero input), else ``"id"``."""
        return "text" if self.config["item_input"] == "text" else "id"

    def _build(self, n_items: int, item_vectors: np.ndarray | None, warm: np.ndarray | None, item_fields=None,
               initial: bool = False):
        """Create ``net_``; ``initial`` (training, not loading) applies ``id_init``."""
        c = self.config
        self.n_items_ = n_items
        self.warm_items_ = warm
        id_init_vectors, id_random_std = None, None
        std = c.get("id_init_std")
        if initial and c.get("id_init", "random") == "text":
            if item_vectors is None:
                raise ValueError("SASRec id_init='text' needs the item text vectors (TrainData.item_vectors)")
            id_init_vectors = text_pca_init(item_vectors, c["hidden"], std=TEXT_INIT_STD if std is None else std)
        elif initial and std is not None:
            id_random_std = std
        reads_text = "text" in c["item_input"]
        self.net_ = build_sasrec_net(n_items, c["item_input"], item_vectors if reads_text else None,
                                     c["hidden"], c["n_layers"], c["n_heads"], c["inner"], c["dropout"],
                                     c["max_len"], warm, c.get("text_norm", "none"),
                                     c.get("init", "torch"), c.get("fusion", "sum"),
                                     field_vectors=None if item_fields is None else item_fields.vectors,
                                     field_mask=None if item_fields is None else item_fields.mask,
                                     positions=c.get("positions", "end"),
                                     text_adaptor=c.get("text_adaptor", "linear"),
                                     adaptor_hidden=c.get("adaptor_hidden", 1024),
                                     id_dropout=c.get("id_dropout", 0.0), scores=c.get("scores", "dot"),
                                     temperature=c.get("temperature", 0.07), id_init_vectors=id_init_vectors,
                                     id_random_std=id_random_std)

    def fit(self, data: TrainData) -> "SASRec":
        """Train on ``data``; with ``data.item_fields`` (per-field vectors) the text input is the
        field attention of the module docstring.

        Raises
        ------
        ValueError
            If ``data.item_fields`` is given to ``sasrec-id`` (no text input).
        """
        import torch

        from lmrec.training.trainer import train_sequential

        torch.manual_seed(data.seed)  # the initial weights too come from the run's seed
        self._build(data.split.n_items, data.item_vectors, data.split.warm_items, data.item_fields, initial=True)
        self.history_ = train_sequential(self, data)
        return self

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        return score_last_position(self.net_, histories, self.config["max_len"])

    def _save_weights(self, path: Path) -> None:
        save_net_weights(path, self.net_, self.warm_items_)

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None, item_fields=None) -> None:
        state, warm = load_net_weights(path)
        if "text" in self.config["item_input"] and item_vectors is None and item_fields is None:
            raise ValueError(f"{path}: SASRec ({self.config['item_input']}) needs the item text vectors to load")
        attends = any(k.startswith("field_attention.") for k in state)
        if attends and item_fields is None:
            raise ValueError(f"{path}: this SASRec attends over per-field item vectors (field_aggregation="
                             "'attention'); load it with its run's item_field_vectors.npy / item_field_mask.npy "
                             "(lmrec.pipeline.load_run does)")
        if item_fields is not None and not attends:
            raise ValueError(f"{path}: this SASRec was trained without field attention; load it without item_fields")
        n_items = (int(state["id_emb.weight"].shape[0]) - 1 if "id_emb.weight" in state
                   else item_fields.n_items if item_fields is not None else len(item_vectors))
        self._build(n_items, item_vectors, warm, item_fields)
        self.net_.load_state_dict(state)
