"""Vector geometry shared by the body pass, the exact pin pass, the rig's pin IK and the retarget solve.

numpy only (no torch), vectorised over leading dimensions ``(..., 3)``. One copy of each idea:
unit vectors, smoothstep, the cross-product matrix, shortest-arc ("swing") rotations, axis–angle
rotations, and two-bone / one-bone inverse kinematics on positions (bone lengths kept).
"""
from __future__ import annotations

import numpy as np

EPS = 1e-9


def unit(v: np.ndarray, eps: float = EPS) -> np.ndarray:
    """``v (..., 3)`` scaled to length 1 along the last axis; vectors shorter than ``eps`` stay (near) zero."""
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def smoothstep(x: np.ndarray | float) -> np.ndarray | float:
    """3x² − 2x³ of ``x`` clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def skew(v: np.ndarray) -> np.ndarray:
    """Cross-product matrices ``(..., 3, 3)`` of ``v (..., 3)``: ``skew(v) @ w == cross(v, w)``."""
    k = np.zeros(v.shape + (3,))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    return k - np.swapaxes(k, -1, -2)


def swing(a: np.ndarray, b: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Shortest-arc rotations ``(..., 3, 3)`` turning the direction of ``a`` onto that of ``b`` (``(..., 3)``).
    ``eps`` bounds ``1 + cos`` (undefined for opposite directions)."""
    a, b = unit(a), unit(b)
    k, c = skew(np.cross(a, b)), np.sum(a * b, axis=-1)[..., None, None]
    return np.eye(3) + k + k @ k / np.maximum(1.0 + c, eps)


def rotation_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotations ``(..., 3, 3)`` about unit ``axis (..., 3)`` by ``angle (...)`` radians."""
    k = skew(axis)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def rotvec_matrix(v: np.ndarray) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` of rotation vectors ``v (..., 3)`` (axis × angle, radians)."""
    angle = np.linalg.norm(v, axis=-1)
    return rotation_about(v / np.maximum(angle, 1e-12)[..., None], angle)


def two_bone_ik(a: np.ndarray, b: np.ndarray, goal: np.ndarray, l1: np.ndarray, l2: np.ndarray,
                margin: float = EPS, pole: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK on positions: the chain root ``a (N, 3)`` stays, the middle joint (knee, elbow)
    bends towards ``pole (N, 3)`` (default: the side of the a→goal line the middle joint ``b (N, 3)`` is on
    now), bones keep lengths ``l1, l2 (N,)``.

    Returns the new middle joint and the reached end ``(N, 3)``: ``goal`` itself when within reach, else the
    nearest point the chain reaches (straight towards ``goal``, ``margin`` short of full extension). A
    pole along the a→goal line bends about an axis across it."""
    l1, l2 = np.asarray(l1, dtype=np.float64)[..., None], np.asarray(l2, dtype=np.float64)[..., None]
    v = goal - a
    u = unit(v)
    d = np.clip(np.linalg.norm(v, axis=-1, keepdims=True), np.abs(l1 - l2) + margin, l1 + l2 - margin)
    side = (b - a) if pole is None else pole
    w = side - np.sum(side * u, axis=-1, keepdims=True) * u                  # bend direction, ⟂ u
    fallback = np.cross(u, np.where(np.abs(u[..., :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 0.0, 1.0]]))
    w = unit(np.where(np.linalg.norm(w, axis=-1, keepdims=True) > 1e-6 * l1, w, fallback))
    cos_a = np.clip((l1 ** 2 + d ** 2 - l2 ** 2) / (2 * l1 * d), -1.0, 1.0)
    return a + l1 * (cos_a * u + np.sqrt(1.0 - cos_a ** 2) * w), a + d * u


def knee_pole(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Where a leg's knee points ``(N, 3)``: its offset from the hip→ankle line (the leg's own bend), plus a
    little of the body's ``forward (N, 3)`` so a straight leg still has a direction. Stable when IK moves the
    ankle far from where it was (the bend plane comes from the leg as it was, not from the new goal)."""
    u = unit(ankle - hip)
    bend = (knee - hip) - np.sum((knee - hip) * u, axis=-1, keepdims=True) * u
    reach = np.linalg.norm(ankle - hip, axis=-1, keepdims=True)
    return bend + 0.05 * reach * unit(forward)


def one_bone_ik(a: np.ndarray, c: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """New end ``c (N, 3)`` of the bone a→c turned about ``a`` towards ``goal`` (length kept)."""
    return a + np.linalg.norm(c - a, axis=-1, keepdims=True) * unit(goal - a)
