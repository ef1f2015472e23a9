"""Vectorised numpy rotation helpers: quaternions (w, x, y, z), 3x3 matrices, Euler angles.

All functions broadcast over leading dimensions (``[..., 3, 3]``, ``[..., 4]``).
"""
from __future__ import annotations

import numpy as np

from motionlcm_core.geometry import unit

_EPS = 1e-9


def basis_from_vectors(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frame ``[..., 3, 3]`` whose columns are (d, s', d x s').

    ``d`` is ``primary`` normalised; ``s'`` is ``secondary`` made orthogonal to ``d`` (Gram-Schmidt).
    """
    d = unit(primary)
    s = secondary - np.sum(secondary * d, axis=-1, keepdims=True) * d
    s = unit(s)
    return np.stack([d, s, np.cross(d, s)], axis=-1)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` -> unit quaternions ``[..., 4]`` (w, x, y, z), w >= 0.

    Uses the numerically stable branch (largest diagonal term) per element.
    """
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    tr = np.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    k = np.argmax(tr, axis=-1)
    s = np.sqrt(np.maximum(np.take_along_axis(tr, k[..., None], -1)[..., 0], _EPS)) * 2.0
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    s21, s02, s10 = m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1]
    cands = np.stack([
        np.stack([s / 4, d21 / s, d02 / s, d10 / s], -1),
        np.stack([d21 / s, s / 4, s10 / s, s02 / s], -1),
        np.stack([d02 / s, s10 / s, s / 4, s21 / s], -1),
        np.stack([d10 / s, s02 / s, s21 / s, s / 4], -1),
    ], -2)
    q = np.take_along_axis(cands, k[..., None, None], -2)[..., 0, :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Quaternions ``[..., 4]`` (w, x, y, z; normalised here) -> rotation matrices ``[..., 3, 3]``."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def make_quat_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip quaternion signs along ``axis`` (time) so consecutive keys lie in one hemisphere."""
    q = np.moveaxis(np.array(q, dtype=np.float64), axis, 0)
    dots = np.sum(q[1:] * q[:-1], axis=-1)
    flips = np.concatenate([np.zeros((1,) + dots.shape[1:], bool), dots < 0], axis=0)
    sign = np.where(np.cumsum(flips, axis=0) % 2 == 1, -1.0, 1.0)
    return np.moveaxis(q * sign[..., None], 0, axis)


def axis_rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` about ``axis`` in {'X','Y','Z'} by ``angle`` radians ``[...]``."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(angle), np.zeros_like(angle)
    rows = {
        "X": [[o, z, z], [z, c, -s], [z, s, c]],
        "Y": [[c, z, s], [z, o, z], [-s, z, c]],
        "Z": [[c, -s, z], [s, c, z], [z, z, o]],
    }[axis.upper()]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Intrinsic Euler angles ``[..., 3]`` in degrees, applied as R = R[order[0]] @ R[order[1]] @ R[order[2]]
    (the BVH channel convention) -> ``[..., 3, 3]``."""
    a = np.deg2rad(angles_deg)
    return axis_rotation(order[0], a[..., 0]) @ axis_rotation(order[1], a[..., 1]) @ axis_rotation(order[2], a[..., 2])


def matrix_to_euler_zyx(m: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` -> degrees ``[..., 3]`` (z, y, x) with R = Rz @ Ry @ Rx."""
    sy = np.clip(-m[..., 2, 0], -1.0, 1.0)
    y = np.arcsin(sy)
    x = np.arctan2(m[..., 2, 1], m[..., 2, 2])
    z = np.arctan2(m[..., 1, 0], m[..., 0, 0])
    gimbal = np.abs(sy) > 1 - 1e-9
    z = np.where(gimbal, np.arctan2(-m[..., 0, 1], m[..., 1, 1]), z)
    x = np.where(gimbal, 0.0, x)
    return np.rad2deg(np.stack([z, y, x], -1))


def twist_angle_about_y(rel: np.ndarray) -> np.ndarray:
    """Twist (radians, in (-pi, pi]) about the local Y axis of rotations ``[..., 3, 3]`` (swing-twist split)."""
    q = matrix_to_quat(rel)
    return 2.0 * np.arctan2(q[..., 2], q[..., 0])
