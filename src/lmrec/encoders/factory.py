"""One entry point from a model name to a :class:`~lmrec.encoders.base.TextEncoder`.

Resolution order of :func:`load_encoder`:

1. ``None``, ``"minilm"``, ``"all-MiniLM-L6-v2"`` or ``"sentence-transformers/all-MiniLM-L6-v2"``
   → the packaged all-MiniLM-L6-v2 through :class:`SentenceTransformerEncoder` (offline).
2. A local folder with ``modules.json`` → :class:`SentenceTransformerEncoder`.
3. Any other local folder (``config.json`` + weights), or a ``.gguf`` file → :class:`HFEncoder`.
4. Anything else is a Hugging Face Hub id: fetched when a Hub is reachable (or found in the
   local HF cache), then dispatched as 2/3. Offline, this fails with
   :class:`~lmrec.encoders.base.ModelNotAvailableError` asking for a local path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lmrec.encoders.base import ResolvedModel, TextEncoder, resolve_model

DEFAULT_ALIASES = frozenset({"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})
"""Names (case-insensitive) meaning the packaged default model."""

DEFAULT_HF_MAX_LENGTH = 256


def load_encoder(
    name: str | Path | None = None,
    *,
    pooling: Literal["cls", "mean", "last_token"] | None = None,
    max_length: int | None = None,
    normalize: bool = True,
    prefix: str = "",
    device: str = "cpu",
) -> TextEncoder:
    """Build the encoder for ``name``.

    Parameters
    ----------
    name:
        ``None``/alias of the packaged MiniLM, a local model folder, a ``.gguf`` file, or a
        Hub id (see the module docstring for the order).
    pooling:
        For transformers folders: ``"cls"``, ``"mean"`` (default) or ``"last_token"``.
        sentence-transformers models fix their pooling in their ``Pooling`` module, so passing
        it for them is an error.
    max_length:
        Tokens per text; ``None`` = the model's own setting (sentence-transformers) or 256.
    normalize:
        L2-normalise vectors.
    prefix:
        Instruction prepended to every non-empty text.
    device:
        torch device string.

    Returns
    -------
    TextEncoder
        A :class:`SentenceTransformerEncoder` or :class:`HFEncoder`.

    Raises
    ------
    ValueError
        If ``pooling`` is given for a sentence-transformers model.
    FileNotFoundError
        If ``name`` is a path that does not exist, or a folder with neither ``modules.json``
        nor ``config.json``.
    ModelNotAvailableError
        If ``name`` is a Hub id that cannot be fetched (offline): pass a local path instead.
    """
    from lmrec.encoders.hf import HFEncoder
    from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder

    if name is None or (isinstance(name, str) and name.strip().lower() in DEFAULT_ALIASES):
        _refuse_pooling(pooling, "the packaged all-MiniLM-L6-v2")
        return SentenceTransformerEncoder(None, device=device, normalize=normalize,
                                          max_length=max_length, prefix=prefix)

    resolved: ResolvedModel = resolve_model(name)
    path = resolved.path
    target: str | Path = name if resolved.from_hub else path
    if path.is_file() and path.suffix == ".gguf":
        return HFEncoder(path.parent, pooling=pooling or "last_token",
                         max_length=max_length or DEFAULT_HF_MAX_LENGTH, normalize=normalize,
                         prefix=prefix, gguf_file=path.name, device=device)
    if (path / "modules.json").is_file():
        _refuse_pooling(pooling, str(name))
        return SentenceTransformerEncoder(target, device=device, normalize=normalize,
                                          max_length=max_length, prefix=prefix)
    if (path / "config.json").is_file():
        return HFEncoder(target, pooling=pooling or "mean",
                         max_length=max_length or DEFAULT_HF_MAX_LENGTH, normalize=normalize,
                         prefix=prefix, device=device)
    raise FileNotFoundError(
        f"{path} is not a model folder: it has neither modules.json (sentence-transformers) nor "
        f"config.json (transformers save_pretrained)"
    )


def _refuse_pooling(pooling: str | None, what: str) -> None:
    if pooling is not None:
        raise ValueError(
            f"pooling={pooling!r} cannot be applied to {what}: a sentence-transformers model "
            f"fixes its pooling in its Pooling module. To pool its transformer yourself use "
            f"HFEncoder(<model folder>, pooling={pooling!r})"
        )
