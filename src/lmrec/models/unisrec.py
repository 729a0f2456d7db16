"""UniSRec: universal sequence representations from item text (Hou et al., KDD 2022).

Y. Hou, S. Mu, W. X. Zhao, Y. Li, B. Ding, J.-R. Wen, "Towards Universal Sequence Representation
Learning for Recommender Systems", KDD 2022.

Item text vector ``x`` (frozen encoder) → **mixture-of-experts adaptor** of ``n_experts``
parametric-whitening experts ``W_k (x − b_k)`` (learned centre ``b_k``, dropout on ``x``),
combined by a softmax gate ``softmax(x G + ε ⊙ softplus(x G_noise))`` whose Gaussian noise ``ε``
is used only while training (no top-k) → SASRec Transformer (2 layers, 2 heads, max length 50;
the blocks of :mod:`lmrec.models.sasrec` are reused). Scores are cosine similarities over a
temperature ``τ``: both the sequence output and the item representations are L2-normalised
and divided by ``√τ`` so that their dot product is ``cos/τ``.

Modes of the :class:`UniSRec` recommender:

``"inductive"``
    items are their text only (works for any item with text: cold items, new domains);
``"transductive"``
    text + a learnable ID embedding per item; the ID part is zero for items without training
    interactions, which fall back to their text.

Pre-training (sequence–item + sequence–sequence contrast over several domains):
:func:`pretrain_unisrec`, whose loop is :func:`lmrec.training.pretrain.train_unisrec_contrastive`;
:meth:`UniSRec.from_pretrained` / :func:`finetune_unisrec` start fine-tuning from it, with the
Transformer frozen (``freeze_transformer=True``, the paper's setting) or trained;
:func:`unisrec_zero_shot` scores a new catalogue with no training.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmrec.models.base import Recommender, TrainData, load_net_weights, save_net_weights
from lmrec.models.sasrec import build_sasrec_net

if TYPE_CHECKING:  # pragma: no cover
    from lmrec.training.pretrain import PretrainConfig

MODES = ("inductive", "transductive")


class PWLayer(nn.Module):
    """Parametric-whitening expert ``W (dropout(x) − b)``: ``[..., dim_in]`` → ``[..., dim_out]``.

    ``b`` (``[dim_in]``) starts at zero; ``W`` has no bias (UniSRec Eq. 2).
    """

    def __init__(self, dim_in: int, dim_out: int, dropout: float = 0.2):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.bias = nn.Parameter(torch.zeros(dim_in))
        self.lin = nn.Linear(dim_in, dim_out, bias=False)
        nn.init.normal_(self.lin.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(self.dropout(x) - self.bias)


class MoEAdaptor(nn.Module):
    """Mixture of parametric-whitening experts with a noisy softmax gate (UniSRec Eq. 3–4).

    Parameters
    ----------
    dim_in, dim_out:
        Text vector size and output size (300 in the paper).
    n_experts:
        Number of experts (8).
    dropout:
        Dropout on the expert inputs (0.2).

    ``forward(x)``: ``float [..., dim_in]`` → ``float [..., dim_out]``; :meth:`gate` gives the
    ``[..., n_experts]`` weights (rows sum to 1). During training the gate logits get Gaussian
    noise scaled by ``softplus(x W_noise)`` (input-dependent); in eval mode the gate is
    deterministic. All experts are used (no top-k).
    """

    def __init__(self, dim_in: int, dim_out: int = 300, n_experts: int = 8, dropout: float = 0.2):
        super().__init__()
        self.experts = nn.ModuleList(PWLayer(dim_in, dim_out, dropout) for _ in range(n_experts))
        self.w_gate = nn.Parameter(torch.zeros(dim_in, n_experts))
        self.w_noise = nn.Parameter(torch.zeros(dim_in, n_experts))

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        logits = x @ self.w_gate
        if self.training:
            std = F.softplus(x @ self.w_noise) + 1e-2
            logits = logits + torch.randn_like(logits) * std
        return torch.softmax(logits, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = self.gate(x)                                                    # [..., k]
        out = torch.stack([e(x) for e in self.experts], dim=-2)             # [..., k, dim_out]
        return (g.unsqueeze(-1) * out).sum(dim=-2)


class UniSRecNet(nn.Module):
    """Adaptor + SASRec encoder (+ optional ID embedding) over a catalogue of text vectors.

    Parameters
    ----------
    text_dim:
        Size of the frozen text vectors.
    hidden, n_layers, n_heads, inner, dropout, max_len:
        Transformer (UniSRec: 300, 2, 2, 256, 0.5, 50).
    n_experts, adaptor_dropout:
        Adaptor (8, 0.2).
    temperature:
        ``τ`` of the cosine scores (0.07).

    Buffers set by :meth:`set_catalog`: ``text`` ``float [n_items + 1, text_dim]`` (row 0 =
    padding) and, in transductive mode, ``id_mask`` ``[n_items + 1, 1]``. Not saved: the
    catalogue is data, the weights are domain-independent (except ``id_emb``).
    """

    def __init__(self, text_dim: int, hidden: int = 300, n_layers: int = 2, n_heads: int = 2, inner: int = 256,
                 dropout: float = 0.5, max_len: int = 50, n_experts: int = 8, adaptor_dropout: float = 0.2,
                 temperature: float = 0.07):
        super().__init__()
        self.adaptor = MoEAdaptor(text_dim, hidden, n_experts, adaptor_dropout)
        # the SASRec blocks (position embedding, LayerNorm, causal Transformer) with an external item table
        self.seq = build_sasrec_net(0, "id", None, hidden, n_layers, n_heads, inner, dropout, max_len, None)
        self.scale = 1.0 / math.sqrt(temperature)
        self.hidden = hidden
        self.id_emb: nn.Embedding | None = None
        self.register_buffer("text", torch.zeros(1, text_dim), persistent=False)

    # -- catalogue --------------------------------------------------------------------
    def set_catalog(self, text_vectors: np.ndarray, transductive: bool = False,
                    warm: np.ndarray | None = None) -> None:
        """Use ``text_vectors`` (``float32 [n_items, text_dim]``) as the item catalogue; with
        ``transductive``, add an ID embedding (zeroed for items where ``warm`` is False)."""
        tv = torch.as_tensor(np.asarray(text_vectors, dtype=np.float32))
        self.text = torch.cat([torch.zeros(1, tv.shape[1]), tv])
        if transductive:
            n = tv.shape[0]
            self.id_emb = nn.Embedding(n + 1, self.hidden, padding_idx=0)
            nn.init.normal_(self.id_emb.weight, std=0.02)
            with torch.no_grad():
                self.id_emb.weight[0].zero_()
            mask = torch.ones(n + 1) if warm is None else torch.cat([torch.zeros(1), torch.as_tensor(warm, dtype=torch.float32)])
            self.register_buffer("id_mask", mask.unsqueeze(1), persistent=False)
        else:
            self.id_emb = None

    def represent(self, text: torch.Tensor, ids: torch.Tensor | None = None) -> torch.Tensor:
        """Raw item representations ``[m, hidden]`` of text vectors ``[m, text_dim]`` (+ ID rows ``ids``)."""
        out = self.adaptor(text)
        if self.id_emb is not None and ids is not None:
            out = out + self.id_emb(ids) * self.id_mask[ids]
        return out

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """``x / ‖x‖ · 1/√τ`` so that dot products are cosine / τ."""
        return F.normalize(x, dim=-1) * self.scale

    def input_table(self) -> torch.Tensor:
        """``float [n_items + 1, hidden]`` raw (un-normalised) catalogue representations, row 0 = 0.

        This is what the Transformer reads, in pre-training (:func:`lmrec.training.pretrain.pretrain_unisrec`
        feeds the raw adaptor outputs of the batch's items), fine-tuning and scoring alike, as in
        the UniSRec code; only the *scores* use the normalised rows of :meth:`item_table`.
        """
        ids = torch.arange(1, self.text.shape[0])
        rows = self.represent(self.text[1:], ids)
        return torch.cat([rows.new_zeros(1, rows.shape[1]), rows])

    def item_table(self) -> torch.Tensor:
        """``float [n_items + 1, hidden]`` normalised catalogue representations (row 0 = 0), for scoring.

        The raw table it was computed from is kept so that :meth:`forward` given this table feeds
        the Transformer the same (same dropout / gate noise) raw rows.
        """
        raw = self.input_table()
        table = torch.cat([raw[:1], self.normalise(raw[1:])])
        self._last_tables = (table, raw)
        return table

    def encode(self, seq: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """Raw Transformer output ``[b, L, hidden]`` of ``seq`` (``int64 [b, L]`` rows of ``table``,
        a *raw* table such as :meth:`input_table`)."""
        return self.seq(seq, table)

    def forward(self, seq: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """Normalised sequence outputs ``[b, L, hidden]`` (the trainer's interface).

        ``table`` is the normalised *output* table the caller scores against (from
        :meth:`item_table`); the Transformer always reads the raw representations
        (:meth:`input_table`) — feeding it the normalised rows (norm ``1/√τ`` ≈ 3.8 instead of the
        ≈ 0.5 it saw in pre-training) was a pre-training/transfer mismatch.
        """
        last = getattr(self, "_last_tables", None)
        raw = last[1] if table is not None and last is not None and last[0] is table else self.input_table()
        return self.normalise(self.encode(seq, raw))

    def transformer_parameters(self) -> list[nn.Parameter]:
        """Parameters frozen by ``freeze_transformer``: position embedding, LayerNorm, Transformer."""
        return [p for name, p in self.seq.named_parameters() if not name.startswith("id_emb")]


def build_unisrec_net(text_dim: int, config: dict[str, Any]) -> UniSRecNet:
    """A :class:`UniSRecNet` from a :class:`UniSRec` / pre-training config dict."""
    keys = ("hidden", "n_layers", "n_heads", "inner", "dropout", "max_len", "n_experts", "adaptor_dropout",
            "temperature")
    return UniSRecNet(text_dim, **{k: config[k] for k in keys if k in config})


class UniSRec(Recommender):
    """UniSRec recommender: train from scratch on one domain, or fine-tune a pre-trained net.

    Parameters
    ----------
    mode:
        ``"inductive"`` (text only) or ``"transductive"`` (text + ID), see module docstring.
    freeze_transformer:
        Keep the Transformer (position embedding, LayerNorm, attention blocks) fixed while
        fine-tuning trained weights (a pre-trained model or ``init_from``); default ``False``
        (everything trains), :meth:`from_pretrained` defaults to ``True`` (the paper's
        fine-tuning). ``True`` without trained weights raises ``ValueError``.
    hidden, n_layers, n_heads, inner, dropout, max_len, n_experts, adaptor_dropout, temperature:
        Architecture (UniSRec defaults: 300, 2, 2, 256, 0.5, 50, 8, 0.2, 0.07).
    lr, batch_size, epochs, patience, max_train_seconds, weight_decay, train_negatives:
        Training: full softmax over the catalogue (see
        :func:`lmrec.training.trainer.train_sequential`), Adam, early stopping on valid NDCG@10;
        defaults are the paper's (lr 1e-3, batch 2048, patience 10) with an epoch cap of 200.
    train_target:
        ``"auto"`` (default), ``"all-positions"`` or ``"last"`` (RecBole's prefix augmentation),
        as for :class:`~lmrec.models.sasrec.SASRec`.
    init_from:
        A UniSRec trained before on the same kind of text vectors, saved by ``lmrec train --out
        DIR`` (``DIR`` or ``DIR/model``): its adaptor and Transformer weights are the starting
        point of this fit (its ID table, tied to its own catalogue, is not carried over). With
        ``mode="transductive"`` on the run of an inductive model this is two-stage in-domain
        training: text first, then text + ID — the paper's transductive fine-tuning with the
        in-domain text model in place of the multi-domain pre-training. See
        :func:`trained_unisrec_state`.

    Attributes
    ----------
    net_:
        The trained :class:`UniSRecNet`.
    init_state_:
        Pre-trained weights the fit starts from (``None``: from scratch).
    """

    name = "unisrec"
    sequential = True
    needs_item_vectors = True
    history_input = "text"

    def __init__(self, mode: str = "inductive", freeze_transformer: bool = False, hidden: int = 300,
                 n_layers: int = 2, n_heads: int = 2, inner: int = 256, dropout: float = 0.5, max_len: int = 50,
                 n_experts: int = 8, adaptor_dropout: float = 0.2, temperature: float = 0.07, lr: float = 1e-3,
                 weight_decay: float = 0.0, batch_size: int = 2048, epochs: int = 200, patience: int = 10,
                 max_train_seconds: float = 0.0, train_negatives: str = "all", pretrained_from: str | None = None,
                 train_target: str = "auto", init_from: str | None = None):
        if train_target not in ("auto", "all-positions", "last"):
            raise ValueError(f"train_target must be 'auto', 'all-positions' or 'last', got {train_target!r}")
        if mode not in MODES:
            raise ValueError(f"UniSRec mode must be one of {MODES}, got {mode!r}")
        if not isinstance(freeze_transformer, bool):
            raise ValueError(f"freeze_transformer must be true or false, got {freeze_transformer!r}")
        if hidden % n_heads:
            raise ValueError(f"UniSRec hidden ({hidden}) must be divisible by n_heads ({n_heads})")
        if temperature <= 0 or lr <= 0 or n_experts < 1:
            raise ValueError("UniSRec needs temperature > 0, lr > 0 and n_experts ≥ 1")
        super().__init__(mode=mode, freeze_transformer=freeze_transformer, hidden=hidden, n_layers=n_layers,
                         n_heads=n_heads, inner=inner, dropout=dropout, max_len=max_len, n_experts=n_experts,
                         adaptor_dropout=adaptor_dropout, temperature=temperature, lr=lr,
                         weight_decay=weight_decay, batch_size=batch_size, epochs=epochs, patience=patience,
                         max_train_seconds=max_train_seconds, train_negatives=train_negatives,
                         pretrained_from=pretrained_from, train_target=train_target, init_from=init_from)
        self.init_state_: dict[str, torch.Tensor] | None = None

    @classmethod
    def from_pretrained(cls, pretrained, mode: str = "inductive", freeze_transformer: bool = True,
                        **params: Any) -> "UniSRec":
        """A recommender that fine-tunes ``pretrained`` (a :class:`~lmrec.models.pretrained.PretrainedModel`
        of kind ``"unisrec"``); the architecture comes from the pre-trained config.

        Raises
        ------
        ValueError
            If ``pretrained`` is not a UniSRec pre-training.
        """
        if pretrained.kind != "unisrec":
            raise ValueError(f"{pretrained.path or 'this pre-trained model'} is a {pretrained.kind!r} model, "
                             "not UniSRec; fine-tune it with its own class")
        arch = {k: pretrained.config[k] for k in ("hidden", "n_layers", "n_heads", "inner", "dropout", "max_len",
                                                  "n_experts", "adaptor_dropout", "temperature")}
        model = cls(mode=mode, freeze_transformer=freeze_transformer, pretrained_from=str(pretrained.path or ""),
                    **{**arch, **params})
        model.init_state_ = dict(pretrained.state)
        return model

    def _build(self, item_vectors: np.ndarray, warm: np.ndarray | None) -> None:
        c = self.config
        self.net_ = build_unisrec_net(item_vectors.shape[1], c)
        self.net_.set_catalog(item_vectors, transductive=c["mode"] == "transductive", warm=warm)
        self.warm_items_ = warm
        self.n_items_ = len(item_vectors)

    def fit(self, data: TrainData) -> "UniSRec":
        from lmrec.training.trainer import train_sequential

        if data.item_vectors is None:
            raise ValueError("UniSRec needs item text vectors")
        if self.init_state_ is None and self.config.get("init_from"):
            self.init_state_ = trained_unisrec_state(self.config["init_from"], self.config)
        if self.init_state_ is None and self.config["freeze_transformer"]:
            raise ValueError("UniSRec from scratch cannot freeze its randomly initialised Transformer; pass "
                             "freeze_transformer=False, or start from trained weights (init_from=RUN_DIR, "
                             "UniSRec.from_pretrained)")
        torch.manual_seed(data.seed)  # the initial weights too come from the run's seed
        self._build(data.item_vectors, data.split.warm_items)
        if self.init_state_ is not None:
            try:
                missing, unexpected = self.net_.load_state_dict(self.init_state_, strict=False)
            except RuntimeError as exc:  # size mismatch: another text encoder or architecture
                source = self.config.get("init_from") or self.config.get("pretrained_from") or "the pre-trained model"
                raise ValueError(f"weights of {source} do not fit this UniSRec (text vectors of size "
                                 f"{data.item_vectors.shape[1]}): {exc}") from None
            if unexpected or any(not k.startswith("id_emb") for k in missing):
                raise ValueError(f"pre-trained weights do not fit this UniSRec: missing {missing}, "
                                 f"unexpected {unexpected}")
            if self.config["freeze_transformer"]:
                for p in self.net_.transformer_parameters():
                    p.requires_grad_(False)
        self.history_ = train_sequential(self, data)
        self.history_["trainable_parameters"] = int(sum(p.numel() for p in self.net_.parameters() if p.requires_grad))
        return self

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        from lmrec.models.sasrec import score_last_position

        return score_last_position(self.net_, histories, self.config["max_len"])

    def _save_weights(self, path: Path) -> None:
        save_net_weights(path, self.net_, self.warm_items_)

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        if item_vectors is None:
            raise ValueError(f"{path}: UniSRec needs the item text vectors to load")
        state, warm = load_net_weights(path)
        self._build(item_vectors, warm)
        self.net_.load_state_dict(state)


ARCHITECTURE = ("hidden", "n_layers", "n_heads", "inner", "max_len", "n_experts")


def trained_unisrec_state(path: str | Path, config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Adaptor + Transformer weights of a UniSRec saved by :meth:`Recommender.save`, to start a fit from.

    Parameters
    ----------
    path:
        The model directory (``config.json`` + ``model.safetensors``) or a run directory that
        holds it as ``model/`` (what ``lmrec train --out DIR`` writes).
    config:
        The config of the UniSRec that will load the weights; its architecture
        (:data:`ARCHITECTURE` keys) must equal the saved one.

    Returns
    -------
    ``{name: tensor}`` without the ID table (``id_emb.*``), which indexes the saved run's own
    catalogue.

    Raises
    ------
    FileNotFoundError
        If no saved model is found at ``path``.
    ValueError
        If the saved model is not a UniSRec or its architecture differs (the keys are named).
    """
    root = Path(path)
    model_dir = root / "model" if (root / "model" / "config.json").exists() else root
    cfg_file = model_dir / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"init_from={path}: no saved model there (expected {root}/model/config.json or "
                                f"{root}/config.json); train one first, e.g. lmrec train --model unisrec "
                                f"--param mode=inductive --out {root}")
    saved = json.loads(cfg_file.read_text())
    if saved.get("model") != "unisrec":
        raise ValueError(f"{cfg_file}: a {saved.get('model')!r} model; init_from needs a UniSRec run")
    differ = {k: (saved["config"].get(k), config.get(k)) for k in ARCHITECTURE
              if saved["config"].get(k) != config.get(k)}
    if differ:
        raise ValueError(f"{cfg_file}: architecture differs from this UniSRec "
                         f"({', '.join(f'{k}: saved {a} vs {b}' for k, (a, b) in differ.items())}); "
                         "pass the saved values as parameters")
    state, _ = load_net_weights(model_dir)
    return {k: v for k, v in state.items() if not k.startswith("id_emb")}


# ------------------------------------------------------------------ pre-training, fine-tuning, zero-shot

def pretrain_unisrec(md, vectors: np.ndarray, aug_vectors: np.ndarray, cfg: PretrainConfig, *, encoder_identity: dict[str, Any],
                     encoder_hash: str, show_progress: bool = False):
    """Pre-train a UniSRec net on every domain of ``md`` at once.

    Parameters
    ----------
    md:
        :class:`~lmrec.data.multidomain.MultiDomainDataset` of the source domains.
    vectors:
        ``float32 [md.n_items, dim]`` text vectors (global order).
    aug_vectors:
        ``float32 [n_variants, md.n_items, dim]`` word-dropped text vectors.
    cfg:
        :class:`~lmrec.training.pretrain.PretrainConfig` (architecture, optimisation, seed).
    encoder_identity, encoder_hash:
        Identity of the encoder that made ``vectors`` (stored with the weights).

    Returns
    -------
    :class:`~lmrec.models.pretrained.PretrainedModel` of kind ``"unisrec"`` whose
    ``pretraining`` report holds ``config``, ``domains`` (``md.describe()``) and ``training``:
    the history of :func:`~lmrec.training.pretrain.train_unisrec_contrastive` (per-epoch losses
    and held-out Recall/NDCG@10 from epoch -1 = untrained, ``best_epoch``, ``stopped``,
    ``seconds_per_epoch``, ``peak_rss_mib``, ``n_valid_per_domain``). The weights are those of
    the best epoch on the held-out source users (``cfg.valid_users``, ``cfg.patience``);
    ``cfg.checkpoint_path`` makes the run resumable.

    Raises
    ------
    ValueError
        If the vectors do not have the shapes above, or the checkpoint belongs to another run.
    FloatingPointError
        If the loss diverges.
    """
    from lmrec.models.pretrained import PretrainedModel
    from lmrec.training.pretrain import train_unisrec_contrastive

    torch.manual_seed(cfg.seed)
    net = build_unisrec_net(vectors.shape[1], cfg.to_dict())
    history = train_unisrec_contrastive(net, md, vectors, aug_vectors, cfg, show_progress=show_progress)
    arch = {k: getattr(cfg, k) for k in ("hidden", "n_layers", "n_heads", "inner", "dropout", "max_len",
                                         "n_experts", "adaptor_dropout", "temperature")}
    return PretrainedModel("unisrec", arch, {k: v.detach().clone() for k, v in net.state_dict().items()},
                           int(vectors.shape[1]), encoder_identity, encoder_hash,
                           {"config": cfg.to_dict(), "training": history, "domains": md.describe()})


def finetune_unisrec(pretrained, data: TrainData, *, mode: str = "inductive", freeze_transformer: bool = True,
                     **params: Any) -> UniSRec:
    """Fine-tune a pre-trained UniSRec on ``data`` (:class:`~lmrec.models.base.TrainData`).

    ``mode``: ``"inductive"`` (text only) or ``"transductive"`` (text + ID); ``params``
    override fine-tuning hyper-parameters (lr, batch_size, epochs, patience,
    max_train_seconds, …). Returns the fitted :class:`UniSRec`.
    """
    model = UniSRec.from_pretrained(pretrained, mode=mode, freeze_transformer=freeze_transformer, **params)
    return model.fit(data)


def unisrec_zero_shot(pretrained, item_vectors: np.ndarray) -> UniSRec:
    """A pre-trained UniSRec scoring a new catalogue (``float32 [n_items, dim]`` text vectors) with
    no training (inductive, text only)."""
    model = UniSRec.from_pretrained(pretrained, mode="inductive")
    model._build(np.asarray(item_vectors, dtype=np.float32), None)
    model.net_.load_state_dict(pretrained.state)
    model.history_ = {"zero_shot": True}
    return model
