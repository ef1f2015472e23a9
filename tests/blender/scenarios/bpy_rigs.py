# SPDX-License-Identifier: GPL-3.0-or-later
"""Test armatures built in bpy: SMPL T-pose, Mixamo-like A-pose (cm, 0.01 scale, rolls), Rigify-like."""
from __future__ import annotations

import math

import bpy
import numpy as np

from blender_addon import rig_build, smpl_rest

MIXAMO = ("Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot", "RightFoot",
          "Spine2", "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder", "Head", "LeftArm",
          "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand")
RIGIFY = ("torso", "thigh_fk.L", "thigh_fk.R", "spine_fk.001", "shin_fk.L", "shin_fk.R", "spine_fk.002",
          "foot_fk.L", "foot_fk.R", "spine_fk.003", "toe.L", "toe.R", "neck", "shoulder.L", "shoulder.R", "head",
          "upper_arm_fk.L", "upper_arm_fk.R", "forearm_fk.L", "forearm_fk.R", "hand_fk.L", "hand_fk.R")
_LEFT_ARM, _RIGHT_ARM = (16, 18, 20), (17, 19, 21)


def a_pose(joints: np.ndarray, degrees: float = 40.0) -> np.ndarray:
    """Rotate both arms down about the shoulders by ``degrees`` (model frame, [22, 3])."""
    j = joints.copy()
    for chain, sign in ((_LEFT_ARM, -1.0), (_RIGHT_ARM, 1.0)):
        a = math.radians(degrees) * sign
        rot = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
        pivot = j[chain[0]].copy()
        for k in chain[1:]:
            j[k] = pivot + rot @ (j[k] - pivot)
    return j


def build(kind: str, name: str | None = None) -> bpy.types.Object:
    """One of "smpl", "mixamo", "rigify", linked to the scene collection and evaluated once."""
    coll = bpy.context.scene.collection
    joints = smpl_rest.rest_joints(scale=1.08 if kind == "rigify" else 1.0)
    if kind == "smpl":
        return rig_build.create_smpl_armature(coll, name or "SMPL")
    if kind == "mixamo":
        heads, tails = rig_build.smpl_bone_table(a_pose(joints))
        names = ["mixamorig:" + n for n in MIXAMO]
        rolls = np.array([math.radians(90.0) if i in _LEFT_ARM + _RIGHT_ARM else 0.0 for i in range(22)])
        ob = rig_build.create_armature(coll, name or "Mixamo", names, list(rig_build.SMPL_PARENTS),
                                       heads * 100.0, tails * 100.0, rolls)
        ob.scale = (0.01, 0.01, 0.01)
        ob.location = (1.5, 0.0, 0.0)
        bpy.context.view_layer.update()
        return ob
    heads, tails = rig_build.smpl_bone_table(joints)
    return rig_build.create_armature(coll, name or "Rigify", list(RIGIFY), list(rig_build.SMPL_PARENTS),
                                     heads, tails, np.full(22, math.radians(15.0)))
