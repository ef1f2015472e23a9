# SPDX-License-Identifier: GPL-3.0-or-later
"""Install the extension zip with Blender's own installer into the throw-away user folder the harness gives
(``BLENDER_USER_RESOURCES``), enabled on install; Generate with the tiny model through the installed copy;
disable, enable again, uninstall (which disables it first, as the Preferences button does), and report what
is left.

The repository is taken off ``sys.path`` first, so every add-on and ``motionlcm_core`` module must come from
the installed folder; torch and the other dependencies come from the test environment's site-packages.
argv: tmp folder, tiny checkpoint (written by the test).
"""
import importlib
import sys
import threading
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PKG = "bl_ext.user_default.motionlcm"
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO]

import bpy  # noqa: E402

from common import run  # noqa: E402


def build_zip(out: Path) -> Path:
    """``install_blender.build_extension_zip``, imported without the repo's add-on package (its ``__init__``
    would register nothing but import the repo's copy of the add-on and the core)."""
    stub = types.ModuleType("blender_addon")
    stub.__path__ = [str(REPO / "blender_addon")]
    sys.modules["blender_addon"] = stub
    try:
        return importlib.import_module("blender_addon.install_blender").build_extension_zip(out)
    finally:
        for name in [n for n in sys.modules if n == "blender_addon" or n.startswith("blender_addon.")]:
            del sys.modules[name]


def inside(path: str | Path, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def generate(model: Path) -> dict:
    """Add an SMPL rig with the installed operator and Generate through the installed modules (worker thread,
    then the timer's pump called directly, as headless timers never fire)."""
    generation, anim_write, compat = (sys.modules[f"{PKG}.{m}"] for m in ("generation", "anim_write", "compat"))
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start = 30, 1
    added = sorted(bpy.ops.motionlcm.add_smpl_rig())
    props = scene.motionlcm
    props.model, props.checkpoint_file, props.seconds, props.prompt = "file", str(model), 2.0, "a person walks"
    try:
        active = generation.start(bpy.context)
    except ValueError as exc:                       # e.g. no torch in this Python: refused before any work
        return {"add_rig": added, "refused": str(exc)}
    finished = active.job.wait(180)
    state = generation.pump(bpy.context)
    ob = props.target
    action = ob.animation_data.action
    keys = anim_write.read_keys(action, compat.object_slot(action, ob))
    import torch
    return {"add_rig": added, "finished": finished, "state": state, "status": props.status,
            "job_module": type(active.job).__module__, "fcurves": len(keys),
            "last_key": float(max(k[-1, 0] for k in keys.values())) if keys else 0.0,
            "torch": torch.__file__}


def main() -> dict:
    tmp, model = Path(sys.argv[1]), Path(sys.argv[2])
    zip_path = build_zip(tmp / "dist")
    prefs = bpy.context.preferences
    index, repo = next((i, r) for i, r in enumerate(prefs.extensions.repos) if r.module == "user_default")
    repo_dir = Path(repo.directory)
    out = {"version": bpy.app.version_string, "repo_in_tmp": inside(repo_dir, tmp),
           "online_access": bpy.app.online_access,
           "installed": sorted(bpy.ops.extensions.package_install_files(filepath=str(zip_path), repo="user_default",
                                                                        enable_on_install=True))}
    pkg = sys.modules[PKG]
    install_dir = Path(pkg.__file__).parent
    import motionlcm_core
    out["install"] = {"enabled": PKG in prefs.addons, "dir_in_repo": inside(install_dir, repo_dir),
                      "not_repo": not inside(pkg.__file__, REPO),
                      "core_installed": inside(motionlcm_core.__file__, install_dir),
                      "scene_prop": hasattr(bpy.types.Scene, "motionlcm"),
                      "ops": hasattr(bpy.types, "MOTIONLCM_OT_generate") and hasattr(bpy.types,
                                                                                      "MOTIONLCM_OT_render_preview")}
    out["generate"] = generate(model)
    out["generate"]["core_modules_installed"] = all(
        inside(m.__file__, install_dir) for n, m in list(sys.modules.items())
        if (n == "motionlcm_core" or n.startswith("motionlcm_core.")) and getattr(m, "__file__", None))
    timers = [sys.modules[f"{PKG}.{m}"].__dict__[f] for m, f in
              (("operators", "_timer"), ("preferences", "install_tick"), ("warm_start", "tick"),
               ("preview_ops", "tick"))]
    out["disable"] = sorted(bpy.ops.preferences.addon_disable(module=PKG))
    out["after_disable"] = {"enabled": PKG in prefs.addons, "scene_prop": hasattr(bpy.types.Scene, "motionlcm"),
                            "files_kept": install_dir.is_dir()}
    out["enable_again"] = {"result": sorted(bpy.ops.preferences.addon_enable(module=PKG)),
                           "scene_prop": hasattr(bpy.types.Scene, "motionlcm"),
                           "generate_op": hasattr(bpy.types, "MOTIONLCM_OT_generate")}
    out["uninstall"] = sorted(bpy.ops.extensions.package_uninstall(repo_index=index, pkg_id="motionlcm"))
    import addon_utils
    out["after_uninstall"] = {
        "enabled": PKG in prefs.addons, "folder": install_dir.exists(),
        "listed": any(m.__name__ == PKG for m in addon_utils.modules(refresh=True)),
        "modules": sorted(n for n in sys.modules if n == PKG or n.startswith(PKG + ".")),
        "scene_prop": hasattr(bpy.types.Scene, "motionlcm"),
        "types": sorted(n for n in dir(bpy.types) if n.startswith("MOTIONLCM_")),
        "timers": [bpy.app.timers.is_registered(t) for t in timers],
        "threads": sorted(t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()),
        "user_data": (repo_dir.parent / ".user" / "user_default" / "motionlcm").exists(),
        "stale_sys_path": [p for p in sys.path if inside(p, repo_dir) or inside(p, repo_dir.parent / ".user")]}
    return out


run(main)
