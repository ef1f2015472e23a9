# SPDX-License-Identifier: GPL-3.0-or-later
"""The main job: prompt → an SMPL rig and a Mixamo-named rig animated in one .blend, baked to NLA,
plus a PNG contact sheet of 8 frames. ``python -m blender_addon.demo --out demo_output``."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

MIXAMO_NAMES = ("Hips", "LeftUpLeg", "RightUpLeg", "Spine", "LeftLeg", "RightLeg", "Spine1", "LeftFoot",
                "RightFoot", "Spine2", "LeftToeBase", "RightToeBase", "Neck", "LeftShoulder", "RightShoulder",
                "Head", "LeftArm", "RightArm", "LeftForeArm", "RightForeArm", "LeftHand", "RightHand")


def _mixamo_rig(collection: object) -> object:
    """A Mixamo-named armature with taller proportions (scale 1.1), to the right of the SMPL rig."""
    from . import rig_build, smpl_rest
    heads, tails = rig_build.smpl_bone_table(smpl_rest.rest_joints(scale=1.1))
    ob = rig_build.create_armature(collection, "Mixamo", ["mixamorig:" + n for n in MIXAMO_NAMES],
                                   list(rig_build.SMPL_PARENTS), heads, tails)
    ob.location = (1.2, 0.0, 0.0)
    return ob


def main(out_dir: Path, prompt: str, seconds: float, seed: int, model: str = "embedded") -> dict:
    """Run the whole add-on flow headless; returns the written paths and timings."""
    import bpy
    import torch
    torch.set_num_threads(2)
    from . import generation, nla, preview, register, rig_build, unregister
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    register()
    try:
        scene = bpy.context.scene
        scene.render.fps, scene.frame_start = 30, 1
        props = scene.motionlcm
        props.prompt, props.seconds, props.seed, props.lock_seed = prompt, seconds, seed, True
        if model != "embedded":
            props.model, props.checkpoint_file = "file", str(Path(model).resolve())
        rigs = [rig_build.create_smpl_armature(scene.collection, "SMPL"), _mixamo_rig(scene.collection)]
        timings, status = {}, []
        for ob in rigs:
            props.target = ob
            active = generation.start(bpy.context)
            active.job.wait()
            if generation.pump(bpy.context) != "done":
                raise RuntimeError(f"generation failed on {ob.name}: {props.status}")
            timings[ob.name] = dict(active.job.result.timings)
            status.append(props.status)
            nla.bake_to_nla(ob, scene.frame_start)
        scene.frame_end = scene.frame_start + int(round(seconds * 30)) - 1
        for ob in rigs:
            preview.add_bone_proxies(ob)
        preview.setup_camera(scene, (0.6, 0.0, 0.0))
        blend = out_dir / "motionlcm_demo.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))
        t_render = time.perf_counter()
        frames = [int(round(scene.frame_start + k * (scene.frame_end - scene.frame_start) / 7)) for k in range(8)]
        sheet = preview.render_contact_sheet(scene, frames, out_dir / "motionlcm_demo_preview.png", follow=rigs)
        result = {"blend": str(blend), "preview": str(sheet), "prompt": prompt, "seconds": seconds, "seed": seed,
                  "frames": frames, "timings": timings, "render_s": time.perf_counter() - t_render,
                  "total_s": time.perf_counter() - t0, "status": status, "model": props.model_loaded}
        (out_dir / "motionlcm_demo.json").write_text(json.dumps(result, indent=1, default=float))
        return result
    finally:
        unregister()


def _cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("demo_output"))
    ap.add_argument("--prompt", default="a person walks forward and waves with the right hand")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model", default="embedded", help='"embedded" or a .safetensors checkpoint file')
    args = ap.parse_args()
    res = main(args.out, args.prompt, args.seconds, args.seed, model=args.model)
    print(f"blend:   {res['blend']}\npreview: {res['preview']}\nstatus:  {' | '.join(res['status'])}")
    print(f"total {res['total_s']:.1f} s (render {res['render_s']:.1f} s)")


if __name__ == "__main__":
    import os
    import sys
    try:
        _cli()
    except Exception as exc:  # noqa: BLE001 - print and leave: a normal exit after an error can hang bpy 4.5
        print(f"demo failed: {exc}", file=sys.stderr)
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)
