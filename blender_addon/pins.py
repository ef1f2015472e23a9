# SPDX-License-Identifier: GPL-3.0-or-later
"""Pins: posed/keyed controllable bones at frames → control targets for the ControlNet.

A pin stores the bone head in armature space at a scene frame; at generation time the retarget
inverse (``rig_positions_to_joints``) turns it into model-frame joint targets at 20 fps.
"""
from __future__ import annotations

import bpy
import numpy as np

from . import bone_maps, compat

MODEL_FPS = 20.0


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
    chosen = [b for b in bones if ob.data.bones[b].select] or list(bones)
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


def model_frame(frame: int, frame_start: int, scene_fps: float) -> int:
    """Model frame index (20 fps) of a scene frame relative to the clip start."""
    return int(round((frame - frame_start) / scene_fps * MODEL_FPS))


def control_from_pins(context: bpy.types.Context, props: object, ob: bpy.types.Object, mapping: dict[str, str],
                      start_frame: int | None = None) -> tuple[list[dict], tuple[np.ndarray, np.ndarray] | None]:
    """Recipe entries and ``(positions [T, 22, 3], mask [T, 22])`` for the pins, or ``None`` without pins.

    ``start_frame``: scene frame of the clip's first frame (default: the scene start)."""
    pin_list = [{"bone": p.bone, "joint": p.joint, "frame": p.frame, "position": list(p.position)}
                for p in props.pins]
    if not pin_list:
        return pin_list, None
    from motionlcm_core.retarget.inverse import rig_positions_to_joints
    scene = context.scene
    fps = scene.render.fps / scene.render.fps_base
    n = int(round(props.seconds * MODEL_FPS))
    positions, mask = np.zeros((n, 22, 3), np.float32), np.zeros((n, 22), bool)
    rig, bm = bone_maps.rig_from_armature(ob), bone_maps.from_dict(mapping)
    start = scene.frame_start if start_frame is None else int(start_frame)
    for p in pin_list:
        t = model_frame(p["frame"], start, fps)
        if not 0 <= t < n:
            raise ValueError(f"pin {p['bone']} at frame {p['frame']} is outside the clip (frames "
                             f"{start}-{start + int(props.seconds * fps)}); "
                             "move it, lengthen the duration or clear the pin")
        joints, jmask = rig_positions_to_joints({p["bone"]: np.array(p["position"])}, rig, bm)
        sel = np.asarray(jmask, bool)
        positions[t][sel] = np.asarray(joints)[sel]
        mask[t] |= sel
    return pin_list, (positions, mask)


def rig_targets(pin_list: list[dict], start_frame: float, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Armature-space IK targets ``[F, 22, 3]`` and mask ``[F, 22]`` at scene frames ``start_frame + i``.

    ``pin_list``: recipe entries (``joint`` name, scene ``frame``, armature ``position``); pins that fall
    outside the clip or between scene frames are left out.
    """
    from motionlcm_core.motion.skeleton import JOINT_NAMES
    targets, mask = np.zeros((num_frames, 22, 3)), np.zeros((num_frames, 22), bool)
    for p in pin_list:
        t = p["frame"] - start_frame
        if p["joint"] in JOINT_NAMES and float(t).is_integer() and 0 <= t < num_frames:
            k = JOINT_NAMES.index(p["joint"])
            targets[int(t), k], mask[int(t), k] = p["position"], True
    return targets, mask
