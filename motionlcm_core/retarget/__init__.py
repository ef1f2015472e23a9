"""Retarget SMPL-22 joint motion onto any humanoid armature (pure numpy; no bpy, no mathutils).

Coordinate convention (used by ``retarget`` and inverted exactly by ``rig_positions_to_joints``):

1. Frames. Model frame: metres, +Y up, the character faces +Z (at frame 0), its left is +X, floor y=0.
   Armature space (Blender ``matrix_local``): +Z up, faces -Y, left +X. ``A`` = +90 degrees about X:
   ``(x, y, z)_model -> (x, -z, y)_armature``. This is the only axis change (``MODEL_TO_ARMATURE``).
2. Scale. ``scale = rig_leg / smpl_leg`` (rig units per metre), leg = mean over sides of
   |hip->knee| + |knee->ankle| between joint positions / mapped bone heads. ``retarget`` measures
   ``smpl_leg`` from the clip (median over frames) unless ``smpl_leg=`` is given; the value used is
   returned as ``RigAnimation.scale``.
3. Root. ``armature = scale * A @ model``: no extra offset and no facing change, so the model origin
   (floor, frame-0 pelvis x=z=0) is the armature origin and +Z model facing becomes -Y. The pelvis bone's
   head follows the scaled pelvis exactly: ``root_translation = R_rest^T (scale * A @ pelvis - head_rest)``.
   ``root_motion="in_place"`` removes the armature-XY motion of the pelvis relative to frame 0.
4. Inverse. ``joints_model = A^T @ head_armature / scale`` for every mapped bone head; pass
   ``scale=anim.scale`` (or nothing for model output: reference leg 0.82 m). The pelvis round-trips
   exactly; other joints land where the rig's own proportions put them (exact on an SMPL-proportioned rig).

The one entry from joints to a rig's keys is ``animate_rig`` (``animate.py``): ``retarget`` (this rate,
feet planted), resampling to the scene's rate (``resample.py``) and the user's pins by IK (``ik.py``).

Rotations: each mapped bone is swung along its SMPL direction (to the next mapped joint) with twist from
a second direction (``solve.py``); unmapped bones between mapped ones keep identity (they move rigidly
with the mapped bone above); end bones (toes, head, hands) follow their parent SMPL joint.
"""
from motionlcm_core.retarget.animate import animate_rig
from motionlcm_core.retarget.feet import FootCleanupConfig, cleanup_feet, foot_contacts, foot_sliding
from motionlcm_core.retarget.inverse import (SMPL_REFERENCE_LEG_LENGTH, armature_to_model, model_to_armature,
                                             rig_positions_to_joints, rig_scale)
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.rig import Rig, RigAnimation, pose_world_matrices
from motionlcm_core.retarget.transfer import retarget, rest_joint_positions

__all__ = [
    "BoneMap", "FootCleanupConfig", "animate_rig", "Rig", "RigAnimation", "SMPL_REFERENCE_LEG_LENGTH", "armature_to_model",
    "cleanup_feet", "foot_contacts", "foot_sliding", "model_to_armature", "pose_world_matrices", "retarget",
    "rest_joint_positions", "rig_positions_to_joints", "rig_scale",
]
