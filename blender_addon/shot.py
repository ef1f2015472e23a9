# SPDX-License-Identifier: GPL-3.0-or-later
"""Shot tools on the Blender side: read a path curve, fill the recipe's shot fields, make an action cyclic.

The maths (following the path, the timeline, closing a loop) is in ``motionlcm_core.shot``; this module only
reads the scene and writes F-curve modifiers.
"""
from __future__ import annotations

import base64
import json

import bpy
import numpy as np

from motionlcm_core.retarget.inverse import armature_to_model, rig_scale
from motionlcm_core.shot.timeline import Timeline

from . import bone_maps, compat

#: Ground points taken from a curve (its evaluated polyline is resampled to at most this many).
MAX_PATH_POINTS = 400


def curve_ground_points(curve: bpy.types.Object, armature: bpy.types.Object, mapping: dict[str, str]
                        ) -> list[tuple[float, float]]:
    """The curve's evaluated polyline (Bezier or poly, with its modifiers) as ground points ``(x, z)`` in the
    armature's model frame (metres at the rig's scale, as pins use): where the hips go. ``ValueError`` when
    the curve is empty or has no length."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    evaluated = curve.evaluated_get(depsgraph)
    mesh = evaluated.to_mesh()
    try:
        n = len(mesh.vertices)
        co = np.zeros(n * 3)
        mesh.vertices.foreach_get("co", co)
        edges = np.zeros(len(mesh.edges) * 2, dtype=np.int64)
        mesh.edges.foreach_get("vertices", edges)
    finally:
        evaluated.to_mesh_clear()
    if n < 2:
        raise ValueError(f"the path curve {curve.name!r} has no points; draw a curve with some length")
    order = _polyline_order(n, edges.reshape(-1, 2))
    world = (co.reshape(n, 3)[order] @ np.array(curve.matrix_world)[:3, :3].T) + np.array(curve.matrix_world)[:3, 3]
    inv = np.linalg.inv(np.array(armature.matrix_world))
    local = world @ inv[:3, :3].T + inv[:3, 3]
    rig, bm = bone_maps.rig_from_armature(armature), bone_maps.from_dict(mapping)
    model = armature_to_model(local, rig_scale(rig, bm))
    points = model[:, [0, 2]]
    if len(points) > MAX_PATH_POINTS:
        points = points[np.linspace(0, len(points) - 1, MAX_PATH_POINTS).round().astype(int)]
    if np.linalg.norm(np.diff(points, axis=0), axis=-1).sum() < 0.01:
        raise ValueError(f"the path curve {curve.name!r} is shorter than 1 cm on the ground plane")
    return [tuple(map(float, p)) for p in points]


def _polyline_order(n: int, edges: np.ndarray) -> np.ndarray:
    """Vertex order along the curve's first spline: from an end (a vertex with one edge) along the edges."""
    if not len(edges):
        return np.arange(n)
    nbrs: dict[int, list[int]] = {}
    for a, b in edges.tolist():
        nbrs.setdefault(a, []).append(b)
        nbrs.setdefault(b, []).append(a)
    start = min((v for v, k in nbrs.items() if len(k) == 1), default=int(edges[0, 0]))
    order, prev, cur = [start], -1, start
    while True:
        nxt = [v for v in nbrs.get(cur, []) if v != prev and v not in order[-2:]]
        if not nxt or nxt[0] == start:
            break
        prev, cur = cur, nxt[0]
        order.append(cur)
    return np.array(order)


def recipe_fields(props: object, armature: bpy.types.Object, mapping: dict[str, str]) -> dict:
    """The recipe's shot fields for the panel's shot mode (``{}`` for a plain clip)."""
    if props.shot == "path":
        if props.path_curve is None:
            raise ValueError("pick the path curve (Shot: Path), or set Shot to Clip")
        return {"path": tuple(curve_ground_points(props.path_curve, armature, mapping)),
                "path_speed": props.path_speed or None}
    if props.shot == "loop":
        return {"loop": True, "loop_in_place": bool(props.loop_in_place)}
    if props.shot == "timeline":
        segments = tuple((s.prompt, float(s.seconds)) for s in props.segments)
        if not segments:
            raise ValueError("the timeline is empty; add a segment (+) with a prompt and a duration")
        return {"segments": segments, "prompt": segments[0][0] or props.prompt,
                "seconds": float(sum(s for _, s in segments))}
    return {}


TIMELINE_KEY = "motionlcm_timeline"


def store_timeline(action: bpy.types.Action, report: dict) -> bool:
    """Keep a timeline's raw frames, contact channels and segment starts on ``action`` (to regenerate one
    segment later); False when ``report`` is not a timeline's."""
    raw, channels = report.get("timeline_raw"), report.get("timeline_channels")
    if raw is None or channels is None:
        return False
    action[TIMELINE_KEY] = json.dumps({"starts": list(report["segment_starts"]),
                                       "raw": base64.b64encode(np.asarray(raw, "<f4").tobytes()).decode(),
                                       "channels": base64.b64encode(np.asarray(channels, "<f4").tobytes()).decode()})
    return True


def load_timeline(action: bpy.types.Action | None) -> Timeline:
    """The timeline kept on ``action`` by :func:`store_timeline`; ``ValueError`` with the fix when there is none."""
    if action is None or TIMELINE_KEY not in action.keys():
        raise ValueError("the active action is not a generated timeline; press Generate with Shot: Timeline first")
    data = json.loads(action[TIMELINE_KEY])
    raw = np.frombuffer(base64.b64decode(data["raw"]), "<f4").reshape(-1, 22, 3)
    channels = np.frombuffer(base64.b64decode(data["channels"]), "<f4").reshape(-1, 4)
    return Timeline.from_raw(raw, channels, data["starts"])


def make_cyclic(action: bpy.types.Action) -> int:
    """A Cycles modifier on every F-curve of ``action`` (once); returns how many were added."""
    added = 0
    for fc in compat.all_fcurves(action):
        if not any(m.type == "CYCLES" for m in fc.modifiers):
            fc.modifiers.new("CYCLES")
            added += 1
    return added


class MOTIONLCM_OT_segment_add(bpy.types.Operator):
    """Add a timeline segment (prompt and duration)"""
    bl_idname, bl_label, bl_options = "motionlcm.segment_add", "Add segment", {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.motionlcm
        seg = props.segments.add()
        seg.prompt = props.prompt if len(props.segments) == 1 else ""
        props.segment_index = len(props.segments) - 1
        return {"FINISHED"}


class MOTIONLCM_OT_segment_remove(bpy.types.Operator):
    """Remove the selected timeline segment"""
    bl_idname, bl_label, bl_options = "motionlcm.segment_remove", "Remove segment", {"REGISTER", "UNDO"}

    def execute(self, context):
        props = context.scene.motionlcm
        if not 0 <= props.segment_index < len(props.segments):
            self.report({"ERROR"}, "no segment selected")
            return {"CANCELLED"}
        props.segments.remove(props.segment_index)
        props.segment_index = max(0, min(props.segment_index, len(props.segments) - 1))
        return {"FINISHED"}


class MOTIONLCM_UL_segments(bpy.types.UIList):
    """Timeline segments: prompt and duration on one row."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.prop(item, "prompt", text="", emboss=True)
        row.prop(item, "seconds", text="")


classes = (MOTIONLCM_OT_segment_add, MOTIONLCM_OT_segment_remove, MOTIONLCM_UL_segments)

register, unregister = bpy.utils.register_classes_factory(classes)
