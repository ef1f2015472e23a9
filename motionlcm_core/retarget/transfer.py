"""``retarget``: SMPL-22 joint positions -> a rig's own pose-bone animation (see package docstring)."""
from __future__ import annotations

from typing import Literal

import numpy as np

from motionlcm_core.motion.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from motionlcm_core.retarget.feet import cleanup_feet, foot_contacts
from motionlcm_core.retarget.ik import PinIKConfig, solve_pins
from motionlcm_core.retarget.inverse import (MODEL_TO_ARMATURE, model_to_armature, rig_leg_length, rig_scale,
                                             smpl_leg_length)
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.rig import Rig, RigAnimation
from motionlcm_core.retarget.rotations import make_quat_continuous, matrix_to_quat
from motionlcm_core.retarget.solve import AIM_CHILD, TPOSE_DIRECTIONS, solve_deltas

REQUIRED_JOINTS = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def retarget(joints: np.ndarray, rig: Rig, bone_map: BoneMap, *,
             root_motion: Literal["full", "in_place"] = "full", foot_cleanup: bool = True,
             fps: float = 20.0, smpl_leg: float | None = None,
             pins: tuple[np.ndarray, np.ndarray] | None = None, ik: PinIKConfig = PinIKConfig()) -> RigAnimation:
    """Turn SMPL-22 joints ``[T, 22, 3]`` (model frame, metres) into the rig's animation.

    Args:
        joints: ``[T, 22, 3]`` finite positions, Y up, facing +Z, left +X.
        rig, bone_map: target armature and SMPL joint -> bone map (pelvis, hips, knees, ankles required).
        root_motion: "full" keeps the pelvis path; "in_place" pins its horizontal position to frame 0.
        foot_cleanup: remove foot sliding during contacts first (``cleanup_feet``), then hold each planted
            ankle and toe there on the rig (pin IK at its contact frames: the rig's proportions differ).
        fps: frame rate of ``joints``.
        smpl_leg: SMPL leg length (m) for the scale; ``None`` measures it from ``joints``.
        pins: optional ``(positions [T, 22, 3], mask [T, 22])`` model-frame targets (metres) that the rig's
            mapped bone heads must meet at the masked frames. They go to armature space with the same scale,
            axes (and in-place shift) as ``joints``, then ``ik.solve_pins`` moves hips, head, wrists, ankles
            and feet onto them; the result is a ``PinnedAnimation`` with ``pin_residual``. Pins made on the
            rig with ``rig_positions_to_joints(..., scale=None)`` round-trip exactly when
            ``smpl_leg=SMPL_REFERENCE_LEG_LENGTH`` (as the add-on does).
        ik: pin IK settings (fade window).
    """
    joints = _check_inputs(joints, rig, bone_map, root_motion)
    if pins is not None:
        pins = _check_pins(pins, joints.shape[0])
    if foot_cleanup and joints.shape[0] >= 3:
        joints = cleanup_feet(joints, fps=fps)
        pins = _with_planted_feet(joints, pins, fps)
    scale = rig_scale(rig, bone_map, smpl_leg_length(joints) if smpl_leg is None else smpl_leg)
    pose = model_to_armature(joints, scale)
    travel = pose[:, 0, :2] - pose[:1, 0, :2]                              # [T, 2] pelvis XY travel
    if root_motion == "in_place":
        pose[..., :2] -= travel[:, None]
    deltas = solve_deltas(pose, rest_joint_positions(rig, bone_map))     # [T, 22, 3, 3]
    rotations = _local_rotations(rig, bone_map, deltas)
    root = rig.index[bone_map["pelvis"]]
    rest_r = rig.rest_matrices[root]
    root_loc = (pose[:, 0] - rest_r[:3, 3]) @ rest_r[:3, :3]
    anim = RigAnimation(root_bone=rig.names[root], root_translation=root_loc, rotations=rotations,
                        scale=float(scale), fps=float(fps))
    if pins is None:
        return anim
    targets = model_to_armature(pins[0], scale)
    if root_motion == "in_place":
        targets[..., :2] -= travel[:, None]
    return solve_pins(rig, bone_map, anim, targets, pins[1], ik)


def _with_planted_feet(joints: np.ndarray, pins: tuple[np.ndarray, np.ndarray] | None,
                       fps: float) -> tuple[np.ndarray, np.ndarray]:
    """``pins`` plus the planted feet: each ankle and toe joint pinned where it is during its floor contacts
    (``foot_contacts``). The rig's bones have other proportions than the joints, so rotations alone would
    move a planted foot; pin IK holds it. The user's own pins keep their targets."""
    contact = foot_contacts(joints, fps)                                    # [T, 4]: 7, 10, 8, 11
    positions = np.zeros_like(joints) if pins is None else pins[0].copy()
    mask = np.zeros(joints.shape[:2], dtype=bool) if pins is None else pins[1].copy()
    for k, j in enumerate((7, 10, 8, 11)):
        ankle, toe = (7, 10) if j in (7, 10) else (8, 11)
        if mask[:, toe].any() and not mask[:, ankle].any():
            continue                       # a user pin on the toe alone moves the whole leg: leave that foot to it
        feet = contact[:, k] & ~mask[:, j]
        positions[feet, j] = joints[feet, j]
        mask[feet, j] = True
    return positions, mask


