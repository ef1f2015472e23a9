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

import math

import numpy as np

from motionlcm_core.geometry import rotation_about, smoothstep, swing, unit
from motionlcm_core.motion.skeleton import NUM_JOINTS, PARENTS
from motionlcm_core.retarget.rotations import basis_from_vectors

#: Aim child of each SMPL joint (-1: end joint, takes its parent's delta).
AIM_CHILD: tuple[int, ...] = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, -1, -1, 15, 16, 17, -1, 18, 19, 20, 21, -1, -1)
AIMED = np.array([j for j in range(NUM_JOINTS) if AIM_CHILD[j] >= 0])
#: Rest T-pose bone directions (model frame: Y up, faces +Z, left +X), joint minus parent, unit length.
TPOSE_DIRECTIONS = unit(np.array(
    [[0, 0, 0], [1, -0.4, 0], [-1, -0.4, 0], [0, 1, 0], [0, -1, 0], [0, -1, 0], [0, 1, 0], [0, -1, 0],
     [0, -1, 0], [0, 1, 0], [0, -0.4, 1], [0, -0.4, 1], [0, 1, 0], [1, 0.3, 0], [-1, 0.3, 0], [0, 1, 0.1],
     [1, 0, 0], [-1, 0, 0], [1, 0, 0], [-1, 0, 0], [1, 0, 0], [-1, 0, 0]], dtype=np.float64))
_LEGS = ((1, 4, 7, 10), (2, 5, 8, 11))        # hip, knee, ankle, toe
_ARMS = ((16, 18, 20), (17, 19, 21))          # shoulder, elbow, wrist
#: Hip/shoulder twist toward the bend plane fades to 0 over this many degrees before +-180 (``twist_toward_bend``).
TWIST_FADE_DEG = 120.0
#: Frames of the running median on that twist (odd; removes glitches of up to TWIST_MEDIAN // 2 frames).
TWIST_MEDIAN = 5
#: Swing angles (deg) between which the swing-only twist reference goes from trusted to parallel transport.
SWING_TRUST_DEG = (120.0, 165.0)


def _frame_delta(pose_p: np.ndarray, pose_s: np.ndarray, rest_p: np.ndarray, rest_s: np.ndarray) -> np.ndarray:
    """Rotation ``[..., 3, 3]`` taking the rest (primary, secondary) frame onto the posed one."""
    return basis_from_vectors(pose_p, pose_s) @ np.swapaxes(basis_from_vectors(rest_p, rest_s), -1, -2)


