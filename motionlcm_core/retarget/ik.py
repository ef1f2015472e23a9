"""Pin IK on a retargeted rig: move wrists, ankles, feet, head and hips onto armature-space targets.

``retarget`` copies bone directions, so on a rig whose limbs are longer or shorter than the model's the
end joints miss positions the model met exactly. ``solve_pins`` fixes that after the rotation solve:

1. **Displacement field.** For each pinned joint the offset ``target - head`` at its pinned frames is
   spread over neighbouring frames with ``exact.displacement_field`` (smooth, exact at the pins, zero
   ``window_s`` seconds away), giving a goal for every frame in the window; no pops.
2. **Hips** (SMPL pelvis): the root bone's location moves by the field; everything follows rigidly.
3. **Limbs**: analytic two-bone IK over (upper, lower, end) mapped bones puts the end bone's head on the
   goal, keeping the bend plane (the elbow/knee stays on its side) and every bone length; the end bone
   keeps its world orientation (a planted foot stays flat). A foot (toe-joint) pin moves the ankle and the
   foot follows; with the ankle pinned as well the foot turns about the ankle. A head pin turns the neck.
4. Targets out of reach leave a residual, reported per pin in armature units.

All work is vectorised over frames; frames outside every window keep their rotations bit-for-bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from motionlcm_core.control.field import displacement_field
from motionlcm_core.geometry import rotvec_matrix, swing, two_bone_ik, unit
from motionlcm_core.motion.skeleton import JOINT_NAMES, NUM_JOINTS
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.rig import Rig, RigAnimation, pose_world_matrices
from motionlcm_core.retarget.rotations import make_quat_continuous, matrix_to_quat, quat_to_matrix

#: Pinned SMPL joint -> (upper, lower, end) joints of its two-bone chain (end = the joint the IK places).
TWO_BONE_CHAINS: dict[int, tuple[int, int, int]] = {20: (16, 18, 20), 21: (17, 19, 21), 7: (1, 4, 7), 8: (2, 5, 8)}
#: Foot (toe) joint -> the ankle that carries it.
FOOT_ANKLE: dict[int, int] = {10: 7, 11: 8}
#: Pinned joint -> (turning joint, end joint) for one-bone IK (head via the neck).
ONE_BONE_CHAINS: dict[int, tuple[int, int]] = {15: (12, 15)}
IK_JOINTS: tuple[int, ...] = (0, 15, 20, 21, 7, 8, 10, 11)     # solve order: hips first, feet after ankles


@dataclass(frozen=True)
class PinIKConfig:
    """``window_s`` seconds over which a pin's correction fades in and out (exact.py: 12 frames @ 20 fps)."""

    window_s: float = 0.6
    max_torso_deg: float = 45.0

    def __post_init__(self) -> None:
        if not self.window_s > 0 or not 0 <= self.max_torso_deg <= 90:
            raise ValueError(f"window_s must be > 0 s and max_torso_deg in [0, 90], got {self.window_s}, "
                             f"{self.max_torso_deg}")


@dataclass(frozen=True)
class PinnedAnimation(RigAnimation):
    """A ``RigAnimation`` after pin IK. ``pin_residual [T, 22]``: distance (armature units) from each pinned
    joint's bone head to its target (0 where not pinned); ``max_residual`` is its maximum."""

    pin_residual: np.ndarray | None = None

    @property
    def max_residual(self) -> float:
        r = self.pin_residual
        return float(r.max()) if r is not None and r.size else 0.0


