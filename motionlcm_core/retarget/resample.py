"""Time resampling of a rig animation from the model's rate (20 fps) to the scene's frame rate (numpy).

Quaternions are ``wxyz``; they are made sign-continuous first and interpolated with slerp.
"""
from __future__ import annotations

import numpy as np

from motionlcm_core.retarget.rotations import make_quat_continuous


def frame_count(num_src: int, src_fps: float, dst_fps: float) -> int:
    """Number of destination frames that span the same duration as ``num_src`` source frames."""
    if num_src < 1 or src_fps <= 0 or dst_fps <= 0:
        raise ValueError(f"need num_src >= 1 and positive fps, got {num_src}, {src_fps}, {dst_fps}")
    return int(round((num_src - 1) / src_fps * dst_fps)) + 1


def sample_positions(num_src: int, src_fps: float, dst_fps: float) -> np.ndarray:
    """Fractional source indices (float64 [F]) of every destination frame, clipped to the source."""
    n = frame_count(num_src, src_fps, dst_fps)
    return np.clip(np.arange(n, dtype=np.float64) * (src_fps / dst_fps), 0.0, num_src - 1)


def resample_linear(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values [T, D]`` at fractional indices ``pos [F]`` → ``[F, D]``."""
    values = np.asarray(values, dtype=np.float64)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, len(values) - 1)
    w = (pos - i0)[:, None]
    return values[i0] * (1.0 - w) + values[i1] * w


def resample_quats(quats: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Slerp of unit quaternions ``[T, 4]`` (wxyz) at fractional indices ``pos [F]`` → ``[F, 4]``."""
    q = make_quat_continuous(quats)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    i0 = np.floor(pos).astype(int)
    i1 = np.minimum(i0 + 1, len(q) - 1)
    a, b, w = q[i0], q[i1], (pos - i0)[:, None]
    dot = np.clip(np.sum(a * b, axis=-1, keepdims=True), -1.0, 1.0)
    theta = np.arccos(dot)
    sin = np.sin(theta)
    small = sin < 1e-6
    safe = np.where(small, 1.0, sin)
    wa = np.where(small, 1.0 - w, np.sin((1.0 - w) * theta) / safe)
    wb = np.where(small, w, np.sin(w * theta) / safe)
    out = wa * a + wb * b
    return out / np.linalg.norm(out, axis=-1, keepdims=True)
