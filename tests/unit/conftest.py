"""Fixtures shared by the unit tests."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(os.environ.get("MOTIONLCM_DATA_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))


def load_val_clip(clip_id: str, max_frames: int) -> np.ndarray:
    """First ``max_frames`` joints ``(T, 22, 3)`` float64 of a clip of the shared val split (skips without data)."""
    path = DATA / "joints_val.npz"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    d = np.load(path)
    i = list(d["ids"]).index(clip_id)
    n = min(int(d["lengths"][i]), max_frames)
    return d["joints"][d["offsets"][i]:d["offsets"][i] + n].astype(np.float64)


@pytest.fixture(scope="module")
def one_thread():
    """Small tensors run faster on one thread on a shared machine; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
