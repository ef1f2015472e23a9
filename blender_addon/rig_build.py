# SPDX-License-Identifier: GPL-3.0-or-later
"""Create armatures from bone tables and read an armature's rest data for retargeting."""
from __future__ import annotations

import bpy
import numpy as np

from motionlcm_core.retarget.inverse import model_to_armature

from . import smpl_rest

#: Joint index of the child a bone points at (tail), for SMPL-22 bones that have one.
_SMPL_TAIL_CHILD = {0: 3, 1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 9: 12, 12: 15,
                    13: 16, 14: 17, 16: 18, 17: 19, 18: 20, 19: 21}
#: Bone names of the SMPL armature (the ``smpl`` bone-map preset's names), in SMPL-22 joint order.
SMPL_BONE_NAMES: tuple[str, ...] = (
    "Pelvis", "L_Hip", "R_Hip", "Spine1", "L_Knee", "R_Knee", "Spine2", "L_Ankle", "R_Ankle", "Spine3",
    "L_Foot", "R_Foot", "Neck", "L_Collar", "R_Collar", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
    "R_Elbow", "L_Wrist", "R_Wrist",
)
SMPL_PARENTS: tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)


def create_armature(collection: bpy.types.Collection, name: str, names: list[str], parents: list[int],
                    heads: np.ndarray, tails: np.ndarray, rolls: np.ndarray | None = None) -> bpy.types.Object:
    """Build an armature object from bone heads/tails [N, 3] (armature space, metres) and rolls [N] (rad).

    The object is linked to ``collection`` and the view layer is updated once, so its pose exists
    (assigning an action to a never-evaluated armature crashes Blender, BLENDER_NOTES pitfall 1).
    """
    arm = bpy.data.armatures.new(name)
    ob = bpy.data.objects.new(name, arm)
    collection.objects.link(ob)
    _edit_bones(ob, names, parents, heads, tails, rolls)
    bpy.context.view_layer.update()
    return ob


def _edit_bones(ob: bpy.types.Object, names, parents, heads, tails, rolls) -> None:
    """Create the edit bones (needs edit mode on the object, restored afterwards)."""
    view_layer = bpy.context.view_layer
    prev_active = view_layer.objects.active
    view_layer.objects.active = ob
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for i, bname in enumerate(names):
        eb = ob.data.edit_bones.new(bname)
        eb.head, eb.tail = tuple(heads[i]), tuple(tails[i])
        eb.roll = float(rolls[i]) if rolls is not None else 0.0
        if parents[i] >= 0:
            eb.parent = bones[parents[i]]
            eb.use_connect = False
        bones.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = prev_active or ob


def smpl_bone_table(joints_model: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heads and tails [22, 3] (Blender frame) of SMPL bones from rest joints [22, 3] (model frame)."""
    heads = model_to_armature(joints_model, 1.0)
    tails = heads.copy()
    for j in range(22):
        if j in _SMPL_TAIL_CHILD:
            tails[j] = heads[_SMPL_TAIL_CHILD[j]]
        else:
            parent = heads[SMPL_PARENTS[j]]
            d = heads[j] - parent
            tails[j] = heads[j] + 0.5 * d if np.linalg.norm(d) > 1e-4 else heads[j] + (0, 0, 0.1)
    tails[15] = heads[15] + np.array([0.0, 0.0, 0.12])
    return heads, tails


def create_smpl_armature(collection: bpy.types.Collection, name: str = "SMPL",
                         joints_model: np.ndarray | None = None) -> bpy.types.Object:
    """An SMPL-22 armature in T-pose (bone names = SMPL joint names, pelvis is the root)."""
    joints = smpl_rest.rest_joints() if joints_model is None else np.asarray(joints_model)
    heads, tails = smpl_bone_table(joints)
    return create_armature(collection, name, list(SMPL_BONE_NAMES), list(SMPL_PARENTS), heads, tails)


def armature_rest_data(ob: bpy.types.Object) -> dict:
    """Rest data of ``ob`` for ``motionlcm_core.retarget.Rig``.

    Returns ``names`` (list[str]), ``parents`` (list[int], -1 for roots), ``rest_matrices`` [N, 4, 4]
    (``bone.matrix_local``, armature space) and ``lengths`` [N] (armature units).
    """
    bones = list(ob.data.bones)
    index = {b.name: i for i, b in enumerate(bones)}
    return {
        "names": [b.name for b in bones],
        "parents": [index[b.parent.name] if b.parent else -1 for b in bones],
        "rest_matrices": np.array([np.array(b.matrix_local) for b in bones], dtype=np.float64),
        "lengths": np.array([b.length for b in bones], dtype=np.float64),
    }
