"""HumanML3D 263-d motion features: joints (T, 22, 3) -> feats (T-1, 263) and back.

Reproduces the official HumanML3D ``process_file`` (EricGuo5513/HumanML3D ``9176e8fb``) including its
quirks, and MotionLCM's ``recover_from_ric``; see spec §1.3-1.4. Units: metres, Y up, 20 fps.

Quirks kept on purpose (the released models were trained on them):

* IK finds the facing direction with the hip pair reversed: ``(P[1]-P[2]) + (P[17]-P[16])``.
* The root rotation of frame 0 is forced to the identity (hence a large rotation velocity in row 0).
* Root yaw quaternions always have w >= 0; a turn past 180 degrees flips hemisphere, so
  ``recover_joints`` then departs from the true positions (official behaviour).
* Arithmetic runs in float32 where the official code does (its numpy/torch round trips), float64 elsewhere.

One quirk is *not* reproduced: the official ``qbetween`` calls ``torch.cross`` without ``dim``, which
crosses along the first axis of size 3, so clips of exactly 3 frames give garbage rotations there.
We cross along the vector axis; results differ from the official code only when T == 3.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from motionlcm_core.motion.quaternion import (
    qbetween_np, qinv, qinv_np, qmul_np, qrot, qrot_np, quat_to_cont6d_np, yaw_quat,
)
from motionlcm_core.motion.skeleton import FEET_LEFT, FEET_RIGHT, KINEMATIC_CHAINS, MIRROR_PERMUTATION, \
    NUM_JOINTS, PARENTS, RAW_OFFSETS

__all__ = [
    "FEATURE_DIM", "ROOT_ROT_VEL", "ROOT_LIN_VEL", "ROOT_Y", "RIC", "ROT6D", "LOCAL_VEL", "FOOT_CONTACT",
    "FEATURE_GROUPS", "default_target_offsets", "features_from_joints", "features_from_joints_many",
    "recover_joints", "mirror_joints",
    "floor_height", "lower_heights", "put_on_floor",
]

FEATURE_DIM = 263
ROOT_ROT_VEL = slice(0, 1)      # half yaw increment, rad/frame
ROOT_LIN_VEL = slice(1, 3)      # root (x, z) velocity in the facing frame of t+1, m/frame
ROOT_Y = slice(3, 4)            # root height, m
RIC = slice(4, 67)              # joints 1..21 relative to root xz, facing +Z (21 x 3)
ROT6D = slice(67, 193)          # joints 1..21 local rotations, 6-D (21 x 6)
LOCAL_VEL = slice(193, 259)     # velocities of joints 0..21 in the facing frame of t (22 x 3)
FOOT_CONTACT = slice(259, 263)  # contacts of joints 7, 10 (left), 8, 11 (right), 0/1
#: The groups within which HumanML3D averages the std (spec §1.5), in layout order.
FEATURE_GROUPS: tuple[slice, ...] = (ROOT_ROT_VEL, ROOT_LIN_VEL, ROOT_Y, RIC, ROT6D, LOCAL_VEL, FOOT_CONTACT)

_DATA_DIR = Path(__file__).parent / "data"
_LEG_BONES = (5, 8)                       # right knee, right ankle: their offsets give the leg length
_FACE_ACROSS = (2, 1, 17, 16)             # r_hip, l_hip, r_shoulder, l_shoulder (process_file)
_IK_ACROSS = (1, 2, 17, 16)               # the IK's swapped hip pair (quirk)
_Y_UP = np.array([0.0, 1.0, 0.0])
_Z_FWD = np.array([0.0, 0.0, 1.0], dtype=np.float32)
_IDENTITY = np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32)


@lru_cache(maxsize=1)
def _target_offsets() -> np.ndarray:
    arr = np.load(_DATA_DIR / "humanml3d_tgt_offsets.npy")
    arr.setflags(write=False)
    return arr


def default_target_offsets() -> np.ndarray:
    """The HumanML3D target skeleton: bone offsets (22, 3) float32 in metres (raw direction x length)."""
    return _target_offsets().copy()


# ------------------------------------------------------------------------------------ validation
def _check_joints(joints: np.ndarray, min_frames: int) -> np.ndarray:
    if not isinstance(joints, np.ndarray):
        raise ValueError(f"joints must be a numpy array (T, 22, 3), got {type(joints).__name__}")
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must have shape (T, 22, 3) (SMPL-22 order, metres, Y up), got {joints.shape}")
    if joints.shape[0] < min_frames:
        raise ValueError(f"need at least {min_frames} frames, got {joints.shape[0]}")
    if not np.isfinite(joints).all():
        raise ValueError("joints contain NaN or inf; clean or interpolate the clip first")
    return joints


def _check_bones(joints: np.ndarray) -> None:
    bones = joints[:, 1:] - joints[:, list(PARENTS[1:])]
    if (np.abs(bones).sum(-1) == 0).any():
        raise ValueError("some child joint coincides with its parent (zero-length bone); joints are degenerate")


# --------------------------------------------------------------------------------- IK / FK / skel
def _bone_offsets(frame: np.ndarray) -> np.ndarray:
    """Offsets (22, 3) float32 = raw direction x bone length measured on one pose (22, 3)."""
    bones = torch.from_numpy((frame[1:] - frame[list(PARENTS[1:])]).astype(np.float32))
    lengths = torch.norm(bones, p=2, dim=-1).numpy()  # torch's norm rounds like the reference; numpy's may not
    offsets = np.zeros((NUM_JOINTS, 3), dtype=np.float32)
    offsets[1:] = lengths[:, None] * RAW_OFFSETS[1:].astype(np.float32)
    return offsets


def _facing_root_quats(joints: np.ndarray, smooth: bool) -> np.ndarray:
    """IK root rotations (T, 4) float32 taking the (swapped-hip) forward to +Z; frame 0 forced to identity."""
    a, b, c, d = _IK_ACROSS
    across = (joints[:, a] - joints[:, b]) + (joints[:, c] - joints[:, d])
    across = across / np.sqrt((across**2).sum(axis=-1))[:, None]
    forward = np.cross(_Y_UP, across)  # float64, as in the reference
    if smooth:
        forward = gaussian_filter1d(forward, 20, axis=0, mode="nearest")
    forward = forward / np.sqrt((forward**2).sum(axis=-1))[:, None]
    root = qbetween_np(forward.astype(np.float32), np.broadcast_to(_Z_FWD, forward.shape))
    root[0] = _IDENTITY
    return root


def _inverse_kinematics(joints: np.ndarray, smooth: bool, root: np.ndarray | None = None) -> np.ndarray:
    """Local quaternions (T, 22, 4) float32 of joints (T, 22, 3); index 0 holds the root rotation
    (:func:`_facing_root_quats` of the joints, or ``root (T, 4)`` where given: the frames of several clips,
    one after another, each with its own root rotations — the bones are solved frame by frame)."""
    joints = joints.astype(np.float32, copy=False)
    quats = np.zeros(joints.shape[:-1] + (4,), dtype=np.float32)
    root = _facing_root_quats(joints, smooth) if root is None else root
    quats[:, 0] = root
    raw = RAW_OFFSETS.astype(np.float32)
    for chain in KINEMATIC_CHAINS:
        rot = root  # quirk: the arm chains also restart from the root rotation
        for parent, child in zip(chain[:-1], chain[1:]):
            v = joints[:, child] - joints[:, parent]
            v = v / np.sqrt((v**2).sum(axis=-1))[:, None]
            local = qmul_np(qinv_np(rot), qbetween_np(np.broadcast_to(raw[child], v.shape), v))
            quats[:, child] = local
            rot = qmul_np(rot, local)
    return quats


def _forward_kinematics(quats: np.ndarray, root_pos: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Global joints (T, 22, 3) float64 from local quats (T, 22, 4), root (T, 3) and offsets (22, 3)."""
    joints = np.zeros(quats.shape[:-1] + (3,), dtype=np.float64)
    joints[:, 0] = root_pos
    for chain in KINEMATIC_CHAINS:
        rot = quats[:, 0]
        for parent, child in zip(chain[:-1], chain[1:]):
            rot = qmul_np(rot, quats[:, child])
            joints[:, child] = qrot_np(rot, np.broadcast_to(offsets[child], rot.shape[:-1] + (3,))) + joints[:, parent]
    return joints


