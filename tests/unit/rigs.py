"""Numpy builders of test rigs (bpy-free; reused by the Blender tests as ``tests.unit.rigs``).

All positions are Blender armature space: Z up, the character faces -Y, its left is +X, metres unless
``unit`` scales them (``unit=100`` mimics a raw centimetre Mixamo FBX import).
"""
from __future__ import annotations

import numpy as np

from motionlcm_core.motion.skeleton import JOINT_NAMES, PARENTS
from motionlcm_core.retarget import BoneMap, Rig
from motionlcm_core.retarget.inverse import MODEL_TO_ARMATURE
from motionlcm_core.retarget.solve import AIM_CHILD, TPOSE_DIRECTIONS, offsets_to_positions

BoneSpec = tuple[str, "str | None", np.ndarray, np.ndarray, float]   # name, parent, head, tail, roll (deg)
_DEFAULT_LENGTHS = np.array([0, .11, .11, .12, .38, .38, .14, .40, .40, .05, .14, .14, .22, .08, .08, .10,
                             .12, .12, .26, .26, .25, .25])


def bone_matrix(head: np.ndarray, tail: np.ndarray, roll_deg: float) -> np.ndarray:
    """4x4 rest matrix: Y along head->tail, X rolled by ``roll_deg`` about Y from a horizontal axis."""
    y = (tail - head) / np.linalg.norm(tail - head)
    ref = np.array([0.0, 0.0, 1.0]) if abs(y[2]) < 0.9 else np.array([0.0, -1.0, 0.0])
    x = np.cross(y, ref)
    x /= np.linalg.norm(x)
    a = np.deg2rad(roll_deg)
    x = x * np.cos(a) + np.cross(y, x) * np.sin(a)
    m = np.eye(4)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, np.cross(x, y), head
    return m


def make_rig(specs: list[BoneSpec]) -> Rig:
    """Rig from (name, parent name or None, head, tail, roll) tuples, parents listed before children."""
    names = [s[0] for s in specs]
    parents = [-1 if s[1] is None else names.index(s[1]) for s in specs]
    mats = np.stack([bone_matrix(np.asarray(h, float), np.asarray(t, float), r) for _, _, h, t, r in specs])
    lengths = np.array([np.linalg.norm(np.asarray(t, float) - np.asarray(h, float)) for _, _, h, t, _ in specs])
    return Rig(names, parents, mats, lengths)


def smpl_tpose_rig(offsets: np.ndarray | None = None, names: tuple[str, ...] = JOINT_NAMES,
                   pelvis_height: float = 0.95, roll_deg: float = 0.0, drop: tuple[str, ...] = ()) -> Rig:
    """SMPL-22 rig in T-pose: one bone per joint, head at the joint, tail at its aim child.

    Args:
        offsets: ``[22, 3]`` parent-relative joint offsets in the model frame (e.g. ``fit_rest_offsets``);
            default: T-pose directions with typical SMPL lengths.
        names: bone names per SMPL joint (``JOINT_NAMES`` = SMPL-X style).
        drop: SMPL joints to leave out (partial rigs); their children attach to the nearest kept parent.
    """
    if offsets is None:
        offsets = TPOSE_DIRECTIONS * _DEFAULT_LENGTHS[:, None]
    pos = offsets_to_positions(np.asarray(offsets, float)) @ MODEL_TO_ARMATURE.T + [0, 0, pelvis_height]
    specs = []
    for j in range(22):
        if JOINT_NAMES[j] in drop:
            continue
        c = AIM_CHILD[j]
        tail = pos[c] if c >= 0 else pos[j] + 0.08 * _unit(pos[j] - pos[PARENTS[j]])
        p = PARENTS[j]
        while p >= 0 and JOINT_NAMES[p] in drop:
            p = PARENTS[p]
        specs.append((names[j], None if p < 0 else names[p], pos[j], tail, roll_deg * j))
    return make_rig(specs)


def mixamo_apose_rig(unit: float = 1.0, arm_angle_deg: float = 45.0, prefix: str = "mixamorig:") -> Rig:
    """65-bone Mixamo-named rig in A-pose (arms ``arm_angle_deg`` below horizontal), rolls not axis-aligned."""
    specs: list[tuple[str, str | None, np.ndarray]] = [
        ("Hips", None, [0, 0, 1.00]), ("Spine", "Hips", [0, 0.01, 1.10]), ("Spine1", "Spine", [0, 0.01, 1.22]),
        ("Spine2", "Spine1", [0, 0.0, 1.35]), ("Neck", "Spine2", [0, 0.01, 1.52]),
        ("Head", "Neck", [0, -0.01, 1.62]), ("HeadTop_End", "Head", [0, -0.01, 1.80])]
    a = np.deg2rad(arm_angle_deg)
    for side, sx in (("Left", 1.0), ("Right", -1.0)):
        arm_dir = np.array([sx * np.cos(a), 0.0, -np.sin(a)])
        sho = np.array([sx * 0.17, 0.02, 1.44])
        fore, hand = sho + 0.28 * arm_dir, sho + 0.54 * arm_dir
        specs += [(f"{side}Shoulder", "Spine2", [sx * 0.06, 0.0, 1.45]), (f"{side}Arm", f"{side}Shoulder", sho),
                  (f"{side}ForeArm", f"{side}Arm", fore), (f"{side}Hand", f"{side}ForeArm", hand)]
        for f, finger in enumerate(("Thumb", "Index", "Middle", "Ring", "Pinky")):
            base = hand + 0.08 * arm_dir + np.array([0, -0.04 + 0.02 * f, 0])
            parent = f"{side}Hand"
            for k in range(1, 5):
                name = f"{side}Hand{finger}{k}"
                specs.append((name, parent, base + 0.03 * (k - 1) * arm_dir))
                parent = name
        specs += [(f"{side}UpLeg", "Hips", [sx * 0.09, 0.0, 0.93]), (f"{side}Leg", f"{side}UpLeg", [sx * 0.09, -0.01, 0.50]),
                  (f"{side}Foot", f"{side}Leg", [sx * 0.09, 0.03, 0.08]),
                  (f"{side}ToeBase", f"{side}Foot", [sx * 0.09, -0.10, 0.02]),
                  (f"{side}Toe_End", f"{side}ToeBase", [sx * 0.09, -0.18, 0.02])]
    return make_rig(_with_tails([(prefix + n, None if p is None else prefix + p, h) for n, p, h in specs], unit))


