"""PLM-NR: news recommendation with a pre-trained language model as news encoder
(Wu, Wu, Qi, Huang, "Empowering News Recommendation with Pre-trained Language Models",
SIGIR 2021).

News encoder: the PLM (default: the transformers module of the packaged all-MiniLM-L6-v2; any
BERT-family encoder by path/name) over the title (optionally + abstract / category via
``fields``), token states pooled by **attention** (additive attention, the paper's choice),
``cls`` or ``mean``. User encoder: NRMS-style self-attention + additive attention over the
clicked news vectors; dot-product score; trained by negative sampling (1 click + 4 non-clicks,
softmax CE).

Fine-tuning: only the last ``tune_layers`` (K, default 2) Transformer layers are trained, with
a lower learning rate (``plm_lr``) than the pooling and user encoder (``lr``). ``tune_layers=0``
is the frozen variant. CPU trick: the token states after the frozen lower ``L − K`` layers are
computed **once per news** and kept (float16, ``[n_news, max_title_tokens, hidden]``); each step
runs only the K tuned layers over the distinct news of the batch. With K = 0 and ``cls`` /
``mean`` pooling the news vectors are fixed (cached) and only the user encoder learns.

Bounds: titles cut at ``max_title_tokens`` (32) pieces, histories at the last ``max_history``
(50) clicks.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from lmrec.models.news_attention import AdditiveAttention
from lmrec.models.news_biencoder import BiEncoderNet, BiEncoderNewsModel, NewsInputs
from lmrec.models.news_text import tokenize_news, warn_on_vocabulary_mismatch
from lmrec.models.plm_layers import embed, load_plm, run_layers

POOLINGS = ("attention", "cls", "mean")

#: Frozen lower-layer token states shared by PLM-NR instances in one process, keyed by
#: (encoder, frozen layers, max_title_tokens, fields): the CLS/mean/attention variants of a
#: benchmark encode each news once.
_SHARED_STATES: dict[tuple, NewsInputs] = {}


class PLMNewsEncoder(nn.Module):
    """Cached lower-layer token states ``[m, T, d]`` + mask → news vectors ``[m, d]``.

    Runs the tuned top layers (``nn.ModuleList``, possibly empty) then pools.
    """

    def __init__(self, top_layers: nn.ModuleList, hidden: int, pooling: str, query_dim: int) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.top_layers = top_layers
        self.pooling = pooling
        self.pool = AdditiveAttention(hidden, query_dim) if pooling == "attention" else None

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = run_layers(self.top_layers, states, mask) if len(self.top_layers) else states
        if self.pooling == "cls":
            return h[:, 0]
        if self.pooling == "mean":
            m = mask.unsqueeze(-1).to(h.dtype)
            return (h * m).sum(1) / m.sum(1).clamp_min(1.0)
        return self.pool(h, mask)


class PLMNR(BiEncoderNewsModel):
    """PLM-NR (see the module docstring).

    Parameters
    ----------
    encoder:
        PLM folder or name (``None`` = packaged all-MiniLM-L6-v2). For German NeMig pass a
        multilingual model; an English vocabulary on other text triggers a warning with the
        measured unknown-token rate and fragmentation.
    pooling:
        ``"attention"`` (default), ``"cls"`` or ``"mean"``.
    tune_layers:
        Last K Transformer layers fine-tuned (0 = frozen PLM).
    lr, plm_lr:
        Adam learning rates of pooling + user encoder and of the tuned PLM layers.
    fields, max_title_tokens, max_history, heads, query_dim, dropout, epochs, batch_size,
    npratio, max_train_seconds, max_train_samples, seed:
        As in :class:`~lmrec.models.nrms.NRMS`.
    """

    name = "plm-nr"

    def __init__(self, encoder: str | None = None, pooling: str = "attention", tune_layers: int = 2,
                 fields: Sequence[str] = ("title",), max_title_tokens: int = 32, max_history: int = 50,
                 heads: int = 8, query_dim: int = 128, dropout: float = 0.2, epochs: int = 2,
                 batch_size: int = 32, lr: float = 5e-4, plm_lr: float = 5e-5, npratio: int = 4,
                 max_train_seconds: float | None = None, max_train_samples: int | None = None,
                 seed: int = 0) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if tune_layers < 0:
            raise ValueError(f"tune_layers must be ≥ 0, got {tune_layers}")
        super().__init__(encoder=encoder, pooling=pooling, tune_layers=tune_layers, fields=list(fields),
                         max_title_tokens=max_title_tokens, max_history=max_history, heads=heads,
                         query_dim=query_dim, dropout=dropout, epochs=epochs, batch_size=batch_size,
                         lr=lr, plm_lr=plm_lr, npratio=npratio, max_train_seconds=max_train_seconds,
                         max_train_samples=max_train_samples, seed=seed)
        self._plm = None
        self.vocabulary_fit_: dict | None = None

    def _load_plm(self):
        if self._plm is None:
            tok, model, label = load_plm(self.config["encoder"])
            n_layers = len(model.encoder.layer)
            if self.config["tune_layers"] > n_layers:
                raise ValueError(f"tune_layers={self.config['tune_layers']} but {label} has "
                                 f"{n_layers} layers")
            for p in model.parameters():
                p.requires_grad_(False)
            self._plm = (tok, model, label)
        return self._plm

    def _build_net(self) -> BiEncoderNet:
        import copy

        c = self.config
        tok, model, _ = self._load_plm()
        k = c["tune_layers"]
        layers = model.encoder.layer
        top = nn.ModuleList([copy.deepcopy(layer) for layer in layers[len(layers) - k:]] if k else [])
        for p in top.parameters():
            p.requires_grad_(True)
        hidden = model.config.hidden_size
        tower = PLMNewsEncoder(top, hidden, c["pooling"], c["query_dim"])
        return BiEncoderNet(tower, hidden, c["heads"], c["query_dim"], c["dropout"])

    @torch.no_grad()
    def _prepare(self, texts: list[str], ids: list[str]) -> NewsInputs:
        tok, model, label = self._load_plm()
        if self.vocabulary_fit_ is None:
            self.vocabulary_fit_ = warn_on_vocabulary_mismatch(tok, texts, label,
                                                               max_tokens=self.config["max_title_tokens"] - 2)
        tok_ids, mask = tokenize_news(tok, texts, self.config["max_title_tokens"])
        ids_t, mask_t = torch.from_numpy(tok_ids), torch.from_numpy(mask)
        lower = model.encoder.layer[:len(model.encoder.layer) - self.config["tune_layers"]]
        hidden = model.config.hidden_size
        st = torch.zeros(len(texts), tok_ids.shape[1], hidden, dtype=torch.float16)
        order = torch.argsort(mask_t.sum(1), descending=True)   # length-sorted: little padding
        for i in range(0, len(texts), 128):
            rows = order[i:i + 128]
            width = int(mask_t[rows].sum(1).max())
            m = mask_t[rows, :width]
            st[rows, :width] = run_layers(lower, embed(model, ids_t[rows, :width]), m).to(torch.float16)
        return NewsInputs({"states": st, "mask": mask_t}, ids)

    def _inputs_for(self, data, ids):
        key = (self._load_plm()[2], self.config["tune_layers"], self.config["max_title_tokens"],
               tuple(self.config["fields"]))
        self._inputs = _SHARED_STATES.get(key)
        inputs = super()._inputs_for(data, ids)
        _SHARED_STATES[key] = inputs
        return inputs

    def _param_groups(self, net: BiEncoderNet) -> list[dict]:
        plm = [p for p in net.tower.top_layers.parameters()]
        plm_ids = {id(p) for p in plm}
        rest = [p for p in net.parameters() if id(p) not in plm_ids and p.requires_grad]
        groups = [{"params": rest, "lr": self.config["lr"]}]
        if plm:
            groups.append({"params": plm, "lr": self.config["plm_lr"]})
        return groups

    def fit(self, data, log=None, valid=None, patience=2, eval_every=None):
        super().fit(data, log, valid=valid, patience=patience, eval_every=eval_every)
        if self.vocabulary_fit_ is None:      # states came from the shared cache
            ids = data.referenced_news()
            self.vocabulary_fit_ = warn_on_vocabulary_mismatch(
                self._load_plm()[0], data.texts(ids, self.config["fields"]), self._load_plm()[2],
                max_tokens=self.config["max_title_tokens"] - 2)
        self.fit_info_["vocabulary_fit"] = self.vocabulary_fit_
        self.fit_info_["encoder_name"] = self._load_plm()[2]
        return self
