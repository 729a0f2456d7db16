"""ONNX Runtime backend for sentence-transformers models: exported by lmrec, fp32 or int8.

:func:`export_onnx` exports the model's transformer (``torch.onnx.export``, TorchScript
exporter, dynamic ``batch`` and ``sequence`` axes, output ``last_hidden_state``
``[batch, seq_len, hidden]``) and, for ``quantize=True``, quantizes its weights to int8 with
ONNX Runtime's dynamic quantization (``quantize_dynamic``: int8 weights, activations
quantized per batch at run time). Files live in the cache::

    <cache root>/onnx/<model-slug>-<export key>/model.onnx          fp32, as exported
                                                 model.fused.onnx    fp32, ORT graph fusion
                                                 model.int8.onnx     int8 weights (dynamic)
                                                 model.int8-fused.onnx  fused graph, int8 (dynamic)
                                                 export.json         source identity, versions

The ``"onnx"`` backend runs ``model.fused.onnx`` (ONNX Runtime's transformer optimizer fuses
attention, skip-layer-norm and bias-GELU; the plain graph is used when the architecture does
not fuse). The ``"onnx-int8"`` backend runs ``model.int8.onnx``: the weight MatMuls of the
plain graph quantized per channel (see :func:`_quantize`). The ``"onnx-int8-fused"`` backend runs
``model.int8-fused.onnx``: the *fused* graph dynamically quantized (weight MatMuls and the fused
Attention's QKV projection → ``QAttention``; see :func:`_quantize_fused`), with batches packed
by a padded-token budget (:func:`lmrec.encoders.base.token_budget_batches`) — the fastest CPU
path measured in ``bench/results/encode_throughput.md``. Static (calibrated QDQ) int8 was
measured too and is not offered: on all-MiniLM-L6-v2 it was slower than dynamic int8 and its
vectors fell to cosine ≈ 0.92–0.94 to fp32 (likely activation outliers; see the benchmark findings).

The export key hashes the source model's weights/config fingerprints and the export
settings, so a changed model is re-exported and an unchanged one never is. Every file is
written under a temporary name in the same folder and moved into place with ``os.replace``;
concurrent exporters at worst both export, never leave a half-written model.

:class:`OnnxEncoder` then reproduces the sentence-transformers pipeline around the ONNX
graph: same tokenizer and ``max_seq_length``, the model's own Pooling module config (``cls``,
``mean`` or ``lasttoken``; :mod:`lmrec.encoders.pooling`), and lmrec's L2 normalisation (a
trailing ``Normalize`` module is replaced by ``normalize=True``, as in
:class:`~lmrec.encoders.sentence_transformer.SentenceTransformerEncoder`). Modules beyond
Transformer → Pooling → Normalize (``Dense``, ``LayerNorm`` …) are refused.

References
----------
ONNX Runtime, "Quantize ONNX models" (dynamic quantization of transformer models);
Jacob et al., "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-
Only Inference", CVPR 2018 (affine int8 quantization); Zafrir et al., "Q8BERT: Quantized 8Bit
BERT", 2019.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
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
    resolve_model,
    tokenizer_limit,
)

EXPORT_VERSION = "1"
"""Bumped when the export recipe changes (part of the export key and the identity)."""

OPSET = 17
BACKENDS = ("onnx", "onnx-int8", "onnx-int8-fused")

_PAD_OFFSET_MODELS = ("roberta", "xlm-roberta", "camembert", "mpnet", "longformer")
"""Model types whose position ids start after the pad id (positions ``pad_token_id + 1`` on)."""

_ST_POOLINGS = {  # sentence-transformers Pooling config flag → lmrec pooling name
    "pooling_mode_cls_token": "cls",
    "pooling_mode_cls": "cls",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean": "mean",
    "pooling_mode_lasttoken": "last_token",
}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc


def read_st_pipeline(root: Path) -> dict[str, Any]:
    """The Transformer → Pooling → (Normalize) pipeline of a sentence-transformers folder.

    Returns
    -------
    dict
        ``transformer`` (folder of the HF model), ``pooling`` (lmrec pooling name),
        ``max_seq_length`` (int or ``None``), ``do_lower_case`` (bool), ``folders`` (every
        module folder, for fingerprints).

    Raises
    ------
    ValueError
        If ``modules.json`` is missing/unreadable, the first module is not a Transformer,
        the Pooling mode is not one ONNX export reproduces (max, mean-sqrt-len, weighted), or
        a module other than Pooling/Normalize follows (the message names it).
    """
    root = Path(root)
    modules = _read_json(root / "modules.json")
    if not modules or not str(modules[0].get("type", "")).endswith("Transformer"):
        raise ValueError(f"{root / 'modules.json'}: the first module must be a Transformer, got "
                         f"{modules[0].get('type') if modules else 'nothing'}")
    transformer = root / modules[0].get("path", "")
    pooling = None
    folders = [root] + [root / m["path"] for m in modules if m.get("path")]
    for m in modules[1:]:
        kind = str(m.get("type", "")).rsplit(".", 1)[-1]
        if kind == "Pooling":
            cfg = _read_json(root / m.get("path", "") / "config.json")
            mode = cfg.get("pooling_mode")  # sentence-transformers ≥ 6: one string
            if isinstance(mode, list) and len(mode) == 1:
                mode = mode[0]
            if mode is not None:
                flags = {f"pooling_mode_{str(mode).replace('_', '')}"}
            else:  # older: one boolean flag per mode
                flags = {k for k, v in cfg.items() if k.startswith("pooling_mode") and v is True}
            modes = [_ST_POOLINGS[f] for f in flags if f in _ST_POOLINGS]
            if len(flags) != 1 or len(modes) != 1:
                raise ValueError(f"{root / m.get('path', '')}/config.json: the ONNX backend reproduces one "
                                 f"of cls/mean/lasttoken pooling, got {mode if mode is not None else sorted(flags)}")
            if cfg.get("include_prompt") is False:
                raise ValueError(f"{root / m.get('path', '')}/config.json: include_prompt=false is not "
                                 f"supported by the ONNX backend; use backend='st'")
            pooling = modes[0]
        elif kind == "Normalize":
            continue
        else:
            raise ValueError(f"{root / 'modules.json'}: module {kind!r} (after the Transformer) is not "
                             f"supported by the ONNX backend; use backend='st'")
    if pooling is None:
        raise ValueError(f"{root / 'modules.json'}: no Pooling module")
    st_cfg = {}
    for name in ("sentence_bert_config.json", "sentence_xlnet_config.json"):
        if (transformer / name).is_file():
            st_cfg = _read_json(transformer / name)
            break
    return {
        "transformer": transformer,
        "pooling": pooling,
        "max_seq_length": st_cfg.get("max_seq_length"),
        "do_lower_case": bool(st_cfg.get("do_lower_case", False)),
        "folders": folders,
    }


def _atomic_onnx_save(write, path: Path) -> None:
    """Call ``write(tmp_path)`` and move the result to ``path`` (same folder, ``os.replace``)."""
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def export_onnx(
    model: str | Path | None = None,
    *,
    quantize: bool = False,
    cache_root: str | Path | None = None,
) -> Path:
    """Export a sentence-transformers model's transformer to ONNX (once; reused from the cache).

    Parameters
    ----------
    model:
        Local sentence-transformers folder, Hub id, or ``None`` for the packaged
        all-MiniLM-L6-v2.
    quantize:
        Return the dynamically int8-quantized model instead of the fp32 one.
    cache_root:
        Cache root (``None``: :func:`lmrec.encoders.cache.default_cache_root`).

    Returns
    -------
    pathlib.Path
        ``model.fused.onnx`` (or ``model.onnx`` when fusion does not apply) or
        ``model.int8.onnx``; inputs ``input_ids``, ``attention_mask`` [, ``token_type_ids``], all
        int64 ``[batch, seq_len]``; output ``last_hidden_state`` float32
        ``[batch, seq_len, hidden]``) or ``model.int8.onnx``.

    Raises
    ------
    ValueError
        From :func:`read_st_pipeline` for pipelines the export cannot reproduce.
    FileNotFoundError, ModelNotAvailableError
        If the model cannot be found.
    """
    resolved = packaged_model() if model is None else resolve_model(model)
    return _export(resolved, read_st_pipeline(resolved.path), quantize=quantize, cache_root=cache_root)


def _export_key(resolved: ResolvedModel, pipe: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    import torch

    weights, config = model_identity_fingerprints(resolved, pipe["folders"])
    source = {
        "model": resolved.name, "revision": resolved.revision, "weights": weights, "config": config,
        "export_version": EXPORT_VERSION, "opset": OPSET,
        "torch": ".".join(torch.__version__.split("+")[0].split(".")[:2]),
    }
    key = hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:16]
    return key, source


def _export(resolved: ResolvedModel, pipe: dict[str, Any], *, quantize: bool,
            cache_root: str | Path | None, fused_int8: bool = False) -> Path:
    from lmrec.encoders.cache import _slug, default_cache_root

    key, source = _export_key(resolved, pipe)
    root = Path(cache_root).expanduser() if cache_root is not None else default_cache_root()
    folder = root / "onnx" / f"{_slug(Path(resolved.name).name, 40)}-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    plain = folder / "model.onnx"
    if not plain.is_file():
        _atomic_onnx_save(lambda tmp: _torch_export(pipe["transformer"], tmp), plain)
        _atomic_onnx_save(lambda tmp: tmp.write_text(json.dumps(source, indent=2, sort_keys=True)),
                          folder / "export.json")
    if quantize and fused_int8:
        fused = _export(resolved, pipe, quantize=False, cache_root=cache_root)
        if fused.name != "model.fused.onnx":
            reason = (folder / "fusion-failed.txt").read_text().strip() if (folder / "fusion-failed.txt").is_file() else ""
            raise ValueError(f"backend 'onnx-int8-fused' needs ONNX Runtime's transformer fusion, which does not "
                             f"apply to {resolved.name} ({reason or 'no fused graph'}); use backend='onnx-int8'")
        target = folder / "model.int8-fused.onnx"
        if not target.is_file():
            _atomic_onnx_save(lambda tmp: _quantize_fused(fused, tmp), target)
        return target
    if quantize:
        target = folder / "model.int8.onnx"
        if not target.is_file():
            _atomic_onnx_save(lambda tmp: _quantize(plain, tmp), target)
        return target
    target = folder / "model.fused.onnx"
    if not target.is_file() and not (folder / "fusion-failed.txt").is_file():
        try:
            _atomic_onnx_save(lambda tmp: _fuse(plain, tmp, pipe["transformer"]), target)
        except Exception as exc:  # unsupported architecture: the plain graph is still right
            (folder / "fusion-failed.txt").write_text(f"{type(exc).__name__}: {exc}\n")
    return target if target.is_file() else plain


def _quiet_logging():
    import contextlib
    import logging

    @contextlib.contextmanager
    def quiet():
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime's "consider pre-processing" / fusion notices
        try:
            yield
        finally:
            root.setLevel(level)

    return quiet()


def _quantize(plain: Path, out: Path) -> None:
    """Dynamic int8 quantization of the MatMuls that multiply by a weight matrix.

    Per-channel int8 weights (one scale per output column), activations quantized per batch
    at run time. The attention-score MatMuls (query·key, probabilities·value: both operands
    are activations) stay float32: quantizing them too lowers the mean cosine to the fp32
    vectors of all-MiniLM-L6-v2 from ≈ 0.993 to ≈ 0.95 (measured on Amazon Scientific titles).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(plain), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    activation_matmuls = [n.name for n in graph.node
                          if n.op_type == "MatMul" and not any(i in weights for i in n.input)]
    with _quiet_logging():
        quantize_dynamic(str(plain), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=activation_matmuls)


