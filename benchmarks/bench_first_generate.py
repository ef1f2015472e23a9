# SPDX-License-Identifier: GPL-3.0-or-later
"""First Generate after enabling the add-on: click → keys on the rig, with and without warm start (issue 16).

Each run is a fresh process: ``import bpy``, an SMPL rig in an empty scene, the add-on enabled through
``addon_utils`` (as in Preferences), then a user who takes ``--wait`` seconds to type the prompt, then
Generate (the operator) with the embedded model on the CPU. Headless, ``bpy.app.timers`` never fire, so the
script plays the event loop: the warm-up timer fires ``warm_start.DELAY_S`` after enabling, and the job's
timer pumps every ``operators._TIMER_INTERVAL`` (0.1 s) after the click, as in Blender. While the user
"types", the main thread runs Python every 10 ms and records how late each tick comes (the GIL held by the
loading thread is what a UI would feel). Warm: ``MOTIONLCM_WARMUP=1``; cold: ``=0`` (no warm-up).

    .venv/bin/python benchmarks/bench_first_generate.py [--runs 3] [--waits 2] [--threads 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROMPT = "a person walks forward and waves"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS")) / 1024.0


def child(mode: str, wait_s: float) -> dict:
    """One session in this process; returns its figures."""
    t_proc = time.perf_counter()
    import bpy
    import addon_utils
    from blender_addon import rig_build
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps = 30
    rig = rig_build.create_smpl_armature(scene.collection, "SMPL")
    bpy.context.view_layer.update()
    t_enable = time.perf_counter()
    addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    enable_s = time.perf_counter() - t_enable
    from blender_addon import model_cache, operators, warm_start
    prefs = bpy.context.preferences.addons["blender_addon"].preferences
    prefs.device = "cpu"
    scheduled = bpy.app.timers.is_registered(warm_start.tick)
    # the user types for wait_s; the warm-up timer fires DELAY_S after enabling (if scheduled)
    gaps, fired, last = [], False, time.perf_counter()
    while time.perf_counter() - t_enable < wait_s:
        time.sleep(0.01)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
        if scheduled and not fired and now - t_enable >= warm_start.DELAY_S:
            warm_start.cancel()  # the one-shot timer ends by returning None; headless it is removed by hand
            warm_start.tick()
            fired = True
    warm = model_cache.warm_ups()
    warm_state = warm[0].state if warm else "none"
    props = scene.motionlcm
    props.prompt, props.target, props.seconds, props.lock_seed = PROMPT, rig, 6.0, True
    # click: the operator starts the job; its timer would pump every _TIMER_INTERVAL
    t_click = time.perf_counter()
    assert bpy.ops.motionlcm.generate() == {"FINISHED"}
    from blender_addon import generation
    job = generation.active().job
    n = 0
    while True:
        n += 1
        time.sleep(max(0.0, t_click + n * operators._TIMER_INTERVAL - time.perf_counter()))
        if operators._timer() is None:
            break
    click_to_keys = time.perf_counter() - t_click
    operators.stop_timer()
    action = rig.animation_data.action
    from blender_addon import anim_write, compat
    keys = sum(len(v) for v in anim_write.read_keys(action, compat.object_slot(action, rig)).values())
    first = dict(job.result.timings, text_cached=job.result.report["text_cached"])
    # a second click with the same prompt (text cached), then Regenerate: what later Generates cost
    later = {}
    for what, op in (("generate_again", bpy.ops.motionlcm.generate), ("regenerate", bpy.ops.motionlcm.regenerate)):
        t0 = time.perf_counter()
        assert op() == {"FINISHED"}
        active = generation.active()
        active.job.wait()
        assert generation.pump(bpy.context) == "done"
        later[what] = {"s": time.perf_counter() - t0, "text_s": active.job.result.timings["text"],
                       "text_cached": active.job.result.report["text_cached"]}
        operators.stop_timer()
    gaps_ms = sorted(1000.0 * g for g in gaps)
    out = {"mode": mode, "wait_s": wait_s, "warm_start_scheduled": scheduled, "warm_state_at_click": warm_state,
           "warm_up_s": warm[0].seconds if warm and warm[0].state != "loading" else None,
           "enable_s": enable_s, "click_to_keys_s": click_to_keys, "keys": keys, "status": props.status,
           "first_timings_s": first, "later": later, "rss_mb": rss_mb(),
           "ui_tick_ms": {"p50": gaps_ms[len(gaps_ms) // 2], "p99": gaps_ms[int(0.99 * (len(gaps_ms) - 1))],
                          "max": gaps_ms[-1], "over_100": sum(g > 100 for g in gaps_ms)},
           "process_s": time.perf_counter() - t_proc}
    addon_utils.disable("blender_addon", default_set=True)
    return out


def run_child(mode: str, wait_s: float, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(REPO), BLENDER_USER_RESOURCES=str(Path(tmp) / "user"), TMPDIR=tmp,
                   MOTIONLCM_WARMUP="1" if mode == "warm" else "0", OMP_NUM_THREADS=str(threads))
        cmd = [sys.executable, __file__, "--child", mode, "--waits", str(wait_s), "--threads", str(threads)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=str(REPO))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT:")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} run failed (rc={proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT:"):])


def summary(runs: list[dict]) -> dict:
    med = statistics.median
    return {"mode": runs[0]["mode"], "wait_s": runs[0]["wait_s"], "runs": len(runs),
            "click_to_keys_s": med(r["click_to_keys_s"] for r in runs),
            "click_to_keys_all_s": [round(r["click_to_keys_s"], 3) for r in runs],
            "warm_state_at_click": [r["warm_state_at_click"] for r in runs],
            "warm_up_s": med(r["warm_up_s"] for r in runs) if all(r["warm_up_s"] for r in runs) else None,
            "load_model_s": med(r["first_timings_s"]["load_model"] for r in runs),
            "text_s": med(r["first_timings_s"]["text"] for r in runs),
            "apply_s": med(r["first_timings_s"].get("apply", 0.0) for r in runs),
            "generate_again_s": med(r["later"]["generate_again"]["s"] for r in runs),
            "regenerate_s": med(r["later"]["regenerate"]["s"] for r in runs),
            "regenerate_text_ms": med(1000 * r["later"]["regenerate"]["text_s"] for r in runs),
            "regenerate_text_cached": all(r["later"]["regenerate"]["text_cached"] for r in runs),
            "ui_tick_max_ms": max(r["ui_tick_ms"]["max"] for r in runs),
            "ui_tick_p99_ms": med(r["ui_tick_ms"]["p99"] for r in runs),
            "ui_ticks_over_100ms": [r["ui_tick_ms"]["over_100"] for r in runs],
            "rss_mb": med(r["rss_mb"] for r in runs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3, help="fresh processes per case (median reported)")
    ap.add_argument("--waits", default="2", help="seconds the user takes to type, comma-separated")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads (OMP_NUM_THREADS of each run)")
    ap.add_argument("--modes", default="warm,cold")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = child(args.child, float(args.waits))
        sys.stdout.write("RESULT:" + json.dumps(res, default=float) + "\n")
        sys.stdout.flush()
        os._exit(0)  # skip bpy's exit handlers (nothing is left loading: the job has ended)
    rows = []
    for wait_s in (float(w) for w in args.waits.split(",")):
        for mode in args.modes.split(","):
            runs = [run_child(mode, wait_s, args.threads) for _ in range(args.runs)]
            rows.append({"summary": summary(runs), "runs": runs})
            print(json.dumps(rows[-1]["summary"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=float))


if __name__ == "__main__":
    main()
