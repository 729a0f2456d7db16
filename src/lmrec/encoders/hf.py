"""Encoder over any ``transformers.AutoModel`` + ``AutoTokenizer``, with explicit pooling.

Covers BERT-style encoders (``cls`` as in PLM-NR / UNBERT, ``mean`` as in Sentence-BERT),
encoder–decoder models (only the encoder runs, as in Sentence-T5) and decoder-only LLMs
(``last_token`` as in E5-Mistral, optionally loaded from a GGUF file).

Decoder LLMs often have no pad token: the EOS token is used for padding. Padding side: the
tokenizer's own is kept unless ``padding_side`` says otherwise, and both are handled — pooling
looks at the attention mask (:mod:`lmrec.encoders.pooling`), and with left padding the
position ids are computed from the mask so each text sees positions ``0..len-1`` exactly as
with right padding. Right and left padding therefore give the same vectors (tested).

References
----------
Wu et al., "Empowering News Recommendation with Pre-trained Language Models" (PLM-NR),
SIGIR 2021; Reimers & Gurevych, Sentence-BERT, EMNLP 2019; Ni et al., "Sentence-T5",
Findings of ACL 2022; Wang et al., "Improving Text Embeddings with Large Language Models"
(E5-Mistral), 2023.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from lmrec.encoders.base import (
    ENCODER_VERSION,
    TextEncoder,
    model_identity_fingerprints,
    position_limit,
    positions_from_padding,
    resolve_model,
    tokenizer_limit,
)
from lmrec.encoders.pooling import POOLINGS

DTYPES = ("float32", "float16", "bfloat16")


class HFEncoder(TextEncoder):
    """Texts → pooled last hidden states of a transformers model.

    Parameters
    ----------
    model:
        Local folder written by ``save_pretrained`` (or holding a GGUF file), or a Hugging
        Face Hub id (needs the Hub or the local HF cache).
    pooling:
        ``"cls"`` (first real token), ``"mean"`` (mask-weighted mean) or ``"last_token"``
        (last real token; use it for decoder-only LLMs). See :mod:`lmrec.encoders.pooling`.
    max_length:
        Tokens per text including special tokens and ``prefix``; longer texts are cut at the
        end. Lowered, with a warning, to what the tokenizer/position embeddings allow.
    normalize:
        L2-normalise each vector.
    prefix:
        Instruction prepended to every non-empty text, e.g.
        ``"Instruct: Represent this product for recommendation\\nQuery: "``. Part of the
        identity, so it keys the cache.
    gguf_file:
        Name of a ``.gguf`` file inside ``model`` to load (dequantised by transformers; needs
        the ``gguf`` package). The weights fingerprint then covers that file only. The
        dequantised model is saved once as safetensors in the cache
        (:func:`lmrec.encoders.gguf.gguf_to_safetensors`) and loaded from there afterwards.
    device:
        torch device string.
    dtype:
        ``"float32"`` (default), ``"float16"`` or ``"bfloat16"`` for the weights; output
        vectors are always float32.
    padding_side:
        ``"left"``, ``"right"`` or ``None`` (the tokenizer's own). Does not change the
        vectors; exposed for parity checks and for models documented with left padding.
    bf16:
        Run the forward pass under CPU bfloat16 autocast (weights stay in ``dtype``). Used
        only where :func:`lmrec.encoders.cpu.bf16_supported` detects native support, else a
        warning and no autocast; the identity's ``dtype`` gains ``"+bf16-autocast"`` when on.

    Raises
    ------
    ValueError
        Unknown ``pooling``/``dtype``/``padding_side``, ``max_length < 1``, or a tokenizer with
        neither a pad nor an EOS token.
    FileNotFoundError, ModelNotAvailableError
        From :func:`~lmrec.encoders.base.resolve_model`.
    """

    backend = "transformers"

    def __init__(
        self,
        model: str | Path,
        pooling: Literal["cls", "mean", "last_token"] = "mean",
        max_length: int = 256,
        normalize: bool = True,
        prefix: str = "",
        gguf_file: str | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        padding_side: Literal["left", "right"] | None = None,
        bf16: bool = False,
    ) -> None:
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {sorted(POOLINGS)}, got {pooling!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        if padding_side not in (None, "left", "right"):
            raise ValueError(f"padding_side must be 'left', 'right' or None, got {padding_side!r}")
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")

        import torch
        from transformers import AutoModel, AutoTokenizer

        self._resolved = resolve_model(model, gguf_file=gguf_file)
        self.pooling = pooling
        self.normalize = bool(normalize)
        self.prefix = str(prefix)
        self.gguf_file = gguf_file
        self.device = device
        self.dtype = dtype

        kwargs: dict[str, Any] = {"local_files_only": True}
        path = str(self._resolved.path)
        if gguf_file is not None:
            if not (self._resolved.path / gguf_file).is_file():
                raise FileNotFoundError(f"no GGUF file {gguf_file!r} in {self._resolved.path}")
            from lmrec.encoders.gguf import gguf_to_safetensors

            path = str(gguf_to_safetensors(self._resolved.path / gguf_file))
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        net = AutoModel.from_pretrained(path, dtype=getattr(torch, dtype), **kwargs)
        if getattr(net.config, "is_encoder_decoder", False) and hasattr(net, "get_encoder"):
            net = net.get_encoder()
        net.to(device).eval()

        if tokenizer.pad_token is None:
            if tokenizer.eos_token is None:
                raise ValueError(
                    f"the tokenizer of {self._resolved.name} has neither a pad nor an EOS token, "
                    f"so batches cannot be padded; set tokenizer.pad_token in the model folder"
                )
            tokenizer.pad_token = tokenizer.eos_token
        self._padding_side = padding_side or tokenizer.padding_side or "right"

        limits = [x for x in (tokenizer_limit(tokenizer), position_limit(net)) if x is not None]
        if limits and max_length > min(limits):
            warnings.warn(
                f"max_length={max_length} exceeds what {self._resolved.name} can take "
                f"({min(limits)} tokens); using {min(limits)}",
                stacklevel=2,
            )
            max_length = min(limits)
        self._max_length = int(max_length)

        params = inspect.signature(net.forward).parameters
        self._pass_token_types = "token_type_ids" in params
        self._pass_positions = "position_ids" in params and not positions_from_padding(net)
        self._tokenizer = tokenizer
        self._model = net

        from lmrec.encoders.cpu import bf16_supported

        self.bf16_active = False
        if bf16:
            if str(device).startswith("cpu") and bf16_supported():
                self.bf16_active = True
            else:
                warnings.warn(f"bf16=True but bfloat16 autocast is not natively supported here "
                              f"(device {device!r}); encoding in {dtype}", stacklevel=2)

        cfg = net.config
        dim = getattr(cfg, "hidden_size", None) or getattr(cfg, "d_model", None)
        self._dim = int(dim) if isinstance(dim, int) else int(self._encode_batch(["dimension probe"]).shape[1])
        self._identity: dict[str, Any] | None = None

    # -- TextEncoder ----------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def padding_side(self) -> str:
        return self._padding_side

    @property
    def model(self) -> Any:
        """The underlying ``transformers`` model (the encoder of an encoder–decoder)."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    def _settings(self) -> dict[str, Any]:
        return {
            "encoder_version": ENCODER_VERSION,
            "backend": self.backend,
            "model": self._resolved.name,
            "revision": self._resolved.revision,
            "gguf_file": self.gguf_file,
            "pooling": self.pooling,
            "max_length": self._max_length,
            "normalize": self.normalize,
            "prefix": self.prefix,
            "dtype": self.dtype + ("+bf16-autocast" if self.bf16_active else ""),
            "dim": self._dim,
        }

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            weights, config = model_identity_fingerprints(
                self._resolved, [self._resolved.path], gguf_file=self.gguf_file
            )
            self._identity = {**self._settings(), "weights": weights, "config": config}
        return dict(self._identity)

    def encode(self, texts, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """As :meth:`TextEncoder.encode`; under bf16 autocast the whole call shares one autocast
        region, so the bf16 copies of the weights are made once per call, not once per batch."""
        from lmrec.encoders.cpu import bf16_autocast

        with bf16_autocast(self.bf16_active):
            return super().encode(texts, batch_size=batch_size, show_progress=show_progress)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        enc = self._tokenizer(
            [self.prefix + t for t in texts],
            padding=True,
            truncation=True,
            max_length=self._max_length,
            padding_side=self._padding_side,
            return_tensors="pt",
        )
        ids = enc["input_ids"].to(self.device)  # [batch, seq_len]
        mask = enc["attention_mask"].to(self.device)  # [batch, seq_len]
        inputs = {"input_ids": ids, "attention_mask": mask}
        if self._pass_token_types and "token_type_ids" in enc:
            inputs["token_type_ids"] = enc["token_type_ids"].to(self.device)
        if self._padding_side == "left" and self._pass_positions:
            # Each text gets positions 0..len-1 as under right padding; pads get 0 (masked).
            inputs["position_ids"] = (mask.long().cumsum(dim=-1) - 1).clamp(min=0)
        from lmrec.encoders.cpu import bf16_autocast

        with torch.inference_mode(), bf16_autocast(self.bf16_active):
            hidden = self._model(**inputs).last_hidden_state  # [batch, seq_len, dim]
            pooled = POOLINGS[self.pooling](hidden, mask).float()  # [batch, dim]
            if self.normalize:
                pooled = F.normalize(pooled, p=2, dim=-1)
        return pooled.cpu().numpy()

    def _token_lengths(self, texts: list[str]) -> list[int]:
        enc = self._tokenizer(
            [self.prefix + t for t in texts], add_special_tokens=True, truncation=False, verbose=False
        )
        return [len(ids) for ids in enc["input_ids"]]
