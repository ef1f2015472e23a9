# SPDX-License-Identifier: GPL-3.0-or-later
"""Continue from the armature's current pose: a new clip starts where the previous one leaves off.

The evaluated heads of the mapped bones at the current frame go through the retarget inverse
(``rig_positions_to_joints``) to SMPL joints; ``continue_from_pose`` turns them into pins on the new clip's
frame 0 in a model frame facing +Z, and ``to_source`` puts the generated joints back where the rig stands
(``motionlcm_core.control.continuation``; this module only reads the armature).
"""
from __future__ import annotations

import bpy
import numpy as np

from motionlcm_core.control.continuation import PoseContinuation, continue_from_pose
from motionlcm_core.retarget.inverse import rig_positions_to_joints

from . import anim_write, bone_maps, compat


def has_previous(ob: bpy.types.Object, frame: int) -> bool:
    """True when a generated NLA strip or the active action has animation before ``frame``."""
    ad = ob.animation_data
    if ad is None:
        return False
    if any(s.action and anim_write.get_recipe(s.action) and s.frame_start < frame
           for t in ad.nla_tracks for s in t.strips):
        return True
    action = ad.action
    return action is not None and any(k.co[0] < frame for fc in compat.all_fcurves(action)
                                      for k in fc.keyframe_points)


def current_pose(ob: bpy.types.Object, mapping: dict[str, str]) -> dict[str, list[float]]:
    """Armature-space heads of the mapped bones in the evaluated pose (bone -> [x, y, z])."""
    return {b: list(ob.pose.bones[b].head) for b in mapping.values() if b in ob.pose.bones}


def previous_joints(ob: bpy.types.Object, mapping: dict[str, str],
                    heads: dict[str, list[float]]) -> tuple[np.ndarray, np.ndarray]:
    """SMPL joints ``[22, 3]`` (rig's model frame, metres) of the bone ``heads`` and their mask ``[22]``."""
    rig, bm = bone_maps.rig_from_armature(ob), bone_maps.from_dict(mapping)
    return rig_positions_to_joints({b: np.array(p) for b, p in heads.items()}, rig, bm)


def plan(ob: bpy.types.Object, mapping: dict[str, str], heads: dict[str, list[float]],
         num_frames: int) -> PoseContinuation:
    """``PoseContinuation`` pinning frame 0 of a ``num_frames`` clip to the mapped joints of ``heads``."""
    joints, mask = previous_joints(ob, mapping, heads)
    return continue_from_pose(joints, num_frames, joints=tuple(int(j) for j in np.flatnonzero(mask)))
