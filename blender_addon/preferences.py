# SPDX-License-Identifier: GPL-3.0-or-later
"""Add-on preferences: device, model paths, and the dependency install (hardware, torch build, progress, log).

The install runs in the background (``deps.DependencyInstall``); :func:`install_tick`, a ``bpy.app.timers``
callback, follows it on the main thread. Headless, timers never fire: tests call :func:`install_tick`.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, StringProperty

from . import deps, torch_build

ADDON_ID = __package__
_TICK_S = 0.25
TORCH_BUILD_ITEMS = [
    ("auto", "Auto", "From the hardware: CUDA wheels for an NVIDIA GPU, PyPI's wheel on macOS (MPS on Apple "
                     "Silicon), else CPU"),
    ("cpu", "CPU", "CPU-only torch wheels (smallest download)"),
    ("cuda", "CUDA", "NVIDIA CUDA wheels, even when no GPU was detected"),
    ("default", "PyPI default", "PyPI's standard torch wheel (a CUDA build on Linux, CPU-only on Windows)")]


def deps_folder() -> Path:
    """The add-on's private dependency folder (extension user dir on 4.2+, else beside the add-on)."""
    try:
        return Path(bpy.utils.extension_path_user(ADDON_ID, path="deps", create=True))
    except (ValueError, AttributeError, RuntimeError):  # legacy add-on or run from source
        return Path(__file__).resolve().parent / "deps"


def install_log_path() -> Path:
    """The dependency install log, beside the dependency folder."""
    return deps_folder().parent / "install.log"


def online_access() -> bool:
    """Blender's "Allow Online Access" setting (a function so tests can stand in for it)."""
    return bool(bpy.app.online_access)


def install_python() -> str:
    """The Python that runs pip: Blender's own (a function so tests can point it at a fake pip)."""
    return sys.executable


@functools.cache
def hardware() -> torch_build.Hardware:
    """This machine as the installer sees it, probed once a session (``nvidia-smi`` can take a second)."""
    return torch_build.detect_hardware()


def get_prefs(context: bpy.types.Context | None = None) -> "MOTIONLCM_AP_preferences | None":
    """The preferences, or ``None`` when the add-on is not enabled as an add-on (tests, demo)."""
    addon = (context or bpy.context).preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


def start_install(context: bpy.types.Context) -> deps.DependencyInstall:
    """Start the background install with the chosen torch build and the timer that follows it. ValueError:
    online access off, an install already running, or a torch build this OS does not have."""
    prefs = get_prefs(context)
    build = torch_build.choose_torch_build(hardware(), prefs.torch_build if prefs else "auto")
    target = deps_folder()
    job = deps.DependencyInstall(deps.install_steps(install_python(), target, build), target,
                                 online_access=online_access(), log_path=install_log_path(),
                                 notes=(hardware().summary(), f"torch build {build.label}: {build.reason}"))
    job.start()
    stop_install_timer()
    bpy.app.timers.register(install_tick, first_interval=_TICK_S)
    return job


def install_tick() -> float | None:
    """Timer callback: redraw while the install runs; once it is done put the folder on ``sys.path``."""
    job = deps.current_install()
    state = job.poll().state if job is not None else "none"
    _redraw()
    if state in deps.ACTIVE_STATES:
        return _TICK_S
    if state == "done":
        deps.add_to_path(job.target)
    if state in ("done", "failed", "cancelled"):
        print(f"MotionLCM: dependency install {state}; log: {job.log_path}")
    return None


def stop_install_timer() -> None:
    """Unregister the install timer (an active timer at exit hangs bpy 4.5)."""
    if bpy.app.timers.is_registered(install_tick):
        bpy.app.timers.unregister(install_tick)


def _redraw() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type in ("PREFERENCES", "VIEW_3D"):
                area.tag_redraw()


