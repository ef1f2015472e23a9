"""Every Blender test runs once per bpy module: 4.5 LTS (the venv's), 5.0 (``.bpy50``) and 5.2 LTS (Python 3.13,
``.venv313``), each when installed (``python install.py test`` sets them up)."""
from __future__ import annotations

from pathlib import Path

import pytest

from harness import REPO

BPY50 = REPO / ".bpy50"
PY313 = REPO / ".venv313" / "bin" / "python"
VERSIONS = ["4.5"] + (["5.0"] if (BPY50 / "bpy").is_dir() else []) + (["5.2"] if PY313.is_file() else [])


@pytest.fixture(autouse=True, params=VERSIONS, ids=[f"bpy{v}" for v in VERSIONS])
def bpy_version(request, monkeypatch):
    """Scenario subprocesses import bpy 5.0.1 from ``.bpy50`` (installed by install.py) for the 5.0 runs."""
    monkeypatch.delenv("MOTIONLCM_BPY_PATH", raising=False)
    monkeypatch.delenv("MOTIONLCM_BPY_PYTHON", raising=False)
    if request.param == "5.0":
        monkeypatch.setenv("MOTIONLCM_BPY_PATH", str(BPY50))
    elif request.param == "5.2":
        monkeypatch.setenv("MOTIONLCM_BPY_PYTHON", str(PY313))
    return request.param
