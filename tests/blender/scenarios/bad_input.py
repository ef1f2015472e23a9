# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input: each case gives a clear message and loses nothing (the existing action stays as it was)."""
import sys
from pathlib import Path

import bpy
import numpy as np
import torch

import blender_addon
import bpy_rigs
from common import fresh_scene, run
from tiny_model import write_tiny_model
from blender_addon import anim_write, compat, generation, model_cache, rig_build

torch.set_num_threads(1)


def start_error(mode: str = "new") -> str:
    try:
        generation.start(bpy.context, mode)
    except ValueError as exc:
        return str(exc)
    return ""


class OutOfMemoryOnGPU:
    """Fault injection around the real pipeline: claims a CUDA device and raises a real
    ``torch.OutOfMemoryError`` on generate, like a GPU that is too small."""

    def __init__(self, pipe):
        self.pipe, self.device, self.has_controlnet = pipe, torch.device("cuda"), pipe.has_controlnet

    def generate(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def oom_loader(spec):
    pipe = model_cache.load_pipeline(spec.__class__(spec.kind, spec.path, spec.text_encoder, "cpu"))
    return pipe if spec.device == "cpu" else OutOfMemoryOnGPU(pipe)


def main() -> dict:
    tmp = Path(sys.argv[1])
    model = write_tiny_model(tmp / "tiny.safetensors")
    fresh_scene()
    blender_addon.register()
    scene, out = bpy.context.scene, {}
    props = scene.motionlcm
    props.model, props.checkpoint_file, props.seconds = "file", str(model), 2.0
    out["no_armature"] = start_error()
    ob = bpy_rigs.build("smpl")
    props.target = ob
    props.prompt = "   "
    out["empty_prompt"] = start_error()
    props.prompt = "a person jumps"
    odd = rig_build.create_armature(scene.collection, "Odd", ["Bone", "Bone.001"], [-1, 0],
                                    np.array([[0, 0, 0], [0, 0, 1.0]]), np.array([[0, 0, 1.0], [0, 0, 2.0]]))
    props.target = odd
    out["unmapped"] = start_error()
    props.target = ob
    props.checkpoint_file = str(tmp / "missing.safetensors")
    out["model_missing"] = start_error()
    props.checkpoint_file = str(model)
    out["regenerate_without_action"] = start_error("regenerate")
    # GPU out of memory → CPU fallback
    active = generation.start(bpy.context, loader=oom_loader)
    active.job.wait(120)
    out["oom_state"] = generation.pump(bpy.context)
    out["oom_status"] = props.status
    out["oom_device"] = props.device_name
    # a good action first; every failure below must leave it untouched
    action = ob.animation_data.action
    keys = anim_write.read_keys(action, compat.object_slot(action, ob))

    def unchanged() -> bool:
        now = ob.animation_data.action
        return now == action and all(np.array_equal(keys[k], v) for k, v in
                                     anim_write.read_keys(now, compat.object_slot(now, ob)).items())

    # cancelled
    active = generation.start(bpy.context)
    generation.cancel()
    active.job.wait(120)
    out["cancel_state"], out["cancel_status"] = generation.pump(bpy.context), props.status
    out["cancel_kept_previous"] = ob.animation_data.action.name
    # armature deleted while generating
    doomed = bpy_rigs.build("smpl", "Doomed")
    props.target = doomed
    active = generation.start(bpy.context)
    bpy.data.objects.remove(doomed)
    active.job.wait(120)
    out["deleted_state"], out["deleted_status"] = generation.pump(bpy.context), props.status
    props.target = ob
    out["unchanged_after_failures"] = unchanged() or ob.animation_data.action.name
    out["linked"] = linked_case(tmp, props)
    blender_addon.unregister()
    return out


def linked_case(tmp: Path, props) -> dict:
    """An action linked from a library: Regenerate refuses; Generate makes a new local action."""
    lib_path = tmp / "lib.blend"
    ob = props.target
    src = ob.animation_data.action
    bpy.data.libraries.write(str(lib_path), {src})
    with bpy.data.libraries.load(str(lib_path), link=True) as (data_from, data_to):
        data_to.actions = [src.name]
    linked = data_to.actions[0]
    slot = linked.slots[0] if compat.HAS_SLOTS else None
    compat.assign_action(ob, linked, slot)
    before = anim_write.read_keys(linked, slot)
    msg = start_error("regenerate")
    job = generation.start(bpy.context)
    job.job.wait(120)
    generation.pump(bpy.context)
    after = anim_write.read_keys(linked, slot)
    return {"regenerate_msg": msg, "is_linked": linked.library is not None,
            "linked_untouched": all(np.array_equal(before[k], after[k]) for k in before),
            "new_action_local": ob.animation_data.action.library is None and ob.animation_data.action != linked}


run(main)
