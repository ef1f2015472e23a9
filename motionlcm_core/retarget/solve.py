"""Per-joint world rotations ("deltas") that carry a rest skeleton onto SMPL-22 joint positions.

For every SMPL joint ``j`` with an aim child ``c`` the delta ``D_j`` is the rotation taking the rest frame
``B(rest[c] - rest[j], s_rest)`` onto the posed frame ``B(P[c] - P[j], s_pose)``, where ``B`` is the
Gram-Schmidt frame of (primary, secondary) and the secondary vector fixes the twist:

- pelvis, spine1: hips across (right hip -> left hip); spine2: hips + shoulders across;
  spine3, neck: shoulders across; collars: torso up;
- thigh and shin: the knee's apex in the bend plane (thigh_dir - shin_dir), plus a little of the foot's
  forward and the torso forward so a straight leg still has a stable twist;
- upper arm and forearm: the elbow's apex plus a little of "backward and down" for straight arms;
- foot: the shin (ankle -> knee).

End joints (toes, head, wrists) take their parent's delta. Rest and pose only need to share one frame, so
the same solver serves rigs (armature space) and BVH (model space).
"""
from __future__ import annotations

import numpy as np

from motionlcm_core.motion.skeleton import NUM_JOINTS, PARENTS
from motionlcm_core.retarget.rotations import basis_from_vectors, normalize

