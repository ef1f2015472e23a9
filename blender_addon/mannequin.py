# SPDX-License-Identifier: GPL-3.0-or-later
"""A body to watch the motion on: the rig's own skinned meshes (e.g. the SMPL body) when it has them, else a
simple mannequin built here — one capsule per limb segment, merged into one mesh, each capsule in the vertex
group of the bone that moves it, deformed by an Armature modifier.

Segments run between SMPL-22 joints found through the rig's bone map, so any mapped rig (SMPL, Mixamo,
Rigify, …) gets the same figure. Radii are in metres (converted to armature units with the object's scale);
the mesh is parented to the armature with an identity parent inverse, so mesh space = armature space.
"""
from __future__ import annotations

import bpy
import numpy as np

from motionlcm_core.motion.skeleton import JOINT_NAMES, PARENTS

MANNEQUIN_KEY = "motionlcm_mannequin"
#: (from joint, to joint or None = extend along the parent bone by ``extend`` m, joint whose bone moves it,
#: radius m, extend m). ``to`` "+nose" is a short capsule forward from the head so turning is visible.
SEGMENTS: tuple[tuple[str, str | None, str, float, float], ...] = (
    ("pelvis", "spine1", "pelvis", 0.10, 0.0), ("left_hip", "right_hip", "pelvis", 0.085, 0.0),
    ("spine1", "spine2", "spine1", 0.105, 0.0), ("spine2", "spine3", "spine2", 0.115, 0.0),
    ("spine3", "neck", "spine3", 0.105, 0.0), ("left_shoulder", "right_shoulder", "spine3", 0.07, 0.0),
    ("neck", "head", "neck", 0.05, 0.0), ("head", None, "head", 0.095, 0.09), ("head", "+nose", "head", 0.03, 0.0),
    ("left_collar", "left_shoulder", "left_collar", 0.055, 0.0),
    ("right_collar", "right_shoulder", "right_collar", 0.055, 0.0),
    ("left_shoulder", "left_elbow", "left_shoulder", 0.048, 0.0),
    ("right_shoulder", "right_elbow", "right_shoulder", 0.048, 0.0),
    ("left_elbow", "left_wrist", "left_elbow", 0.04, 0.0), ("right_elbow", "right_wrist", "right_elbow", 0.04, 0.0),
    ("left_wrist", None, "left_wrist", 0.035, 0.08), ("right_wrist", None, "right_wrist", 0.035, 0.08),
    ("left_hip", "left_knee", "left_hip", 0.068, 0.0), ("right_hip", "right_knee", "right_hip", 0.068, 0.0),
    ("left_knee", "left_ankle", "left_knee", 0.05, 0.0), ("right_knee", "right_ankle", "right_knee", 0.05, 0.0),
    ("left_ankle", "left_foot", "left_ankle", 0.042, 0.0), ("right_ankle", "right_foot", "right_ankle", 0.042, 0.0),
    ("left_foot", None, "left_foot", 0.028, 0.05), ("right_foot", None, "right_foot", 0.028, 0.05),
)


def capsule(a: np.ndarray, b: np.ndarray, radius: float, sides: int = 12, rings: int = 4
            ) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    """A closed capsule around the segment ``a`` → ``b`` [3]: vertices [2 * rings * sides + 2, 3] and faces
    (triangle fans at the two poles, quads between the latitude rings)."""
    axis = b - a
    length = float(np.linalg.norm(axis))
    w = axis / length if length > 1e-9 else np.array([0.0, 0.0, 1.0])
    u = np.cross(w, [1.0, 0.0, 0.0] if abs(w[0]) < 0.9 else [0.0, 1.0, 0.0])
    u /= np.linalg.norm(u)
    v = np.cross(w, u)
    ang = 2.0 * np.pi * np.arange(sides) / sides
    circle = np.cos(ang)[:, None] * u + np.sin(ang)[:, None] * v                      # [S, 3]
    lats = [(a, -np.pi / 2 + k * np.pi / (2 * rings)) for k in range(1, rings + 1)]
    lats += [(b, k * np.pi / (2 * rings)) for k in range(rings)]
    verts = [a - radius * w] + [c + radius * (np.cos(p) * circle + np.sin(p) * w) for c, p in lats] + [b + radius * w]
    verts = np.vstack([np.atleast_2d(x) for x in verts])
    top, n_rings = len(verts) - 1, 2 * rings
    ring = [lambda k, i=r: 1 + i * sides + k % sides for r in range(n_rings)]
    faces: list[tuple[int, ...]] = [(0, ring[0](k + 1), ring[0](k)) for k in range(sides)]
    for r in range(n_rings - 1):
        faces += [(ring[r](k), ring[r](k + 1), ring[r + 1](k + 1), ring[r + 1](k)) for k in range(sides)]
    faces += [(top, ring[-1](k), ring[-1](k + 1)) for k in range(sides)]
    return verts, faces