def draw_dependencies(layout: bpy.types.UILayout, prefs: object) -> None:
    """The dependency box: status, hardware, torch build (+ override), then install progress or buttons."""
    missing = deps.missing_modules()
    layout.label(text="Dependencies: all found" if not missing else f"Missing: {', '.join(missing)}",
                 icon="CHECKMARK" if not missing else "ERROR")
    layout.label(text=f"Folder: {deps_folder()}")
    layout.label(text=f"Hardware: {hardware().summary()}", icon="DESKTOP")
    layout.prop(prefs, "torch_build")
    try:
        build = torch_build.choose_torch_build(hardware(), prefs.torch_build)
    except ValueError as exc:
        layout.label(text=str(exc), icon="ERROR")
    else:
        seen, _, chosen = build.reason.rpartition(" → ")
        layout.label(text=seen or chosen, icon="INFO")
        if seen:
            layout.label(text=f"→ {chosen}")
        if build.warning:
            layout.label(text=build.warning, icon="ERROR")
    job = deps.current_install()
    status = job.poll() if job is not None else None
    if status is not None and status.state in deps.ACTIVE_STATES:
        layout.progress(factor=status.progress, type="BAR", text=f"{status.progress:.0%}  {status.stage}")
        layout.operator("motionlcm.cancel_install_deps", icon="CANCEL")
    else:
        if not online_access():
            layout.label(text="Online access is off (Preferences > System > Network)", icon="INFO")
        layout.operator("motionlcm.install_deps", icon="IMPORT")
        if status is not None:
            _draw_result(layout, status)
    if install_log_path().is_file():
        layout.operator("motionlcm.open_install_log", icon="TEXT")


def _draw_result(layout: bpy.types.UILayout, status: deps.InstallStatus) -> None:
    if status.state == "done":
        layout.label(text="Installed. Restart Blender if imports still fail", icon="CHECKMARK")
        return
    lines = (status.error or status.state).splitlines()
    layout.label(text=f"Install {status.state}: {lines[0]}", icon="ERROR" if status.state == "failed" else "INFO")
    for line in lines[-3:] if len(lines) > 1 else ():  # the end of pip's output usually names the problem
        layout.label(text=line)


class MOTIONLCM_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    device: EnumProperty(name="Device", default="auto",
                         items=[("auto", "Auto", "GPU when available, else CPU"), ("cpu", "CPU", ""),
                                ("cuda", "GPU (CUDA)", "")])
    model_dir: StringProperty(name="Model folder", subtype="DIR_PATH",
                              description="Folder for downloaded or trained checkpoints")
    official_v1: StringProperty(name="Official V1 checkpoint", subtype="FILE_PATH")
    official_v2: StringProperty(name="Official V2 checkpoint", subtype="FILE_PATH")
    t5_folder: StringProperty(name="sentence-t5-large folder", subtype="DIR_PATH",
                              description="Text encoder needed by the official checkpoints")
    smpl_dir: StringProperty(name="SMPL model folder", subtype="DIR_PATH",
                             description="Folder with SMPLX_NEUTRAL.npz or SMPL_NEUTRAL.npz (licensed by the MPI, "
                                         "never shipped) for 'Add SMPL body'")
    torch_build: EnumProperty(name="torch build", default="auto", items=TORCH_BUILD_ITEMS,
                              description="Which torch wheels Install dependencies downloads")
    warm_start: BoolProperty(name="Load the model at start-up", default=True,
                             description="Load the selected model and its text encoder in the background once "
                                         "Blender starts, so the first Generate does not wait for it")
    history_length: IntProperty(name="History length", default=5, min=0, max=50,
                                description="Previous results kept per generated action (Regenerate) and earlier, "
                                            "unused generated actions kept per armature; 0 keeps none")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "device")
        layout.prop(self, "model_dir")
        row = layout.row()
        row.prop(self, "warm_start")
        row.prop(self, "history_length")
        box = layout.box()
        box.label(text="Official MotionLCM weights (non-commercial licence)")
        box.prop(self, "official_v1")
        box.prop(self, "official_v2")
        box.prop(self, "t5_folder")
        box = layout.box()
        box.label(text="SMPL / SMPL-X body model (licensed by the MPI, never shipped)")
        box.prop(self, "smpl_dir")
        draw_dependencies(layout.box(), self)


classes = (MOTIONLCM_AP_preferences,)


def register() -> None:
    here = Path(__file__).resolve().parent
    if (here / "motionlcm_core").is_dir():  # installed extension zip bundles the core next to the add-on
        deps.add_to_path(here)
    deps.add_to_path(deps_folder())
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    stop_install_timer()
    job = deps.current_install()
    if job is not None:
        job.cancel()  # no pip left writing into the folder of a disabled add-on
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
