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


def plant_offsets(pos: np.ndarray, contact: np.ndarray, blend: int) -> np.ndarray:
    """Corrections ``(T, 3)`` that hold ``pos (T, 3)`` at each contact run's mean position (horizontally; a
    point below the floor is lifted to it) and fade out over ``blend`` frames on either side (smoothstep)."""
    t = pos.shape[0]
    off = np.zeros((t, 3))
    weight = np.zeros(t)
    fade = smoothstep(1.0 - np.arange(1, blend + 1) / (blend + 1))                 # (blend,) 1 → 0
    for a, b in segments(contact):
        seg = np.zeros((b - a, 3))
        seg[:, XZ] = pos[a:b, XZ].mean(axis=0) - pos[a:b][:, XZ]
        seg[:, 1] = np.maximum(0.0, -pos[a:b, 1])
        lo, hi = max(a - blend, 0), min(b + blend, t)
        rows = np.concatenate([seg[:1] * fade[:a - lo][::-1, None], seg, seg[-1:] * fade[:hi - b][:, None]])
        w = np.concatenate([fade[:a - lo][::-1], np.ones(b - a), fade[:hi - b]])
        take = w > weight[lo:hi]
        off[lo:hi][take], weight[lo:hi][take] = rows[take], w[take]
    return off
