# SPDX-License-Identifier: GPL-3.0-or-later
"""A lean session: warm start, cached text encoding, bounded history and generated actions (issue 16).

``session_flow.py TMP flow``: the add-on enabled through ``addon_utils`` (so its preferences exist), the tiny
model; warm start in the background, then Generate/Regenerate cycles with the history length set to 3.
``session_flow.py TMP exit``: warm start scheduled (``MOTIONLCM_WARMUP=1``), the warm-up started, unregister at
once, then a *normal* interpreter exit while the daemon thread still loads: the harness times out on a hang.
"""
import json
import os
import sys
import threading
import time
from pathlib import Path

import bpy
import addon_utils  # noqa: I001 - importable only once bpy is

import bpy_rigs
from common import emit, fresh_scene, run

ADDON = "blender_addon"
PROMPT = "a person walks forward and waves"


def setup(tmp: Path) -> tuple[object, bpy.types.Object]:
    """Tiny model written, empty scene, add-on enabled as a user would; the SMPL rig is the target."""
    from tiny_model import write_tiny_model
    model = write_tiny_model(tmp / "tiny.safetensors")
    fresh_scene()
    addon_utils.enable(ADDON, default_set=True, handle_error=None)
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start = 30, 1
    props = scene.motionlcm
    props.model, props.checkpoint_file, props.seconds, props.prompt = "file", str(model), 2.0, PROMPT
    ob = bpy_rigs.build("smpl")
    props.target = ob
    return props, ob


def generate(mode: str = "new"):
    from blender_addon import generation
    active = generation.start(bpy.context, mode)
    assert active.job.wait(120), "worker did not finish"
    state = generation.pump(bpy.context)
    assert state == "done", (state, active.job.error)
    return active.job.result


def main_thread_gaps(stop: threading.Event) -> list[float]:
    """What the UI would feel: gaps between 10 ms ticks of Python on the main thread while the warm-up runs."""
    gaps, last = [], time.perf_counter()
    while not stop.is_set():
        time.sleep(0.01)
        _ = bpy.context.scene.frame_current
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    return gaps


def warm_case(props) -> dict:
    """Warm-up started as the timer would; Generate right away waits for it (one load), prompt already encoded."""
    from blender_addon import model_cache, warm_start
    out = {"timer_scheduled_headless": bpy.app.timers.is_registered(warm_start.tick),
           "builds_before": model_cache.builds()}
    t0 = time.perf_counter()
    w = warm_start.start(bpy.context)
    out["start_s"], out["state_after_start"] = time.perf_counter() - t0, w.state
    out["same_warm_up_again"] = warm_start.start(bpy.context) is w
    done = threading.Event()
    threading.Thread(target=lambda: (w.wait(), done.set()), daemon=True).start()
    gaps = main_thread_gaps(done) if w.state == "loading" else []
    out["main_thread_max_gap_s"] = max(gaps, default=0.0)
    res = generate()
    out.update(state=w.state, error=w.error, warm_s=w.seconds, builds=model_cache.builds(),
               load_model_s=res.timings["load_model"], text_cached=res.report["text_cached"])
    return out


def text_case(props) -> dict:
    """A new prompt is encoded; Regenerate with it unchanged is served from the cache."""
    props.prompt = "a person jumps twice"
    first = generate()
    again = generate("regenerate")
    return {"new_prompt_cached": first.report["text_cached"], "regenerate_cached": again.report["text_cached"],
            "text_s_new": first.timings["text"], "text_s_regenerate": again.timings["text"]}


def reachable(ob: bpy.types.Object) -> set[str]:
    """Actions the session can still reach: assigned, in NLA, the armature's record, and their histories."""
    from blender_addon import anim_write
    names = set(json.loads(ob.get(anim_write.GENERATED_KEY, "[]")))
    ad = ob.animation_data
    if ad and ad.action:
        names.add(ad.action.name)
    names |= {s.action.name for t in (ad.nla_tracks if ad else []) for s in t.strips if s.action}
    for n in list(names):
        if n in bpy.data.actions:
            names |= {h.name for h in anim_write.history(bpy.data.actions[n])}
    return names


def bounded_case(props, ob) -> dict:
    """History length 3: regenerations keep 3 previous results; Generate with 2 variations, again and again,
    keeps at most 3 unused earlier actions; counts flat; used and foreign actions never removed."""
    from blender_addon import anim_write, nla
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.history_length = 3
    mine = bpy.data.actions.new("Hand keyed")  # not ours, no users: never removed by the add-on
    out = {"regen_counts": [], "gen_counts": []}
    for _ in range(8):
        generate("regenerate")
        out["regen_counts"].append(len(bpy.data.actions))
    out["history"] = len(anim_write.history(ob.animation_data.action))
    baked = ob.animation_data.action.name
    nla.bake_to_nla(ob, 1)  # in an NLA strip now: the user's, kept
    props.variations = 2
    for _ in range(8):
        generate()
        generate("regenerate")
        out["gen_counts"].append(len(bpy.data.actions))
    props.variations = 1
    out["baked_kept"] = baked in bpy.data.actions
    out["hand_keyed_kept"] = mine.name in bpy.data.actions
    out["unreachable"] = sorted(a.name for a in bpy.data.actions if a.name not in reachable(ob) and a != mine)
    out["record"] = len(json.loads(ob[anim_write.GENERATED_KEY]))
    prefs.history_length = 0
    generate("regenerate")
    out["history_zero"] = len(anim_write.history(ob.animation_data.action))
    out["count_zero"] = len(bpy.data.actions)
    return out


def flow(tmp: Path) -> dict:
    os.environ.pop("MOTIONLCM_WARMUP", None)
    props, ob = setup(tmp)
    out = {"warm": warm_case(props), "text": text_case(props), "bounded": bounded_case(props, ob)}
    addon_utils.disable(ADDON, default_set=True)
    return out


def exit_case(tmp: Path) -> None:
    """Register with warm start on, start the warm-up, unregister at once, leave through the normal exit."""
    os.environ["MOTIONLCM_WARMUP"] = "1"
    props, _ = setup(tmp)
    from blender_addon import warm_start
    scheduled = bpy.app.timers.is_registered(warm_start.tick)
    w = warm_start.start(bpy.context)
    addon_utils.disable(ADDON, default_set=True)
    emit({"scheduled": scheduled, "timer_after_disable": bpy.app.timers.is_registered(warm_start.tick),
          "loading_at_exit": w is not None and w.state == "loading",
          "threads": [t.name for t in threading.enumerate() if t.name == "motionlcm-warm-up"]})
    sys.stdout.flush()
    sys.exit(0)  # a normal exit: atexit handlers and interpreter shutdown with the daemon thread alive


if __name__ == "__main__":
    tmp_dir, mode = Path(sys.argv[1]), sys.argv[2]
    if mode == "exit":
        exit_case(tmp_dir)
    else:
        run(lambda: flow(tmp_dir))
