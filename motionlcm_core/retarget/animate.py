"""``animate_rig``: the one core entry from generated joints to a rig's keys.

joints (model frame, 20 fps) → :func:`~motionlcm_core.retarget.transfer.retarget` (rotations, planted feet)
→ resampled to the scene's frame rate (:mod:`~motionlcm_core.retarget.resample`) → the user's pins met on
the rig's own bones (:func:`~motionlcm_core.retarget.ik.solve_pins`). The add-on reads the rig from bpy,
calls this, and writes the result as keys; nothing else of the maths lives on the bpy side.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from motionlcm_core.motion.skeleton import FPS, NUM_JOINTS
from motionlcm_core.retarget.feet import FootCleanupConfig
from motionlcm_core.retarget.ik import PinIKConfig, PinnedAnimation, solve_pins
from motionlcm_core.retarget.inverse import model_to_armature
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.resample import resample_linear, resample_quats, sample_positions
from motionlcm_core.retarget.rig import Rig, RigAnimation
from motionlcm_core.retarget.transfer import retarget

__all__ = ["animate_rig"]


def animate_rig(joints: np.ndarray, rig: Rig, bone_map: BoneMap, *, src_fps: float = FPS,
                dst_fps: float | None = None, pins: tuple[np.ndarray, np.ndarray] | None = None,
                root_motion: Literal["full", "in_place"] = "full",
                foot_cleanup: FootCleanupConfig | bool | None = True, ik: PinIKConfig = PinIKConfig(),
                smpl_leg: float | None = None) -> PinnedAnimation:
    """The rig's animation for ``joints [T, 22, 3]`` (model frame, metres, ``src_fps``) at ``dst_fps``.

    Args:
        joints, rig, bone_map, root_motion, foot_cleanup, smpl_leg: as :func:`retarget` (``smpl_leg``: pass
            ``SMPL_REFERENCE_LEG_LENGTH`` when pins were made on the rig with ``rig_positions_to_joints``, so
            they round-trip exactly).
        src_fps, dst_fps: frame rates of ``joints`` and of the result (``None``: ``src_fps``). The result has
            ``frame_count(T, src_fps, dst_fps)`` frames; frame ``i`` is at ``i / dst_fps`` seconds.
        pins: optional ``(positions [F, 22, 3], mask [F, 22])`` at the result's frames, model frame, metres
            (the frame of ``joints``): the mapped bone heads meet them (hips, head, wrists, ankles, feet; pin
            IK with ``ik``). With ``root_motion="in_place"`` they move with the removed pelvis travel.

    Returns:
        a :class:`PinnedAnimation` (``pin_residual`` in rig units, zero without pins).
    """
    anim = retarget(joints, rig, bone_map, root_motion=root_motion, foot_cleanup=foot_cleanup, fps=src_fps,
                    smpl_leg=smpl_leg)
    dst_fps = float(src_fps if dst_fps is None else dst_fps)
    pos = sample_positions(anim.num_frames, src_fps, dst_fps)
    rots = {b: resample_quats(q, pos) for b, q in anim.rotations.items()}
    moved = RigAnimation(anim.root_bone, resample_linear(anim.root_translation, pos), rots, anim.scale, dst_fps)
    if pins is None:
        return PinnedAnimation(moved.root_bone, moved.root_translation, moved.rotations, moved.scale, moved.fps,
                               pin_residual=np.zeros((len(pos), NUM_JOINTS)))
    positions, mask = _check_pins(pins, len(pos))
    targets = model_to_armature(positions, anim.scale)
    if root_motion == "in_place":
        travel = model_to_armature(np.asarray(joints, dtype=np.float64)[:, 0], anim.scale)[:, :2]
        targets[..., :2] -= resample_linear(travel - travel[:1], pos)[:, None]
    return solve_pins(rig, bone_map, moved, targets, mask, ik)


def _check_pins(pins: tuple[np.ndarray, np.ndarray], frames: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(pins, (tuple, list)) or len(pins) != 2:
        raise ValueError("pins must be a (positions [T, 22, 3], mask [T, 22]) pair in the model frame")
    positions, mask = np.asarray(pins[0], dtype=np.float64), np.asarray(pins[1], dtype=bool)
    if positions.shape != (frames, NUM_JOINTS, 3) or mask.shape != (frames, NUM_JOINTS):
        raise ValueError(f"pins must be positions [T, 22, 3] and mask [T, 22] with T={frames} (the result's "
                         f"frames at dst_fps); got {positions.shape} and {mask.shape}")
    return positions, mask
