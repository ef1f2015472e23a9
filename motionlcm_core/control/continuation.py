"""Continue from a pose: pins that make a new clip start exactly where a previous one (or a rig) leaves off.

The previous poses are expressed in the model frame (pelvis at x = z = 0, facing +Z) and pinned on the new
clip's first frames; :meth:`PoseContinuation.to_source` puts the generated joints back, and
:func:`blend_from` fades the caller's own proportions into the first frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionlcm_core.control.field import displacement_field
from motionlcm_core.control.targets import Control
from motionlcm_core.motion.skeleton import CONTROL_JOINTS, FACE_JOINTS, NUM_JOINTS

__all__ = ["PoseContinuation", "blend_from", "continue_from_pose"]

#: Model frames (20 fps) over which a caller's own proportions fade into the new clip.
BLEND_FRAMES = 12


@dataclass
class PoseContinuation:
    """``control`` pins the first frames of a new clip (model frame); ``rotation (3, 3)`` and
    ``translation (3,)`` map the caller's frame to the model frame: ``model = (src − translation) @ rotation.T``."""

    control: Control
    rotation: np.ndarray
    translation: np.ndarray

    def to_source(self, joints: np.ndarray) -> np.ndarray:
        """Generated joints ``(..., 22, 3)`` (model frame) → the caller's frame of ``prev_joints``."""
        return (np.asarray(joints, dtype=np.float64) @ self.rotation + self.translation).astype(np.float32)

    def merged(self, pins: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
        """This continuation's pins plus the caller's ``pins`` (positions ``[T, 22, 3]`` in the caller's
        frame, mask ``[T, 22]``) moved to the model frame: ``(positions, mask)``."""
        positions = np.array(self.control.positions, dtype=np.float32)
        mask = np.array(self.control.mask, dtype=bool)
        if pins is not None:
            sel = np.asarray(pins[1], bool)
            moved = (np.asarray(pins[0], np.float64) - self.translation) @ self.rotation.T
            positions[sel], mask = moved[sel], mask | sel
        return positions, mask


def _heading_rotation(pose: np.ndarray) -> np.ndarray:
    """Rotation about +Y ``(3, 3)`` that turns the facing of ``pose (22, 3)`` to +Z (HumanML3D rule)."""
    r_hip, l_hip, r_sho, l_sho = FACE_JOINTS
    across = (pose[r_hip] - pose[l_hip]) + (pose[r_sho] - pose[l_sho])
    forward = np.cross([0.0, 1.0, 0.0], across)
    if np.hypot(forward[0], forward[2]) < 1e-6:
        raise ValueError("cannot tell which way the pose faces (hips and shoulders coincide)")
    phi = np.arctan2(forward[0], forward[2])           # heading from +Z towards +X
    c, s = np.cos(-phi), np.sin(-phi)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def continue_from_pose(prev_joints, num_frames: int, *, joints: tuple[int, ...] | str = "all"
                       ) -> PoseContinuation:
    """Pins that make a new clip start exactly where ``prev_joints (K, 22, 3)`` leaves off.

    ``prev_joints``: the last K poses of the previous clip (or the rig's current pose, K = 1), metres, Y up,
    floor at y = 0, in any horizontal placement. Frame ``k < K`` of the new clip is pinned to
    ``prev_joints[k]`` expressed in the model frame (pelvis of ``prev_joints[0]`` at x = z = 0, facing +Z).
    Place the new clip with :meth:`PoseContinuation.to_source`, its frame 0 on the frame of ``prev_joints[0]``.
    ``joints``: ``"all"`` (default, no jump at any joint) or joint indices, e.g. ``CONTROL_JOINTS``."""
    prev = np.asarray(prev_joints, dtype=np.float64)
    if prev.ndim == 2:
        prev = prev[None]
    if prev.ndim != 3 or prev.shape[1:] != (NUM_JOINTS, 3) or not np.isfinite(prev).all():
        raise ValueError(f"prev_joints must be finite (K, 22, 3) or (22, 3), got {prev.shape}")
    if not 1 <= len(prev) < num_frames:
        raise ValueError(f"need 1 <= K < num_frames poses to continue from, got K={len(prev)}, "
                         f"num_frames={num_frames}")
    chosen = tuple(range(NUM_JOINTS)) if joints == "all" else tuple(int(j) for j in joints)
    if not chosen or any(not 0 <= j < NUM_JOINTS for j in chosen):
        raise ValueError(f"joints must be 'all' or indices in 0..21 (e.g. {CONTROL_JOINTS}), got {joints}")
    rotation = _heading_rotation(prev[0])
    translation = np.array([prev[0, 0, 0], 0.0, prev[0, 0, 2]])
    positions = np.zeros((num_frames, NUM_JOINTS, 3), dtype=np.float32)
    positions[: len(prev)] = (prev - translation) @ rotation.T
    mask = np.zeros((num_frames, NUM_JOINTS), dtype=bool)
    mask[: len(prev), list(chosen)] = True
    return PoseContinuation(Control(positions, mask), rotation, translation)


def blend_from(joints: np.ndarray, previous: tuple[np.ndarray, np.ndarray], window: int = BLEND_FRAMES) -> np.ndarray:
    """Joints ``[T, 22, 3]`` whose frame 0 equals the previous pose's known joints, the difference fading out
    over ``window`` frames (smoothstep). ``previous``: (joints ``[22, 3]``, mask ``[22]``) in the same frame as
    ``joints``. The model meets frame 0 with its own bone lengths; this makes the caller's proportions (a
    rig's) exact there."""
    prev, mask = np.asarray(previous[0], np.float64), np.asarray(previous[1], bool)
    out = np.array(joints, dtype=np.float64)
    sel = np.flatnonzero(mask)
    offset = (prev[sel] - out[0, sel]).reshape(1, -1)
    field = displacement_field(np.array([0]), offset, len(out), window)
    out[:, sel] += field.reshape(len(out), len(sel), 3)
    return out
