"""TransRec-style end-to-end tuning: the text encoder's last layers train with the recommender.

Follows the recipe of TransRec (Wang et al., "TransRec: Learning Transferable Recommendation
from Mixture-of-Modality Feedback", 2022) and PLM-NR's finding that tuning the top layers of a
pre-trained LM is about as good as tuning all of it (Wu et al., "Empowering News Recommendation
with Pre-trained Language Models", SIGIR 2021), made affordable on CPU:

* the frozen bottom of the encoder (embeddings + first ``L − n`` layers) runs **once** over all
  item texts; its hidden states are cached (``float32 [n_items, max_tokens, dim]``);
* the last ``n`` layers are a trainable copy (the shared encoder object is never modified),
  followed by the encoder's mean pooling and L2 normalisation;
* every step, up to ``items_per_step`` items of the batch are re-encoded through the trainable
  layers (gradients flow into them with their own, lower learning rate); all other items use
  cached vectors, refreshed once per epoch with the tuned layers;
* a re-encoded row enters the loss with the *cached* value and the re-encoded row's gradient
  (``cached + fresh − stop_grad(fresh)``), and the encoder's dropout is off. Otherwise the few
  fresh rows — mostly the batch's targets — differ from all cached rows, and the full-softmax
  recommender learns to spot them instead of the items (measured: validation NDCG fell from the
  first epoch, even at an encoder learning rate of 5e-6).

Works with the default sentence-transformers BERT-family encoders (MiniLM). The recommender is a
:class:`~lmrec.models.sasrec.SASRec` with ``item_input="text"`` that has been fitted (the tuning
continues from it).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch
from torch import nn


class TopLayerItemEncoder(nn.Module):
    """Item texts → vectors through a cached frozen bottom and trainable top layers.

    Parameters
    ----------
    encoder:
        A :class:`~lmrec.encoders.sentence_transformer.SentenceTransformerEncoder` (BERT-like
        ``auto_model`` with ``embeddings`` and ``encoder.layer``; mean pooling).
    texts:
        ``n_items`` item texts (``""`` → zero vector, as the embedding cache does).
    n_tuned_layers:
        Top layers to train (PLM-NR: the last 1–2 are enough).
    max_tokens:
        Tokens per text (truncation); the bottom cache costs ``n_items × max_tokens × dim × 4`` bytes.

    Raises
    ------
    ValueError
        If the encoder is not a sentence-transformers BERT-family model, or ``n_tuned_layers``
        is not in ``[1, n_layers]``.
    """

    def __init__(self, encoder, texts: list[str], n_tuned_layers: int = 1, max_tokens: int = 32,
                 chunk: int = 256):
        super().__init__()
        st = getattr(encoder, "model", None)
        try:
            module = st[0]
            bert, tok = module.auto_model, module.tokenizer
            layers = bert.encoder.layer
        except (TypeError, AttributeError, IndexError):
            raise ValueError("end-to-end tuning needs a sentence-transformers encoder with a BERT-like model "
                             "(e.g. the default all-MiniLM-L6-v2)") from None
        if not 1 <= n_tuned_layers <= len(layers):
            raise ValueError(f"n_tuned_layers must be in [1, {len(layers)}], got {n_tuned_layers}")
        self.normalize = bool(getattr(encoder, "normalize", True))
        self.top = nn.ModuleList(copy.deepcopy(layers[len(layers) - n_tuned_layers:]))
        for p in self.top.parameters():
            p.requires_grad_(True)
        self.empty = torch.tensor([not t.strip() for t in texts])
        batch = tok([t if t.strip() else "." for t in texts], truncation=True, max_length=max_tokens,
                    padding="max_length", return_tensors="pt")
        self.register_buffer("mask", batch["attention_mask"].float(), persistent=False)
        hidden = []
        bert.eval()
        with torch.inference_mode():
            for i in range(0, len(texts), chunk):
                ids = batch["input_ids"][i:i + chunk]
                h = bert.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
                add = self._additive(self.mask[i:i + chunk])
                for layer in layers[:len(layers) - n_tuned_layers]:
                    h = _first(layer(h, attention_mask=add))
                hidden.append(h.clone())
        self.register_buffer("bottom", torch.cat(hidden), persistent=False)
        self.info = {"n_tuned_layers": n_tuned_layers, "n_layers": len(layers), "max_tokens": max_tokens,
                     "bottom_cache_bytes": int(self.bottom.numel() * 4),
                     "tuned_parameters": int(sum(p.numel() for p in self.top.parameters()))}

    @staticmethod
    def _additive(mask: torch.Tensor) -> torch.Tensor:
        return (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """Vectors ``float [len(rows), dim]`` of items ``rows`` (``int64``), with gradients to the top layers."""
        h = self.bottom[rows]
        mask = self.mask[rows]
        add = self._additive(mask)
        for layer in self.top:
            h = _first(layer(h, attention_mask=add))
        pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)
        if self.normalize:
            pooled = nn.functional.normalize(pooled, dim=-1)
        return pooled * (~self.empty[rows]).float()[:, None]

    @torch.no_grad()
    def encode_all(self, chunk: int = 512) -> torch.Tensor:
        """``float [n_items, dim]`` vectors of every item with the current top layers."""
        was = self.training
        self.eval()
        out = torch.cat([self(torch.arange(i, min(i + chunk, len(self.bottom))))
                         for i in range(0, len(self.bottom), chunk)])
        self.train(was)
        return out


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def tune_end_to_end(model, data, item_encoder: TopLayerItemEncoder, *, encoder_lr: float = 2e-5,
                    epochs: int = 2, items_per_step: int = 128, max_train_seconds: float = 0.0,
                    recommender_lr: float | None = None, show_progress: bool = False) -> dict[str, Any]:
    """Continue training a fitted text SASRec with the encoder's top layers (see module docstring).

    Parameters
    ----------
    model:
        Fitted :class:`~lmrec.models.sasrec.SASRec` with ``item_input="text"``.
    data:
        Its :class:`~lmrec.models.base.TrainData` (same split).
    item_encoder:
        :class:`TopLayerItemEncoder` over the same items, in internal item order.
    encoder_lr:
        Learning rate of the tuned encoder layers.
    recommender_lr:
        Learning rate of the recommender during the continuation (``None``: its own ``lr``). A
        fitted model restarted with a fresh Adam at its full ``lr`` first loses accuracy; a lower
        rate (e.g. a tenth) continues from where it stopped.
    epochs, items_per_step, max_train_seconds:
        Cost bounds; ``encoder_lr = 0`` gives the frozen control with the same schedule.

    Returns
    -------
    History: per-epoch loss / valid NDCG@10 / seconds, ``best_epoch``, ``encoder`` info,
    ``train_seconds``. The best epoch's weights (recommender and encoder layers) are restored and
    the recommender's text table holds the best epoch's refreshed vectors.
    """
    from lmrec.evaluation.ranking import evaluate_ranking
    from lmrec.training.sequences import left_pad, training_windows
    from lmrec.training.trainer import length_bucketed_batches, next_item_loss

    if model.config.get("item_input") != "text":
        raise ValueError("end-to-end tuning applies to SASRec with item_input='text'")
    net, cfg = model.net_, model.config
    torch.manual_seed(data.seed)
    rng = np.random.default_rng(data.seed)
    stats: dict[str, torch.Tensor] = {}

    def standardise(v: torch.Tensor) -> torch.Tensor:
        return (v - stats["mean"]) / stats["std"] * (v.abs().sum(1, keepdim=True) > 0)

    def refresh() -> None:
        # the standardisation is refitted on every refresh: fitted once, it magnified the drift of
        # low-variance dimensions as the tuned layers moved (validation collapsed after one epoch)
        vecs = item_encoder.encode_all()
        nonzero = vecs.abs().sum(1) > 0
        stats.update(mean=vecs[nonzero].mean(0), std=vecs[nonzero].std(0) + 1e-6)
        net.text = torch.cat([torch.zeros(1, vecs.shape[1]), standardise(vecs)])

    refresh()
    rec_lr = cfg["lr"] if recommender_lr is None else float(recommender_lr)
    if not rec_lr > 0:
        raise ValueError(f"recommender_lr must be > 0, got {recommender_lr!r}")
    groups = [{"params": list(net.parameters()), "lr": rec_lr}]
    for p in item_encoder.top.parameters():   # set both ways: one encoder may serve a frozen and a tuned run
        p.requires_grad_(encoder_lr > 0)
    if encoder_lr > 0:
        groups.append({"params": list(item_encoder.top.parameters()), "lr": encoder_lr})
    opt = torch.optim.Adam(groups)
    windows = training_windows(data.split.train, cfg["max_len"])
    lengths = np.array([len(w) for w in windows])

    def validate() -> float:
        res = evaluate_ranking(model.score, data.split.valid, data.split.n_items, ks=(10,),
                               exclude_history=data.exclude_history)
        return float(res["metrics"]["ndcg@10"])

    best = {"value": validate(), "epoch": -1, "net": copy.deepcopy(net.state_dict()),
            "enc": copy.deepcopy(item_encoder.top.state_dict()), "text": net.text.clone()}
    history: dict[str, Any] = {"epochs": [], "start_valid_ndcg@10": round(best["value"], 5),
                               "encoder": dict(item_encoder.info, encoder_lr=encoder_lr,
                                               items_per_step=items_per_step), "recommender_lr": rec_lr}
    start, stopped = time.perf_counter(), "epochs"
    for epoch in range(epochs):
        t0, total, n = time.perf_counter(), 0.0, 0
        # The encoder's dropout stays off: only the re-encoded rows would carry dropout noise, and
        # the recommender learns to spot noisy rows (mostly this batch's targets) instead of items.
        net.train(); item_encoder.eval()
        for idx in length_bucketed_batches(lengths, cfg["batch_size"], rng):
            batch = [windows[i] for i in idx]
            seq = torch.from_numpy(left_pad(batch, cfg["max_len"] + 1))
            text = net.text
            if encoder_lr > 0:
                items = np.unique(np.concatenate(batch))
                rows = rng.choice(items, size=min(items_per_step, len(items)), replace=False)
                rows_t = torch.from_numpy(np.sort(rows))
                fresh = standardise(item_encoder(rows_t))
                # Forward value = the cached row, gradient = the re-encoded row's: otherwise the rows
                # re-encoded this step (mostly the batch's targets) differ from every other row and the
                # recommender learns to spot them (a leak that lowers validation accuracy).
                text = text.index_copy(0, rows_t + 1, text[rows_t + 1] + (fresh - fresh.detach()))
            # score_table: the rows to score against (normalised with cosine scores); the net reads the raw ones
            rows_in = net.text_proj(text) * (torch.arange(len(text)) > 0)[:, None]
            loss = next_item_loss(net, seq, net.score_table(rows_in))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()); n += 1
            if max_train_seconds and time.perf_counter() - start > max_train_seconds:
                stopped = "time"
                break
        refresh()
        value = validate()
        history["epochs"].append({"epoch": epoch, "loss": round(total / max(1, n), 5),
                                  "valid_ndcg@10": round(value, 5), "seconds": round(time.perf_counter() - t0, 2)})
        if show_progress:
            print(f"  e2e epoch {epoch}  loss {total / max(1, n):.4f}  valid ndcg@10 {value:.4f}  "
                  f"({time.perf_counter() - t0:.0f}s)", flush=True)
        if math.isfinite(value) and value > best["value"]:
            best.update(value=value, epoch=epoch, net=copy.deepcopy(net.state_dict()),
                        enc=copy.deepcopy(item_encoder.top.state_dict()), text=net.text.clone())
        if stopped == "time":
            break
    net.load_state_dict(best["net"])
    item_encoder.top.load_state_dict(best["enc"])
    net.text = best["text"]
    history.update(best_epoch=best["epoch"], best_valid_ndcg=round(best["value"], 5), stopped=stopped,
                   train_seconds=round(time.perf_counter() - start, 2))
    return history
