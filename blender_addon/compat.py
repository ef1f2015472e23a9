# SPDX-License-Identifier: GPL-3.0-or-later
"""Blender-version shims: slotted actions (4.4+, required on 5.0) versus the legacy 4.2/4.3 API.

Blender 5.0 removed ``Action.fcurves``/``Action.groups``; 4.4/4.5 still expose them as a proxy onto a
"legacy" slot. Everything here goes through the layered API whenever ``ActionSlot`` exists.
"""
from __future__ import annotations

import bpy

HAS_SLOTS: bool = hasattr(bpy.types, "ActionSlot")


#: 5.0 moved a bone's selection from ``Bone.select`` to ``PoseBone.select``.
POSE_BONE_SELECT: bool = "select" in bpy.types.PoseBone.bl_rna.properties.keys()


def bone_selected(ob: bpy.types.Object, name: str) -> bool:
    """Whether bone ``name`` of armature ``ob`` is selected (4.2 → 5.x)."""
    return bool(ob.pose.bones[name].select if POSE_BONE_SELECT else ob.data.bones[name].select)


def select_bone(ob: bpy.types.Object, name: str, state: bool) -> None:
    """Select or deselect bone ``name`` of ``ob`` (4.2 → 5.x)."""
    if POSE_BONE_SELECT:
        ob.pose.bones[name].select = state
    else:
        ob.data.bones[name].select = state


def ui_has_progress() -> bool:
    """``UILayout.progress`` (4.0+) is an RNA function, invisible to ``hasattr`` on the type."""
    return "progress" in bpy.types.UILayout.bl_rna.functions


def new_object_action(ob: bpy.types.Object, name: str) -> tuple[bpy.types.Action, object | None]:
    """Create an Action with one OBJECT slot named after ``ob`` (4.4+) and a keyframe strip.

    Returns ``(action, slot)``; ``slot`` is ``None`` on 4.2/4.3.
    """
    action = bpy.data.actions.new(name)
    if not HAS_SLOTS:
        action.id_root = "OBJECT"
        return action, None
    slot = action.slots.new(id_type="OBJECT", name=ob.name)
    layer = action.layers.new("Layer")
    strip = layer.strips.new(type="KEYFRAME")
    strip.channelbag(slot, ensure=True)
    return action, slot


def object_slot(action: bpy.types.Action, ob: bpy.types.Object) -> object | None:
    """The slot of ``action`` that animates ``ob`` (its assigned slot, else the first OBJECT slot)."""
    if not HAS_SLOTS:
        return None
    ad = ob.animation_data
    if ad is not None and ad.action == action and ad.action_slot is not None:
        return ad.action_slot
    for slot in action.slots:
        if slot.target_id_type == "OBJECT":
            return slot
    return None


def channelbag(action: bpy.types.Action, slot: object | None, ensure: bool = True) -> object:
    """Container holding ``fcurves`` and ``groups`` for ``slot`` (the action itself on 4.2/4.3)."""
    if not HAS_SLOTS:
        return action
    if len(action.layers) == 0:
        if not ensure:
            return None
        action.layers.new("Layer").strips.new(type="KEYFRAME")
    strip = action.layers[0].strips[0]
    return strip.channelbag(slot, ensure=ensure)


def all_fcurves(action: bpy.types.Action) -> list:
    """Every F-curve of every slot (read-only inspection; works on 4.2 → 5.0)."""
    if not HAS_SLOTS:
        return list(action.fcurves)
    out = []
    for layer in action.layers:
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", []):
                out.extend(bag.fcurves)
    return out


def assign_action(ob: bpy.types.Object, action: bpy.types.Action | None, slot: object | None) -> None:
    """Make ``action`` (and ``slot``) active on ``ob``; the slot is set explicitly (no name guessing).

    The caller must have evaluated ``ob`` once (``view_layer.update()``): changing the action of a
    never-evaluated armature crashes Blender 4.5/5.0 (BLENDER_NOTES pitfall 1).
    """
    ad = ob.animation_data or ob.animation_data_create()
    ad.action = action
    if HAS_SLOTS and action is not None and slot is not None:
        ad.action_slot = slot


def set_strip_slot(strip: bpy.types.NlaStrip, slot: object | None) -> None:
    """Point an NLA strip at ``slot`` explicitly (strips auto-pick only single-slot actions)."""
    if HAS_SLOTS and slot is not None:
        strip.action_slot = slot