def _uniform_skeleton(joints: np.ndarray, tgt_offsets: np.ndarray) -> np.ndarray:
    """Retarget joints (T, 22, 3) float32 onto ``tgt_offsets``, root path scaled by the leg ratio; float64 out."""
    src = _bone_offsets(joints[0])
    src_leg = np.abs(src[_LEG_BONES[0]]).max() + np.abs(src[_LEG_BONES[1]]).max()
    tgt_leg = np.abs(tgt_offsets[_LEG_BONES[0]]).max() + np.abs(tgt_offsets[_LEG_BONES[1]]).max()
    root_pos = joints[:, 0] * np.float32(tgt_leg / src_leg)  # float32 root path, as the reference
    quats = _inverse_kinematics(joints, smooth=False)
    return _forward_kinematics(quats, root_pos, tgt_offsets)


# ------------------------------------------------------------------------------------- features
def _canonicalise(positions: np.ndarray) -> np.ndarray:
    """Floor at min y, frame-0 root xz at origin, frame 0 facing +Z; float64 (T,22,3) in, float32 out."""
    positions = positions.copy()
    positions[:, :, 1] -= positions.min(axis=0).min(axis=0)[1]
    first = positions[0].copy()
    positions = positions - first[0] * np.array([1.0, 0.0, 1.0])
    r_hip, l_hip, r_sh, l_sh = _FACE_ACROSS
    across = (first[r_hip] - first[l_hip]) + (first[r_sh] - first[l_sh])
    across = across / np.sqrt((across**2).sum(axis=-1))
    forward = np.cross(_Y_UP, across)
    forward = forward / np.sqrt((forward**2).sum(axis=-1))
    quat = qbetween_np(forward.astype(np.float32), _Z_FWD)
    return qrot_np(np.broadcast_to(quat, positions.shape[:-1] + (4,)), positions.astype(np.float32))


