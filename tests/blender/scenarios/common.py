# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the bpy scenario scripts (run in a subprocess, see ``harness.py``)."""
from __future__ import annotations

import json
import os
import sys

import numpy as np


def emit(result: dict) -> None:
    """Print the scenario result for the harness, then leave without running Blender's atexit."""
    sys.stdout.write("RESULT:" + json.dumps(result, default=float) + "\n")
    sys.stdout.flush()


def fresh_scene() -> None:
    """Empty factory scene (no default cube/camera interfering)."""
    import bpy
    bpy.ops.wm.read_factory_settings(use_empty=True)


def scene_with_tiny_model(tmp, prompt: str, seconds: float = 2.5, fps: int = 30):
    """Fresh scene, add-on registered, the tiny random model selected; returns the panel settings."""
    import bpy

    import blender_addon
    from tiny_model import write_tiny_model
    model = write_tiny_model(tmp / "tiny.safetensors")
    fresh_scene()
    blender_addon.register()
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start = fps, 1
    props = scene.motionlcm
    props.model, props.checkpoint_file, props.seconds = "file", str(model), seconds
    props.prompt = prompt
    return props


def world_heads(ob, frames, bones) -> np.ndarray:
    """Evaluated world-space heads [F, len(bones), 3] of pose bones at scene frames."""
    import bpy
    scene = bpy.context.scene
    out = np.zeros((len(frames), len(bones), 3))
    for i, f in enumerate(frames):
        scene.frame_set(int(f))
        mw = np.array(ob.matrix_world)
        for k, b in enumerate(bones):
            m = mw @ np.array(ob.pose.bones[b].matrix)
            out[i, k] = m[:3, 3]
    return out


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    """wxyz unit quaternion → 3x3 rotation matrix."""
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def fk_heads(rest: dict, quats: dict, root: str, loc: np.ndarray) -> np.ndarray:
    """Reference FK (numpy) of armature-space bone heads [N, 3] for one frame of pose values."""
    names, parents, rest_m = rest["names"], rest["parents"], rest["rest_matrices"]
    pose = [None] * len(names)
    for i, name in enumerate(names):
        basis = np.eye(4)
        if name in quats:
            basis[:3, :3] = quat_to_mat(quats[name])
        if name == root:
            basis[:3, 3] = loc
        p = parents[i]
        local = rest_m[i] if p < 0 else np.linalg.inv(rest_m[p]) @ rest_m[i]
        pose[i] = (local if p < 0 else pose[p] @ local) @ basis
    return np.array([m[:3, 3] for m in pose])


def exit_now(code: int = 0) -> None:
    """Skip interpreter teardown (bpy 4.5 can hang at exit with timers registered)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(main) -> None:
    """Run ``main() -> dict``, emit its result and leave with ``os._exit``.

    Errors print a traceback and exit 1 immediately: a normal interpreter exit after an exception
    can deadlock in bpy's exit handlers (seen with bpy 4.5.15).
    """
    import traceback
    try:
        emit(main())
    except BaseException:  # noqa: BLE001 - report everything, then leave without atexit
        traceback.print_exc()
        exit_now(1)
    exit_now(0)
