"""``retarget``: SMPL-22 joint positions -> a rig's own pose-bone animation (see package docstring)."""
from __future__ import annotations

from typing import Literal

import numpy as np

from motionlcm_core.motion.skeleton import JOINT_NAMES, NUM_JOINTS, PARENTS
from motionlcm_core.retarget.feet import FootCleanupConfig, cleanup_feet, foot_contacts
from motionlcm_core.retarget.ik import solve_pins
from motionlcm_core.retarget.inverse import (MODEL_TO_ARMATURE, model_to_armature, rig_leg_length, rig_scale,
                                             smpl_leg_length)
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.rig import Rig, RigAnimation
from motionlcm_core.retarget.rotations import make_quat_continuous, matrix_to_quat
from motionlcm_core.retarget.solve import AIM_CHILD, TPOSE_DIRECTIONS, solve_deltas

REQUIRED_JOINTS = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def retarget(joints: np.ndarray, rig: Rig, bone_map: BoneMap, *,
             root_motion: Literal["full", "in_place"] = "full",
             foot_cleanup: FootCleanupConfig | bool | None = True, fps: float = 20.0,
             smpl_leg: float | None = None) -> RigAnimation:
    """Turn SMPL-22 joints ``[T, 22, 3]`` (model frame, metres) into the rig's animation at the same rate.

    Args:
        joints: ``[T, 22, 3]`` finite positions, Y up, facing +Z, left +X.
        rig, bone_map: target armature and SMPL joint -> bone map (pelvis, hips, knees, ankles required).
        root_motion: "full" keeps the pelvis path; "in_place" pins its horizontal position to frame 0.
        foot_cleanup: a ``FootCleanupConfig`` (``True``: the default one; ``False``/``None``: off) removes foot
            sliding during contacts first (``cleanup_feet``), then holds each planted ankle and toe there on
            the rig (pin IK at its contact frames: the rig's proportions differ).
        fps: frame rate of ``joints``.
        smpl_leg: SMPL leg length (m) for the scale; ``None`` measures it from ``joints``.

    The user's pins, resampling to a scene rate and pin IK are :func:`~motionlcm_core.retarget.animate.animate_rig`.
    """
    joints = _check_inputs(joints, rig, bone_map, root_motion)
    cleanup = FootCleanupConfig() if foot_cleanup is True else (foot_cleanup or None)
    planted = None
    if cleanup is not None and joints.shape[0] >= 3:
        joints = cleanup_feet(joints, fps=fps, cfg=cleanup)
        planted = _planted_feet(joints, fps, cleanup)
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
    if planted is None or not planted.any():
        return anim
    held = solve_pins(rig, bone_map, anim, pose, planted)          # pose: the planted joints on the rig
    return RigAnimation(held.root_bone, held.root_translation, held.rotations, held.scale, held.fps)


def _planted_feet(joints: np.ndarray, fps: float, cfg: FootCleanupConfig) -> np.ndarray:
    """Pin mask ``[T, 22]``: each ankle and toe joint during its floor contacts (``foot_contacts``), held where
    it is. The rig's bones have other proportions than the joints, so rotations alone would move a planted
    foot; pin IK holds it."""
    contact = foot_contacts(joints, fps, cfg)                               # [T, 4]: 7, 10, 8, 11
    mask = np.zeros(joints.shape[:2], dtype=bool)
    mask[:, [7, 10, 8, 11]] = contact
    return mask


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
