"""Foot-contact time series shared by the body pass and the rig's foot clean-up (numpy).

Joints are ``(T, 22, 3)`` metres, +Y up, 20 fps; contact masks are boolean per frame.
"""
from __future__ import annotations

import numpy as np

from motionlcm_core.geometry import smoothstep
from motionlcm_core.motion.skeleton import FPS

#: (left ankle, left toe, right ankle, right toe): the order of the HumanML3D contact channels.
FOOT_JOINTS: tuple[int, ...] = (7, 10, 8, 11)
#: hip, knee, ankle, toe of the left and the right leg
LEGS: tuple[tuple[int, int, int, int], ...] = ((1, 4, 7, 10), (2, 5, 8, 11))
XZ = [0, 2]


def segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open runs ``[a, b)`` of True in a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))


def horizontal_speed(points: np.ndarray, fps: float = FPS) -> np.ndarray:
    """Speed ``(T, ...)`` (m/s) in the XZ plane of points ``(T, ..., 3)`` (central differences)."""
    if points.shape[0] < 2:
        return np.zeros(points.shape[:-1])
    vel = np.gradient(points[..., XZ], axis=0) * fps
    return np.linalg.norm(vel, axis=-1)


def plant_offsets(pos: np.ndarray, contact: np.ndarray, blend: int) -> tuple[np.ndarray, np.ndarray]:
    """Corrections ``(T, 3)`` that hold ``pos (T, 3)`` at each contact run's mean position (horizontally; a
    point below the floor is lifted to it) and fade out over ``blend`` frames on either side (smoothstep),
    and the weight ``(T,)`` of being planted (1 in a run, fading to 0 with the correction).

    Between two runs closer than ``2 · blend`` frames the two corrections cross-fade over the gap (weights
    summing to one), so the point moves smoothly from one planted spot to the next instead of jumping where
    one fade hands over to the other."""
    t = pos.shape[0]
    off, weight = np.zeros((t, 3)), np.zeros(t)
    runs = segments(contact)
    frames = np.arange(t, dtype=np.float64)
    for i, (a, b) in enumerate(runs):
        seg = np.zeros((b - a, 3))
        seg[:, XZ] = pos[a:b, XZ].mean(axis=0) - pos[a:b][:, XZ]
        seg[:, 1] = np.maximum(0.0, -pos[a:b, 1])
        off[a:b], weight[a:b] = seg, 1.0
        before = a - runs[i - 1][1] if i else None          # frames since the previous run's end
        after = runs[i + 1][0] - b if i + 1 < len(runs) else None
        span_in = before + 1 if before is not None and before < 2 * blend else blend + 1
        span_out = after + 1 if after is not None and after < 2 * blend else blend + 1
        lo, hi = max(a - span_in + 1, 0), min(b + span_out - 1, t)
        w_in = smoothstep((frames[lo:a] - (a - span_in)) / span_in)
        w_out = 1.0 - smoothstep((frames[b:hi] - (b - 1)) / span_out)
        off[lo:a] += seg[:1] * w_in[:, None]
        off[b:hi] += seg[-1:] * w_out[:, None]
        weight[lo:a] += w_in
        weight[b:hi] += w_out
    return off, np.minimum(weight, 1.0)
