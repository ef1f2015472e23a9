"""Shared fixtures of the golden tests: where the golden data lives.

``$MOTIONLCM_GOLDEN_DIR`` if set, else ``<repo>/../shared/golden``; tests skip cleanly when it is missing.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest


def resolve_golden_dir() -> Path:
    """The golden root folder (may not exist)."""
    default = Path(__file__).parents[2] / ".." / "shared" / "golden"
    return Path(os.environ.get("MOTIONLCM_GOLDEN_DIR", default)).resolve()


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    """The golden root folder; skips the test when it does not exist."""
    root = resolve_golden_dir()
    if not root.is_dir():
        pytest.skip(f"golden data not found at {root} (set MOTIONLCM_GOLDEN_DIR)")
    return root
