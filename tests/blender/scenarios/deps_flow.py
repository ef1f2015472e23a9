# SPDX-License-Identifier: GPL-3.0-or-later
"""Install dependencies from the operators against a fake pip (no download): the operator returns at once, the
timer tick follows the job to done / failed / cancelled, the folder lands on sys.path, the log is written, the
preferences draw the right widgets, and no timer is left after unregister."""
import importlib.util
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import bpy

import blender_addon
from blender_addon import deps, preferences
from common import fresh_scene, run

#: tests/fake_pip.py, run as the install's "Python" (it answers -m ensurepip and -m pip install)
FAKE_PIP = Path(__file__).resolve().parents[2] / "fake_pip.py"


class Recorder:
    """Stands in for a UILayout: records what the preferences draw."""

    def __init__(self):
        self.calls = []

    def label(self, text="", icon="NONE"):
        self.calls.append(f"label:{text}")

    def prop(self, data, name, **kw):
        self.calls.append(f"prop:{name}")

    def operator(self, idname, **kw):
        self.calls.append(f"operator:{idname}")

    def progress(self, factor=0.0, type="BAR", text=""):
        self.calls.append(f"progress:{text}")


def call(op) -> str:
    """Run an operator; headless, an ERROR report surfaces as RuntimeError carrying the message."""
    try:
        return "+".join(sorted(op()))
    except RuntimeError as exc:
        return f"ERROR: {exc}"


def draw() -> list[str]:
    layout = Recorder()
    preferences.draw_dependencies(layout, SimpleNamespace(torch_build="auto"))
    return layout.calls


def install(mode: str, cancel: bool = False) -> dict:
    os.environ["FAKE_PIP_MODE"] = mode
    t0 = time.perf_counter()
    out = {"start": call(bpy.ops.motionlcm.install_deps), "start_s": time.perf_counter() - t0,
           "timer": bpy.app.timers.is_registered(preferences.install_tick),
           "second": call(bpy.ops.motionlcm.install_deps), "draw_running": draw()}
    job, seen, end = deps.current_install(), [], time.monotonic() + 30
    if cancel:
        while "Downloading numpy" not in job.stage and time.monotonic() < end:
            time.sleep(0.02)
        t0 = time.perf_counter()
        out["cancel"] = call(bpy.ops.motionlcm.cancel_install_deps)
    while preferences.install_tick() is not None and time.monotonic() < end:  # what the timer does
        seen.append(job.progress)
        time.sleep(0.02)
    out.update(state=job.state, error=job.error, seconds=time.perf_counter() - t0, polls=len(seen),
               monotonic=seen == sorted(seen), intermediate=any(0.0 < p < 1.0 for p in seen))
    return out


def main() -> dict:
    tmp = Path(sys.argv[1])
    fresh_scene()
    blender_addon.register()
    out = {"offline": call(bpy.ops.motionlcm.install_deps), "hardware": preferences.hardware().summary(),
           "draw_idle": draw()}
    preferences.deps_folder = lambda: tmp / "ext" / "deps"
    out["open_log_before"] = call(bpy.ops.motionlcm.open_install_log)
    out["cancel_nothing"] = call(bpy.ops.motionlcm.cancel_install_deps)
    fake = tmp / "fake_pip"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_PIP.read_text())
    fake.chmod(0o755)
    preferences.online_access = lambda: True
    preferences.install_python = lambda: str(fake)
    out["ok"] = install("ok")
    out["ok"].update(on_path=str(tmp / "ext" / "deps") in sys.path,
                     importable=importlib.util.find_spec("fakepkg_motionlcm") is not None,
                     log=(tmp / "ext" / "install.log").read_text(),
                     pip_args=(tmp / "ext" / "fake_pip_args.txt").read_text(), draw_after=draw())
    out["fail"] = install("fail")
    out["fail"]["draw_after"] = draw()
    out["cancel"] = install("sleep", cancel=True)
    blender_addon.unregister()
    out["timer_after_unregister"] = bpy.app.timers.is_registered(preferences.install_tick)
    return out


run(main)