def solve_pins(rig: Rig, bone_map: BoneMap, anim: RigAnimation, targets: np.ndarray, mask: np.ndarray,
               cfg: PinIKConfig = PinIKConfig()) -> PinnedAnimation:
    """Move the mapped bones of pinned SMPL joints onto ``targets`` at the pinned frames.

    Args:
        rig, bone_map, anim: the rig, its map and a retargeted animation ``T`` frames long at ``anim.fps``.
        targets: ``[T, 22, 3]`` armature-space positions of the pinned joints' bone heads (rig units).
        mask: ``[T, 22]`` bool, True where a joint is pinned. IK moves hips, head, wrists, ankles and feet
            (``IK_JOINTS``); other pinned joints are only measured in the residual.
    """
    targets, mask = _check_pins(rig, bone_map, anim, targets, mask)
    window = max(1, int(round(cfg.window_s * anim.fps)))
    rots = {b: np.array(q, dtype=np.float64) for b, q in anim.rotations.items()}
    root = np.array(anim.root_translation, dtype=np.float64)
    bone = {JOINT_NAMES.index(j): rig.index[b] for j, b in bone_map.bones.items()}
    for j in IK_JOINTS:
        if not mask[:, j].any():
            continue
        world = pose_world_matrices(rig, _with(anim, rots, root))
        if j in (20, 21) and _torso_assist(rig, world, rots, bone, j, targets, mask, window, cfg):
            world = pose_world_matrices(rig, _with(anim, rots, root))
        end = FOOT_ANKLE[j] if j in FOOT_ANKLE and not mask[:, FOOT_ANKLE[j]].any() else j
        carry = world[:, bone[j], :3, 3] - world[:, bone[end], :3, 3]     # foot offset from its ankle
        frames = np.flatnonzero(mask[:, j])
        offset = targets[frames, j] - carry[frames] - world[frames, bone[end], :3, 3]
        field = displacement_field(frames, offset, len(root), window)          # [T, 3]
        if j == 0:
            root = _move_root(rig, anim.root_bone, world, rots, root, field)
        elif end in TWO_BONE_CHAINS:
            _two_bone(rig, world, rots, [bone[k] for k in TWO_BONE_CHAINS[end]], field)
        else:
            turn = FOOT_ANKLE[j] if j in FOOT_ANKLE else ONE_BONE_CHAINS[j][0]
            _one_bone(rig, world, rots, bone[turn], bone[j], field)
    rots = {b: make_quat_continuous(q) for b, q in rots.items()}
    out = _with(anim, rots, root)
    heads = pose_world_matrices(rig, out)[:, [bone.get(j, 0) for j in range(NUM_JOINTS)]][..., :3, 3]
    residual = np.where(mask, np.linalg.norm(heads - targets, axis=-1), 0.0)
    return PinnedAnimation(anim.root_bone, root, rots, anim.scale, anim.fps, pin_residual=residual)


def _torso_assist(rig: Rig, world: np.ndarray, rots: dict[str, np.ndarray], bone: dict[int, int], j: int,
                  targets: np.ndarray, mask: np.ndarray, window: int, cfg: PinIKConfig) -> bool:
    """Lean the torso (about the lowest mapped spine bone) on frames where the arm cannot reach its pin.

    The lean on each pinned frame is the smallest turn (at most ``max_torso_deg``) that brings the shoulder
    within the arm's reach; it is spread over the window like the other corrections. True if it leaned."""
    spine = next((bone[k] for k in (3, 6, 9) if k in bone), None)
    frames = np.flatnonzero(mask[:, j])
    if spine is None or cfg.max_torso_deg <= 0:
        return False
    sho, elb, wri = (world[frames, bone[k], :3, 3] for k in TWO_BONE_CHAINS[j])
    reach = 0.999 * (np.linalg.norm(elb - sho, axis=-1) + np.linalg.norm(wri - elb, axis=-1))
    a, goal = world[frames, spine, :3, 3], targets[frames, j]
    short = np.linalg.norm(goal - sho, axis=-1) > reach
    if not short.any():
        return False
    u, v = sho - a, goal - a
    axis = unit(np.cross(u, v))
    cos = np.sum(unit(u) * unit(v), axis=-1)
    lo, hi = np.zeros(len(frames)), np.minimum(np.arccos(np.clip(cos, -1, 1)), np.radians(cfg.max_torso_deg))
    for _ in range(30):                                    # bisection: distance falls as the torso turns
        mid = 0.5 * (lo + hi)
        far = np.linalg.norm(goal - a - np.einsum("tij,tj->ti", rotvec_matrix(axis * mid[:, None]), u), axis=-1) > reach
        lo, hi = np.where(far, mid, lo), np.where(far, hi, mid)
    field = displacement_field(frames, axis * np.where(short, hi, 0.0)[:, None], len(mask), window)
    sel = np.flatnonzero(np.abs(field).max(axis=-1) > 0)
    _turn(rig, world, rots, spine, rotvec_matrix(field[sel]), sel)
    return True


def _with(anim: RigAnimation, rots: dict[str, np.ndarray], root: np.ndarray) -> RigAnimation:
    return RigAnimation(anim.root_bone, root, rots, anim.scale, anim.fps)


def _move_root(rig: Rig, root_bone: str, world: np.ndarray, rots: dict[str, np.ndarray], root: np.ndarray,
               field: np.ndarray) -> np.ndarray:
    """Root location ``[T, 3]`` moved by the armature-space ``field [T, 3]``."""
    k = rig.index[root_bone]
    local = quat_to_matrix(rots[root_bone]) if root_bone in rots else np.eye(3)
    parent_frame = world[:, k, :3, :3] @ np.swapaxes(local, -1, -2)      # armature <- location axes
    return root + np.einsum("tji,tj->ti", parent_frame, field)


