# SPDX-License-Identifier: GPL-3.0-or-later
"""The main job: prompt → an SMPL rig and a Mixamo-named rig animated in one .blend, baked to NLA, each with a
body (its SMPL mesh, else a mannequin) on a floor grid, and a preview: an MP4 from a three-quarter camera that
follows them plus a PNG contact sheet, frames labelled with time (``preview.py``).
``python -m blender_addon.demo --out demo_output`` writes ``motionlcm_demo.blend``, ``motionlcm_demo.mp4``,
``motionlcm_demo_sheet.png`` and ``motionlcm_demo.json``."""
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


def preview_mapping(ob: object) -> dict[str, str]:
    """SMPL joint → bone of ``ob`` as detected from its bone names (what the mannequin and camera use)."""
    from motionlcm_core.retarget.mapping import BoneMap

    from . import bone_maps
    return bone_maps.to_dict(BoneMap.detect(bone_maps.rig_from_armature(ob)))


def parse_timeline(text: str) -> list[tuple[str, float]]:
    """``"prompt:seconds;prompt:seconds"`` → ``[(prompt, seconds), …]`` (``ValueError`` naming the bad part)."""
    parts = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        prompt, sep, secs = part.rpartition(":")
        try:
            parts.append((prompt.strip(), float(secs)))
        except ValueError:
            raise ValueError(f"timeline part {part!r} is not 'prompt:seconds'") from None
        if not sep or not prompt.strip():
            raise ValueError(f"timeline part {part!r} is not 'prompt:seconds'")
    return parts


def main(out_dir: Path, prompt: str, seconds: float, seed: int, model: str = "embedded",
         size: tuple[int, int] = (480, 360), timeline: list[tuple[str, float]] | None = None) -> dict:
    """Run the whole add-on flow headless; returns the written paths and timings. ``timeline``: prompts and
    durations generated as one continuous action (Shot: Timeline) instead of ``prompt`` and ``seconds``."""
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
        if timeline:
            props.shot = "timeline"
            for text, secs in timeline:
                segment = props.segments.add()
                segment.prompt, segment.seconds = text, secs
            prompt, seconds = " → ".join(t for t, _ in timeline), sum(s for _, s in timeline)
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
        frames = list(range(scene.frame_start, scene.frame_end + 1))
        cfg = preview.PreviewConfig(size=size, distance=4.4, sheet_shrink=2 if size[1] >= 300 else 1)
        preview.build_stage(scene, rigs, [preview_mapping(ob) for ob in rigs], frames, cfg)
        blend = out_dir / "motionlcm_demo.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(blend))
        t_render = time.perf_counter()
        shown = preview.render_preview(scene, frames, out_dir, "motionlcm_demo", cfg)
        result = {"blender": bpy.app.version_string, "blend": str(blend),
                  "video": str(shown.video) if shown.video else None,
                  "frames_dir": str(shown.frames_dir) if shown.frames_dir else None, "preview": str(shown.sheet),
                  "prompt": prompt, "seconds": seconds, "seed": seed, "frames": len(frames), "size": list(size),
                  "timings": timings, "render_s": time.perf_counter() - t_render,
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
    ap.add_argument("--size", default="480x360", help="preview frame size WIDTHxHEIGHT (px)")
    ap.add_argument("--timeline", default="", help='"prompt:seconds;prompt:seconds": one continuous action '
                    "from these prompts (Shot: Timeline; each part 2-9.7 s) instead of --prompt/--seconds")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    res = main(args.out, args.prompt, args.seconds, args.seed, model=args.model, size=size,
               timeline=parse_timeline(args.timeline))
    video = res["video"] or f"(no FFmpeg in this Blender: PNG frames in {res['frames_dir']})"
    print(f"blend:   {res['blend']}\nvideo:   {video}\nsheet:   {res['preview']}\n"
          f"status:  {' | '.join(res['status'])}")
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
