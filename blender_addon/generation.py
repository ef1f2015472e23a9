# SPDX-License-Identifier: GPL-3.0-or-later
"""Main-thread side of a generation: panel → ``Recipe`` → job; its result goes to ``apply.apply_result``.

``pump()`` is what the ``bpy.app.timers`` callback runs; tests call it directly (timers never fire
headless). The armature is found again by ``session_uid``, so deleting it mid-job is detected. All maths
is in the core: this module reads the panel and the rig.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import bpy

from motionlcm_core.control.exact import ExactConfig
from motionlcm_core.control.passes import PinPassConfig, RefineConfig
from motionlcm_core.motion.skeleton import FPS, num_frames
from motionlcm_core.recipe import Pin, Recipe
from motionlcm_core.retarget.feet import FootCleanupConfig
from motionlcm_core.retarget.inverse import pin_targets

from . import anim_write, bone_maps, continuation, deps, pins, shot
from .apply import ApplyPlan, apply_result, pin_note, scene_fps
from .jobs import GenerationJob
from .model_cache import ModelSpec, load_pipeline
from .preferences import get_prefs


@dataclass
class ActiveJob:
    """A running job plus what is needed to apply it. mode: "new" | "regenerate"."""

    job: GenerationJob
    target_uid: int
    target_name: str
    mode: str
    action_name: str
    recipe: Recipe
    plan: ApplyPlan
    started: float


_active: ActiveJob | None = None
#: What a generation imports on the worker thread (checked before any work starts).
GENERATE_NEEDS = ["torch", "safetensors", "tokenizers"]


def active() -> ActiveJob | None:
    """The job now running (or finished but not yet applied)."""
    return _active


def model_spec(context: bpy.types.Context, props: object) -> ModelSpec:
    """The model the panel asks for, with paths and device from the preferences."""
    prefs = get_prefs(context)
    device = prefs.device if prefs else "auto"
    if props.model == "file":
        return ModelSpec("file", bpy.path.abspath(props.checkpoint_file), device=device)
    if props.model.startswith("official"):
        path = getattr(prefs, props.model, "") if prefs else ""
        return ModelSpec(props.model, bpy.path.abspath(path), bpy.path.abspath(prefs.t5_folder) if prefs else "",
                         device=device)
    return ModelSpec("embedded", device=device)


def check_target(ob: bpy.types.Object | None) -> bpy.types.Object:
    """``ValueError`` with the fix when ``ob`` cannot receive an action."""
    if ob is None or ob.type != "ARMATURE":
        raise ValueError("no armature selected; pick one in the MotionLCM panel (or use Add SMPL rig)")
    if ob.library is not None:
        raise ValueError(f"armature {ob.name!r} is linked from a library; make a library override first")
    return ob


def panel_passes(props: object) -> PinPassConfig:
    """The pin passes the panel asks for (refine, exact, foot clean-up; the rest at their defaults)."""
    refine = RefineConfig(steps=int(props.refine_steps), lr=float(props.refine_strength))
    return PinPassConfig(refine=refine if props.refine_pins else None,
                         exact=ExactConfig() if props.exact_pins else None,
                         foot_cleanup=FootCleanupConfig() if props.foot_cleanup else None)


def panel_recipe(props: object, spec: ModelSpec, start_frame: int, heads: dict | None,
                 shot_fields: dict | None = None) -> Recipe:
    """The panel's settings as one frozen :class:`Recipe` (raises ``ValueError`` on bad input); ``shot_fields``:
    the shot tool's (``shot.recipe_fields``: a path, a loop or a timeline)."""
    fields = dict(prompt=props.prompt, seed=int(props.seed), num_steps=int(props.num_steps),
                  guidance=props.guidance if props.use_guidance else None, seconds=float(props.seconds),
                  variations=int(props.variations), model=spec.label(), root_motion=props.root_motion,
                  pins=pins.recipe_pins(props), passes=panel_passes(props), start_frame=int(start_frame),
                  continue_from=heads)
    return Recipe(**{**fields, **(shot_fields or {})})


