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

from . import operators, panels, pin_draw, preferences, properties  # noqa: E402

_modules = (preferences, properties, operators, panels, pin_draw)


def register() -> None:
    for module in _modules:
        module.register()


def unregister() -> None:
    for module in reversed(_modules):
        module.unregister()
