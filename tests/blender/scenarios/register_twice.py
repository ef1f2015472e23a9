# SPDX-License-Identifier: GPL-3.0-or-later
"""register/unregister twice; operators refuse bad input with CANCELLED; no timer left behind."""
import bpy

import blender_addon
from common import fresh_scene, run
from blender_addon import operators


def call(op) -> str:
    """Run an operator; headless, an ERROR report surfaces as RuntimeError carrying the message."""
    try:
        return "+".join(sorted(op()))
    except RuntimeError as exc:
        return f"ERROR: {exc}"


def main() -> dict:
    fresh_scene()
    out = {"cycles": []}
    for _ in range(2):
        blender_addon.register()
        scene = bpy.context.scene
        state = {"props": hasattr(scene, "motionlcm"), "op": hasattr(bpy.types, "MOTIONLCM_OT_generate"),
                 "panel": hasattr(bpy.types, "MOTIONLCM_PT_main"),
                 "generate_without_armature": call(bpy.ops.motionlcm.generate),
                 "bake_without_armature": call(bpy.ops.motionlcm.bake_nla),
                 "add_rig": call(bpy.ops.motionlcm.add_smpl_rig)}
        state["target"] = scene.motionlcm.target.name if scene.motionlcm.target else None
        blender_addon.unregister()
        state["after_unregister"] = [hasattr(bpy.types.Scene, "motionlcm"),
                                     hasattr(bpy.types, "MOTIONLCM_OT_generate"),
                                     bpy.app.timers.is_registered(operators._timer)]
        out["cycles"].append(state)
    return out


run(main)
