# SPDX-License-Identifier: GPL-3.0-or-later
"""Write known rotations + root motion with anim_write; read back evaluated world heads; save/reload."""
import sys
from pathlib import Path

import bpy
import numpy as np

from common import run, fk_heads, fresh_scene, world_heads
from blender_addon import anim_write, compat, rig_build


def main() -> dict:
    tmp = Path(sys.argv[1])
    fresh_scene()
    ob = rig_build.create_smpl_armature(bpy.context.scene.collection, "SMPL")
    rest = rig_build.armature_rest_data(ob)
    rng = np.random.default_rng(0)
    F, bones = 8, rest["names"]
    frames = np.arange(1, F + 1, dtype=float)
    quats = {b: rng.normal(size=(F, 4)) for b in bones}
    quats = {b: q / np.linalg.norm(q, axis=1, keepdims=True) for b, q in quats.items()}
    loc = rng.normal(scale=0.3, size=(F, 3))
    recipe = {"prompt": "a person waves", "seed": 3, "num_steps": 1, "guidance": None, "model": "embedded", "pins": []}
    action, slot = anim_write.create_action(ob, "test", recipe)
    n_keys = anim_write.write_pose_keys(ob, action, slot, frames, quats, "Pelvis", loc)
    compat.assign_action(ob, action, slot)
    got = world_heads(ob, frames, bones)
    want = np.stack([fk_heads(rest, {b: quats[b][i] for b in bones}, "Pelvis", loc[i]) for i in range(F)])
    err = float(np.abs(got - want).max())
    path = tmp / "roundtrip.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    ob2 = bpy.data.objects["SMPL"]
    got2 = world_heads(ob2, frames, bones)
    return {"err": err, "reload_err": float(np.abs(got2 - got).max()), "keys": n_keys, "slots": compat.HAS_SLOTS,
          "recipe": anim_write.get_recipe(ob2.animation_data.action),
          "fcurves": len(compat.all_fcurves(ob2.animation_data.action)), "version": bpy.app.version_string}


run(main)
