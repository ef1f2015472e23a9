"""Model frame <-> armature space, leg-length scale, and rig pose -> SMPL-22 joints (the inverse of retarget).

model frame: Y up, character faces +Z, left +X, metres.  armature: Z up, faces -Y, left +X, rig units.
``armature = scale * A @ model`` with ``A`` the +90 degree rotation about X: (x, y, z) -> (x, -z, y).
"""
from __future__ import annotations

import numpy as np

from motionlcm_core.motion.skeleton import JOINT_NAMES, NUM_JOINTS
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.rig import Rig

#: Model (Y-up, +Z forward) -> armature (Z-up, -Y forward) axis change.
MODEL_TO_ARMATURE = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
#: Hip->knee + knee->ankle (metres) of a typical HumanML3D skeleton; used when no scale is given.
SMPL_REFERENCE_LEG_LENGTH = 0.82
_LEG_PAIRS = (("left_hip", "left_knee"), ("left_knee", "left_ankle"),
              ("right_hip", "right_knee"), ("right_knee", "right_ankle"))


def model_to_armature(points: np.ndarray, scale: float) -> np.ndarray:
    """Model-frame points ``[..., 3]`` (m) -> armature space ``[..., 3]`` (rig units)."""
    return scale * (np.asarray(points, dtype=np.float64) @ MODEL_TO_ARMATURE.T)


def armature_to_model(points: np.ndarray, scale: float) -> np.ndarray:
    """Armature-space points ``[..., 3]`` -> model frame ``[..., 3]`` (m); inverse of ``model_to_armature``."""
    return (np.asarray(points, dtype=np.float64) @ MODEL_TO_ARMATURE) / scale


def rig_leg_length(rig: Rig, bone_map: BoneMap) -> float:
    """Mean over both legs of |hip->knee| + |knee->ankle| between mapped bone heads (rig units)."""
    heads = rig.heads
    total = sum(np.linalg.norm(heads[rig.index[bone_map[b]]] - heads[rig.index[bone_map[a]]]) for a, b in _LEG_PAIRS)
    return float(total / 2.0)


def smpl_leg_length(joints: np.ndarray) -> float:
    """Median over frames of the mean leg length (hip->knee->ankle) of joints ``[T, 22, 3]`` (m)."""
    idx = {n: i for i, n in enumerate(JOINT_NAMES)}
    seg = sum(np.linalg.norm(joints[..., idx[b], :] - joints[..., idx[a], :], axis=-1) for a, b in _LEG_PAIRS)
    return float(np.median(seg) / 2.0)


def rig_scale(rig: Rig, bone_map: BoneMap, smpl_leg: float | None = None) -> float:
    """Model metres -> armature units: rig leg length / SMPL leg length (reference if ``None``)."""
    leg = SMPL_REFERENCE_LEG_LENGTH if smpl_leg is None else smpl_leg
    if not leg > 1e-6:
        raise ValueError(f"SMPL leg length must be positive, got {leg}; are the joints all at one point?")
    return rig_leg_length(rig, bone_map) / leg


def rig_positions_to_joints(positions: dict[str, np.ndarray], rig: Rig, bone_map: BoneMap, *,
                            scale: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Armature-space heads of mapped bones -> SMPL-22 joints in the model frame.

    Args:
        positions: bone name -> ``[..., 3]`` armature-space head positions (all the same shape).
        rig, bone_map: the rig and map used by ``retarget``.
        scale: ``RigAnimation.scale`` of the retargeted motion; ``None`` uses ``rig_scale(rig, bone_map)``
            (the reference leg length, right for model output).

    Returns:
        joints ``[..., 22, 3]`` (model frame, metres; zeros where unknown) and mask ``[..., 22]`` bool.
    """
    known = {j: b for j, b in bone_map.bones.items() if b in positions}
    if not known:
        raise ValueError(f"None of the given bones {sorted(positions)[:8]} is mapped; expected bones like "
                         f"{list(bone_map.bones.values())[:4]}")
    arrays = {j: np.asarray(positions[b], dtype=np.float64) for j, b in known.items()}
    shape = next(iter(arrays.values())).shape
    bad = [bone_map[j] for j, a in arrays.items() if a.shape != shape or shape[-1:] != (3,) or not np.isfinite(a).all()]
    if bad:
        raise ValueError(f"Bone positions must be finite arrays of one shape [..., 3]; check {bad}")
    s = rig_scale(rig, bone_map) if scale is None else float(scale)
    joints = np.zeros(shape[:-1] + (NUM_JOINTS, 3))
    mask = np.zeros(shape[:-1] + (NUM_JOINTS,), dtype=bool)
    for j, a in arrays.items():
        k = JOINT_NAMES.index(j)
        joints[..., k, :] = armature_to_model(a, s)
        mask[..., k] = True
    return joints, mask


def pin_targets(pins, rig: Rig, bone_map: BoneMap, frames: int, *, start_frame: float, scene_fps: float,
                fps: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pins made on the rig → model-frame targets ``[frames, 22, 3]`` (metres) and mask ``[frames, 22]``.

    ``pins``: items with ``bone``, ``joint``, scene ``frame`` and armature-space ``position`` (e.g.
    ``recipe.Pin``). With ``fps`` (the model's rate) each pin goes to the nearest frame of that rate counted
    from ``start_frame``, and a pin outside the clip is refused; without it (the scene's own frames) pins
    between scene frames or outside the clip are left out. Converted with ``rig_positions_to_joints``
    (reference leg), so they round-trip exactly through ``retarget(..., smpl_leg=SMPL_REFERENCE_LEG_LENGTH)``.
    """
    positions, mask = np.zeros((frames, NUM_JOINTS, 3)), np.zeros((frames, NUM_JOINTS), dtype=bool)
    for p in pins:
        t = p.frame - start_frame
        if fps is not None:
            t = int(round(t / scene_fps * fps))
            if not 0 <= t < frames:
                last = start_frame + int((frames - 1) / fps * scene_fps)
                raise ValueError(f"pin {p.bone} at frame {p.frame} is outside the clip (frames {start_frame:g}-"
                                 f"{last:g}); move it, lengthen the duration or clear the pin")
        elif not (float(t).is_integer() and 0 <= t < frames):
            continue
        joints, jmask = rig_positions_to_joints({p.bone: np.asarray(p.position, dtype=np.float64)}, rig, bone_map)
        positions[int(t)][jmask], mask[int(t)] = joints[jmask], mask[int(t)] | jmask
    return positions, mask
