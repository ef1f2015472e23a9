# SPDX-License-Identifier: GPL-3.0-or-later
"""The ONLY module that creates Actions and F-curves. Keys are written in bulk with ``foreach_set``.

Pose values follow Blender: ``pose.bones[b].rotation_quaternion`` (wxyz, bone-local) and
``pose.bones[b].location`` (bone rest frame, armature units).
"""
from __future__ import annotations

import json

import bpy
import numpy as np

from . import compat

RECIPE_KEY = "motionlcm_recipe"
HISTORY_KEY = "motionlcm_history"
HISTORY_MAX = 5             # history length without the add-on's preferences (tests, scripts)
GENERATED_KEY = "motionlcm_generated"  # on the armature: names of the actions generated for it, newest first
AUTO_FAKE_KEY = "motionlcm_auto_fake"  # on an action whose fake user the add-on set (variation, history copy)
_LINEAR = 1  # enum value of 'LINEAR' for foreach_set("interpolation")


def create_action(ob: bpy.types.Object, name: str, recipe: dict) -> tuple[bpy.types.Action, object | None]:
    """New local Action with one slot for ``ob``, the recipe stored as custom properties."""
    action, slot = compat.new_object_action(ob, name)
    set_recipe(action, recipe)
    return action, slot


def set_recipe(action: bpy.types.Action, recipe: dict) -> None:
    """Store the generation recipe: a JSON copy plus flat, human-readable custom properties."""
    action[RECIPE_KEY] = json.dumps(recipe, sort_keys=True)
    for key in ("prompt", "seed", "num_steps", "guidance", "model", "seconds"):
        if key in recipe and recipe[key] is not None:
            action[f"motionlcm_{key}"] = recipe[key]
    action["motionlcm_pins"] = json.dumps(recipe.get("pins", []))


def get_recipe(action: bpy.types.Action | None) -> dict | None:
    """The recipe written by :func:`set_recipe`, or ``None`` for an action we did not generate."""
    if action is None or RECIPE_KEY not in action.keys():
        return None
    return json.loads(action[RECIPE_KEY])


def clear_keys(action: bpy.types.Action, slot: object | None) -> None:
    """Remove every F-curve of ``slot`` (generated keys only; other slots/actions untouched)."""
    bag = compat.channelbag(action, slot)
    for fc in list(bag.fcurves):
        bag.fcurves.remove(fc)


def _write_curve(bag: object, path: str, index: int, group: str, frames: np.ndarray, values: np.ndarray) -> None:
    """One F-curve with ``len(frames)`` linear keys, written with ``foreach_set``."""
    fc = bag.fcurves.new(path, index=index)
    grp = bag.groups.get(group) or bag.groups.new(group)
    fc.group = grp
    co = np.empty((len(frames), 2), dtype=np.float32)
    co[:, 0], co[:, 1] = frames, values
    fc.keyframe_points.add(len(frames))
    fc.keyframe_points.foreach_set("co", co.ravel())
    fc.keyframe_points.foreach_set("interpolation", [_LINEAR] * len(frames))
    fc.update()


def write_pose_keys(ob: bpy.types.Object, action: bpy.types.Action, slot: object | None, frames: np.ndarray,
                    rotations: dict[str, np.ndarray], root_bone: str | None = None,
                    root_location: np.ndarray | None = None) -> int:
    """Replace the keys of ``slot`` with the given pose animation; returns the number of keys.

    frames: float [F] scene frame numbers. rotations: bone → [F, 4] wxyz pose-bone quaternions.
    root_location: [F, 3] pose-bone location of ``root_bone`` (bone rest frame), or ``None``.
    Bones written get ``rotation_mode = 'QUATERNION'``.
    """
    if action.library is not None:
        raise ValueError(f"action {action.name!r} is linked from {action.library.filepath!r} and read-only")
    clear_keys(action, slot)
    bag = compat.channelbag(action, slot)
    frames = np.asarray(frames, dtype=np.float64)
    count = 0
    for bone, quats in rotations.items():
        ob.pose.bones[bone].rotation_mode = "QUATERNION"
        path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"].rotation_quaternion'
        for i in range(4):
            _write_curve(bag, path, i, bone, frames, np.asarray(quats)[:, i])
        count += 4 * len(frames)
    if root_bone is not None and root_location is not None:
        path = f'pose.bones["{bpy.utils.escape_identifier(root_bone)}"].location'
        for i in range(3):
            _write_curve(bag, path, i, root_bone, frames, np.asarray(root_location)[:, i])
        count += 3 * len(frames)
    return count


def read_keys(action: bpy.types.Action, slot: object | None) -> dict[tuple[str, int], np.ndarray]:
    """All keys of ``slot`` as ``{(data_path, index): co [K, 2] float32}`` (via ``foreach_get``)."""
    bag = compat.channelbag(action, slot, ensure=False)
    out = {}
    for fc in (bag.fcurves if bag is not None else []):
        co = np.empty(2 * len(fc.keyframe_points), dtype=np.float32)
        fc.keyframe_points.foreach_get("co", co)
        out[(fc.data_path, fc.array_index)] = co.reshape(-1, 2)
    return out


def write_keys(action: bpy.types.Action, slot: object | None, keys: dict[tuple[str, int], np.ndarray]) -> None:
    """Replace the keys of ``slot`` with ``keys`` as returned by :func:`read_keys`."""
    clear_keys(action, slot)
    bag = compat.channelbag(action, slot)
    for (path, index), co in keys.items():
        group = path.split('"')[1] if '"' in path else "Object"
        _write_curve(bag, path, index, group, co[:, 0], co[:, 1])


