"""The one place that chooses device and dtype, and makes seeded generators.

Nothing else in the project probes CUDA/MPS (``tests/test_layering.py`` enforces it).
"""
from __future__ import annotations

from typing import Literal

import torch

DevicePref = Literal["auto", "cpu", "cuda", "mps"]
DtypePref = Literal["fp32", "bf16", "fp16"]

_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


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
    """Compute dtype for the networks. fp16 is refused on CPU (slow and inaccurate there)."""
    if isinstance(pref, torch.dtype):
        return pref
    if pref not in _DTYPES:
        raise ValueError(f"unknown dtype {pref!r}; use one of {sorted(_DTYPES)}")
    if pref == "fp16" and device.type == "cpu":
        raise ValueError("fp16 is not supported on the CPU; use dtype='bf16' or 'fp32'")
    return _DTYPES[pref]


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
