# SPDX-License-Identifier: GPL-3.0-or-later
"""Viewport drawing of pins with the ``gpu`` module (never registered in background mode)."""
from __future__ import annotations

import bpy

_handle = None


def _draw() -> None:
    import gpu
    from gpu_extras.batch import batch_for_shader
    props = getattr(bpy.context.scene, "motionlcm", None)
    if props is None or not props.show_pins or not props.pins or props.target is None:
        return
    mw = props.target.matrix_world
    current = bpy.context.scene.frame_current
    points = [tuple(mw @ __import__("mathutils").Vector(p.position)) for p in props.pins]
    colors = [(1.0, 0.3, 0.1, 1.0) if p.frame == current else (0.9, 0.8, 0.2, 0.6) for p in props.pins]
    shader = gpu.shader.from_builtin("FLAT_COLOR")
    batch = batch_for_shader(shader, "POINTS", {"pos": points, "color": colors})
    gpu.state.point_size_set(10.0)
    gpu.state.blend_set("ALPHA")
    batch.draw(shader)
    gpu.state.blend_set("NONE")


def register() -> None:
    global _handle
    if not bpy.app.background and _handle is None:
        _handle = bpy.types.SpaceView3D.draw_handler_add(_draw, (), "WINDOW", "POST_VIEW")


def unregister() -> None:
    global _handle
    if _handle is not None:
        bpy.types.SpaceView3D.draw_handler_remove(_handle, "WINDOW")
        _handle = None
