"""Displacement field: a smooth per-frame correction that equals given offsets exactly at pinned frames.

Pins closer than ``2·window`` frames are joined by a monotone cubic (PCHIP tangents, no overshoot); at the
ends of a run the correction fades to zero over ``window`` frames with a smoothstep, so velocity stays
continuous (no pops). Used by the exact pass, the rig's pin IK and the continuation blend.
"""
from __future__ import annotations

import numpy as np

from motionlcm_core.geometry import smoothstep

__all__ = ["displacement_field"]


def _tangents(frames: np.ndarray, values: np.ndarray, window: int) -> np.ndarray:
    """PCHIP (Fritsch–Carlson) tangents ``(K, C)``; 0 at pins whose neighbour is further than ``2·window``."""
    m = np.zeros_like(values)
    if len(frames) < 3:
        return m
    h = np.diff(frames).astype(np.float64)[:, None]                  # (K-1, 1)
    delta = np.diff(values, axis=0) / h                              # (K-1, C)
    h0, h1, d0, d1 = h[:-1], h[1:], delta[:-1], delta[1:]
    w0, w1 = 2 * h1 + h0, h1 + 2 * h0
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = (w0 + w1) / (w0 / d0 + w1 / d1)
    ok = (d0 * d1 > 0) & (h0 <= 2 * window) & (h1 <= 2 * window)
    m[1:-1] = np.where(ok, inner, 0.0)
    return m


def displacement_field(frames: np.ndarray, values: np.ndarray, num_frames: int, window: int) -> np.ndarray:
    """Smooth field ``(num_frames, C)`` equal to ``values (K, C)`` at the sorted unique ``frames (K,)``."""
    frames = np.asarray(frames, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    t = np.arange(num_frames, dtype=np.float64)
    if len(frames) == 0:
        return np.zeros((num_frames, values.shape[-1]))
    m = _tangents(frames, values, window)
    k = np.clip(np.searchsorted(frames, t, side="right") - 1, 0, max(len(frames) - 2, 0))
    k1 = np.minimum(k + 1, len(frames) - 1)
    ta, tb = frames[k].astype(np.float64), frames[k1].astype(np.float64)
    gap = np.maximum(tb - ta, 1.0)[:, None]
    x = ((t - ta)[:, None] / gap)
    h00, h10, h01, h11 = 2 * x**3 - 3 * x**2 + 1, x**3 - 2 * x**2 + x, -2 * x**3 + 3 * x**2, x**3 - x**2
    hermite = h00 * values[k] + h10 * gap * m[k] + h01 * values[k1] + h11 * gap * m[k1]
    fade_a = (1 - smoothstep(np.abs(t - ta)[:, None] / window)) * values[k]
    fade_b = (1 - smoothstep(np.abs(tb - t)[:, None] / window)) * values[k1]
    between = ((t >= ta) & (t <= tb))[:, None]
    out = np.where(between & (tb - ta <= 2 * window)[:, None], hermite, np.where(between, fade_a + fade_b, 0.0))
    before, after = t < frames[0], t > frames[-1]
    out[before] = (1 - smoothstep((frames[0] - t[before]) / window))[:, None] * values[0]
    out[after] = (1 - smoothstep((t[after] - frames[-1]) / window))[:, None] * values[-1]
    return out

