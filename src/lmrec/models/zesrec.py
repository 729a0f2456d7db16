"""ZESRec: zero-shot recommendation from item text (Ding et al., 2021).

H. Ding, Y. Ma, A. Deoras, Y. Wang, H. Wang, "Zero-Shot Recommender Systems", arXiv:2105.08318.

* item vector ``v_i = P x_i + MLP(x_i)`` of the frozen text vector ``x_i`` (no item ID anywhere);
* user vector = a GRU over the history's item vectors, started from a **learned start item**
  so that a user with an empty history still gets a vector, plus a skip path from the last
  item (see :class:`ZESRecNet` for why the skip paths are there);
* score = ``cos(u, v_i) / τ``.

Because nothing is tied to item or user ids, a model trained on source domains applies to a
target domain with no target training at all: encode the target items' text and score
(:func:`lmrec.training.pretrain.zero_shot_evaluate`). The :class:`ZESRec` recommender can also
be trained in-domain (registry name ``zesrec``); its training loop
(:func:`lmrec.training.pretrain.train_zesrec`) is the same as in multi-domain pre-training
(:func:`pretrain_zesrec`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmrec.models.base import Recommender, TrainData
from lmrec.training.sequences import left_aligned

if TYPE_CHECKING:  # pragma: no cover
    from lmrec.training.pretrain import PretrainConfig


class ZESRecNet(nn.Module):
    """Item map + GRU user model, both with identity-initialised skip paths.

    * item vector ``v = P x + MLP(x)``: ``P`` is a fixed-size linear map initialised orthogonal
      (it keeps the text vectors' geometry), the MLP's last layer starts at zero;
    * user vector after ``t`` items ``u_t = v_t + out(GRU(start, v_1..v_t))`` (``v_0`` = learned
      start item), ``out`` starting at zero;
    * scores are cosine similarities over a temperature ``τ`` (:meth:`similarity`).

    So the untrained net already ranks items by text similarity to the last history item, and
    training on the source domains learns *corrections* to it. Without the skip paths (MLP and
    GRU from scratch, dot-product scores) the net memorised the ~18k source items and learned no
    transferable notion of similarity: near-random zero-shot Recall@10 on Scientific (0.0046).

    Parameters
    ----------
    text_dim:
        Size of the text vectors.
    hidden:
        Size of item and user vectors.
    dropout:
        Dropout inside the item MLP.
    max_len:
        History items read by the GRU (the last ``max_len``).
    temperature:
        ``τ`` of the cosine scores (0.07, as UniSRec).
    """

    def __init__(self, text_dim: int, hidden: int = 128, dropout: float = 0.1, max_len: int = 50,
                 temperature: float = 0.07):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"ZESRec temperature must be > 0, got {temperature}")
        self.proj = nn.Linear(text_dim, hidden, bias=False)
        nn.init.orthogonal_(self.proj.weight)
        self.item_mlp = nn.Sequential(nn.Linear(text_dim, 2 * hidden), nn.GELU(), nn.Dropout(dropout),
                                      nn.Linear(2 * hidden, hidden))
        nn.init.zeros_(self.item_mlp[-1].weight)
        nn.init.zeros_(self.item_mlp[-1].bias)
        self.start = nn.Parameter(torch.randn(hidden) * 0.02)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, hidden)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.max_len = max_len
        self.temperature = temperature

    def items(self, text: torch.Tensor) -> torch.Tensor:
        """Item vectors ``[m, hidden]`` of text vectors ``[m, text_dim]``."""
        return self.proj(text) + self.item_mlp(text)

    def users(self, item_vecs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """User vectors after every step.

        Parameters
        ----------
        item_vecs:
            ``float [b, L, hidden]`` left-aligned history item vectors (padding anywhere after ``lengths``).
        lengths:
            ``int64 [b]`` true history lengths (may be 0).

        Returns
        -------
        ``float [b, L + 1, hidden]``: position ``t`` is the user after ``t`` items (``t = 0``: the
        start item only), so position ``lengths[j]`` is user ``j``'s current vector. The GRU is
        causal, so the padding after ``lengths[j]`` never reaches that position.
        """
        b = item_vecs.shape[0]
        x = torch.cat([self.start.expand(b, 1, -1), item_vecs], dim=1)
        h, _ = self.gru(x)
        return x + self.out(h)

    def similarity(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """``float [n, m]`` scores ``cos(u, v) / τ`` of users ``[n, hidden]`` and items ``[m, hidden]``."""
        return F.normalize(users, dim=-1) @ F.normalize(items, dim=-1).T / self.temperature


class ZESRec(Recommender):
    """ZESRec recommender (see module docstring).

    Parameters
    ----------
    hidden, dropout, max_len, temperature:
        Network size (128, 0.1, 50) and score temperature (0.07).
    lr, batch_size, epochs, max_train_seconds:
        Adam training with in-batch softmax (:func:`lmrec.training.pretrain.train_zesrec`).

    Attributes
    ----------
    net_:
        The :class:`ZESRecNet`.
    """

    name = "zesrec"
    sequential = True
    needs_item_vectors = True
    history_input = "text"

    def __init__(self, hidden: int = 128, dropout: float = 0.1, max_len: int = 50, temperature: float = 0.07,
                 lr: float = 1e-3, batch_size: int = 256, epochs: int = 20, max_train_seconds: float = 0.0,
                 pretrained_from: str | None = None):
        super().__init__(hidden=hidden, dropout=dropout, max_len=max_len, temperature=temperature, lr=lr,
                         batch_size=batch_size, epochs=epochs, max_train_seconds=max_train_seconds,
                         pretrained_from=pretrained_from)

    @classmethod
    def from_pretrained(cls, pretrained) -> "ZESRec":
        """A ZESRec ready to score any catalogue from a pre-trained ``zesrec`` model (no training)."""
        if pretrained.kind != "zesrec":
            raise ValueError(f"{pretrained.path or 'this pre-trained model'} is a {pretrained.kind!r} model, not ZESRec")
        arch = {k: pretrained.config[k] for k in ("hidden", "dropout", "max_len")}
        if "proj.weight" not in pretrained.state:
            raise ValueError(f"{pretrained.path or 'this pre-trained ZESRec'} was saved by an older ZESRec "
                             "without skip paths (near-random transfer); pre-train it again")
        model = cls(**arch, temperature=pretrained.config.get("temperature", 0.07),
                    pretrained_from=str(pretrained.path or ""))
        model.net_ = ZESRecNet(pretrained.text_dim, **arch, temperature=model.config["temperature"])
        model.net_.load_state_dict(pretrained.state)
        return model

    def set_catalog(self, item_vectors: np.ndarray) -> "ZESRec":
        """Score the items whose text vectors are ``item_vectors`` (``float32 [n_items, text_dim]``)."""
        self.text_ = torch.as_tensor(np.asarray(item_vectors, dtype=np.float32))
        return self

    def fit(self, data: TrainData) -> "ZESRec":
        from lmrec.training.pretrain import train_zesrec

        if data.item_vectors is None:
            raise ValueError("ZESRec needs item text vectors")
        c = self.config
        torch.manual_seed(data.seed)  # the initial weights too come from the run's seed
        self.net_ = ZESRecNet(data.item_vectors.shape[1], c["hidden"], c["dropout"], c["max_len"],
                              c.get("temperature", 0.07))
        self.set_catalog(data.item_vectors)
        self.history_ = train_zesrec(self.net_, data.split.train, self.text_, c, seed=data.seed)
        return self

    def score(self, users: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        self.net_.eval()
        with torch.inference_mode():
            items = self.net_.items(self.text_)
            seq, lengths = left_aligned(histories, self.config["max_len"])
            vecs = items[torch.from_numpy(np.maximum(seq, 0))]
            u = self.net_.users(vecs, torch.from_numpy(lengths))
            user = u[torch.arange(len(lengths)), torch.from_numpy(lengths)]
            return self.net_.similarity(user, items).float().numpy()

    def _save_weights(self, path: Path) -> None:
        from lmrec.training.checkpoint import save_state

        save_state(path / "model.safetensors", self.net_.state_dict())

    def _load_weights(self, path: Path, item_vectors: np.ndarray | None) -> None:
        from lmrec.training.checkpoint import load_state

        if item_vectors is None:
            raise ValueError(f"{path}: ZESRec needs the item text vectors to load")
        c = self.config
        self.net_ = ZESRecNet(item_vectors.shape[1], c["hidden"], c["dropout"], c["max_len"],
                              c.get("temperature", 0.07))
        self.net_.load_state_dict(load_state(path / "model.safetensors"))
        self.set_catalog(item_vectors)

    def state_for_pretrained(self) -> dict[str, Any]:
        return dict(self.net_.state_dict())


# ------------------------------------------------------------------ multi-domain pre-training

def pretrain_zesrec(md, vectors: np.ndarray, cfg: PretrainConfig, *, encoder_identity: dict[str, Any],
                    encoder_hash: str, show_progress: bool = False):
    """Train ZESRec on every domain of ``md`` (source domains only); returns a ``PretrainedModel``.

    The same held-out source users as UniSRec pre-training
    (:func:`lmrec.data.multidomain.hold_out_source_users` with ``cfg.valid_users`` and
    ``cfg.seed``) are removed from training; early stopping on their NDCG@10 (ranking within
    their own domain, ``cfg.patience``, epoch cap ``cfg.epochs``) keeps the best epoch or the
    untrained net (:func:`lmrec.training.pretrain.train_zesrec`). Model selection therefore uses
    source data only. ``cfg.checkpoint_path`` makes the run resumable.

    ``md`` is a :class:`~lmrec.data.multidomain.MultiDomainDataset`, ``vectors`` its
    ``float32 [md.n_items, dim]`` text vectors; ``encoder_identity`` / ``encoder_hash`` name the
    encoder that made them (stored with the weights). The ``pretraining`` report's ``training``
    holds the history (per-epoch rows, ``best_epoch``, ``stopped``, ``peak_rss_mib``,
    ``n_valid_per_domain``).

    Raises
    ------
    ValueError
        If no source sequence has 2 or more items, or the checkpoint belongs to another run.
    """
    from lmrec.data.multidomain import hold_out_source_users
    from lmrec.models.pretrained import PretrainedModel
    from lmrec.training.pretrain import pretrain_checkpoint_key, train_zesrec

    torch.manual_seed(cfg.seed)
    arch = {"hidden": cfg.zesrec_hidden, "dropout": 0.1, "max_len": cfg.max_len, "temperature": cfg.temperature}
    net = ZESRecNet(vectors.shape[1], **arch)
    holdout = hold_out_source_users(md, cfg.valid_users, seed=cfg.seed)
    key = pretrain_checkpoint_key("zesrec", cfg, md, vectors) if cfg.checkpoint_path else None
    hist = train_zesrec(net, holdout.train, torch.from_numpy(np.asarray(vectors, dtype=np.float32)),
                        {"max_len": cfg.max_len, "lr": cfg.lr, "batch_size": cfg.batch_size, "epochs": cfg.epochs,
                         "max_train_seconds": cfg.max_train_seconds, "patience": cfg.patience}, seed=cfg.seed,
                        holdout=holdout, checkpoint_path=cfg.checkpoint_path, checkpoint_key=key,
                        show_progress=show_progress)
    return PretrainedModel("zesrec", arch, {k: v.detach().clone() for k, v in net.state_dict().items()},
                           int(vectors.shape[1]), encoder_identity, encoder_hash,
                           {"config": cfg.to_dict(), "training": hist, "domains": md.describe(),
                            "validation": f"{holdout.n_valid} held-out source users (last item from the rest), "
                                          "NDCG@10 within their own domain; best epoch kept"})
