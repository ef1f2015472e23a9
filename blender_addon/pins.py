# SPDX-License-Identifier: GPL-3.0-or-later
"""Pins: posed/keyed controllable bones at frames, stored in the panel and handed to the recipe.

A pin stores the bone head in armature space at a scene frame; at generation time the core turns it into
model-frame targets (``retarget.inverse.pin_targets``) for the ControlNet and for the rig's pin IK.
"""
from __future__ import annotations

import bpy
import numpy as np

from motionlcm_core.recipe import Pin

from . import bone_maps, compat


def controllable_bones(ob: bpy.types.Object, mapping: dict[str, str]) -> dict[str, str]:
    """Bone → SMPL joint for the mapped control joints (hips, feet, head, wrists) present on ``ob``."""
    return {mapping[j]: j for j in bone_maps.CONTROL_JOINTS if mapping.get(j) in ob.pose.bones}


def add_pin(props: object, bone: str, joint: str, frame: int, position: np.ndarray) -> None:
    """Add or replace the pin of ``bone`` at ``frame``."""
    for i, p in enumerate(props.pins):
        if p.bone == bone and p.frame == frame:
            props.pins.remove(i)
            break
    pin = props.pins.add()
    pin.name = f"{bone} @ {frame}"
    pin.bone, pin.joint, pin.frame, pin.position = bone, joint, frame, tuple(position)


def pin_current(context: bpy.types.Context, props: object, ob: bpy.types.Object, mapping: dict[str, str]) -> int:
    """Pin the selected controllable bones (all of them when none is selected) at the current frame."""
    bones = controllable_bones(ob, mapping)
    chosen = [b for b in bones if compat.bone_selected(ob, b)] or list(bones)
    frame = context.scene.frame_current
    for b in chosen:
        add_pin(props, b, bones[b], frame, np.array(ob.pose.bones[b].head))
    return len(chosen)


def keyed_frames(ob: bpy.types.Object, bones: list[str]) -> list[int]:
    """Scene frames where the active action keys any of ``bones``."""
    action = ob.animation_data.action if ob.animation_data else None
    if action is None:
        return []
    frames = set()
    for fc in compat.all_fcurves(action):
        if any(f'pose.bones["{b}"]' in fc.data_path for b in bones):
            frames.update(int(round(k.co[0])) for k in fc.keyframe_points)
    return sorted(frames)


def pin_keyed(context: bpy.types.Context, props: object, ob: bpy.types.Object, mapping: dict[str, str]) -> int:
    """Pin every controllable bone at every frame where it is keyed in the active action."""
    scene, bones, count = context.scene, controllable_bones(ob, mapping), 0
    current = scene.frame_current
    for frame in keyed_frames(ob, list(bones)):
        scene.frame_set(frame)
        for b in bones:
            add_pin(props, b, bones[b], frame, np.array(ob.pose.bones[b].head))
            count += 1
    scene.frame_set(current)
    return count


def recipe_pins(props: object) -> tuple[Pin, ...]:
    """The panel's pins as recipe entries (armature space, scene frames)."""
    return tuple(Pin(p.bone, p.joint, p.frame, tuple(p.position)) for p in props.pins)
