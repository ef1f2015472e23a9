"""Cache of converted features: one ``.npz`` per (joints file, conversion code, options).

The key hashes the joints file bytes, the source of ``motionlcm_core/motion`` (so any change to the
representation invalidates it) and the options. The cache never lives in the shared data folder.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

__all__ = ["default_cache_dir", "cache_key", "save_features", "load_features"]

_REPO = Path(__file__).resolve().parents[2]
_MOTION_DIR = Path(__file__).resolve().parents[1] / "motion"


def default_cache_dir() -> Path:
    """``$MOTIONLCM_CACHE_DIR`` or ``<repo>/runs/cache``."""
    return Path(os.environ.get("MOTIONLCM_CACHE_DIR", _REPO / "runs" / "cache"))


def _code_fingerprint() -> bytes:
    digest = hashlib.sha1()
    for path in sorted(_MOTION_DIR.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".npy"):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.digest()


def cache_key(source: Path, *options: object) -> str:
    """Hex key of a source file's bytes, the conversion code and ``options``."""
    digest = hashlib.sha1(Path(source).read_bytes())
    digest.update(_code_fingerprint())
    digest.update(repr(options).encode())
    return digest.hexdigest()[:20]


def save_features(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically (temp file + rename) so an interrupted run never leaves a broken cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_features(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when missing or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError):
        return None
