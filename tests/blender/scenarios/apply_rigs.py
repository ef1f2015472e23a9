# SPDX-License-Identifier: GPL-3.0-or-later
"""Real mocap joints → retarget → resample (20 → 30 fps) → anim_write on SMPL/Mixamo/Rigify rigs.

Compares evaluated world heads of mapped bones with (a) numpy FK of the retargeted animation and
(b) the model joints mapped into armature space; then Bake to NLA and save/reload.
"""
import os
import sys
from pathlib import Path

import bpy
import numpy as np

import bpy_rigs
from common import run, fresh_scene, world_heads
from blender_addon import apply, bone_maps, nla
from blender_addon.jobs import GenerationResult
import blender_addon
from motionlcm_core.control.passes import PinPassConfig
from motionlcm_core.recipe import Recipe
from motionlcm_core.retarget.inverse import model_to_armature
from motionlcm_core.retarget.mapping import BoneMap
from motionlcm_core.retarget.rig import pose_world_matrices
from motionlcm_core.retarget.transfer import retarget


def _direction_error_deg(got: np.ndarray, want: np.ndarray, joints: list[str]) -> np.ndarray:
    """Angle [F, K] between rig and model parent→child directions for mapped joint pairs."""
    from motionlcm_core.motion.skeleton import JOINT_NAMES, PARENTS
    pos = {j: k for k, j in enumerate(joints)}
    pairs = [(pos[JOINT_NAMES[PARENTS[JOINT_NAMES.index(j)]]], pos[j]) for j in joints
             if PARENTS[JOINT_NAMES.index(j)] >= 0 and JOINT_NAMES[PARENTS[JOINT_NAMES.index(j)]] in pos]
    a = np.stack([got[:, c] - got[:, p] for p, c in pairs], 1)
    b = np.stack([want[:, c] - want[:, p] for p, c in pairs], 1)
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-12)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def main() -> dict:
    tmp = Path(sys.argv[1])
    data = Path(os.environ.get("MOTIONLCM_DATA_DIR", Path(__file__).resolve().parents[3] / ".." / "shared" / "data"))
    npz = np.load(data / "joints_test.npz")
    joints = npz["joints"][npz["offsets"][0]: npz["offsets"][0] + 61].astype(np.float32)   # [61, 22, 3]
    fresh_scene()
    blender_addon.register()
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start = 30, 1
    out = {}
    for kind in ("smpl", "mixamo", "rigify"):
        ob = bpy_rigs.build(kind)
        rig = bone_maps.rig_from_armature(ob)
        bm = BoneMap.detect(rig)
        res = GenerationResult(joints[None], [len(joints)], 20.0, {}, "CPU", "mocap", [])
        recipe = Recipe(f"mocap on {kind}", passes=PinPassConfig(foot_cleanup=None), start_frame=scene.frame_start)
        names = apply.apply_result(bpy.context, ob, res, recipe, apply.ApplyPlan(dict(bm.bones)))
        anim = retarget(joints, rig, bm, root_motion="full", foot_cleanup=False, smpl_leg=0.82)  # as the add-on
        src = np.arange(0, 61, 2)                 # source frames that land on scene frames (x1.5)
        frames = 1 + src * 3 // 2
        bones = list(bm.bones.values())
        idx = [rig.index[b] for b in bones]
        mw = np.array(ob.matrix_world)
        fk = pose_world_matrices(rig, anim)[src][:, idx][..., :, 3] @ mw.T    # [F, J, 4]
        got = world_heads(ob, frames, bones)
        jidx = [bone_maps.SMPL_JOINTS.index(j) for j in bm.bones]
        model = model_to_armature(joints[src][:, jidx], anim.scale)
        model_w = np.concatenate([model, np.ones(model.shape[:-1] + (1,))], -1) @ mw.T
        d_model = np.linalg.norm(got - model_w[..., :3], axis=-1) / (anim.scale * ob.scale[0])  # model metres
        dir_err = _direction_error_deg(got, model_w[..., :3], [j for j in bm.bones])
        before = got
        strip = nla.bake_to_nla(ob, scene.frame_start)
        after = world_heads(ob, frames, bones)
        out[kind] = {"action": names[0], "fk_err": float(np.abs(got - fk[..., :3]).max()),
                     "world_scale": float(ob.scale[0]), "model_dist_mean_m": float(d_model.mean()),
                     "model_dist_max_m": float(d_model.max()), "pelvis_dist_max_m": float(d_model[:, 0].max()),
                     "dir_err_mean_deg": float(dir_err.mean()), "dir_err_max_deg": float(dir_err.max()),
                     "nla_err": float(np.abs(after - before).max()), "strip": strip.name,
                     "track": ob.animation_data.nla_tracks[-1].name}
        out[kind]["_frames"], out[kind]["_bones"], out[kind]["_heads"] = frames.tolist(), bones, after.tolist()
    path = tmp / "rigs.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    bpy.ops.wm.open_mainfile(filepath=str(path))
    for kind, name in (("smpl", "SMPL"), ("mixamo", "Mixamo"), ("rigify", "Rigify")):
        ob = bpy.data.objects[name]
        again = world_heads(ob, out[kind]["_frames"], out[kind]["_bones"])
        out[kind]["reload_err"] = float(np.abs(again - np.array(out[kind]["_heads"])).max())
        out[kind]["tracks"] = [t.name for t in ob.animation_data.nla_tracks]
        out[kind]["active_action"] = ob.animation_data.action.name if ob.animation_data.action else None
        for k in ("_frames", "_bones", "_heads"):
            del out[kind][k]
    return out


run(main)