def _rest_joints(ob: bpy.types.Object, mapping: dict[str, str]) -> dict[str, np.ndarray]:
    """Rest heads (armature space) of the mapped SMPL-22 joints."""
    return {j: np.array(ob.data.bones[b].head_local) for j, b in mapping.items() if b in ob.data.bones}


def _forward(joints: dict[str, np.ndarray]) -> np.ndarray:
    """The rest pose's facing direction (armature space): left (hips) × up (pelvis → neck)."""
    if not all(k in joints for k in ("left_hip", "right_hip", "pelvis", "neck")):
        return np.array([0.0, -1.0, 0.0])
    f = np.cross(joints["left_hip"] - joints["right_hip"], joints["neck"] - joints["pelvis"])
    return f / max(np.linalg.norm(f), 1e-9)


def segments(ob: bpy.types.Object, mapping: dict[str, str]) -> list[tuple[np.ndarray, np.ndarray, str, float]]:
    """Capsules ``(a, b, bone, radius)`` in armature units for every segment whose joints the map covers."""
    joints = _rest_joints(ob, mapping)
    unit = 1.0 / max(float(np.mean(ob.matrix_world.to_scale())), 1e-9)     # metres → armature units
    out = []
    for start, end, owner, radius, extend in SEGMENTS:
        if start not in joints or owner not in mapping or mapping[owner] not in ob.data.bones:
            continue
        a = joints[start]
        if end is None:
            parent = JOINT_NAMES[PARENTS[JOINT_NAMES.index(start)]]
            if parent not in joints:
                continue
            d = a - joints[parent]
            b = a + extend * unit * d / max(np.linalg.norm(d), 1e-9)
        elif end == "+nose":
            a = a + 0.09 * unit * _up(joints)
            b = a + 0.11 * unit * _forward(joints)
        elif end in joints:
            b = joints[end]
        else:
            continue
        out.append((a, b, mapping[owner], radius * unit))
    return out


def _up(joints: dict[str, np.ndarray]) -> np.ndarray:
    """Neck → head direction (the head capsule's axis)."""
    if "neck" not in joints or "head" not in joints:
        return np.array([0.0, 0.0, 1.0])
    d = joints["head"] - joints["neck"]
    return d / max(np.linalg.norm(d), 1e-9)


def add_mannequin(ob: bpy.types.Object, mapping: dict[str, str], collection: bpy.types.Collection,
                  color: tuple[float, float, float, float] = (0.9, 0.45, 0.15, 1.0)) -> bpy.types.Object:
    """Build the mannequin of ``ob`` (a mesh object in ``collection``, skinned to ``ob``); ``ValueError`` when
    the bone map covers too little of the body to draw one."""
    parts = segments(ob, mapping)
    if len(parts) < 6:
        raise ValueError(f"the bone map of {ob.name!r} covers too few joints for a mannequin; detect or edit it")
    verts, faces, groups = [], [], {}
    for a, b, bone, radius in parts:
        v, f = capsule(a, b, radius)
        base = sum(len(x) for x in verts)
        groups.setdefault(bone, []).extend(range(base, base + len(v)))
        verts.append(v)
        faces += [tuple(base + i for i in face) for face in f]
    mesh = bpy.data.meshes.new(f"{ob.name} mannequin")
    mesh.from_pydata(np.vstack(verts).tolist(), [], faces)
    mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
    mat = bpy.data.materials.new(f"{ob.name} mannequin")
    mat.diffuse_color = color
    mesh.materials.append(mat)
    body = bpy.data.objects.new(mesh.name, mesh)
    collection.objects.link(body)
    body.parent = ob                       # identity parent inverse: mesh space = armature space
    for bone, idx in groups.items():
        body.vertex_groups.new(name=bone).add(idx, 1.0, "REPLACE")
    body.modifiers.new("Armature", "ARMATURE").object = ob
    body[MANNEQUIN_KEY] = ob.name
    return body


def skinned_meshes(ob: bpy.types.Object) -> list[bpy.types.Object]:
    """Meshes deformed by ``ob`` through an Armature modifier (e.g. "Add SMPL body"); mannequins excluded."""
    return [m for m in bpy.data.objects if m.type == "MESH" and MANNEQUIN_KEY not in m.keys()
            and any(mod.type == "ARMATURE" and mod.object == ob for mod in m.modifiers)]