def _foot_contacts(positions: np.ndarray, threshold: float) -> np.ndarray:
    """Contacts (T-1, 4) float32: squared float32 displacement of joints 7, 10, 8, 11 below ``threshold``."""
    out = []
    for feet in (FEET_LEFT, FEET_RIGHT):
        d = positions[1:, list(feet)] - positions[:-1, list(feet)]
        sq = d[..., 0] ** 2 + d[..., 1] ** 2 + d[..., 2] ** 2
        out.append((sq.astype(np.float64) < threshold).astype(np.float32))
    return np.concatenate(out, axis=-1)


def features_from_joints(
    joints: np.ndarray, *, feet_threshold: float = 0.002, tgt_offsets: np.ndarray | None = None,
    retarget: bool = True,
) -> np.ndarray:
    """HumanML3D features (T-1, 263) float32 of global joints (T, 22, 3), metres, Y up, 20 fps.

    Steps (spec §1.3): retarget to ``tgt_offsets`` (default: the HumanML3D target skeleton), floor,
    origin, face +Z, foot contacts (squared displacement < ``feet_threshold`` m^2), IK with a Gaussian
    (sigma 20 frames) smoothed forward, root velocities, rotation-invariant positions, local velocities.
    ``retarget=False`` skips the first step for joints already on the target skeleton (e.g. recovered from
    features: a crop of a training clip), about half the time.
    """
    return features_from_joints_many([joints], feet_threshold=feet_threshold, tgt_offsets=tgt_offsets,
                                      retarget=retarget)[0]