#: Aim child of each SMPL joint (-1: end joint, takes its parent's delta).
AIM_CHILD: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, -1, -1, 15, 16, 17, -1, 18, 19, 20, 21, -1, -1)
AIMED = np.array([j for j in range(NUM_JOINTS) if AIM_CHILD[j] >= 0])
#: Rest T-pose bone directions (model frame: Y up, faces +Z, left +X), joint minus parent, unit length.
TPOSE_DIRECTIONS = normalize(np.array(
    [[0, 0, 0], [1, -0.4, 0], [-1, -0.4, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
     [0, -1, 0], [0, 1, 0], [0, -0.4, 1], [0, -0.4, 1], [0, 1, 0], [1, 0.3, 0], [-1, 0.3, 0], [0, 1, 0.1],
     [1, 0, 0], [-1, 0, 0], [1, 0, 0], [-1, 0, 0], [1, 0, 0], [-1, 0, 0]], dtype=np.float64))
_LEGS = ((1, 4, 7, 10), (2, 5, 8, 11))        # hip, knee, ankle, toe
_ARMS = ((16, 18, 20), (17, 19, 21))          # shoulder, elbow, wrist


def _frame_delta(pose_p: np.ndarray, pose_s: np.ndarray, rest_p: np.ndarray, rest_s: np.ndarray) -> np.ndarray:
    """Rotation ``[..., 3, 3]`` taking the rest (primary, secondary) frame onto the posed one."""
    return basis_from_vectors(pose_p, pose_s) @ np.swapaxes(basis_from_vectors(rest_p, rest_s), -1, -2)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest-arc rotations ``[..., 3, 3]`` taking unit vectors ``a`` onto ``b``."""
    v, c = np.cross(a, b), np.sum(a * b, axis=-1)[..., None, None]
    k = np.zeros(v.shape + (3,))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -v[..., 2], v[..., 1], -v[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    return np.eye(3) + k + k @ k / np.maximum(1.0 + c, 1e-6)


def _rotate_about(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotations ``[..., 3, 3]`` about unit ``axis`` ``[..., 3]`` by ``angle`` ``[...]`` radians."""
    k = np.zeros(axis.shape + (3,))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    s, c = np.sin(angle)[..., None, None], np.cos(angle)[..., None, None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)


def _child_delta(parent_delta: np.ndarray, rest_dir: np.ndarray, pose_dir: np.ndarray,
                 apex: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Swing the parent's delta onto ``pose_dir``; optionally blend the twist toward a bend-plane frame.

    ``apex`` = (posed apex ``[T, 3]``, rest apex ``[3]``, weight ``[T]`` in [0, 1]).
    """
    b = normalize(pose_dir)
    swung = _swing(normalize(parent_delta @ rest_dir), b) @ parent_delta
    if apex is None:
        return swung
    bend = _frame_delta(pose_dir, apex[0], rest_dir, apex[1])
    perp = np.cross(rest_dir, [0.3, 0.5, 0.8])
    x, y = swung @ perp, bend @ perp
    phi = np.arctan2(np.sum(b * np.cross(x, y), -1), np.sum(x * y, -1))
    return _rotate_about(b, apex[2] * phi) @ swung


def _bend(p: np.ndarray, a: int, b: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Apex direction ``[T, 3]`` of the a-b-c bend and its weight ``[T]`` (0 below 10 deg, 1 above 30 deg)."""
    u, v = normalize(p[..., b, :] - p[..., a, :]), normalize(p[..., c, :] - p[..., b, :])
    angle = np.degrees(np.arccos(np.clip(np.sum(u * v, -1), -1.0, 1.0)))
    x = np.clip((angle - 10.0) / 20.0, 0.0, 1.0)
    return u - v, x * x * (3 - 2 * x)


def solve_deltas(pose: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """World rotations ``[T, 22, 3, 3]`` mapping the rest skeleton ``[22, 3]`` onto poses ``[T, 22, 3]``.

    ``D[t, j] @ (rest[c] - rest[j])`` is parallel to ``pose[t, c] - pose[t, j]`` for the aim child ``c``.
    """
    d = np.empty(pose.shape[:-2] + (NUM_JOINTS, 3, 3))
    vec = lambda p, j: p[..., AIM_CHILD[j], :] - p[..., j, :]          # noqa: E731
    across = lambda p, a, b: normalize(p[..., a, :] - p[..., b, :])     # noqa: E731
    for j, sec in ((0, (1, 2)), (3, (1, 2)), (6, None), (9, (16, 17)), (12, (16, 17))):
        ps = across(pose, *sec) if sec else across(pose, 1, 2) + across(pose, 16, 17)
        rs = across(rest, *sec) if sec else across(rest, 1, 2) + across(rest, 16, 17)
        d[..., j, :, :] = _frame_delta(vec(pose, j), ps, vec(rest, j), rs)
    fwd_rest = normalize(np.cross(across(rest, 1, 2) + across(rest, 16, 17), rest[12] - rest[0]))
    for hip, knee, ankle in ((1, 4, 7), (2, 5, 8)):
        apex, w = _bend(pose, hip, knee, ankle)
        d[..., hip, :, :] = _child_delta(d[..., 0, :, :], vec(rest, hip), vec(pose, hip), (apex, fwd_rest, w))
        d[..., knee, :, :] = _child_delta(d[..., hip, :, :], vec(rest, knee), vec(pose, knee))
        d[..., ankle, :, :] = _child_delta(d[..., knee, :, :], vec(rest, ankle), vec(pose, ankle))
    for collar, sho, elb, wri in ((13, 16, 18, 20), (14, 17, 19, 21)):
        d[..., collar, :, :] = _child_delta(d[..., 9, :, :], vec(rest, collar), vec(pose, collar))
        apex, w = _bend(pose, sho, elb, wri)
        d[..., sho, :, :] = _child_delta(d[..., collar, :, :], vec(rest, sho), vec(pose, sho), (apex, -fwd_rest, w))
        d[..., elb, :, :] = _child_delta(d[..., sho, :, :], vec(rest, elb), vec(pose, elb))
    for j in range(NUM_JOINTS):
        if AIM_CHILD[j] < 0:
            d[..., j, :, :] = d[..., PARENTS[j], :, :]
    return d


def offsets_to_positions(offsets: np.ndarray) -> np.ndarray:
    """Joint positions ``[22, 3]`` (pelvis at the origin) from parent-relative offsets ``[22, 3]``."""
    pos = np.zeros_like(offsets)
    for j in range(1, NUM_JOINTS):
        pos[j] = pos[PARENTS[j]] + offsets[j]
    return pos


def fit_rest_offsets(joints: np.ndarray, iterations: int = 3) -> np.ndarray:
    """A T-pose skeleton ``[22, 3]`` (parent-relative offsets, model frame) that best explains ``[T, 22, 3]``.

    Aim children keep the T-pose direction with their mean length; other children (hips under the pelvis,
    collars on spine3) get their mean offset in the parent's solved frame, so FK of the solved rotations
    reproduces the input positions (exactly for a rigid input skeleton).
    """
    bone = joints[:, 1:] - joints[:, list(PARENTS[1:])]
    offsets = np.zeros((NUM_JOINTS, 3))
    offsets[1:] = TPOSE_DIRECTIONS[1:] * np.linalg.norm(bone, axis=-1).mean(axis=0)[:, None]
    for _ in range(iterations):
        deltas = solve_deltas(joints, offsets_to_positions(offsets))
        parent_rot = deltas[:, list(PARENTS[1:])]                         # [T, 21, 3, 3]
        offsets[1:] = np.einsum("tjik,tji->tjk", parent_rot, bone).mean(axis=0)
    return offsets