def rigify_deform_rig(spine_split: int = 1) -> Rig:
    """Rigify-like deform rig (DEF- bones, .001 twist bones); each SMPL spine segment split in ``spine_split``."""
    spine_pts = [np.array([0, 0.0, 1.00]), np.array([0, 0.01, 1.10]), np.array([0, 0.01, 1.22]), np.array([0, 0, 1.35])]
    chain = [spine_pts[0]]
    for a, b in zip(spine_pts[:-1], spine_pts[1:]):
        chain += [a + (b - a) * (k / spine_split) for k in range(1, spine_split + 1)]
    chain += [np.array([0, 0.01, 1.52]), np.array([0, 0, 1.57]), np.array([0, -0.01, 1.62])]
    names = ["DEF-spine"] + [f"DEF-spine.{i:03d}" for i in range(1, len(chain))]
    specs: list[tuple[str, str | None, np.ndarray]] = [(n, None if i == 0 else names[i - 1], h) for i, (n, h) in enumerate(zip(names, chain))]
    chest = names[3 * spine_split]
    for s, sx in (("L", 1.0), ("R", -1.0)):
        hip, knee, ankle = np.array([sx * .09, 0, .93]), np.array([sx * .09, -.01, .50]), np.array([sx * .09, .03, .08])
        sho, elb, wri = np.array([sx * .17, .02, 1.44]), np.array([sx * .45, .03, 1.44]), np.array([sx * .71, .03, 1.44])
        specs += [(f"DEF-thigh.{s}", names[0], hip), (f"DEF-thigh.{s}.001", f"DEF-thigh.{s}", (hip + knee) / 2),
                  (f"DEF-shin.{s}", f"DEF-thigh.{s}.001", knee), (f"DEF-shin.{s}.001", f"DEF-shin.{s}", (knee + ankle) / 2),
                  (f"DEF-foot.{s}", f"DEF-shin.{s}.001", ankle), (f"DEF-toe.{s}", f"DEF-foot.{s}", np.array([sx * .09, -.10, .02])),
                  (f"DEF-shoulder.{s}", chest, np.array([sx * .03, -.02, 1.43])), (f"DEF-upper_arm.{s}", f"DEF-shoulder.{s}", sho),
                  (f"DEF-upper_arm.{s}.001", f"DEF-upper_arm.{s}", (sho + elb) / 2), (f"DEF-forearm.{s}", f"DEF-upper_arm.{s}.001", elb),
                  (f"DEF-forearm.{s}.001", f"DEF-forearm.{s}", (elb + wri) / 2), (f"DEF-hand.{s}", f"DEF-forearm.{s}.001", wri)]
    return make_rig(_with_tails(specs, 1.0))


def rigify_bone_map(spine_split: int = 1) -> BoneMap:
    """Bone map for ``rigify_deform_rig(spine_split)`` (equals the 'rigify' preset for split 1)."""
    bones = dict(BoneMap.preset("rigify").bones)
    n = 3 * spine_split
    for j, idx in (("spine1", spine_split), ("spine2", 2 * spine_split), ("spine3", n), ("neck", n + 1), ("head", n + 3)):
        bones[j] = f"DEF-spine.{idx:03d}"
    return BoneMap(bones, preset_name=None if spine_split != 1 else "rigify")


def _with_tails(specs: list[tuple[str, str | None, np.ndarray]], unit: float) -> list[BoneSpec]:
    """Tail = first child's head; end bones extend 40% of their parent's direction. Rolls: 11 + 37*i deg."""
    heads = {n: np.asarray(h, float) * unit for n, _, h in specs}
    first_child: dict[str, str] = {}
    for n, p, _ in specs:
        if p is not None:
            first_child.setdefault(p, n)
    out: list[BoneSpec] = []
    for i, (n, p, _) in enumerate(specs):
        if n in first_child:
            tail = heads[first_child[n]]
        else:
            tail = heads[n] + 0.4 * (heads[n] - heads[p]) if p else heads[n] + [0, 0, 0.1 * unit]
        out.append((n, p, heads[n], tail, (11.0 + 37.0 * i) % 360.0))
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)
