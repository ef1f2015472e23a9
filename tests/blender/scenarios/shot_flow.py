# SPDX-License-Identifier: GPL-3.0-or-later
"""Shot tools through the add-on (tiny random model): the hips follow a curve, a loop is cyclic and closed,
a timeline is one action; on a Mixamo-like and a Rigify-like rig."""
import sys
from pathlib import Path

import bpy
import numpy as np
import torch

import blender_addon
import bpy_rigs
from common import run, scene_with_tiny_model, world_heads
from blender_addon import anim_write, bone_maps, compat, generation, shot

torch.set_num_threads(1)


def generate(mode: str = "new") -> generation.ActiveJob:  # "new" | "regenerate" | "segment"
    job = generation.start(bpy.context, mode)
    assert job.job.wait(120), "worker did not finish"
    state = generation.pump(bpy.context)
    assert state == "done", (state, job.job.error)
    return job


def make_curve(name: str, points: list[tuple[float, float]]) -> bpy.types.Object:
    """A poly curve on the floor (world x, y; z = 0) linked to the scene."""
    cu = bpy.data.curves.new(name, "CURVE")
    cu.dimensions = "3D"
    spline = cu.splines.new("POLY")
    spline.points.add(len(points) - 1)
    for p, (x, y) in zip(spline.points, points):
        p.co = (x, y, 0.0, 1.0)
    ob = bpy.data.objects.new(name, cu)
    bpy.context.scene.collection.objects.link(ob)
    return ob


def hips_track_error(ob, props, curve) -> dict:
    """World-space ground distance of the hips from the curve's track (scene frames on model frames)."""
    action = ob.animation_data.action
    recipe = anim_write.get_recipe(action)
    mapping = bone_maps.panel_dict(props)
    n_model = int(round(recipe["seconds"] * 20))
    from motionlcm_core.shot import GroundPath
    track = GroundPath(np.array(recipe["path"])).track(n_model)           # model-frame ground (x, z)
    frames = np.arange(0, n_model, 2)                                        # model frames on scene frames
    heads = world_heads(ob, 1 + frames * 3 // 2, [mapping["pelvis"]])[:, 0]
    world_curve = np.array([(curve.matrix_world @ p.co.to_3d())[:2] for p in curve.data.splines[0].points])
    # the curve's own world points, seen through the same path resampling: where the hips must be
    world_track = GroundPath(world_curve).track(n_model)[frames]
    err = np.linalg.norm(heads[:, :2] - world_track, axis=-1)
    return {"max_err_m": float(err.max()), "hips_height_range_m": float(np.ptp(heads[:, 2])),
            "recipe_path_points": len(recipe["path"]), "end": heads[-1, :2].tolist(),
            "curve_end": world_curve[-1].tolist()}


def path_case(props, ob) -> dict:
    props.shot = "path"
    curve = make_curve(f"Path_{ob.name}", [(0.0, 0.0), (0.0, -1.2), (0.8, -2.0)])   # rigs face -Y
    props.path_curve = curve
    generate()
    out = {"first": hips_track_error(ob, props, curve)}
    curve.data.splines[0].points[-1].co = (-0.8, -2.0, 0.0, 1.0)             # edit the curve, Regenerate
    generate("regenerate")
    out["edited"] = hips_track_error(ob, props, curve)
    return out


def loop_case(props, ob) -> dict:
    props.shot, props.loop_in_place = "loop", True
    generate()
    action = ob.animation_data.action
    curves = compat.all_fcurves(action)
    mapping = bone_maps.panel_dict(props)
    bones = list(mapping.values())
    keys = anim_write.read_keys(action, compat.object_slot(action, ob))
    first, last = (min(k[0, 0] for k in keys.values()), max(k[-1, 0] for k in keys.values()))
    heads = world_heads(ob, [int(first), int(last)], bones)
    hips = bones.index(mapping["pelvis"])
    rel = heads - heads[:, hips:hips + 1]
    return {"cyclic": all(any(m.type == "CYCLES" for m in fc.modifiers) for fc in curves), "curves": len(curves),
            "pose_gap_m": float(np.abs(rel[1] - rel[0]).max() / ob.scale[0] * 0 + np.abs(rel[1] - rel[0]).max()),
            "hips_drift_m": float(np.linalg.norm(heads[1, hips, :2] - heads[0, hips, :2])),
            "first": first, "last": last}


def timeline_case(props, ob) -> dict:
    props.shot = "timeline"
    props.segments.clear()
    for prompt, seconds in (("a person walks forward", 2.0), ("a person sits down", 2.0), ("a person waves", 2.5)):
        bpy.ops.motionlcm.segment_add()
        seg = props.segments[-1]
        seg.prompt, seg.seconds = prompt, seconds
    before = set(bpy.data.actions.keys())
    generate()
    action = ob.animation_data.action
    recipe = anim_write.get_recipe(action)
    keys = anim_write.read_keys(action, compat.object_slot(action, ob))
    out = {"new_actions": len(set(bpy.data.actions.keys()) - before), "segment_starts": recipe["segment_starts"],
           "segments": len(recipe["segments"]), "last_key": max(k[-1, 0] for k in keys.values()),
           "prompt": recipe["prompt"]}
    # regenerate the middle segment: the same action, its neighbours' poses kept away from the seams
    mapping = bone_maps.panel_dict(props)
    bones = list(mapping.values())
    far = [1 + 15 * 3 // 2, 1 + 110 * 3 // 2]                   # model frames 15 and 110 (seams at 40 and 80)
    middle = [1 + 60 * 3 // 2]
    before_heads = world_heads(ob, far + middle, bones)
    props.segment_index = 1
    props.segments[1].prompt = "a person jumps"
    generate("segment")
    after_heads = world_heads(ob, far + middle, bones)
    out["redo_same_action"] = ob.animation_data.action == action
    out["redo_far_change_m"] = float(np.abs(after_heads[:2] - before_heads[:2]).max())
    out["redo_middle_change_m"] = float(np.abs(after_heads[2] - before_heads[2]).max())
    out["redo_recipe"] = anim_write.get_recipe(action).get("redo_segment")
    props.segments[0].seconds = 3.0
    try:
        generation.start(bpy.context, "segment")
        out["redo_changed_durations"] = "started"
    except ValueError as exc:
        out["redo_changed_durations"] = str(exc)
    props.segments[0].seconds = 2.0
    props.timeline_strips = True                      # one NLA strip per segment instead of the active action
    generate()
    track = ob.animation_data.nla_tracks[-1]
    out["strips"] = [(s.name, s.frame_start, s.frame_end, s.action_frame_start, s.action_frame_end)
                     for s in track.strips]
    out["active_after_strips"] = ob.animation_data.action is not None
    props.timeline_strips = False
    return out


def main() -> dict:
    tmp = Path(sys.argv[1])
    props = scene_with_tiny_model(tmp, "a person walks")
    out = {}
    for kind in ("mixamo", "rigify"):
        ob = bpy_rigs.build(kind)
        props.target = ob
        out[kind] = {"path": path_case(props, ob), "loop": loop_case(props, ob), "timeline": timeline_case(props, ob)}
        props.shot = "clip"
    props.shot = "path"
    props.path_curve = None
    try:
        generation.start(bpy.context, "new")
        out["no_curve"] = "started"
    except ValueError as exc:
        out["no_curve"] = str(exc)
    props.shot = "loop"
    bpy.ops.motionlcm.pin()
    try:
        generation.start(bpy.context, "new")
        out["loop_with_pins"] = "started"
    except ValueError as exc:
        out["loop_with_pins"] = str(exc)
    blender_addon.unregister()
    return out


run(main)
