# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate → action on the rig, by stage (CPU), and the memory the loaded model adds to the process.

    .venv/bin/python benchmarks/bench_addon.py [--model embedded|FILE] [--seconds 6] [--runs 5]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mb() -> float:
    """Resident set size of this process (MB), from /proc (Linux)."""
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS")) / 1024.0


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    import bpy
    import torch
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    import blender_addon
    from blender_addon import generation, rig_build
    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    scene = bpy.context.scene
    scene.render.fps = 30
    props = scene.motionlcm
    props.prompt, props.seconds, props.lock_seed = "a person walks forward and waves", args.seconds, True
    if args.model != "embedded":
        props.model, props.checkpoint_file = "file", str(Path(args.model).resolve())
    props.target = rig_build.create_smpl_armature(scene.collection, "SMPL")
    rss0 = rss_mb()
    runs = []
    for i in range(args.runs + 1):
        t0 = time.perf_counter()
        active = generation.start(bpy.context)
        active.job.wait()
        state = generation.pump(bpy.context)
        assert state == "done", props.status
        stages = dict(active.job.result.timings)
        stages["generate_to_action"] = time.perf_counter() - t0
        runs.append(stages)
        if i == 0:
            rss_loaded = rss_mb()
    warm = runs[1:]
    med = {k: sorted(r[k] for r in warm)[len(warm) // 2] * 1000.0 for k in warm[0]}
    out = {"model": props.model_loaded, "seconds": args.seconds, "device": props.device_name,
           "first_run_ms": {k: v * 1000.0 for k, v in runs[0].items()}, "median_ms": med,
           "rss_before_mb": rss0, "rss_after_load_mb": rss_loaded, "model_adds_mb": rss_loaded - rss0}
    blender_addon.unregister()
    return out


if __name__ == "__main__":
    res = main()
    print(json.dumps(res, indent=1))
    sys.stdout.flush()
    os._exit(0)