def features_from_joints_many(
    clips: Sequence[np.ndarray], *, feet_threshold: float = 0.002, tgt_offsets: np.ndarray | None = None,
    retarget: bool = True,
) -> list[np.ndarray]:
    """:func:`features_from_joints` of several clips ``(T_i, 22, 3)``, the same numbers, their inverse kinematics
    solved in one pass over all their frames (most of the time for a short clip: ~15 ms for 80 frames)."""
    clips = [_check_joints(joints, min_frames=2) for joints in clips]
    for joints in clips:
        _check_bones(joints)
    if not feet_threshold > 0:
        raise ValueError(f"feet_threshold must be > 0 (m^2 per frame), got {feet_threshold}")
    tgt = default_target_offsets() if tgt_offsets is None else np.asarray(tgt_offsets, dtype=np.float32)
    if tgt.shape != (NUM_JOINTS, 3):
        raise ValueError(f"tgt_offsets must have shape (22, 3), got {tgt.shape}")
    if not clips:
        return []

    positions = [_canonicalise(_uniform_skeleton(joints.astype(np.float32), tgt) if retarget
                               else joints.astype(np.float64)) for joints in clips]     # (T, 22, 3) f32 each
    roots = [_facing_root_quats(p, smooth=True) for p in positions]                      # (T, 4) each
    quats = _inverse_kinematics(np.concatenate(positions), smooth=True, root=np.concatenate(roots))
    ends = np.cumsum([len(p) for p in positions])[:-1]
    return [_assemble_features(p, q, _foot_contacts(p, feet_threshold))
            for p, q in zip(positions, np.split(quats, ends))]


def _assemble_features(positions: np.ndarray, quats: np.ndarray, contacts: np.ndarray) -> np.ndarray:
    """The 263 channels (T-1, 263) float32 of canonical ``positions (T, 22, 3)``, their IK ``quats (T, 22, 4)``
    and foot ``contacts (T-1, 4)``."""
    r_rot = quats[:, 0]                                                             # (T, 4)
    root_vel = qrot_np(r_rot[1:], positions[1:, 0] - positions[:-1, 0])[:, [0, 2]]  # (T-1, 2)
    rot_vel = np.arcsin(qmul_np(r_rot[1:], qinv_np(r_rot[:-1]))[:, 2:3])            # (T-1, 1)
    local = positions.copy()
    local[..., 0] -= local[:, 0:1, 0]
    local[..., 2] -= local[:, 0:1, 2]
    ric = qrot_np(r_rot[:, None], local)                                            # (T, 22, 3)
    rot6d = quat_to_cont6d_np(quats[:, 1:])                                         # (T, 21, 6)
    lvel = qrot_np(r_rot[:-1, None], positions[1:] - positions[:-1])                # (T-1, 22, 3)

    n = len(positions) - 1
    parts = (rot_vel, root_vel, ric[:-1, 0, 1:2], ric[:-1, 1:].reshape(n, -1),
             rot6d[:-1].reshape(n, -1), lvel.reshape(n, -1), contacts)
    return np.concatenate(parts, axis=-1).astype(np.float32)


# -------------------------------------------------------------------------------------- recover
def _recover_torch(feats: torch.Tensor) -> torch.Tensor:
    """recover_from_ric on feats (..., T, 263) -> joints (..., T, 22, 3), differentiable."""
    rot_vel = feats[..., 0]
    half_yaw = torch.cumsum(torch.cat([torch.zeros_like(rot_vel[..., :1]), rot_vel[..., :-1]], dim=-1), dim=-1)
    inv_root = qinv(yaw_quat(half_yaw))                                             # (..., T, 4)

    vel = feats[..., :-1, 1:3]
    step = torch.stack([vel[..., 0], torch.zeros_like(vel[..., 0]), vel[..., 1]], dim=-1)
    step = torch.cat([torch.zeros_like(feats[..., :1, :3]), step], dim=-2)          # (..., T, 3)
    r_pos = torch.cumsum(qrot(inv_root, step), dim=-2)
    root = torch.stack([r_pos[..., 0], feats[..., 3], r_pos[..., 2]], dim=-1)       # (..., T, 3)

    ric = feats[..., RIC].reshape(feats.shape[:-1] + (NUM_JOINTS - 1, 3))
    body = qrot(inv_root[..., None, :], ric)
    offset = torch.stack([r_pos[..., 0], torch.zeros_like(r_pos[..., 0]), r_pos[..., 2]], dim=-1)
    return torch.cat([root[..., None, :], body + offset[..., None, :]], dim=-2)


