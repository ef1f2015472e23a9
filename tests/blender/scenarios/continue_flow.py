# SPDX-License-Identifier: GPL-3.0-or-later
"""Continue from the current pose: clip A baked to NLA, then clip B generated from A's last frame."""
import sys
from pathlib import Path

import bpy
import numpy as np
import torch

import blender_addon
import bpy_rigs
from common import run, scene_with_tiny_model, world_heads
from blender_addon import anim_write, bone_maps, generation, nla

torch.set_num_threads(1)


def generate(loader=None) -> generation.ActiveJob:
    job = generation.start(bpy.context, "new", loader=loader)
    assert job.job.wait(120), "worker did not finish"
    state = generation.pump(bpy.context)
    assert state == "done", (state, job.job.error)
    return job


def jumps(before: np.ndarray, after: np.ndarray, mapping: dict, bones: list) -> dict:
    """Largest world distance (cm) over all mapped bones and over the control joints (hips, head, hands, feet)."""
    d = np.linalg.norm(after - before, axis=-1) * 100.0
    ctrl = [bones.index(mapping[j]) for j in bone_maps.CONTROL_JOINTS if j in mapping]
    return {"all_cm": float(d.max()), "control_cm": float(d[ctrl].max()),
            "worst_bone": bones[int(d.argmax())]}


def main() -> dict:
    tmp = Path(sys.argv[1])
    props = scene_with_tiny_model(tmp, "a person walks forward")
    scene = bpy.context.scene
    ob = bpy_rigs.build("mixamo")
    props.target = ob
    assert props.continue_pose, "Continue from current pose should default to on"
    generate()
    mapping = bone_maps.panel_dict(props)
    bones = list(mapping.values())
    strip_a = nla.bake_to_nla(ob, 1)
    last = int(round(strip_a.frame_end))
    prev = world_heads(ob, [last - 1, last], bones)               # A's last two frames (NLA only)
    normal = jumps(prev[0], prev[1], mapping, bones)               # one frame of A's own motion
    scene.frame_set(last)
    generate()                                                     # continues from A's last pose
    recipe = anim_write.get_recipe(ob.animation_data.action)
    first_b = world_heads(ob, [last], bones)[0]
    out = {"strip_a_end": last, "start_frame": recipe["start_frame"], "continued": recipe["continue_from"] is not None,
           "jump": jumps(prev[1], first_b, mapping, bones), "a_last_frame_motion": normal,
           "pin_residual_m": recipe["pin_residual_m"]}
    # a model with a motion bank samples the continuation from its exemplar, without the pins; the seam is
    # the continuation blend's and the frame-0 pins' (the tiny model stands in, recording what it was given)
    seen = {}

    class BankModel:
        def __init__(self, pipe):
            self.pipe, self.bank, self.has_controlnet = pipe, object(), True

        def __getattr__(self, name):
            return getattr(self.pipe, name)

        def generate(self, *args, control=None, **kwargs):
            seen["control"] = control
            return self.pipe.generate(*args, control=control, retrieval=False, **kwargs)

    from blender_addon.model_cache import load_pipeline
    scene.frame_set(last)
    generate(lambda spec: BankModel(load_pipeline(spec)))
    first_free = world_heads(ob, [last], bones)[0]
    out["free_start"] = {"control_given": seen.get("control", "not called") is not None,
                         "jump": jumps(prev[1], first_free, mapping, bones),
                         "continued": anim_write.get_recipe(ob.animation_data.action)["continue_from"] is not None}
    props.continue_pose = False
    generate()                                                     # same clip without continuation: starts at 1
    cold = world_heads(ob, [scene.frame_start], bones)[0]
    out["jump_without_continuation"] = jumps(prev[1], cold, mapping, bones)
    out["cold_start_frame"] = anim_write.get_recipe(ob.animation_data.action)["start_frame"]
    blender_addon.unregister()
    return out


run(main)
