"""The one place that chooses device and dtype, and makes seeded generators.

Nothing else in the project probes CUDA/MPS or the CPU's features (``tests/test_layering.py`` enforces it).

``dtype="auto"`` (:func:`choose_dtype`): fp32 unless the hardware runs a 16-bit float faster (bf16 on a CPU
with AVX512-BF16, AMX or Arm BF16 units; fp16 or bf16 on a GPU) *and* that dtype's joint error against fp32 on
the embedded model, measured once per process (:mod:`motionlcm_core.dtype_check`), stays under
:data:`MAX_JOINT_ERROR_MM`. Every choice comes with a reason for the panel and ``motionlcm bench``.
"""
from __future__ import annotations

import math
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import torch

DevicePref = Literal["auto", "cpu", "cuda", "mps"]
DtypePref = Literal["auto", "fp32", "bf16", "fp16"]

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}
MAX_JOINT_ERROR_MM = 5.0
"""``auto`` takes a 16-bit dtype only when its joint error against fp32 stays under this (millimetres)."""

# (device, dtype) → measured joint error in mm (inf when the measurement failed), once per process
_MEASURED: dict[tuple[str, torch.dtype], tuple[float, str]] = {}


@dataclass(frozen=True)
class DtypeChoice:
    """The compute dtype and why it was chosen (shown in the panel and by ``motionlcm bench``)."""

    dtype: torch.dtype
    reason: str

    @property
    def name(self) -> str:
        return DTYPE_NAMES.get(self.dtype, str(self.dtype))


def cuda_available() -> bool:
    """Whether a CUDA device can be used."""
    return torch.cuda.is_available()


def resolve_device(pref: str | torch.device = "auto") -> torch.device:
    """``"auto"`` → CUDA when present, else MPS when present, else CPU; explicit names are checked."""
    if isinstance(pref, torch.device):
        return pref
    pref = str(pref).lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device='cuda' was asked for but no CUDA GPU is available; use device='cpu' or 'auto'")
    if pref == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device='mps' was asked for but MPS is not available; use device='cpu' or 'auto'")
    if pref not in ("cpu", "mps") and not pref.startswith("cuda"):
        raise ValueError(f"unknown device {pref!r}; use 'auto', 'cpu', 'cuda' or 'mps'")
    return torch.device(pref)


def resolve_dtype(device: torch.device, pref: str | torch.dtype = "fp32") -> torch.dtype:
    """Compute dtype for the networks (:func:`choose_dtype` without the reason)."""
    return choose_dtype(device, pref).dtype


def choose_dtype(device: torch.device, pref: str | torch.dtype = "fp32", *,
                 measure: Callable[[torch.device, torch.dtype], float] | None = None) -> DtypeChoice:
    """``pref`` ``"fp32"``/``"bf16"``/``"fp16"`` is taken as asked (fp16 is refused on the CPU: slow and
    inaccurate there); ``"auto"`` picks the fastest dtype whose measured joint error is under 5 mm.

    ``measure(device, dtype) -> mm`` replaces :func:`motionlcm_core.dtype_check.joint_error_mm` (tests)."""
    if isinstance(pref, torch.dtype):
        return DtypeChoice(pref, f"{DTYPE_NAMES.get(pref, pref)} as asked")
    if pref != "auto" and pref not in _DTYPES:
        raise ValueError(f"unknown dtype {pref!r}; use one of {['auto', *sorted(_DTYPES)]}")
    if pref == "fp16" and device.type == "cpu":
        raise ValueError("fp16 is not supported on the CPU; use dtype='bf16', 'fp32' or 'auto'")
    if pref != "auto":
        return DtypeChoice(_DTYPES[pref], f"{pref} as asked")
    candidates, hardware = dtype_candidates(device)
    if not candidates:
        return DtypeChoice(torch.float32, f"fp32: {hardware}")
    rejected = []
    for dtype in candidates:
        err, note = measured_joint_error_mm(device, dtype, measure)
        name = DTYPE_NAMES[dtype]
        if err < MAX_JOINT_ERROR_MM:
            return DtypeChoice(dtype, f"{name}: {hardware}, and its joint error against fp32 on the embedded model "
                                      f"is {err:.2f} mm (< {MAX_JOINT_ERROR_MM:g} mm)")
        rejected.append(f"{name} {note or f'{err:.1f} mm'}")
    return DtypeChoice(torch.float32, f"fp32: {hardware}, but the joint error against fp32 on the embedded model "
                                      f"is not under {MAX_JOINT_ERROR_MM:g} mm ({'; '.join(rejected)})")


