"""Running a BERT-family encoder layer by layer, so lower layers can be frozen and cached.

PLM-NR fine-tunes only the last K Transformer layers (Wu et al., SIGIR 2021); on CPU the token
states after the frozen lower layers are computed once per news and cached, and each training
step runs only the top K layers. UNBERT uses the same split to back-propagate through the
top K layers only. Supported: models whose transformers implementation exposes
``model.embeddings`` and ``model.encoder.layer`` (BERT, MiniLM, RoBERTa, XLM-RoBERTa, ELECTRA…).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


def load_plm(name: str | Path | None) -> tuple[Any, nn.Module, str]:
    """Tokenizer, transformers model (eval mode, float32) and name of a PLM (see :func:`resolve_plm`).

    Raises
    ------
    ValueError
        If the model has no ``embeddings`` / ``encoder.layer`` (not BERT-family).
    """
    from transformers import AutoModel, AutoTokenizer

    from lmrec.models.news_text import resolve_plm

    path, label = resolve_plm(name)
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = AutoModel.from_pretrained(str(path), local_files_only=True,
                                      attn_implementation="eager")
    if not hasattr(model, "embeddings") or not hasattr(getattr(model, "encoder", None), "layer"):
        raise ValueError(f"{label}: {type(model).__name__} has no embeddings/encoder.layer; "
                         f"PLM-NR/UNBERT need a BERT-family encoder (BERT, RoBERTa, XLM-R, MiniLM)")
    model.eval()
    return tok, model, label


def additive_mask(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``[b, T]`` bool (True = real token) → ``[b, 1, 1, T]`` additive mask (0 or dtype min)."""
    return ((~mask.bool()).to(dtype) * torch.finfo(dtype).min)[:, None, None, :]


def embed(model: nn.Module, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Input embeddings ``[b, T, hidden]`` (word + position + token type, LayerNorm)."""
    if token_type_ids is None:
        token_type_ids = torch.zeros_like(input_ids)
    return model.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)


def run_layers(layers: Any, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Apply Transformer ``layers`` in order. ``hidden`` ``[b, T, d]``, ``mask`` ``[b, T]`` bool."""
    ext = additive_mask(mask, hidden.dtype)
    for layer in layers:
        out = layer(hidden, attention_mask=ext)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden
