"""Fixtures shared by the unit tests."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(os.environ.get("MOTIONLCM_DATA_DIR", Path(__file__).resolve().parents[2] / ".." / "shared" / "data"))


def val_clips(clip_ids, max_frames: int | None = None) -> dict[str, np.ndarray]:
    """Joints ``(T, 22, 3)`` float64 (first ``max_frames``) of those clips of the shared val split that exist;
    skips the test without the data."""
    path = DATA / "joints_val.npz"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    d = np.load(path)
    ids = list(d["ids"])
    out = {}
    for c in clip_ids:
        if c in ids:
            i = ids.index(c)
            n = int(d["lengths"][i]) if max_frames is None else min(int(d["lengths"][i]), max_frames)
            out[c] = d["joints"][d["offsets"][i]:d["offsets"][i] + n].astype(np.float64)
    return out


def load_val_clip(clip_id: str, max_frames: int) -> np.ndarray:
    """First ``max_frames`` joints of one val clip (it must exist)."""
    clips = val_clips([clip_id], max_frames)
    if clip_id not in clips:
        raise ValueError(f"clip {clip_id} is not in the val split")
    return clips[clip_id]


@pytest.fixture(scope="module")
def one_thread():
    """Small tensors run faster on one thread on a shared machine; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
