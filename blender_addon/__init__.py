# SPDX-License-Identifier: GPL-3.0-or-later
"""MotionLCM for Blender: text → editable action on your rig. register()/unregister() only."""

bl_info = {
    "name": "MotionLCM",
    "author": "MotionLCM for Blender contributors",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "3D Viewport > Sidebar > MotionLCM",
    "description": "Generate character animation from text (MotionLCM), with pins as control",
    "category": "Animation",
}


def _bundled_core_on_path() -> None:
    """An installed extension zip bundles ``motionlcm_core`` next to this file: make it importable before the
    add-on's modules import its numpy parts at their top (torch is imported only when generating)."""
    import sys
    from pathlib import Path
    here = Path(__file__).resolve().parent
    if (here / "motionlcm_core").is_dir() and str(here) not in sys.path:
        sys.path.insert(0, str(here))


_bundled_core_on_path()

from . import operators, panels, pin_draw, preferences, preview_ops, properties, shot, warm_start  # noqa: E402

_modules = (preferences, properties, operators, preview_ops, shot, panels, pin_draw)


def register() -> None:
    for module in _modules:
        module.register()
    warm_start.schedule()  # a one-shot timer; the model loads on a background thread (never here)


def unregister() -> None:
    warm_start.cancel()
    for module in reversed(_modules):
        module.unregister()
