"""Where the golden cases live: ``$MOTIONLCM_GOLDEN_DIR`` or ``<repo>/../shared/golden``."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def golden_root() -> Path:
    return Path(os.environ.get("MOTIONLCM_GOLDEN_DIR", REPO.parent / "shared" / "golden")).resolve()


def small_cases() -> list[Path]:
    """Every folder under ``small/`` that holds a ``config.json`` and ``weights.safetensors``."""
    root = golden_root() / "small"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "config.json").is_file() and (p / "weights.safetensors").is_file())
