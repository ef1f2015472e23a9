# SPDX-License-Identifier: GPL-3.0-or-later
"""Main-thread side of a generation: validate → start the job → apply its result to the rig.

``pump()`` is what the ``bpy.app.timers`` callback runs; tests call it directly (timers never fire
headless). The armature is found again by ``session_uid``, so deleting it mid-job is detected.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import bpy
import numpy as np

from . import anim_write, bone_maps, compat, continuation, pins, resample
from .jobs import GenerationJob, GenerationRequest
from .model_cache import ModelSpec
from .preferences import get_prefs


@dataclass
class ActiveJob:
    """A running job plus what is needed to apply it. mode: "new" | "regenerate"."""

    job: GenerationJob
    target_uid: int
    target_name: str
    mode: str
    action_name: str
    recipe: dict
    settings: dict
    started: float


_active: ActiveJob | None = None


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


def _recipe(props: object, spec: ModelSpec, seed: int, pin_list: list[dict]) -> dict:
    return {"prompt": props.prompt.strip(), "seed": seed, "num_steps": int(props.num_steps),
            "guidance": props.guidance if props.use_guidance else None, "model": spec.label(),
            "seconds": props.seconds, "variations": props.variations, "root_motion": props.root_motion,
            "foot_cleanup": props.foot_cleanup, "pins": pin_list, "refine": props.refine_pins,
            "refine_steps": props.refine_steps, "refine_strength": props.refine_strength, "exact": props.exact_pins}


def start(context: bpy.types.Context, mode: str = "new", loader=None) -> ActiveJob:
    """Validate everything, then start the worker. Raises ``ValueError`` (nothing started) on bad input."""
    global _active
    if _active is not None and _active.job.state == "running":
        raise ValueError("a generation is already running; wait for it or press Cancel")
    props = context.scene.motionlcm
    ob = check_target(props.target)
    action_name = ""
    if mode == "regenerate":
        action_name = _regenerate_target(ob).name
    mapping = bone_maps.ensure_panel_map(props, ob)
    bone_maps.check_mapping(mapping, ob)
    spec = model_spec(context, props)
    spec.check_files()
    if mode == "regenerate" and not props.lock_seed:
        props.seed = (props.seed + 1) % (2 ** 31)
    start_frame, heads = _clip_start(context, props, ob, mapping, mode)
    pin_list, control = pins.control_from_pins(context, props, ob, mapping, start_frame)
    cont = None
    if heads:
        cont = continuation.plan(ob, mapping, heads, int(round(props.seconds * pins.MODEL_FPS)))
        control = continuation.merge_control(cont, control)
    recipe = dict(_recipe(props, spec, props.seed, pin_list), start_frame=start_frame, continue_from=heads)
    request = GenerationRequest(prompts=(recipe["prompt"],) * props.variations, seconds=props.seconds,
                                num_steps=recipe["num_steps"], guidance=recipe["guidance"], seed=props.seed,
                                model=spec, control_positions=control[0] if control else None,
                                control_mask=control[1] if control else None, refine=recipe["refine"],
                                refine_steps=recipe["refine_steps"], refine_strength=recipe["refine_strength"],
                                exact=recipe["exact"])
    job = GenerationJob(request, loader) if loader else GenerationJob(request)
    settings = {"mapping": mapping, "root_motion": props.root_motion, "foot_cleanup": props.foot_cleanup,
                "start_frame": start_frame, "continuation": cont, "pins": pin_list + _frame0_pins(heads, mapping,
                                                                                                start_frame),
                "previous_joints": continuation.previous_joints(ob, mapping, heads) if heads else None}
    _active = ActiveJob(job, ob.session_uid, ob.name, mode, action_name, recipe, settings, time.perf_counter())
    props.running, props.job_progress, props.job_stage, props.status = True, 0.0, "starting", ""
    job.start()
    return _active


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


def _frame0_pins(heads: dict | None, mapping: dict[str, str], start_frame: int) -> list[dict]:
    """IK pins that hold the continued pose's hips, head, hands and feet on the clip's first frame."""
    if not heads:
        return []
    return [{"bone": mapping[j], "joint": j, "frame": start_frame, "position": heads[mapping[j]]}
            for j in bone_maps.CONTROL_JOINTS if mapping.get(j) in heads]


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
    props.device_name, props.model_loaded = res.device, res.model
    ob = find_object(done.target_uid)
    if ob is None:
        props.status = (f"Armature {done.target_name!r} was deleted while generating; the result was discarded. "
                        "Pick an armature and generate again")
        return
    t0 = time.perf_counter()
    names = apply_result(context, ob, res, settings=done.settings, recipe=done.recipe, mode=done.mode,
                         action_name=done.action_name)
    res.timings["apply"] = time.perf_counter() - t0
    props.last_time = time.perf_counter() - done.started
    notes = " ".join([*res.messages, pin_note(anim_write.get_recipe(bpy.data.actions[names[0]]))])
    props.status = f"{names[0]}: {props.last_time:.2f} s on {res.device}. {notes}".strip()
    anim_write.push_undo("MotionLCM generate")


PIN_TOLERANCE_M = 0.01


def pin_note(recipe: dict) -> str:
    """A status note when a pin was left more than 1 cm off (out of the rig's reach), else ""."""
    residual = float(recipe.get("pin_residual_m") or 0.0)
    if residual <= PIN_TOLERANCE_M:
        return ""
    return (f"A pin is out of reach: {100 * residual:.0f} cm left (move it closer to the body, or pin the hips "
            "nearer to it).")


def anim_for_sample(ob: bpy.types.Object, joints: np.ndarray, settings: dict, scene_fps: float,
                    src_fps: float) -> tuple[np.ndarray, dict, str, np.ndarray, float]:
    """Retarget one sample ``joints [T, 22, 3]``, resample to the scene fps, then meet the pins by IK.

    ``settings["pins"]`` (recipe entries, armature space, scene frames from ``settings["start_frame"]``)
    are met on the rig at their scene frames (``ik.solve_pins``), with the retarget's in-place shift.
    Returns (frame offsets [F] from the clip start, rotations {bone: [F, 4]}, root bone, root location
    [F, 3], largest pin residual in metres).
    """
    from motionlcm_core.retarget.inverse import SMPL_REFERENCE_LEG_LENGTH
    from motionlcm_core.retarget.transfer import retarget
    rig = bone_maps.rig_from_armature(ob)
    # the reference leg length is also what rig_positions_to_joints uses for pins: same scale both ways
    bm = bone_maps.from_dict(settings["mapping"])
    anim = retarget(joints, rig, bm, root_motion=settings["root_motion"],
                    foot_cleanup=settings["foot_cleanup"], smpl_leg=SMPL_REFERENCE_LEG_LENGTH)
    pos = resample.sample_positions(len(joints), src_fps, scene_fps)
    rots = {b: resample.resample_quats(q, pos) for b, q in anim.rotations.items()}
    root = resample.resample_linear(anim.root_translation, pos)
    offsets = np.arange(len(pos), dtype=np.float64)
    residual = 0.0
    if settings.get("pins"):
        rots, root, residual = _pin_ik(rig, bm, anim, rots, root, settings, joints, pos, scene_fps)
    return offsets, rots, anim.root_bone, root, residual


def _pin_ik(rig: object, bm: object, anim: object, rots: dict, root: np.ndarray, settings: dict,
            joints: np.ndarray, pos: np.ndarray, fps: float) -> tuple[dict, np.ndarray, float]:
    """Scene-rate rotations and root after pin IK, and the largest residual (metres)."""
    from motionlcm_core.retarget.ik import solve_pins
    from motionlcm_core.retarget.inverse import model_to_armature
    from motionlcm_core.retarget.rig import RigAnimation
    targets, mask = pins.rig_targets(settings["pins"], settings.get("start_frame", 0), len(root))
    if settings["root_motion"] == "in_place":
        travel = model_to_armature(joints[:, 0], anim.scale)[:, :2]
        targets[..., :2] -= resample.resample_linear(travel - travel[:1], pos)[:, None]
    out = solve_pins(rig, bm, RigAnimation(anim.root_bone, root, rots, anim.scale, fps), targets, mask)
    return out.rotations, out.root_translation, out.max_residual / anim.scale


def scene_fps(scene: bpy.types.Scene) -> float:
    return scene.render.fps / scene.render.fps_base


def apply_result(context: bpy.types.Context, ob: bpy.types.Object, res: object, *, settings: dict, recipe: dict,
                 mode: str = "new", action_name: str = "") -> list[str]:
    """Write every variation of ``res`` (a ``GenerationResult``) as keys; the first goes on ``ob``.

    settings: ``mapping`` (joint → bone), ``root_motion``, ``foot_cleanup``. mode "regenerate" rewrites
    the keys of the action ``action_name`` in place (its previous keys go to the history).
    Returns the action names.
    """
    scene = context.scene
    start_frame = float(settings.get("start_frame", scene.frame_start))
    cont = settings.get("continuation")
    names = []
    for i in range(res.joints.shape[0]):
        joints = res.joints[i, : res.lengths[i]]
        if cont is not None:
            joints = continuation.blend_from(cont.to_source(joints), settings["previous_joints"])
        offsets, rots, root_bone, root, residual = anim_for_sample(ob, joints, settings, scene_fps(scene), res.fps)
        sample_recipe = dict(recipe, variation=i, timings=res.timings, pin_residual_m=residual)
        if i == 0 and mode == "regenerate":
            action = bpy.data.actions[action_name]
            slot = compat.object_slot(action, ob)
            anim_write.push_history(action, slot)
            anim_write.set_recipe(action, sample_recipe)
        else:
            label = recipe["prompt"][:40] + (f" v{i + 1}" if res.joints.shape[0] > 1 else "")
            action, slot = anim_write.create_action(ob, f"MotionLCM: {label}", sample_recipe)
            action.use_fake_user = i > 0
        anim_write.write_pose_keys(ob, action, slot, start_frame + offsets, rots, root_bone, root)
        if i == 0:
            compat.assign_action(ob, action, slot)
        names.append(action.name)
    _remember_variations(scene.motionlcm, names)
    return names


def _remember_variations(props: object, names: list[str]) -> None:
    props.variation_actions.clear()
    for n in names:
        props.variation_actions.add().name = n
