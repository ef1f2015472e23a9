# SPDX-License-Identifier: GPL-3.0-or-later
"""Bridge between the panel's bone-map collection and ``motionlcm_core.retarget`` (Rig, BoneMap)."""
from __future__ import annotations

import bpy

from motionlcm_core.motion import skeleton
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.rig import Rig

from . import rig_build

SMPL_JOINTS: tuple[str, ...] = tuple(skeleton.JOINT_NAMES)
#: Joints a pin can control (ControlNet joints): pelvis, feet, head, wrists.
CONTROL_JOINTS: tuple[str, ...] = tuple(skeleton.JOINT_NAMES[j] for j in skeleton.CONTROL_JOINTS)


def rig_from_armature(ob: bpy.types.Object) -> Rig:
    """``retarget.Rig`` built from the armature's rest bones (armature space)."""
    d = rig_build.armature_rest_data(ob)
    return Rig(names=d["names"], parents=d["parents"], rest_matrices=d["rest_matrices"], lengths=d["lengths"])


def to_dict(bone_map: BoneMap) -> dict[str, str]:
    """SMPL joint → bone name for the mapped joints of a ``BoneMap``."""
    return {j: b for j, b in dict(bone_map.bones).items() if b}


def from_dict(mapping: dict[str, str]) -> BoneMap:
    """``BoneMap`` from SMPL joint → bone name (empty names are unmapped)."""
    return BoneMap(bones={j: b for j, b in mapping.items() if b})


def panel_dict(props: object) -> dict[str, str]:
    """The panel's (possibly edited) bone map as a dict."""
    return {item.name: item.bone for item in props.bone_map if item.bone}


def fill_panel(props: object, mapping: dict[str, str], rig_name: str) -> None:
    """Replace the panel's bone map with ``mapping`` (one row per SMPL joint)."""
    props.bone_map.clear()
    for joint in SMPL_JOINTS:
        item = props.bone_map.add()
        item.name, item.bone = joint, mapping.get(joint, "")
    props.bone_map_rig = rig_name


def ensure_panel_map(props: object, ob: bpy.types.Object) -> dict[str, str]:
    """The panel map for ``ob``, auto-detected when missing or made for another armature."""
    if props.bone_map_rig != ob.name or len(props.bone_map) == 0:
        fill_panel(props, to_dict(BoneMap.detect(rig_from_armature(ob))), ob.name)
    return panel_dict(props)


def check_mapping(mapping: dict[str, str], ob: bpy.types.Object) -> None:
    """``ValueError`` naming the fix when the map cannot drive ``ob``."""
    missing = [b for b in mapping.values() if b not in ob.data.bones]
    if missing:
        raise ValueError(f"bone map names bones that {ob.name!r} does not have: {', '.join(missing[:5])}; "
                         "re-detect the bone map or edit it in the panel")
    if "pelvis" not in mapping:
        raise ValueError(f"the rig {ob.name!r} is not mapped (no hips/pelvis bone found); pick a preset or "
                         "set the bones in the panel's Bone map list")
