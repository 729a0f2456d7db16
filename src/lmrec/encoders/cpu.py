"""CPU execution settings for the encoders: core count, thread settings, bf16 detection.

Nothing here is assumed about the machine: the number of usable cores is read from the
process's CPU affinity, and bf16 support is detected at run time (:func:`bf16_supported`),
so the same code runs on a laptop, a 2-core CI box or a 64-core server.

bf16 autocast (:func:`bf16_autocast`) runs matrix multiplications in bfloat16 with float32
accumulation and keeps reductions/normalisations in float32 (torch's CPU autocast policy).
It only pays off where the CPU has native bf16 dot-product instructions (AVX512-BF16, AMX,
Arm BF16); elsewhere torch emulates bf16 and it is slower than float32, so lmrec falls back
to float32 there.
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from typing import Iterator

_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")  # x86 AVX512-BF16 / AMX, Arm "bf16"


def available_cores() -> int:
    """Cores this process may run on (CPU affinity when the OS exposes it, else ``os.cpu_count``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS / Windows
        return max(1, os.cpu_count() or 1)


def resolve_threads(num_threads: int | None) -> int:
    """``num_threads`` if given (≥ 1), else :func:`available_cores`.

    Raises
    ------
    ValueError
        If ``num_threads < 1``.
    """
    if num_threads is None:
        return available_cores()
    if int(num_threads) < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")
    return int(num_threads)


def set_torch_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op thread pool to ``num_threads`` (``None``: every available core).

    Returns
    -------
    int
        The thread count now in effect.
    """
    import torch

    n = resolve_threads(num_threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


@lru_cache(maxsize=1)
def bf16_supported() -> bool:
    """True when this CPU runs bfloat16 matrix multiplications natively (checked at run time).

    Asks oneDNN (``torch.ops.mkldnn._is_mkldnn_bf16_supported``, which checks AVX512-BF16 /
    AMX / Arm BF16 through cpuinfo) when torch exposes it, else reads the CPU flags in
    ``/proc/cpuinfo``; then runs a tiny bf16 matmul under autocast as a probe. Any failure
    means ``False``.

    Returns
    -------
    bool
        ``True`` only if native support was detected *and* the probe gave a finite bf16 result.
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of every torch backend
        return False
    native = None
    probe = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    if probe is not None:
        try:
            native = bool(probe())
        except Exception:
            native = None
    if native is None:
        native = bool(_cpu_flags() & set(_BF16_CPU_FLAGS))
    if not native:
        return False
    try:
        a = torch.ones(4, 8)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = a @ a.T
        return out.dtype == torch.bfloat16 and bool(torch.isfinite(out).all()) and float(out[0, 0]) == 8.0
    except Exception:
        return False


@contextlib.contextmanager
def bf16_autocast(enabled: bool) -> Iterator[None]:
    """``torch.autocast("cpu", bfloat16)`` when ``enabled``, else a no-op context."""
    if not enabled:
        yield
        return
    import torch

    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield


_INT8_DOT_CPU_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")
"""u8·s8 dot-product instructions: x86 AVX512-VNNI / AVX-VNNI / AMX-INT8, Arm dotprod / i8mm."""


def cpu_features() -> dict[str, bool]:
    """The CPU instruction sets that decide which fast encoding path pays off here.

    Read from ``/proc/cpuinfo`` (Linux; every flag is ``False`` where it cannot be read).

    Returns
    -------
    dict[str, bool]
        ``avx2``, ``avx512f``, ``avx512_vnni``, ``avx_vnni``, ``amx_int8`` (int8 dot products),
        ``avx512_bf16``, ``amx_bf16`` (bf16), ``arm_dotprod`` (``asimddp``), ``arm_i8mm``,
        plus the summaries ``int8_dot`` (any int8 dot-product instruction) and ``bf16``
        (:func:`bf16_supported`).
    """
    flags = _cpu_flags()
    out = {name: name in flags for name in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8",
                                               "avx512_bf16", "amx_bf16")}
    out["arm_dotprod"] = "asimddp" in flags
    out["arm_i8mm"] = "i8mm" in flags
    out["int8_dot"] = bool(flags & set(_INT8_DOT_CPU_FLAGS))
    out["bf16"] = bf16_supported()
    return out


def int8_fallback_message(backend: str) -> str | None:
    """Why an int8 backend will not be fast on this CPU, or ``None`` when it has int8 dot products.

    ONNX Runtime still runs the int8 graph without VNNI/AMX/dotprod (u8·s8 products emulated
    with 16-bit multiply-adds), so vectors are unchanged; only the speed-up is lost.
    """
    if bool(_cpu_flags() & set(_INT8_DOT_CPU_FLAGS)):
        return None
    return (f"backend {backend!r}: this CPU has no int8 dot-product instructions (AVX512-VNNI, AVX-VNNI, "
            f"AMX-INT8 or Arm dotprod/i8mm), so int8 runs emulated and may be slower than float32; the "
            f"vectors are the same. Faster here: backend='onnx' (fp32)"
            + (" or bf16=True (native bf16 found)" if bf16_supported() else "")
            + ", or backend='auto' to pick for this CPU")


def auto_backend() -> tuple[str, bool]:
    """``(backend, bf16)`` for the fastest sentence-encoder path on this CPU.

    ``"onnx-int8-fused"`` when ONNX Runtime is installed and the CPU has int8 dot-product
    instructions; else PyTorch with bf16 autocast when native bf16 exists; else ``"onnx"``
    (fp32, when ONNX Runtime is installed) or ``"st"``. Order from
    ``bench/results/encode_throughput.md`` (int8-fused > bf16 > ONNX fp32 ≳ PyTorch fp32).
    """
    import importlib.util

    has_ort = importlib.util.find_spec("onnxruntime") is not None
    if has_ort and bool(_cpu_flags() & set(_INT8_DOT_CPU_FLAGS)):
        return "onnx-int8-fused", False
    if bf16_supported():
        return "st", True
    return ("onnx" if has_ort else "st"), False
