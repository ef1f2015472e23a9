# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a bpy scenario script in a subprocess so that a Blender crash cannot kill pytest.

Each scenario prints one line ``RESULT:<json>``; :func:`run_scenario` returns that dict.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
HAS_BPY = importlib.util.find_spec("bpy") is not None
requires_bpy = pytest.mark.skipif(not HAS_BPY, reason="bpy (Blender as a Python module) is not installed")


def run_scenario(name: str, tmp_path: Path, *args: str, timeout: float = 120.0) -> dict:
    """Run ``scenarios/<name>.py`` with the repo on ``sys.path``; isolated Blender user dirs and TMPDIR."""
    env = dict(os.environ)
    extra = [env["MOTIONLCM_BPY_PATH"]] if env.get("MOTIONLCM_BPY_PATH") else []  # bpy 5.0 shadows 4.5
    env["PYTHONPATH"] = os.pathsep.join([*extra, str(REPO), str(SCENARIOS), env.get("PYTHONPATH", "")])
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "blender_user")
    env["TMPDIR"] = str(tmp_path)
    env["OMP_NUM_THREADS"] = "1"
    python = env.get("MOTIONLCM_BPY_PYTHON") or sys.executable        # bpy 5.2: its own Python 3.13
    cmd = [python, str(SCENARIOS / f"{name}.py"), str(tmp_path), *args]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT:")]
    if proc.returncode != 0 and python != sys.executable and "No module named 'torch'" in proc.stderr:
        pytest.skip("this scenario generates motion, and the Python 3.13 test environment of bpy 5.2 has no torch "
                    "(install.py test could not install it); it runs on bpy 4.5 and 5.0")
    if proc.returncode != 0 or not lines:
        raise AssertionError(f"scenario {name} failed (rc={proc.returncode})\nstdout:\n{proc.stdout[-4000:]}"
                             f"\nstderr:\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len("RESULT:"):])


_ONCE: dict[tuple, dict] = {}


def scenario_once(name: str, version: str, tmp_path_factory, *args: str, timeout: float = 120.0) -> dict:
    """:func:`run_scenario` once per scenario, arguments and bpy ``version`` (the ``bpy_version`` fixture's),
    for the tests that share one run; a module-scoped fixture would run it under the first version only."""
    key = (name, version, args)
    if key not in _ONCE:
        _ONCE[key] = run_scenario(name, tmp_path_factory.mktemp(f"{name}_{version}"), *args, timeout=timeout)
    return _ONCE[key]
