"""Every Blender test runs once per bpy module: 4.5 LTS (the venv's) and 5.0 (``.bpy50``, when installed)."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import REPO

BPY50 = REPO / ".bpy50"
VERSIONS = ["4.5"] + (["5.0"] if (BPY50 / "bpy").is_dir() else [])


@pytest.fixture(autouse=True, params=VERSIONS, ids=[f"bpy{v}" for v in VERSIONS])
def bpy_version(request, monkeypatch):
    """Scenario subprocesses import bpy 5.0.1 from ``.bpy50`` (installed by install.py) for the 5.0 runs."""
    if request.param == "5.0":
        monkeypatch.setenv("MOTIONLCM_BPY_PATH", str(BPY50))
    else:
        monkeypatch.delenv("MOTIONLCM_BPY_PATH", raising=False)
    return request.param