def start(context: bpy.types.Context, mode: str = "new", loader=None) -> ActiveJob:
    """Validate everything, then start the worker. Raises ``ValueError`` (nothing started) on bad input."""
    global _active
    if _active is not None and _active.job.state == "running":
        raise ValueError("a generation is already running; wait for it or press Cancel")
    props = context.scene.motionlcm
    ob = check_target(props.target)
    action_name, redo = "", None
    if mode in ("regenerate", "segment"):
        action_name = _regenerate_target(ob).name
    if mode == "segment":
        redo = _segment_to_redo(props, bpy.data.actions[action_name])
    mapping = bone_maps.ensure_panel_map(props, ob)
    bone_maps.check_mapping(mapping, ob)
    spec = model_spec(context, props)
    spec.check_files()
    seed = (props.seed + 1) % (2 ** 31) if mode in ("regenerate", "segment") and not props.lock_seed else props.seed
    start_frame, heads = _clip_start(context, props, ob, mapping, "new" if mode == "new" else "regenerate")
    shot_fields = shot.recipe_fields(props, ob, mapping)
    if shot_fields and heads:                          # a shot tool starts its own motion (no continuation)
        heads = None
        start_frame = context.scene.frame_start if mode == "new" else start_frame
    recipe = panel_recipe(props, spec, start_frame, heads, {**shot_fields, "seed": int(seed)})
    rig, bm = bone_maps.rig_from_armature(ob), bone_maps.from_dict(mapping)
    control = (pin_targets(recipe.pins, rig, bm, recipe.num_frames, start_frame=start_frame,
                           scene_fps=scene_fps(context.scene), fps=FPS) if recipe.pins else None)
    plan = ApplyPlan(mapping)
    if heads:
        cont = continuation.plan(ob, mapping, heads, recipe.num_frames)
        control = cont.merged(control)
        plan = ApplyPlan(mapping, cont, continuation.previous_joints(ob, mapping, heads),
                         _frame0_pins(heads, mapping, start_frame))
    if redo is not None:
        plan = ApplyPlan(mapping, redo_segment=redo[1])
    missing = deps.missing_modules(GENERATE_NEEDS)
    if missing:
        raise ValueError(f"the Python packages the model runs on are missing ({', '.join(missing)}): press "
                         "Install dependencies in Preferences > Add-ons > MotionLCM, then Generate again")
    job = GenerationJob(recipe, spec, control, loader or load_pipeline, redo,
                        free_start=bool(heads) and not recipe.pins)
    _active = ActiveJob(job, ob.session_uid, ob.name, "new" if mode == "new" else "regenerate", action_name, recipe,
                        plan, time.perf_counter())
    props.seed = seed                                 # a new seed only once the job really starts
    props.running, props.job_progress, props.job_stage, props.status = True, 0.0, "starting", ""
    job.start()
    return _active


def _segment_to_redo(props: object, action: bpy.types.Action) -> tuple[object, int]:
    """The kept timeline of ``action`` and the panel's active segment to generate again (its neighbours kept);
    ``ValueError`` with the fix when the timeline or the other segments' durations changed."""
    timeline = shot.load_timeline(action)
    k, segments = props.segment_index, list(props.segments)
    starts = timeline.segment_starts + [len(timeline.raw)]
    kept = [b - a for a, b in zip(starts[:-1], starts[1:])]
    if props.shot != "timeline" or len(segments) != len(kept) or not 0 <= k < len(kept):
        raise ValueError("Regenerate segment works on the timeline that made the active action: keep Shot on "
                         "Timeline with the same segments, select one, or press Generate for a new timeline")
    changed = [i + 1 for i, (seg, n) in enumerate(zip(segments, kept)) if i != k and num_frames(seg.seconds) != n]
    if changed:
        raise ValueError(f"the durations of segments {changed} changed since the timeline was made; press Generate "
                         "to make the whole timeline again")
    return timeline, k