def _child_delta(parent_delta: np.ndarray, rest_dir: np.ndarray, pose_dir: np.ndarray,
                 apex: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Swing the parent's delta onto ``pose_dir`` ``[T, 3]``, twist kept continuous in time; optionally
    turn the twist toward a bend-plane frame.

    The swing-only frame is the anatomical twist reference, but it is singular where the bone points away
    from its parent-carried rest direction (swing near 180 deg). There the frame follows parallel transport
    from the previous frame instead (``_continuous_twist``). ``apex`` = (posed apex ``[T, 3]``, rest apex
    ``[3]``, weight ``[T]`` in [0, 1]); the turn is ``twist_toward_bend`` of the bend frame's angle.
    """
    b = unit(pose_dir)
    carried = unit(parent_delta @ rest_dir)
    swung = swing(carried, b, eps=1e-6) @ parent_delta
    perp = unit(np.cross(rest_dir, [0.3, 0.5, 0.8]))
    if swung.ndim == 3 and swung.shape[0] > 1:
        transported = swing(b[:-1], b[1:], eps=1e-6) @ swung[:-1]
        tau = np.concatenate([[0.0], _angle_about(b[1:], transported @ perp, swung[1:] @ perp)])
        trust = smoothstep((SWING_TRUST_DEG[1] - np.degrees(np.arccos(np.clip(np.sum(carried * b, -1), -1, 1))))
                            / (SWING_TRUST_DEG[1] - SWING_TRUST_DEG[0]))
        swung = rotation_about(b, _continuous_twist(tau, trust)) @ swung
    if apex is None:
        return swung
    bend = _frame_delta(pose_dir, apex[0], rest_dir, apex[1])
    phi = _angle_about(b, swung @ perp, bend @ perp)
    return rotation_about(b, twist_toward_bend(phi, apex[2])) @ swung


def _angle_about(axis: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed angle ``[...]`` (radians) from ``x`` to ``y`` (both ``[..., 3]``, normal to ``axis``) about ``axis``."""
    return np.arctan2(np.sum(axis * np.cross(x, y), -1), np.sum(x * y, -1))


def _continuous_twist(tau: np.ndarray, trust: np.ndarray) -> np.ndarray:
    """Twist correction ``[T]`` (radians) about the bone from its swing-only frame.

    ``tau[t]``: twist of the swing-only frame at t relative to the frame t-1 transported along the bone's
    swing; ``trust[t]`` in [0, 1]: how well-conditioned the swing-only frame is. Recurrence
    ``theta[t] = (1 - trust[t]) * wrap(theta[t-1] - tau[t])``: trusted frames keep the reference exactly,
    untrusted ones carry the previous frame's twist (no flip), and the carry fades as trust returns.
    Sequential over T on Python floats (cheap: a few microseconds per frame).
    """
    out, prev = np.empty(len(tau)), 0.0
    for t, (ta, tr) in enumerate(zip(tau.tolist(), trust.tolist())):
        prev = 0.0 if tr >= 1.0 else (1.0 - tr) * math.remainder(prev - ta, 2 * math.pi)
        out[t] = prev
    return out


def twist_toward_bend(phi: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Twist ``[T]`` (radians) a limb takes toward its bend plane, continuous on the circle and in time.

    ``phi`` ``[T]``: angle of the bend-plane frame about the bone from the parent-following (swing-only)
    frame, in (-pi, pi]; ``weight`` ``[T]``: bend weight (0 for a straight limb). Blending a wrapped angle
    flips where ``phi`` crosses +-pi, so the target fades to 0 there: an apex more than
    ``180 - TWIST_FADE_DEG`` degrees from where the parent puts it is an impossible hip/shoulder rotation
    (a knee or elbow bending backwards, mocap noise) and the parent's twist is kept. The target is then a
    real number in a bounded range; a running median over ``TWIST_MEDIAN`` frames removes one- and
    two-frame apex glitches that no per-frame rule can tell from motion.
    """
    target = weight * smoothstep((np.pi - np.abs(phi)) / np.radians(TWIST_FADE_DEG)) * phi
    return _running_median(target, TWIST_MEDIAN)


def _running_median(x: np.ndarray, k: int) -> np.ndarray:
    """Median over a centred window of ``k`` (odd) frames along axis 0 of ``[T, ...]``; edges repeat."""
    if x.ndim == 0 or x.shape[0] < 3:
        return x
    k = min(k, x.shape[0] - (1 - x.shape[0] % 2))
    padded = np.concatenate([np.repeat(x[:1], k // 2, 0), x, np.repeat(x[-1:], k // 2, 0)], 0)
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, k, axis=0), axis=-1)


def _bend(p: np.ndarray, a: int, b: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Apex direction ``[T, 3]`` of the a-b-c bend and its weight ``[T]`` (0 below 10 deg, 1 above 30 deg)."""
    u, v = unit(p[..., b, :] - p[..., a, :]), unit(p[..., c, :] - p[..., b, :])
    angle = np.degrees(np.arccos(np.clip(np.sum(u * v, -1), -1.0, 1.0)))
    x = np.clip((angle - 10.0) / 20.0, 0.0, 1.0)
    return u - v, x * x * (3 - 2 * x)


def solve_deltas(pose: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """World rotations ``[T, 22, 3, 3]`` mapping the rest skeleton ``[22, 3]`` onto poses ``[T, 22, 3]``.

    ``D[t, j] @ (rest[c] - rest[j])`` is parallel to ``pose[t, c] - pose[t, j]`` for the aim child ``c``.
    """
    d = np.empty(pose.shape[:-2] + (NUM_JOINTS, 3, 3))
    vec = lambda p, j: p[..., AIM_CHILD[j], :] - p[..., j, :]          # noqa: E731
    across = lambda p, a, b: unit(p[..., a, :] - p[..., b, :])     # noqa: E731
    for j, sec in ((0, (1, 2)), (3, (1, 2)), (6, None), (9, (16, 17)), (12, (16, 17))):
        ps = across(pose, *sec) if sec else across(pose, 1, 2) + across(pose, 16, 17)
        rs = across(rest, *sec) if sec else across(rest, 1, 2) + across(rest, 16, 17)
        d[..., j, :, :] = _frame_delta(vec(pose, j), ps, vec(rest, j), rs)
    fwd_rest = unit(np.cross(across(rest, 1, 2) + across(rest, 16, 17), rest[12] - rest[0]))
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