def _turn(rig: Rig, world: np.ndarray, rots: dict[str, np.ndarray], k: int, rot: np.ndarray,
          sel: np.ndarray) -> None:
    """Pre-multiply bone ``k``'s world rotation by ``rot [S, 3, 3]`` on frames ``sel`` (its local quat)."""
    name = rig.names[k]
    m = world[sel, k, :3, :3]
    local = quat_to_matrix(rots[name][sel])
    rots[name][sel] = matrix_to_quat(local @ np.swapaxes(m, -1, -2) @ rot @ m)


def _two_bone(rig: Rig, world: np.ndarray, rots: dict[str, np.ndarray], chain: list[int],
              field: np.ndarray) -> None:
    """Put the head of ``chain[2]`` at its head + ``field`` by turning ``chain[0]`` and ``chain[1]``."""
    sel = np.flatnonzero(np.abs(field).max(axis=-1) > 0)
    if not len(sel):
        return
    a, b, c = (world[sel, k, :3, 3] for k in chain)
    b_new, c_new = two_bone_ik(a, b, c + field[sel], np.linalg.norm(b - a, axis=-1), np.linalg.norm(c - b, axis=-1))
    r1 = swing(b - a, b_new - a)
    c1 = a + np.einsum("tij,tj->ti", r1, c - a)
    r2 = swing(c1 - b_new, c_new - b_new)
    end_rot = world[sel, chain[2], :3, :3]
    _turn(rig, world, rots, chain[0], r1, sel)
    world[sel, chain[1], :3, :3] = r1 @ world[sel, chain[1], :3, :3]
    _turn(rig, world, rots, chain[1], r2, sel)
    _keep_world_rotation(rig, rots, chain[2], end_rot, r2 @ r1, sel)


def _one_bone(rig: Rig, world: np.ndarray, rots: dict[str, np.ndarray], turn: int, end: int,
              field: np.ndarray) -> None:
    """Turn bone ``turn`` about its head so the head of ``end`` points at its head + ``field``."""
    sel = np.flatnonzero(np.abs(field).max(axis=-1) > 0)
    if not len(sel):
        return
    a, c = world[sel, turn, :3, 3], world[sel, end, :3, 3]
    r = swing(c - a, c + field[sel] - a)
    end_rot = world[sel, end, :3, :3]
    _turn(rig, world, rots, turn, r, sel)
    _keep_world_rotation(rig, rots, end, end_rot, r, sel)


def _keep_world_rotation(rig: Rig, rots: dict[str, np.ndarray], k: int, before: np.ndarray, parent_turn: np.ndarray,
                         sel: np.ndarray) -> None:
    """Undo, in bone ``k``'s local rotation, the world turn ``parent_turn`` its parents applied."""
    name = rig.names[k]
    if name not in rots:
        return
    local = quat_to_matrix(rots[name][sel])
    rots[name][sel] = matrix_to_quat(local @ np.swapaxes(before, -1, -2) @ np.swapaxes(parent_turn, -1, -2) @ before)


def _check_pins(rig: Rig, bone_map: BoneMap, anim: RigAnimation, targets: np.ndarray,
                mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = anim.num_frames
    targets, mask = np.asarray(targets, dtype=np.float64), np.asarray(mask, dtype=bool)
    if targets.shape != (t, NUM_JOINTS, 3) or mask.shape != (t, NUM_JOINTS):
        raise ValueError(f"pins must be targets [T, 22, 3] and mask [T, 22] with T={t} (the animation's "
                         f"frames); got {targets.shape} and {mask.shape}")
    if not np.isfinite(targets[mask]).all():
        raise ValueError("pin targets contain NaN/inf at pinned frames")
    pinned = [JOINT_NAMES[j] for j in np.flatnonzero(mask.any(axis=0))]
    unmapped = [j for j in pinned if j not in bone_map.bones]
    for j in np.flatnonzero(mask.any(axis=0)):
        chain = TWO_BONE_CHAINS.get(FOOT_ANKLE.get(j, j), ()) + ONE_BONE_CHAINS.get(j, ())
        unmapped += [JOINT_NAMES[k] for k in chain if JOINT_NAMES[k] not in bone_map.bones]
    if unmapped:
        raise ValueError(f"pins need the bones of these SMPL joints mapped: {sorted(set(unmapped))}; map them "
                         "in the bone map or clear those pins")
    return targets, mask
