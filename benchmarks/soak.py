# SPDX-License-Identifier: GPL-3.0-or-later
"""Soak: many Generate/Regenerate cycles in one bpy process (embedded model, CPU); memory and data-block counts.

A cycle is one Generate (a new action) then one Regenerate (in place) with the same prompt; prompts rotate
over eight sentences and every other cycle asks for two variations, so replaced results, replaced variations
and history copies all occur. The add-on is enabled through ``addon_utils`` with its default preferences
(history length 5). Samples every ``--every`` cycles: RSS (psutil if installed, else ``/proc/self/status``),
``bpy.data`` counts, Python objects tracked by ``gc``, the text cache size. Growth is measured from the
sample after ``--warmup`` cycles to the end. Not a CI test.

    .venv/bin/python benchmarks/soak.py [--cycles 1000] [--warmup 20] [--every 50] [--seconds 6] [--json out.json]
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROMPTS = ["a person walks forward and waves", "a man jumps twice", "someone runs in a circle",
           "a person sits down on a chair", "a woman dances happily", "a person kicks with the right leg",
           "a man turns around and walks back", "a person throws a ball"]


def rss_mb() -> float:
    """Resident set size of this process in MB."""
    try:
        import psutil
        return psutil.Process().memory_info().rss / 2 ** 20
    except ImportError:
        with open("/proc/self/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS")) / 1024.0


def sample(cycle: int, times: list[float]) -> dict:
    import bpy
    from motionlcm_core.text_encoder import cached_encoder
    from blender_addon import model_cache
    pipe = model_cache.load_pipeline(model_cache.loaded()[0])
    enc = cached_encoder(str(pipe.text_encoder_path), str(pipe.device), pipe.cfg.text_encoder)
    return {"cycle": cycle, "rss_mb": rss_mb(), "actions": len(bpy.data.actions), "objects": len(bpy.data.objects),
            "meshes": len(bpy.data.meshes), "armatures": len(bpy.data.armatures),
            "py_objects": len(gc.get_objects()), "text_cache": len(enc.cache),
            "cycle_s_median": statistics.median(times[-50:]) if times else None}


def generate(mode: str) -> None:
    import bpy
    from blender_addon import generation
    active = generation.start(bpy.context, mode)
    active.job.wait()
    state = generation.pump(bpy.context)
    if state != "done":
        raise RuntimeError(f"{mode}: {state} {active.job.error}")


def soak(cycles: int, warmup: int, every: int, seconds: float) -> dict:
    import bpy
    import addon_utils
    from blender_addon import rig_build
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    prefs = bpy.context.preferences.addons["blender_addon"].preferences
    prefs.device = "cpu"
    scene = bpy.context.scene
    scene.render.fps = 30
    props = scene.motionlcm
    props.target = rig_build.create_smpl_armature(scene.collection, "SMPL")
    props.seconds = seconds
    bpy.context.view_layer.update()
    samples, times = [], []
    t_start = time.perf_counter()
    for i in range(cycles):
        t0 = time.perf_counter()
        props.prompt = PROMPTS[i % len(PROMPTS)]
        props.variations = 1 + i % 2
        generate("new")
        generate("regenerate")
        times.append(time.perf_counter() - t0)
        if i + 1 == warmup or (i + 1) % every == 0 or i + 1 == cycles:
            samples.append(sample(i + 1, times))
            print(json.dumps(samples[-1]), flush=True)
    base = next(s for s in samples if s["cycle"] >= warmup)
    after = [s for s in samples if s["cycle"] >= warmup]
    end = samples[-1]
    out = {"cycles": cycles, "warmup": warmup, "seconds": seconds, "history_length": prefs.history_length,
           "wall_s": time.perf_counter() - t_start, "cycle_s_median": statistics.median(times),
           "rss_after_warmup_mb": base["rss_mb"], "rss_end_mb": end["rss_mb"],
           "rss_growth_mb": end["rss_mb"] - base["rss_mb"],
           "rss_max_after_warmup_mb": max(s["rss_mb"] for s in after),
           "counts_after_warmup": {k: sorted({s[k] for s in after}) for k in ("actions", "objects", "meshes",
                                                                              "armatures", "text_cache")},
           "py_objects_growth": end["py_objects"] - base["py_objects"], "samples": samples}
    addon_utils.disable("blender_addon", default_set=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=20, help="cycles before the baseline sample")
    ap.add_argument("--every", type=int, default=50, help="sample every N cycles")
    ap.add_argument("--seconds", type=float, default=6.0, help="clip length")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("MOTIONLCM_WARMUP", "0")  # the first cycle loads the model; no timer left at exit
    tmp = tempfile.mkdtemp(prefix="motionlcm_soak_")
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(Path(tmp) / "user"))
    sys.path.insert(0, str(REPO))
    res = soak(args.cycles, min(args.warmup, args.cycles), args.every, args.seconds)
    summary = {k: v for k, v in res.items() if k != "samples"}
    print(json.dumps(summary, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    sys.stdout.flush()
    os._exit(0)  # skip bpy's exit handlers (no timer or thread is left)


if __name__ == "__main__":
    main()