def recover_joints(feats: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
    """Global joints (..., T, 22, 3) from de-normalised feats (..., T, 263) (MotionLCM ``recover_from_ric``).

    Uses only the root and RIC channels. numpy in -> numpy out (float dtype kept); torch in -> torch out on
    the same device/dtype, differentiable, any leading batch axes (e.g. (B, T, 263) or (T, 263)).
    """
    is_numpy = isinstance(feats, np.ndarray)
    if not is_numpy and not isinstance(feats, torch.Tensor):
        raise ValueError(f"feats must be a numpy array or torch tensor, got {type(feats).__name__}")
    if feats.ndim < 2 or feats.shape[-1] != FEATURE_DIM or feats.shape[-2] < 1:
        raise ValueError(f"feats must have shape (..., T>=1, {FEATURE_DIM}), got {tuple(feats.shape)}")
    if not is_numpy:
        if not feats.is_floating_point():
            raise ValueError(f"feats must be a floating tensor, got {feats.dtype}")
        return _recover_torch(feats)
    if not np.isfinite(feats).all():
        raise ValueError("feats contain NaN or inf")
    arr = feats if np.issubdtype(feats.dtype, np.floating) else feats.astype(np.float32)
    return _recover_torch(torch.from_numpy(np.ascontiguousarray(arr))).numpy()


def _heights(feats):
    """Joint heights ``(..., T, 22)`` (m) straight from the features: root height and every RIC joint's y are
    absolute in HumanML3D features, so no recovery is needed."""
    cat = np.concatenate if isinstance(feats, np.ndarray) else torch.cat
    return cat([feats[..., ROOT_Y], feats[..., RIC][..., 1::3]], -1)


def floor_height(feats, mask=None):
    """Height (m) of the lowest joint over each clip of de-normalised feats ``(..., T, 263)`` → ``(...)``;
    ``mask (..., T)`` (bool) leaves padding frames out. numpy or torch, as given.

    HumanML3D puts this height at 0 once per source clip; a crop of a long clip can sit above it (a walk on
    a platform, the top of a ladder), and a generated clip can float above it."""
    if feats.ndim < 2 or feats.shape[-1] != FEATURE_DIM:
        raise ValueError(f"feats must have shape (..., T, {FEATURE_DIM}), got {tuple(feats.shape)}")
    heights = _heights(feats)
    if isinstance(feats, np.ndarray):
        if mask is not None:
            heights = np.where(np.asarray(mask)[..., None], heights, np.inf)
        return heights.min(axis=(-2, -1))
    if mask is not None:
        heights = heights.masked_fill(~mask.to(heights.device)[..., None].bool(), float("inf"))
    return heights.flatten(-2).amin(-1)


def put_on_floor(feats, mask=None):
    """``feats (..., T, 263)`` lowered (or raised) so that each clip's lowest joint is at y = 0: the HumanML3D
    floor rule applied to the clip itself. numpy or torch, as given; padding frames (``mask`` False) shift
    with their clip."""
    return lower_heights(feats, floor_height(feats, mask))


def lower_heights(feats, shift):
    """``feats (..., T, 263)`` with every joint lowered by ``shift (...)`` metres (one value per clip). Only the
    root height and the RIC heights change; velocities, rotations and foot contacts do not depend on the
    floor."""
    out = feats.copy() if isinstance(feats, np.ndarray) else feats.clone()
    out[..., ROOT_Y] -= shift[..., None, None]
    out[..., RIC.start + 1:RIC.stop:3] -= shift[..., None, None]
    return out


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """Left/right mirror of joints (..., 22, 3): x -> -x and left/right joints swapped (HumanML3D ``M`` clips)."""
    if not isinstance(joints, np.ndarray) or joints.ndim < 2 or joints.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"joints must be a numpy array (..., 22, 3), got {getattr(joints, 'shape', type(joints))}")
    out = joints[..., list(MIRROR_PERMUTATION), :].copy()
    out[..., 0] *= -1
    return out
