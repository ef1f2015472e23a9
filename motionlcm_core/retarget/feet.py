"""Foot contacts and foot-sliding clean-up on SMPL-22 joints (model frame: Y up, metres).

A foot joint (ankle or toe) is in contact when it is within ``height_margin`` of its own ground level
(5th percentile of its height over the clip) and its horizontal speed is below ``max_speed``. During a
contact the joint's horizontal position is pinned to the segment's mean; the correction fades in and out
over ``blend_s`` seconds (smoothstep), and the knee is re-solved by two-bone IK so bone lengths are kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionlcm_core.retarget.rotations import normalize

_FEET = ((1, 4, 7, 10), (2, 5, 8, 11))            # hip, knee, ankle, toe per side
_XZ = [0, 2]


@dataclass(frozen=True)
class FootCleanupConfig:
    """Contact detection and blending settings (metres, seconds, m/s)."""

    height_margin: float = 0.05
    max_speed: float = 0.5
    min_contact_s: float = 0.1
    blend_s: float = 0.2


def foot_contacts(joints: np.ndarray, fps: float = 20.0, cfg: FootCleanupConfig = FootCleanupConfig()) -> np.ndarray:
    """Contact mask ``[T, 4]`` for (left ankle, left toe, right ankle, right toe) of joints ``[T, 22, 3]``."""
    feet = joints[:, [7, 10, 8, 11]]                                          # [T, 4, 3]
    height = feet[..., 1] - np.percentile(feet[..., 1], 5, axis=0)
    contact = (height < cfg.height_margin) & (_horizontal_speed(feet, fps) < cfg.max_speed)
    min_len = max(1, int(round(cfg.min_contact_s * fps)))
    for k in range(contact.shape[1]):
        for a, b in _segments(contact[:, k]):
            if b - a < min_len:
                contact[a:b, k] = False
    return contact


def foot_sliding(joints: np.ndarray, fps: float = 20.0) -> float:
    """Mean horizontal speed (m/s) of ankles and toes over their contact frames (0.0 if none)."""
    joints = _check(joints)
    contact = foot_contacts(joints, fps)
    if not contact.any():
        return 0.0
    return float(_horizontal_speed(joints[:, [7, 10, 8, 11]], fps)[contact].mean())


def cleanup_feet(joints: np.ndarray, fps: float = 20.0, cfg: FootCleanupConfig = FootCleanupConfig()) -> np.ndarray:
    """Joints ``[T, 22, 3]`` with sliding removed during foot contacts (knees re-solved, no pops)."""
    joints = _check(joints)
    out = joints.copy()
    contact = foot_contacts(joints, fps, cfg)
    blend = max(1, int(round(cfg.blend_s * fps)))
    for side, (hip, knee, ankle, toe) in enumerate(_FEET):
        off_a = _pin_offsets(joints[:, ankle], contact[:, 2 * side], blend)
        off_t = _pin_offsets(joints[:, toe], contact[:, 2 * side + 1], blend)
        moved = np.flatnonzero((np.abs(off_a).sum(-1) > 0) | (np.abs(off_t).sum(-1) > 0))
        if moved.size == 0:
            continue
        j = joints[moved]
        target = j[:, ankle] + off_a[moved]
        l1 = np.linalg.norm(j[:, knee] - j[:, hip], axis=-1)
        l2 = np.linalg.norm(j[:, ankle] - j[:, knee], axis=-1)
        new_knee, new_ankle = _two_bone_ik(j[:, hip], j[:, knee], target, l1, l2)
        foot_len = np.linalg.norm(j[:, toe] - j[:, ankle], axis=-1, keepdims=True)
        new_toe = new_ankle + foot_len * normalize(j[:, toe] + off_t[moved] - new_ankle)
        out[moved, knee], out[moved, ankle], out[moved, toe] = new_knee, new_ankle, new_toe
    return out


def _pin_offsets(pos: np.ndarray, contact: np.ndarray, blend: int) -> np.ndarray:
    """Horizontal corrections ``[T, 3]``: pin - pos inside contacts, smoothstep fade outside."""
    t = pos.shape[0]
    off = np.zeros((t, 3))
    weight = np.zeros(t)
    for a, b in _segments(contact):
        pin = pos[a:b][:, _XZ].mean(axis=0)
        seg = np.zeros((t, 3))
        seg[a:b][:, _XZ] = pin - pos[a:b][:, _XZ]
        w = np.zeros(t)
        w[a:b] = 1.0
        for d in range(1, blend + 1):
            x = 1.0 - d / (blend + 1)
            s = x * x * (3 - 2 * x)
            if a - d >= 0:
                seg[a - d], w[a - d] = seg[a] * s, s
            if b - 1 + d < t:
                seg[b - 1 + d], w[b - 1 + d] = seg[b - 1] * s, s
        take = w > weight
        off[take], weight[take] = seg[take], w[take]
    return off


def _two_bone_ik(hip: np.ndarray, knee: np.ndarray, target: np.ndarray, l1: np.ndarray,
                 l2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knee and reachable ankle ``[M, 3]`` for ankle targets, keeping the original bend plane."""
    v = target - hip
    u = normalize(v)
    d = np.clip(np.linalg.norm(v, axis=-1), np.abs(l1 - l2) + 1e-6, l1 + l2 - 1e-6)
    pole = knee - hip
    pole = normalize(pole - np.sum(pole * u, -1, keepdims=True) * u)
    cos_a = np.clip((l1 ** 2 + d ** 2 - l2 ** 2) / (2 * l1 * d), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a ** 2)
    new_knee = hip + l1[:, None] * (cos_a[:, None] * u + sin_a[:, None] * pole)
    return new_knee, hip + d[:, None] * u


def _horizontal_speed(points: np.ndarray, fps: float) -> np.ndarray:
    """Speed ``[T, ...]`` (m/s) in the XZ plane of points ``[T, ..., 3]`` (central differences)."""
    if points.shape[0] < 2:
        return np.zeros(points.shape[:-1])
    vel = np.gradient(points[..., _XZ], axis=0) * fps
    return np.linalg.norm(vel, axis=-1)


def _segments(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open runs ``[a, b)`` of True in a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2], edges[1::2]))


def _check(joints: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise ValueError(f"joints must have shape [T, 22, 3], got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints contain NaN/inf; fix or drop those frames before foot clean-up")
    return joints