def _quantize_fused(fused: Path, out: Path) -> None:
    """Dynamic int8 quantization of the fused graph: ``MatMul`` → ``DynamicQuantizeMatMul``,
    ``Attention`` → ``QAttention`` (its QKV projection in int8; scores and softmax stay float).

    Per-channel int8 weights, uint8 activations quantized per batch at run time (the u8·s8
    products that AVX512-VNNI / AVX-VNNI / AMX run natively). Per-tensor weights lower the
    cosine to fp32 of all-MiniLM-L6-v2 from ≈ 0.993 to ≈ 0.948 (measured on Amazon Scientific
    texts), so they are not used.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet_logging():
        quantize_dynamic(str(fused), str(out), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul", "Attention"],
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def _fuse(plain: Path, out: Path, transformer_dir: Path) -> None:
    """ONNX Runtime's transformer graph fusion (Attention, SkipLayerNorm, BiasGelu …), fp32.

    Exact up to float rounding (cosine to the unfused graph ≥ 0.99999); raises when the
    architecture is not one the fusion knows.
    """
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig

    cfg = AutoConfig.from_pretrained(str(transformer_dir), local_files_only=True)
    with _quiet_logging():
        fused = optimizer.optimize_model(str(plain), model_type="bert", opt_level=1,
                                         num_heads=int(getattr(cfg, "num_attention_heads", 0) or 0),
                                         hidden_size=int(getattr(cfg, "hidden_size", 0) or 0))
        stats = fused.get_fused_operator_statistics()
    if not stats.get("Attention") and not stats.get("MultiHeadAttention"):
        raise RuntimeError(f"no attention fused ({stats})")
    fused.save_model_to_file(str(out))


def _torch_export(transformer_dir: Path, out: Path) -> None:
    """``torch.onnx.export`` of the HF model in ``transformer_dir`` → ``out`` (one file)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    net = AutoModel.from_pretrained(str(transformer_dir), local_files_only=True, attn_implementation="eager")
    net.eval()
    tok = AutoTokenizer.from_pretrained(str(transformer_dir), local_files_only=True)
    sample = tok(["an export sample", "a second, longer export sample text"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class LastHidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.inner(**dict(zip(names, args))).last_hidden_state

    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(LastHidden(net), tuple(sample[n] for n in names), str(out), dynamo=False,
                          input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True)


class OnnxEncoder(TextEncoder):
    """Texts → vectors of a sentence-transformers model run by ONNX Runtime (fp32 or int8).

    Parameters
    ----------
    model:
        Local sentence-transformers folder, Hub id, or ``None`` for the packaged
        all-MiniLM-L6-v2.
    quantize:
        ``True``: dynamically quantized int8 weights (backend ``"onnx-int8"``, about 4×
        smaller and faster on CPUs with VNNI, cosine to fp32 ≈ 0.99); ``False``: fp32
        (backend ``"onnx"``, same vectors as the PyTorch model up to float rounding).
    normalize:
        L2-normalise each vector.
    max_length:
        Tokens per text; ``None`` keeps the model's ``max_seq_length``. Values above the
        position-embedding limit are lowered, with a warning.
    prefix:
        Instruction prepended to every non-empty text (pooled with the text, as
        sentence-transformers' ``prompt``).
    num_threads:
        ONNX Runtime intra-op threads; ``None`` = every available core
        (:func:`lmrec.encoders.cpu.available_cores`).
    cache_root:
        Where exported models are kept (``None``: the default cache root).
    fused_int8:
        With ``quantize=True``: run the fused graph quantized (``QAttention``; backend
        ``"onnx-int8-fused"``) instead of the plain graph's weight MatMuls.
    max_batch_tokens:
        Pack batches by this padded-token budget (:func:`~lmrec.encoders.base.token_budget_batches`;
        ``encode``'s ``batch_size`` still caps texts per batch). ``None``: batches by count.
        Only speed depends on it — and, for the int8 backends, the last digits of the vectors:
        activations are quantized with one scale per batch.

    Raises
    ------
    ValueError
        Pipelines the export cannot reproduce (see :func:`read_st_pipeline`), ``max_length <
        1``, ``num_threads < 1``, ``max_batch_tokens < 1``, ``fused_int8`` without
        ``quantize``, or ``fused_int8`` for an architecture ONNX Runtime cannot fuse.
    FileNotFoundError, ModelNotAvailableError
        If the model cannot be found.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        quantize: bool = False,
        normalize: bool = True,
        max_length: int | None = None,
        prefix: str = "",
        num_threads: int | None = None,
        cache_root: str | Path | None = None,
        fused_int8: bool = False,
        max_batch_tokens: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoConfig, AutoTokenizer

        from lmrec.encoders.cpu import resolve_threads

        if max_length is not None and max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self._resolved = packaged_model() if model is None else resolve_model(model)
        self._pipe = read_st_pipeline(self._resolved.path)
        if fused_int8 and not quantize:
            raise ValueError("fused_int8=True is the int8 path of the fused graph: pass quantize=True too")
        if max_batch_tokens is not None and int(max_batch_tokens) < 1:
            raise ValueError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self.quantize = bool(quantize)
        self.fused_int8 = bool(fused_int8)
        self.backend = BACKENDS[2] if self.fused_int8 else BACKENDS[1] if self.quantize else BACKENDS[0]
        self.max_batch_tokens = int(max_batch_tokens) if max_batch_tokens else None
        self.normalize = bool(normalize)
        self.prefix = str(prefix)
        self.num_threads = resolve_threads(num_threads)

        transformer = self._pipe["transformer"]
        self._tokenizer = AutoTokenizer.from_pretrained(str(transformer), local_files_only=True)
        config = AutoConfig.from_pretrained(str(transformer), local_files_only=True)

        limit = getattr(config, "max_position_embeddings", None)
        if isinstance(limit, int) and config.model_type in _PAD_OFFSET_MODELS:
            limit -= int(getattr(config, "pad_token_id", 0) or 0) + 1
        limits = [x for x in (limit, tokenizer_limit(self._tokenizer)) if isinstance(x, int) and x > 0]
        limit = min(limits) if limits else None
        wanted = max_length if max_length is not None else self._pipe["max_seq_length"]
        wanted = int(wanted) if wanted is not None else (limit or 512)
        if limit is not None and wanted > limit:
            warnings.warn(f"max_length={wanted} exceeds what {self._resolved.name} can take ({limit} "
                          f"positions); using {limit}", stacklevel=2)
            wanted = limit
        self._max_length = wanted
        self._dim = int(config.hidden_size)

        self.model_path = _export(self._resolved, self._pipe, quantize=self.quantize, cache_root=cache_root,
                                  fused_int8=self.fused_int8)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.num_threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])
        self._inputs = [i.name for i in self._session.get_inputs()]
        self._identity: dict[str, Any] | None = None

    # -- TextEncoder ----------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def max_length(self) -> int:
        return self._max_length

    @property
    def pooling(self) -> str:
        return self._pipe["pooling"]

    @property
    def tokenizer(self) -> Any:
        """The model's Hugging Face tokenizer (what :mod:`lmrec.encoders.vocab_fit` measures)."""
        return self._tokenizer

    def _settings(self) -> dict[str, Any]:
        import onnxruntime as ort

        return {
            "encoder_version": ENCODER_VERSION,
            "backend": self.backend,
            "model": self._resolved.name,
            "revision": self._resolved.revision,
            "pooling": self.pooling,
            "max_length": self._max_length,
            "normalize": self.normalize,
            "prefix": self.prefix,
            "dtype": ("int8-dynamic-fused" if self.fused_int8 else "int8-dynamic") if self.quantize else "float32",
            "graph": self.model_path.name,
            "dim": self._dim,
            "export_version": EXPORT_VERSION,
            "opset": OPSET,
            "onnxruntime": ort.__version__,
        }

    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            weights, config = model_identity_fingerprints(self._resolved, self._pipe["folders"])
            self._identity = {**self._settings(), "weights": weights, "config": config}
        return dict(self._identity)

    def _texts(self, texts: list[str]) -> list[str]:
        texts = [self.prefix + t for t in texts]
        return [t.lower() for t in texts] if self._pipe["do_lower_case"] else texts

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        from lmrec.encoders.pooling import POOLINGS

        enc = self._tokenizer(self._texts(texts), padding=True, truncation=True,
                              max_length=self._max_length, return_tensors="np")
        feed = {name: enc[name].astype(np.int64) for name in self._inputs}
        if "token_type_ids" in self._inputs and "token_type_ids" not in enc:
            feed["token_type_ids"] = np.zeros_like(enc["input_ids"], dtype=np.int64)
        hidden = self._session.run(["last_hidden_state"], feed)[0]  # [batch, seq_len, dim]
        pooled = POOLINGS[self.pooling](torch.from_numpy(hidden), torch.from_numpy(enc["attention_mask"]))
        if self.normalize:
            pooled = F.normalize(pooled.float(), p=2, dim=-1)
        return pooled.float().numpy()

    def _token_lengths(self, texts: list[str]) -> list[int]:
        enc = self._tokenizer(self._texts(texts), add_special_tokens=True, truncation=False, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]
