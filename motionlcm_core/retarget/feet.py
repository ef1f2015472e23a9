"""Foot contacts and foot-sliding clean-up on SMPL-22 joints (model frame: Y up, metres).

A foot joint (ankle or toe) is in contact when it is within ``height_margin`` of its own ground level
(5th percentile of its height within ``ground_window_s`` of the frame) and its horizontal speed is below ``max_speed``. During a
contact the joint's horizontal position is pinned to the segment's mean; the correction fades in and out
over ``blend_s`` seconds (smoothstep), and the knee is re-solved by two-bone IK so bone lengths are kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionlcm_core.geometry import two_bone_ik, unit
from motionlcm_core.motion.contacts import LEGS, horizontal_speed, plant_offsets, segments

_XZ = [0, 2]


@dataclass(frozen=True)
class FootCleanupConfig:
    """Contact detection and blending settings (metres, seconds, m/s)."""

    height_margin: float = 0.05
    max_speed: float = 0.5
    min_contact_s: float = 0.1
    blend_s: float = 0.2
    ground_window_s: float = 1.0     # a foot's ground level: its 5th height percentile within ± this long


def foot_contacts(joints: np.ndarray, fps: float = 20.0, cfg: FootCleanupConfig = FootCleanupConfig()) -> np.ndarray:
    """Contact mask ``[T, 4]`` for (left ankle, left toe, right ankle, right toe) of joints ``[T, 22, 3]``."""
    from scipy.ndimage import percentile_filter
    feet = joints[:, [7, 10, 8, 11]]                                          # [T, 4, 3]
    size = 2 * max(1, int(round(cfg.ground_window_s * fps))) + 1             # local: far frames never change it
    height = feet[..., 1] - percentile_filter(feet[..., 1], 5, size=(size, 1), mode="nearest")
    contact = (height < cfg.height_margin) & (horizontal_speed(feet, fps) < cfg.max_speed)
    min_len = max(1, int(round(cfg.min_contact_s * fps)))
    for k in range(contact.shape[1]):
        for a, b in segments(contact[:, k]):
            if b - a < min_len:
                contact[a:b, k] = False
    return contact


def foot_sliding(joints: np.ndarray, fps: float = 20.0) -> float:
    """Mean horizontal speed (m/s) of ankles and toes over their contact frames (0.0 if none)."""
    joints = _check(joints)
    contact = foot_contacts(joints, fps)
    if not contact.any():
        return 0.0
    return float(horizontal_speed(joints[:, [7, 10, 8, 11]], fps)[contact].mean())


def cleanup_feet(joints: np.ndarray, fps: float = 20.0, cfg: FootCleanupConfig = FootCleanupConfig()) -> np.ndarray:
    """Joints ``[T, 22, 3]`` with sliding removed during foot contacts (knees re-solved, no pops)."""
    joints = _check(joints)
    out = joints.copy()
    contact = foot_contacts(joints, fps, cfg)
    blend = max(1, int(round(cfg.blend_s * fps)))
    for side, (hip, knee, ankle, toe) in enumerate(LEGS):
        off_a = plant_offsets(joints[:, ankle], contact[:, 2 * side], blend)[0]
        off_t = plant_offsets(joints[:, toe], contact[:, 2 * side + 1], blend)[0]
        moved = np.flatnonzero((np.abs(off_a).sum(-1) > 0) | (np.abs(off_t).sum(-1) > 0))
        if moved.size == 0:
            continue
        j = joints[moved]
        target = j[:, ankle] + off_a[moved]
        l1 = np.linalg.norm(j[:, knee] - j[:, hip], axis=-1)
        l2 = np.linalg.norm(j[:, ankle] - j[:, knee], axis=-1)
        new_knee, new_ankle = two_bone_ik(j[:, hip], j[:, knee], target, l1, l2)
        foot_len = np.linalg.norm(j[:, toe] - j[:, ankle], axis=-1, keepdims=True)
        new_toe = new_ankle + foot_len * unit(j[:, toe] + off_t[moved] - new_ankle)
        out[moved, knee], out[moved, ankle], out[moved, toe] = new_knee, new_ankle, new_toe
    return out


def _check(joints: np.ndarray) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise ValueError(f"joints must have shape [T, 22, 3], got {joints.shape}")
    if not np.isfinite(joints).all():
        raise ValueError("joints contain NaN/inf; fix or drop those frames before foot clean-up")
    return joints