def history_limit(context: bpy.types.Context | None = None) -> int:
    """Previous results kept per action (the preference "History length"; ``HISTORY_MAX`` without it)."""
    from .preferences import get_prefs
    prefs = get_prefs(context)
    return int(getattr(prefs, "history_length", HISTORY_MAX)) if prefs is not None else HISTORY_MAX


def is_used(action: bpy.types.Action) -> bool:
    """True when something holds ``action``: an object, an NLA strip, another ID, or a fake user that the user
    set (the add-on's own fake users, on variations and history copies, are marked and do not count)."""
    own_fake = action.use_fake_user and bool(action.get(AUTO_FAKE_KEY))
    return action.users - int(own_fake) > 0


def _own_fake_user(action: bpy.types.Action) -> None:
    """Give ``action`` a fake user (it survives saving) marked as the add-on's, not the user's."""
    action.use_fake_user = True
    action[AUTO_FAKE_KEY] = 1


def _remove_if_unused(action: bpy.types.Action) -> bool:
    """Remove ``action`` unless something uses it (then it is the user's now and stays); True when removed."""
    if action.library is not None or is_used(action):
        return False
    for old in history(action):
        _remove_if_unused(old)
    bpy.data.actions.remove(action)
    return True


def push_history(action: bpy.types.Action, slot: object | None, limit: int | None = None) -> bpy.types.Action | None:
    """Keep the current result as a hidden fake-user copy; at most ``limit`` (default :func:`history_limit`)
    per action. Copies past the limit are removed unless something uses them (then only forgotten).
    Returns the copy, ``None`` when the limit is 0."""
    limit = history_limit() if limit is None else max(int(limit), 0)
    names = json.loads(action.get(HISTORY_KEY, "[]"))
    copy = None
    if limit > 0:
        copy = action.copy()
        copy.name = f"{action.name} (previous)"
        _own_fake_user(copy)
        copy[HISTORY_KEY] = "[]"
        names.insert(0, copy.name)
    for old in names[limit:]:
        if old in bpy.data.actions:
            _remove_if_unused(bpy.data.actions[old])
    action[HISTORY_KEY] = json.dumps(names[:limit])
    return copy


def history(action: bpy.types.Action) -> list[bpy.types.Action]:
    """Previous results of ``action``, newest first (missing copies are skipped)."""
    names = json.loads(action.get(HISTORY_KEY, "[]")) if action is not None else []
    return [bpy.data.actions[n] for n in names if n in bpy.data.actions]


def restore_history(action: bpy.types.Action, slot: object | None, index: int = 0) -> dict:
    """Swap the current keys and recipe with history entry ``index``; returns the restored recipe."""
    entries = history(action)
    if not 0 <= index < len(entries):
        raise ValueError(f"no history entry {index}; this action has {len(entries)} previous results")
    old = entries[index]
    old_slot = old.slots[0] if compat.HAS_SLOTS and len(old.slots) else None
    old_keys, old_recipe = read_keys(old, old_slot), get_recipe(old) or {}
    cur_keys, cur_recipe = read_keys(action, slot), get_recipe(action) or {}
    write_keys(action, slot, old_keys)
    set_recipe(action, old_recipe)
    write_keys(old, old_slot, cur_keys)
    set_recipe(old, cur_recipe)
    return old_recipe


def remember_generated(ob: bpy.types.Object, names: list[str], limit: int | None = None) -> list[str]:
    """Record ``names`` (the actions one Generate/Regenerate wrote, the assigned one first) on the armature and
    bound what earlier ones leave behind. Returns the names of the actions removed.

    The rule: an earlier generated action of this armature that nothing uses any more (not assigned, not in
    an NLA strip, no fake user but the add-on's: replaced results, replaced variations) is kept for the
    ``limit`` (default :func:`history_limit`) most recent ones; older ones are removed with their unused
    history copies. An action found in use is the user's: it leaves the record and is never removed.
    Actions the add-on did not write (no recipe) or linked from a library are never touched."""
    limit = history_limit() if limit is None else max(int(limit), 0)
    for name in names[1:]:  # variations: fake user so that they survive saving, not because the user asked
        if name in bpy.data.actions and bpy.data.actions[name].use_fake_user:
            _own_fake_user(bpy.data.actions[name])
    record = [n for n in json.loads(ob.get(GENERATED_KEY, "[]")) if n not in names]
    kept, removed = list(names), []
    for name in record:
        action = bpy.data.actions.get(name)
        if action is None or get_recipe(action) is None or action.library is not None:
            continue  # gone, renamed, or not ours
        if is_used(action):
            if AUTO_FAKE_KEY in action.keys():
                del action[AUTO_FAKE_KEY]  # its fake user now keeps it for the user
            continue
        if len(kept) - len(names) < limit:
            kept.append(name)
        elif _remove_if_unused(action):
            removed.append(name)
    ob[GENERATED_KEY] = json.dumps(kept)
    return removed


def push_undo(message: str) -> None:
    """One undo step for a change made outside an operator (timers); no-op headless."""
    if bpy.app.background:
        return
    try:
        bpy.ops.ed.undo_push(message=message)
    except RuntimeError:
        pass