def rest_joint_positions(rig: Rig, bone_map: BoneMap) -> np.ndarray:
    """Rest positions ``[22, 3]`` of the SMPL joints on the rig (armature space).

    Mapped joint: its bone's head. Unmapped joint that is its parent's aim child: the parent bone's tail
    (e.g. no toe bone -> foot tail). Otherwise the parent position plus the ideal T-pose offset.
    """
    out = np.zeros((NUM_JOINTS, 3))
    unit = 0.12 * rig_leg_length(rig, bone_map)
    ideal = TPOSE_DIRECTIONS @ MODEL_TO_ARMATURE.T
    for j, name in enumerate(JOINT_NAMES):
        p = PARENTS[j]
        if name in bone_map.bones:
            out[j] = rig.heads[rig.index[bone_map[name]]]
        elif JOINT_NAMES[p] in bone_map.bones and AIM_CHILD[p] == j:
            out[j] = rig.tails[rig.index[bone_map[JOINT_NAMES[p]]]]
        else:
            out[j] = out[p] + unit * ideal[j]
    return out


def _local_rotations(rig: Rig, bone_map: BoneMap, deltas: np.ndarray) -> dict[str, np.ndarray]:
    """Pose quaternions for mapped bones and the unmapped bones between them (identity: they follow)."""
    joint_of = {rig.index[b]: JOINT_NAMES.index(j) for j, b in bone_map.bones.items()}
    delta_src = np.full(len(rig), -1)
    for k in rig.order:
        p = rig.parents[k]
        delta_src[k] = joint_of.get(k, delta_src[p] if p >= 0 else -1)
    has_mapped_below = np.zeros(len(rig), dtype=bool)
    for k in rig.order[::-1]:
        p = rig.parents[k]
        if p >= 0 and (has_mapped_below[k] or k in joint_of):
            has_mapped_below[p] = True
    t = deltas.shape[0]
    eye = np.broadcast_to(np.eye(3), (t, 3, 3))
    out: dict[str, np.ndarray] = {}
    for k in range(len(rig)):
        p = rig.parents[k]
        if k in joint_of:
            parent_delta = eye if p < 0 or delta_src[p] < 0 else deltas[:, delta_src[p]]
            r = rig.rest_matrices[k, :3, :3]
            local = r.T @ np.swapaxes(parent_delta, -1, -2) @ deltas[:, joint_of[k]] @ r
            out[rig.names[k]] = make_quat_continuous(matrix_to_quat(local))
        elif delta_src[k] >= 0 and has_mapped_below[k]:
            out[rig.names[k]] = np.tile([1.0, 0.0, 0.0, 0.0], (t, 1))
    return out


def _check_inputs(joints: np.ndarray, rig: Rig, bone_map: BoneMap, root_motion: str) -> np.ndarray:
    if root_motion not in ("full", "in_place"):
        raise ValueError(f"root_motion must be 'full' or 'in_place', got {root_motion!r}")
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3) or joints.shape[0] < 1:
        raise ValueError(f"joints must have shape [T, 22, 3] (SMPL-22, model frame), got {joints.shape}")
    if not np.isfinite(joints).all():
        frames = np.flatnonzero(~np.isfinite(joints).all(axis=(1, 2)))
        raise ValueError(f"joints contain NaN/inf at frames {frames[:10].tolist()}; fix or drop those frames")
    missing = [j for j in REQUIRED_JOINTS if j not in bone_map.bones]
    if missing:
        raise ValueError(f"The bone map has no bone for required SMPL joints {missing} (hips and legs); "
                         f"map them (BoneMap.detect found preset {bone_map.preset_name!r})")
    absent = {j: b for j, b in bone_map.bones.items() if b not in rig.index}
    if absent:
        raise ValueError(f"Bones named in the bone map are not in the rig: {absent}")
    dup = sorted({b for b in bone_map.bones.values() if list(bone_map.bones.values()).count(b) > 1})
    if dup:
        raise ValueError(f"Each rig bone may carry only one SMPL joint; mapped twice: {dup}")
    return joints


def _check_pins(pins: tuple[np.ndarray, np.ndarray], t: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(pins, (tuple, list)) or len(pins) != 2:
        raise ValueError("pins must be a (positions [T, 22, 3], mask [T, 22]) pair in the model frame")
    positions, mask = np.asarray(pins[0], dtype=np.float64), np.asarray(pins[1], dtype=bool)
    if positions.shape != (t, NUM_JOINTS, 3) or mask.shape != (t, NUM_JOINTS):
        raise ValueError(f"pins must be positions [T, 22, 3] and mask [T, 22] with T={t} (as joints); "
                         f"got {positions.shape} and {mask.shape}")
    return positions, mask
