# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a finished generation onto the rig: ``animate_rig`` for each variation, keys via ``anim_write``.

Runs on the main thread (``generation.pump``). All maths is the core's: ``control.continuation`` for a
continued pose, ``retarget.animate_rig`` for rotations, resampling and pins; this module only reads the rig
and writes the Action (with its ``Recipe``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import bpy
import numpy as np

from motionlcm_core.control.continuation import PoseContinuation, blend_from
from motionlcm_core.recipe import Pin, Recipe
from motionlcm_core.retarget.animate import animate_rig
from motionlcm_core.retarget.inverse import SMPL_REFERENCE_LEG_LENGTH, pin_targets
from motionlcm_core.retarget.resample import frame_count

from . import anim_write, bone_maps, compat, nla, shot
from .jobs import GenerationResult


@dataclass(frozen=True)
class ApplyPlan:
    """What writing the result needs beyond the recipe: the bone map (SMPL joint → bone), and for a clip that
    continues a pose, the continuation and the previous pose's joints (``[22, 3]``, mask ``[22]``)."""

    mapping: dict[str, str]
    continuation: PoseContinuation | None = None
    previous_joints: tuple[np.ndarray, np.ndarray] | None = None
    extra_pins: tuple[Pin, ...] = field(default=())
    redo_segment: int | None = None


PIN_TOLERANCE_M = 0.01


def pin_note(recipe: dict) -> str:
    """A status note when a pin was left more than 1 cm off (out of the rig's reach), else ""."""
    residual = float(recipe.get("pin_residual_m") or 0.0)
    if residual <= PIN_TOLERANCE_M:
        return ""
    return (f"A pin is out of reach: {100 * residual:.0f} cm left (move it closer to the body, or pin the hips "
            "nearer to it).")


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def apply_result(context: bpy.types.Context, ob: bpy.types.Object, res: GenerationResult, recipe: Recipe,
                 plan: ApplyPlan, *, mode: str = "new", action_name: str = "") -> list[str]:
    """Write every variation of ``res`` as keys (``animate_rig`` at the scene's rate, pins met on the rig);
    the first goes on ``ob``. mode "regenerate" rewrites the keys of the action ``action_name`` in place
    (its previous keys go to the history). Returns the action names."""
    scene = context.scene
    rig, bm = bone_maps.rig_from_armature(ob), bone_maps.from_dict(plan.mapping)
    fps, passes, names = scene_fps(scene), recipe.passes, []
    stored = recipe.to_dict()
    for i in range(res.joints.shape[0]):
        joints = res.joints[i, : res.lengths[i]]
        if plan.continuation is not None:
            joints = blend_from(plan.continuation.to_source(joints), plan.previous_joints, passes.blend_frames)
        frames = frame_count(len(joints), res.fps, fps)
        rig_pins = recipe.pins + plan.extra_pins
        targets = (pin_targets(rig_pins, rig, bm, frames, start_frame=recipe.start_frame, scene_fps=fps)
                   if rig_pins else None)
        anim = animate_rig(joints, rig, bm, src_fps=res.fps, dst_fps=fps, pins=targets,
                           root_motion=recipe.root_motion, ik=passes.pin_ik,
                           foot_cleanup=None if recipe.loop else passes.foot_cleanup,   # a loop's ends must stay equal
                           smpl_leg=SMPL_REFERENCE_LEG_LENGTH)
        sample = dict(stored, variation=i, timings=res.timings, pin_residual_m=anim.max_residual / anim.scale,
                      segment_starts=res.report.get("segment_starts"), redo_segment=plan.redo_segment)
        if i == 0 and mode == "regenerate":
            action = bpy.data.actions[action_name]
            slot = compat.object_slot(action, ob)
            anim_write.push_history(action, slot)
            anim_write.set_recipe(action, sample)
        else:
            label = recipe.prompt[:40] + (f" v{i + 1}" if res.joints.shape[0] > 1 else "")
            action, slot = anim_write.create_action(ob, f"MotionLCM: {label}", sample)
            action.use_fake_user = i > 0
        anim_write.write_pose_keys(ob, action, slot, recipe.start_frame + np.arange(anim.num_frames),
                                   anim.rotations, anim.root_bone, anim.root_translation)
        if recipe.loop:
            shot.make_cyclic(action)
        shot.store_timeline(action, res.report)
        if i == 0:
            compat.assign_action(ob, action, slot)
            starts = res.report.get("segment_starts")
            if starts and scene.motionlcm.timeline_strips:
                nla.segment_strips(ob, action, [recipe.start_frame + s / res.fps * fps for s in starts],
                                   [prompt for prompt, _ in recipe.segments])
        names.append(action.name)
    anim_write.remember_generated(ob, names)  # earlier results nothing uses: the newest few kept, older removed
    _remember_variations(scene.motionlcm, names)
    return names


def _remember_variations(props: object, names: list[str]) -> None:
    props.variation_actions.clear()
    for n in names:
        props.variation_actions.add().name = n
