# SPDX-License-Identifier: GPL-3.0-or-later
"""Which torch build to install on this machine: OS, arch and NVIDIA driver → pip index + a one-line reason.

bpy-free and torch-free: it runs before torch exists. :func:`detect_hardware` takes its probes as parameters
(``nvidia-smi`` runner, ``platform`` values) so tests can fake them; the defaults are the real ones.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

WHEEL_INDEX = "https://download.pytorch.org/whl"
TORCH_CPU_INDEX = f"{WHEEL_INDEX}/cpu"
#: User choices: "auto" (from the hardware), "cpu", "cuda" (even when no GPU was seen), "default" (PyPI's wheel).
OVERRIDES: tuple[str, ...] = ("auto", "cpu", "cuda", "default")


@dataclass(frozen=True)
class CudaVariant:
    """One CUDA build of torch. tag: wheel-index folder and local version label ("cu128"); cuda: the CUDA
    runtime it is built with (the driver must support it); min_compute: oldest GPU architecture it includes."""

    tag: str
    cuda: tuple[int, int]
    min_compute: tuple[int, int]


#: CUDA builds published for the pinned torch (deps.REQUIREMENTS), newest first. Check on every torch bump:
#: CUDA 13 dropped Maxwell/Pascal/Volta, and the cu128 wheels no longer include Maxwell/Pascal.
CUDA_VARIANTS: tuple[CudaVariant, ...] = (CudaVariant("cu130", (13, 0), (7, 5)),
                                          CudaVariant("cu128", (12, 8), (7, 0)),
                                          CudaVariant("cu126", (12, 6), (5, 0)))

#: Oldest Linux driver for each CUDA version (NVIDIA's CUDA release notes); used only when nvidia-smi prints
#: no "CUDA Version" (Windows drivers number slightly higher, so this errs on the safe side there).
DRIVER_CUDA: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((580, 65), (13, 0)), ((575, 51), (12, 9)), ((570, 26), (12, 8)), ((560, 28), (12, 6)), ((555, 42), (12, 5)),
    ((550, 54), (12, 4)), ((545, 23), (12, 3)), ((535, 54), (12, 2)), ((530, 30), (12, 1)), ((525, 60), (12, 0)),
    ((520, 61), (11, 8)), ((450, 80), (11, 0)))

_ARCH = {"amd64": "x86_64", "x64": "x86_64", "arm64": "arm64", "aarch64": "aarch64"}
#: ``nvidia-smi`` runner: arguments after the executable → stdout. Raises OSError (missing) or
#: subprocess.SubprocessError (non-zero exit, timeout), like :func:`run_nvidia_smi`.
NvidiaSmi = Callable[[list[str]], str]


@dataclass(frozen=True)
class Hardware:
    """This machine as the installer sees it. system: ``platform.system()`` ("Linux", "Windows", "Darwin");
    machine: normalised arch of the Python that will import torch ("x86_64", "arm64", "aarch64")."""

    system: str
    machine: str
    gpu_name: str | None = None            # first NVIDIA GPU, e.g. "NVIDIA GeForce RTX 4090"
    driver_version: str | None = None      # "550.54.14"
    cuda_version: str | None = None        # newest CUDA the driver supports, "12.4"
    compute_capability: str | None = None  # "8.9"; None when nvidia-smi is too old to tell
    nvidia_error: str | None = None        # why no NVIDIA GPU was found (not probed on macOS)

    @property
    def apple_silicon(self) -> bool:
        return self.system == "Darwin" and self.machine in ("arm64", "aarch64")

    @property
    def has_nvidia(self) -> bool:
        return self.gpu_name is not None

    def summary(self) -> str:
        """One line for the preferences: "Linux x86_64, NVIDIA GeForce RTX 4090 (driver 550.54.14, CUDA 12.4)"."""
        head = f"{'macOS' if self.system == 'Darwin' else self.system} {self.machine}"
        if self.apple_silicon:
            return f"{head}, Apple Silicon (GPU via MPS)"
        if self.has_nvidia:
            return f"{head}, {self.gpu_name} (driver {self.driver_version}, CUDA {self.cuda_version or '?'})"
        return head if self.system == "Darwin" else f"{head}, no NVIDIA GPU ({self.nvidia_error})"


@dataclass(frozen=True)
class TorchBuild:
    """The torch build to install. label: "cu128", "cpu" or "default" (PyPI's own wheel); index_url: the extra
    pip index that holds it (None: PyPI only); reason: one line for people; warning: a problem to show."""

    label: str
    index_url: str | None
    reason: str
    warning: str | None = None

    @property
    def pip_args(self) -> list[str]:
        """pip options selecting this build (pip prefers ``2.13.0+cu128`` over PyPI's ``2.13.0``)."""
        return ["--extra-index-url", self.index_url] if self.index_url else []


def run_nvidia_smi(args: list[str], *, which: Callable[[str], str | None] = shutil.which,
                   timeout: float = 5.0) -> str:
    """Run ``nvidia-smi ARGS`` and return its stdout; FileNotFoundError when it is not installed."""
    exe = which("nvidia-smi")
    if exe is None and os.name == "nt":  # drivers before 2019 put it outside PATH
        legacy = Path(os.environ.get("ProgramFiles", r"C:\Program Files")) / "NVIDIA Corporation/NVSMI/nvidia-smi.exe"
        exe = str(legacy) if legacy.is_file() else None
    if exe is None:
        raise FileNotFoundError("nvidia-smi not found")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout, check=True).stdout


def detect_hardware(*, system: str | None = None, machine: str | None = None,
                    nvidia_smi: NvidiaSmi | None = None) -> Hardware:
    """Probe OS, arch and the NVIDIA driver (``nvidia-smi``; never on macOS). Never raises for a missing or
    failing ``nvidia-smi``: the reason lands in ``Hardware.nvidia_error``."""
    system = platform.system() if system is None else system
    raw = (platform.machine() if machine is None else machine).lower()
    machine = _ARCH.get(raw, raw)
    if system == "Darwin":
        return Hardware(system, machine)
    probe = run_nvidia_smi if nvidia_smi is None else nvidia_smi
    try:
        first = probe(["--query-gpu=name,driver_version", "--format=csv,noheader"]).strip().splitlines()[0]
        name, driver = (part.strip() for part in first.rsplit(",", 1))
    except (OSError, subprocess.SubprocessError) as exc:
        return Hardware(system, machine, nvidia_error=_probe_error(exc))
    except (IndexError, ValueError):
        return Hardware(system, machine, nvidia_error="nvidia-smi listed no GPU")
    cuda = _probe_value(probe, [], r"CUDA Version:\s*(\d+\.\d+)") or cuda_for_driver(driver)
    compute = _probe_value(probe, ["--query-gpu=compute_cap", "--format=csv,noheader"], r"^\s*(\d+\.\d+)")
    return Hardware(system, machine, name, driver, cuda, compute)


def cuda_for_driver(driver: str) -> str | None:
    """Newest CUDA version a driver supports, from :data:`DRIVER_CUDA` ("550.54.14" → "12.4")."""
    version = _version(driver)
    for min_driver, cuda in DRIVER_CUDA:
        if version is not None and version >= min_driver:
            return f"{cuda[0]}.{cuda[1]}"
    return None


def pick_cuda_variant(hw: Hardware) -> tuple[CudaVariant | None, str]:
    """Newest CUDA build that the driver and the GPU support, or (None, why not)."""
    cuda, compute = _version(hw.cuda_version), _version(hw.compute_capability)
    oldest = CUDA_VARIANTS[-1]
    fits = [v for v in CUDA_VARIANTS if cuda is not None and v.cuda <= cuda]
    if not fits:
        return None, f"torch's CUDA wheels need CUDA {oldest.cuda[0]}.{oldest.cuda[1]} or newer"
    if compute is not None:
        fits = [v for v in fits if compute >= v.min_compute]
        if not fits:
            return None, f"compute capability {hw.compute_capability} is older than torch's CUDA wheels support"
    return fits[0], ""


def choose_torch_build(hw: Hardware, override: str = "auto") -> TorchBuild:
    """The torch build for ``hw``, honouring the user's ``override`` (see :data:`OVERRIDES`)."""
    if override not in OVERRIDES:
        raise ValueError(f"torch build must be one of {', '.join(OVERRIDES)}; got {override!r}")
    if hw.system == "Darwin":
        return _mac_build(hw, override)
    if override == "cpu":
        return TorchBuild("cpu", TORCH_CPU_INDEX, "CPU chosen in the settings → torch CPU wheels")
    if override == "default":
        what = "CUDA build (also downloads NVIDIA's libraries, GBs)" if hw.system == "Linux" else "CPU-only build"
        return TorchBuild("default", None, f"PyPI's standard wheel chosen in the settings → the {hw.system} {what}")
    if hw.has_nvidia:
        return _nvidia_build(hw, forced=override == "cuda")
    if override == "cuda":
        variant = CUDA_VARIANTS[-1]
        return TorchBuild(variant.tag, f"{WHEEL_INDEX}/{variant.tag}",
                          f"CUDA chosen in the settings, no NVIDIA GPU found ({hw.nvidia_error}) → torch "
                          f"{variant.tag} wheels (the oldest, most compatible)",
                          warning="No NVIDIA driver was found: torch will run on the CPU until one is installed")
    return TorchBuild("cpu", TORCH_CPU_INDEX, f"no NVIDIA GPU found ({hw.nvidia_error}) → torch CPU wheels")


def _nvidia_build(hw: Hardware, *, forced: bool) -> TorchBuild:
    variant, why_not = pick_cuda_variant(hw)
    seen = f"{hw.gpu_name}, driver {hw.driver_version} supports CUDA {hw.cuda_version or 'unknown'}"
    if variant is not None:
        return TorchBuild(variant.tag, f"{WHEEL_INDEX}/{variant.tag}", f"{seen} → torch {variant.tag} wheels")
    fix = "Update the NVIDIA driver to run torch on this GPU"
    if forced:
        variant = CUDA_VARIANTS[-1]
        return TorchBuild(variant.tag, f"{WHEEL_INDEX}/{variant.tag}",
                          f"{seen}; CUDA chosen in the settings → torch {variant.tag} wheels",
                          warning=f"{why_not}. {fix}")
    return TorchBuild("cpu", TORCH_CPU_INDEX, f"{seen}; {why_not} → torch CPU wheels",
                      warning=f"{fix}, then reinstall")


def _mac_build(hw: Hardware, override: str) -> TorchBuild:
    if override == "cuda":
        raise ValueError("PyTorch publishes no CUDA builds for macOS; choose Auto (Apple Silicon GPUs use MPS)")
    chosen = "" if override == "auto" else f"{override} chosen in the settings; macOS has one build. "
    if hw.apple_silicon:
        return TorchBuild("default", None, f"{chosen}Apple Silicon → PyPI's macOS torch wheel (GPU through MPS)")
    return TorchBuild("default", None, f"{chosen}Intel Mac ({hw.machine}) → PyPI's macOS torch wheel (CPU only)",
                      warning="PyTorch stopped publishing Intel-Mac wheels after 2.2: pip may find no torch for "
                              "this Mac")


def _probe_value(probe: NvidiaSmi, args: list[str], pattern: str) -> str | None:
    """First match of ``pattern`` in ``nvidia-smi ARGS`` output; None when it fails or prints nothing useful."""
    try:
        found = re.search(pattern, probe(args), re.M)
    except (OSError, subprocess.SubprocessError):
        return None
    return found.group(1) if found else None


def _probe_error(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "nvidia-smi not found"
    if isinstance(exc, subprocess.TimeoutExpired):
        return "nvidia-smi timed out"
    if isinstance(exc, subprocess.CalledProcessError):
        said = ((exc.stdout or "") + (exc.stderr or "")).strip().splitlines()
        return f"nvidia-smi failed (exit {exc.returncode}{': ' + said[0][:80] if said else ''})"
    return f"nvidia-smi failed ({exc})"


def _version(text: str | None) -> tuple[int, int] | None:
    """"12.4" / "550.54.14" → (12, 4) / (550, 54); None when absent or unreadable."""
    found = re.match(r"\s*(\d+)(?:\.(\d+))?", text or "")
    return (int(found.group(1)), int(found.group(2) or 0)) if found else None