def _clip_start(context: bpy.types.Context, props: object, ob: bpy.types.Object, mapping: dict[str, str],
                mode: str) -> tuple[int, dict | None]:
    """First scene frame of the new clip and the bone heads it continues from (``None``: no continuation).

    Regenerate keeps its recipe's start and pose; a new clip continues from the evaluated pose at the
    current frame when "Continue from current pose" is on and the armature is animated before it."""
    scene = context.scene
    if mode == "regenerate":
        recipe = anim_write.get_recipe(ob.animation_data.action) or {}
        return int(recipe.get("start_frame", scene.frame_start)), recipe.get("continue_from")
    if getattr(props, "continue_pose", False) and continuation.has_previous(ob, scene.frame_current):
        return scene.frame_current, continuation.current_pose(ob, mapping)
    return scene.frame_start, None


def _frame0_pins(heads: dict, mapping: dict[str, str], start_frame: int) -> tuple[Pin, ...]:
    """IK pins that hold the continued pose's hips, head, hands and feet on the clip's first frame."""
    return tuple(Pin(mapping[j], j, start_frame, tuple(heads[mapping[j]]))
                 for j in bone_maps.CONTROL_JOINTS if mapping.get(j) in heads)


def _regenerate_target(ob: bpy.types.Object) -> bpy.types.Action:
    """The generated action to regenerate in place; ``ValueError`` when there is none or it is linked."""
    action = ob.animation_data.action if ob.animation_data else None
    if action is None or anim_write.get_recipe(action) is None:
        raise ValueError(f"{ob.name!r} has no generated action to regenerate; press Generate first")
    if action.library is not None:
        raise ValueError(f"action {action.name!r} is linked from {action.library.filepath!r} (read-only); "
                         "press Generate to make a new local action instead")
    return action


def cancel() -> bool:
    """Ask the running job to stop; True when there was one."""
    if _active is None or _active.job.state != "running":
        return False
    _active.job.cancel()
    return True


def find_object(uid: int) -> bpy.types.Object | None:
    """The object with this ``session_uid`` (``None`` once deleted)."""
    return next((o for o in bpy.data.objects if o.session_uid == uid), None)


def pump(context: bpy.types.Context | None = None) -> str:
    """Poll the job; on completion apply (or report) on this, the main thread. Returns its state."""
    global _active
    if _active is None:
        return "idle"
    context = context or bpy.context
    props = context.scene.motionlcm
    state = _active.job.poll()
    props.job_progress, props.job_stage = _active.job.progress, _active.job.stage
    if state == "running":
        return state
    done, _active = _active, None
    props.running, props.job_stage = False, ""
    if state == "done":
        _finish(context, props, done)
    elif state == "failed":
        props.status = f"Generation failed: {done.job.error}"
    else:
        props.status = "Generation cancelled; nothing was changed"
    return state


def _finish(context: bpy.types.Context, props: object, done: ActiveJob) -> None:
    res = done.job.result
    props.device_name, props.model_loaded, props.dtype_reason = res.device, res.model, res.dtype_reason
    ob = find_object(done.target_uid)
    if ob is None:
        props.status = (f"Armature {done.target_name!r} was deleted while generating; the result was discarded. "
                        "Pick an armature and generate again")
        return
    t0 = time.perf_counter()
    names = apply_result(context, ob, res, done.recipe, done.plan, mode=done.mode, action_name=done.action_name)
    res.timings["apply"] = time.perf_counter() - t0
    props.last_time = time.perf_counter() - done.started
    notes = " ".join([*res.messages, pin_note(anim_write.get_recipe(bpy.data.actions[names[0]]))])
    props.status = f"{names[0]}: {props.last_time:.2f} s on {res.device}. {notes}".strip()
    anim_write.push_undo("MotionLCM generate")