def dtype_candidates(device: torch.device) -> tuple[list[torch.dtype], str]:
    """16-bit dtypes the hardware runs faster than fp32 (most accurate first), and what the hardware is."""
    if device.type == "cpu":
        units = cpu_bf16_units(cpu_flags())
        if units is None:
            return [], (f"this CPU ({cpu_name()}, {torch.backends.cpu.get_cpu_capability()}) has no bf16 units, "
                        "where bf16 runs slower than fp32")
        return [torch.bfloat16], f"this CPU has {units} units"
    if device.type == "cuda":
        gpu = torch.cuda.get_device_name(device)
        return ([torch.float16, torch.bfloat16] if torch.cuda.is_bf16_supported() else [torch.float16]), f"GPU {gpu}"
    if device.type == "mps":
        return [torch.float16], "Apple GPU (MPS)"
    return [], f"no 16-bit policy for device {device.type}"


def measured_joint_error_mm(device: torch.device, dtype: torch.dtype,
                            measure: Callable[[torch.device, torch.dtype], float] | None = None) -> tuple[float, str]:
    """Joint error (mm) of ``dtype`` against fp32 on this device, measured once per process; a failed
    measurement counts as infinite, with its message."""
    key = (str(device), dtype)
    if key not in _MEASURED:
        if measure is None:
            from .dtype_check import joint_error_mm as measure
        try:
            err = float(measure(device, dtype))
            _MEASURED[key] = (err, "" if math.isfinite(err) else "gave non-finite joints")
        except (ValueError, RuntimeError, OSError) as exc:
            _MEASURED[key] = (math.inf, f"could not be measured ({exc})")
    return _MEASURED[key]


def forget_measurements() -> None:
    """Drop the cached dtype measurements (tests)."""
    _MEASURED.clear()


def cpu_flags() -> set[str]:
    """Lower-case CPU feature flags: ``/proc/cpuinfo`` (x86 ``flags``, Arm ``Features``) where it exists,
    else torch's own x86 probes."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                return set(value.lower().split())
    probes = {"avx512_bf16": "_is_avx512_bf16_supported", "amx_bf16": "_is_amx_tile_supported",
              "avx2": "_is_avx2_supported"}
    return {flag for flag, fn in probes.items() if getattr(torch.cpu, fn, lambda: False)()}


def cpu_bf16_units(flags: set[str]) -> str | None:
    """Name of the CPU's bf16 matrix/vector units, or None (e.g. AVX2-only CPUs)."""
    if "amx_bf16" in flags:
        return "AMX-BF16"
    if "avx512_bf16" in flags:
        return "AVX512-BF16"
    if "bf16" in flags:
        return "Arm BF16"
    return None


def cpu_name() -> str:
    """CPU model as the OS reports it (``/proc/cpuinfo`` model name, else ``platform``)."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_name(device: torch.device) -> str:
    """What the benchmark ran on: the GPU model, or the CPU model with its core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return f"{cpu_name()} ({os.cpu_count()} cores, {torch.backends.cpu.get_cpu_capability()})"
    return device_name(device)


def device_name(device: torch.device) -> str:
    """Human-readable device name for status lines (GPU model or 'CPU')."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return device.type.upper()


def make_generator(seed: int | None) -> torch.Generator:
    """CPU generator: noise is drawn on the CPU then moved, so a seed gives the same motion everywhere."""
    gen = torch.Generator(device="cpu")
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(int(seed))
    return gen


def empty_cache(device: torch.device) -> None:
    """Release cached GPU memory (after an out-of-memory fallback)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def is_out_of_memory(exc: BaseException) -> bool:
    """True for a CUDA/MPS out-of-memory error."""
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower()


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (for honest timings)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
