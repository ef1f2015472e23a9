# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate (worker thread) onto three rigs, pins, regenerate in place + history, variations."""
import sys
from pathlib import Path

import bpy
import numpy as np
import torch

import blender_addon
import bpy_rigs
from common import run, scene_with_tiny_model, world_heads
from blender_addon import anim_write, bone_maps, compat, generation
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.rig import pose_world_matrices
from motionlcm_core.retarget.transfer import retarget

torch.set_num_threads(1)


def generate(mode: str = "new") -> generation.ActiveJob:
    job = generation.start(bpy.context, mode)
    assert job.job.wait(120), "worker did not finish"
    state = generation.pump(bpy.context)
    assert state == "done", (state, job.job.error)
    return job


def check_rig(ob, job) -> dict:
    """Evaluated world heads vs numpy FK of the add-on's retarget of the job's joints."""
    rig = bone_maps.rig_from_armature(ob)
    bm = BoneMap(bones=job.plan.mapping)
    joints = job.job.result.joints[0, : job.job.result.lengths[0]]
    anim = retarget(joints, rig, bm, root_motion="full", foot_cleanup=True, smpl_leg=0.82)
    src = np.arange(0, len(joints), 2)
    frames = 1 + src * 3 // 2
    bones = list(bm.bones.values())
    fk = pose_world_matrices(rig, anim)[src][:, [rig.index[b] for b in bones]][..., :, 3] @ np.array(ob.matrix_world).T
    got = world_heads(ob, frames, bones)
    return {"fk_err": float(np.abs(got - fk[..., :3]).max()), "frames": len(joints),
            "keys_last_frame": float(max(k[-1, 0] for k in anim_write.read_keys(ob.animation_data.action,
                                                                                 ob.animation_data.action_slot if compat.HAS_SLOTS else None).values()))}


def pins_case(props, ob) -> dict:
    """Mixamo-like rig (cm, object scale 0.01): pose hips + right arm at frames 16 and 31, pin the hips and
    the right hand, generate; world-space distances (m) from each pin at its frame."""
    scene, out = bpy.context.scene, {}
    hips, arm, hand = "mixamorig:Hips", "mixamorig:RightArm", "mixamorig:RightHand"
    for frame, loc in ((16, (0.0, 0.0, 10.0)), (31, (20.0, 0.0, 5.0))):
        scene.frame_set(frame)
        ob.pose.bones[hips].location = loc
        ob.pose.bones[arm].rotation_mode = "XYZ"
        ob.pose.bones[arm].rotation_euler = (0.0, 0.0, 0.5 * frame / 31)
        bpy.context.view_layer.update()
        for b in ob.data.bones:
            compat.select_bone(ob, b.name, b.name in (hips, hand))
        assert bpy.ops.motionlcm.pin() == {"FINISHED"}
    mw = np.array(ob.matrix_world)
    pins = [(p.bone, p.frame, (mw @ np.append(p.position, 1.0))[:3]) for p in props.pins]
    job = generate()
    for bone, frame, pos in pins:
        got = world_heads(ob, [frame], [bone])[0, 0]
        out[f"{bone.split(':')[-1]}@{frame}"] = float(np.linalg.norm(got - pos))
    out["n_pins"] = len(pins)
    recipe = anim_write.get_recipe(ob.animation_data.action)
    out["recipe_pins"], out["pin_residual_m"] = len(recipe["pins"]), recipe["pin_residual_m"]
    out["pin_error_model"] = job.job.result.report.get("pin_error_m")
    out["status"] = props.status
    out["default_passes"] = {k: job.job.result.report[k] for k in ("refine_steps", "refine_strength", "exact")}
    # the panel turns the passes off (or sets the refinement's iterations and strength)
    props.refine_pins, props.exact_pins = False, False
    scene.frame_set(scene.frame_start)
    off = generate()
    out["off_passes"] = {k: off.job.result.report[k] for k in ("refine_steps", "exact")}
    out["off_recipe"] = {k: anim_write.get_recipe(ob.animation_data.action)["passes"][k] for k in ("refine", "exact")}
    props.refine_pins, props.exact_pins, props.refine_steps, props.refine_strength = True, True, 5, 0.3
    scene.frame_set(scene.frame_start)
    tuned = generate()
    out["tuned_passes"] = {k: tuned.job.result.report[k] for k in ("refine_steps", "refine_strength")}
    # a hand pin 3 m above the hips cannot be met: the status says so and how far it was left
    hand_pin = next(p for p in props.pins if p.bone == hand)
    hand_pin.position = (np.array(hand_pin.position) + np.array([0.0, 0.0, 300.0])).tolist()
    scene.frame_set(scene.frame_start)          # a new clip from the start, not a continuation at frame 31
    generate()
    out["unreachable_status"] = props.status
    out["unreachable_residual_m"] = anim_write.get_recipe(ob.animation_data.action)["pin_residual_m"]
    props.pins.clear()
    return out


def regenerate_case(props, ob) -> dict:
    """Another action on the same armature (NLA) must stay untouched; history restores the old keys."""
    action = ob.animation_data.action
    slot = compat.object_slot(action, ob)
    before = anim_write.read_keys(action, slot)
    other, oslot = anim_write.create_action(ob, "Other", {"prompt": "hand keyed"})
    anim_write.write_pose_keys(ob, other, oslot, np.array([1.0, 10.0]), {"Head": np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0]])})
    track = ob.animation_data.nla_tracks.new()
    strip = track.strips.new("Other", 1, other)
    compat.set_strip_slot(strip, oslot)
    other_before = anim_write.read_keys(other, oslot)
    seed_before = props.seed
    generate("regenerate")
    after_action = ob.animation_data.action
    after = anim_write.read_keys(after_action, compat.object_slot(after_action, ob))
    other_after = anim_write.read_keys(other, oslot)
    changed = any(not np.array_equal(before[k], after[k]) for k in before)
    anim_write.restore_history(after_action, compat.object_slot(after_action, ob), 0)
    restored = anim_write.read_keys(after_action, compat.object_slot(after_action, ob))
    return {"same_action": after_action == action, "same_slot": (not compat.HAS_SLOTS) or
            ob.animation_data.action_slot == slot, "keys_changed": changed, "seed_changed": props.seed != seed_before,
            "other_untouched": all(np.array_equal(other_before[k], other_after[k]) for k in other_before),
            "history": len(anim_write.history(after_action)),
            "restored_equal": all(np.array_equal(before[k], restored[k]) for k in before)}


def main() -> dict:
    tmp = Path(sys.argv[1])
    props = scene_with_tiny_model(tmp, "a person walks forward and waves")
    scene = bpy.context.scene
    out = {}
    for kind in ("smpl", "mixamo", "rigify"):
        ob = bpy_rigs.build(kind)
        props.target = ob
        job = generate()
        out[kind] = check_rig(ob, job)
        out[kind]["timings"] = job.job.result.timings
    props.target = bpy.data.objects["SMPL"]
    out["regenerate"] = regenerate_case(props, props.target)
    props.target = bpy.data.objects["Mixamo"]
    props.variations = 2
    generate()
    out["variations"] = [v.name for v in props.variation_actions]
    props.variations = 1
    pin_ob = bpy_rigs.build("mixamo", "PinRig")
    props.target = pin_ob
    out["pins"] = pins_case(props, pin_ob)
    out["status"] = props.status
    blender_addon.unregister()
    return out


run(main)
