# SPDX-License-Identifier: GPL-3.0-or-later
""""Add SMPL body": the user's licensed SMPL / SMPL-H / SMPL-X model → a shaped SMPL-22 armature and a mesh
skinned to it (Armature modifier + one vertex group per bone); "Apply shape" re-shapes both in place.

Frames: model frame (Y up, facing +Z) → Blender (Z up, facing -Y) with ``model_to_armature``; the lowest
vertex of the shaped body stands on z = 0. The mesh object is parented to the armature with an identity
parent inverse, so mesh space = armature space. Objects made here carry :data:`BODY_KEY` (armature → its
mesh); Apply shape refuses anything without it, so it never touches objects it did not create.
"""
from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from motionlcm_core.retarget.body_model import body22_weights, load_body_model, shape_rest
from motionlcm_core.retarget.inverse import model_to_armature

from . import rig_build
from .preferences import get_prefs

BODY_KEY = "motionlcm_body_mesh"
FILE_KEY = "motionlcm_body_file"
BETAS_KEY = "motionlcm_body_betas"
#: File names looked for in the model folder, in order (SMPL-X first: it has the most detail).
MODEL_FILE_NAMES: tuple[str, ...] = ("SMPLX_NEUTRAL.npz", "SMPL_NEUTRAL.npz", "SMPLH_NEUTRAL.npz", "model.npz",
                                     "SMPLX_NEUTRAL.pkl", "SMPL_NEUTRAL.pkl")
#: The panel's message when no model file is set (one label per line); :data:`MISSING_MODEL_HELP` joins them.
MISSING_MODEL_LINES: tuple[str, ...] = (
    "No SMPL model file. It is licensed by the MPI and never shipped:",
    "download SMPL-X (smpl-x.is.tue.mpg.de) or SMPL (smpl.is.tue.mpg.de),",
    "put SMPLX_NEUTRAL.npz or SMPL_NEUTRAL.npz in the SMPL model folder",
    "(Preferences > Add-ons > MotionLCM), or pick the file above.",
)
MISSING_MODEL_HELP = " ".join(MISSING_MODEL_LINES)
_cache: dict[tuple[str, float], object] = {}


def find_model_file(folder: str) -> Path | None:
    """The first of :data:`MODEL_FILE_NAMES` present in ``folder`` (``None`` when none is)."""
    if not folder:
        return None
    for name in MODEL_FILE_NAMES:
        path = Path(bpy.path.abspath(folder)) / name
        if path.is_file():
            return path
    return None


def model_file(props: bpy.types.PropertyGroup, model_dir: str) -> Path | None:
    """The panel's file when set, else the first known file in the preferences' folder; no loading."""
    if props.smpl_model_file:
        return Path(bpy.path.abspath(props.smpl_model_file))
    return find_model_file(model_dir)


def context_model_file(context: bpy.types.Context) -> Path | None:
    """:func:`model_file` for the scene's panel settings and the add-on preferences (if enabled)."""
    prefs = get_prefs(context)
    return model_file(context.scene.motionlcm, prefs.smpl_dir if prefs is not None else "")


def load_model(path: Path):
    """Load (and cache, keyed on path and mtime) a body model; ``ValueError`` with the fix on failure."""
    if not path.is_file():
        raise ValueError(f"SMPL model file not found: {path}. {MISSING_MODEL_HELP}")
    key = (str(path.resolve()), path.stat().st_mtime)
    if key not in _cache:
        _cache.clear()
        _cache[key] = load_body_model(path)
    return _cache[key]


def add_body(context: bpy.types.Context, path: Path | None, betas) -> tuple[bpy.types.Object, bpy.types.Object]:
    """Create the shaped armature "SMPL_Body" and its skinned mesh; returns ``(armature, mesh)``.

    Everything is validated (file, fields, shapes) before the first datablock is created.
    """
    if path is None:
        raise ValueError(MISSING_MODEL_HELP)
    model = load_model(path)
    rest = shape_rest(model, np.asarray(betas, dtype=np.float64))
    weights = body22_weights(model)
    arm = rig_build.create_smpl_armature(context.collection, "SMPL_Body", rest.joints)
    verts = model_to_armature(rest.vertices, 1.0)
    mesh_ob = _create_mesh(context.collection, "SMPL_Body_mesh", verts, model.faces)
    _skin(mesh_ob, arm, weights)
    arm[BODY_KEY] = mesh_ob
    arm[FILE_KEY] = str(path)
    arm[BETAS_KEY] = [float(b) for b in betas]
    context.view_layer.update()
    return arm, mesh_ob


def _create_mesh(collection: bpy.types.Collection, name: str, verts: np.ndarray, faces: np.ndarray):
    """Mesh object from vertices [V, 3] (Blender frame) and triangles [F, 3]."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts.tolist(), [], faces.tolist())
    mesh.update()
    ob = bpy.data.objects.new(name, mesh)
    collection.objects.link(ob)
    return ob


def _skin(mesh_ob: bpy.types.Object, arm: bpy.types.Object, weights: np.ndarray) -> None:
    """Vertex groups named after the bones (SMPL-22 order) with weights [V, 22]; parent + Armature modifier."""
    for j, bone in enumerate(rig_build.SMPL_BONE_NAMES):
        group = mesh_ob.vertex_groups.new(name=bone)
        for v in np.flatnonzero(weights[:, j] > 0.0):
            group.add([int(v)], float(weights[v, j]), "REPLACE")
    mesh_ob.parent = arm
    mesh_ob.matrix_parent_inverse.identity()
    mod = mesh_ob.modifiers.new("Armature", "ARMATURE")
    mod.object = arm
    mod.use_vertex_groups = True


def body_mesh(arm: bpy.types.Object | None) -> bpy.types.Object:
    """The mesh made by :func:`add_body` for ``arm``; ``ValueError`` if ``arm`` is not such an armature."""
    if arm is None or arm.type != "ARMATURE" or BODY_KEY not in arm.keys():
        raise ValueError("the target is not a body made by 'Add SMPL body' (other objects are never changed)")
    mesh_ob = arm[BODY_KEY]
    if not isinstance(mesh_ob, bpy.types.Object) or mesh_ob.type != "MESH" or mesh_ob.name not in bpy.data.objects:
        raise ValueError(f"the body mesh of {arm.name!r} was deleted; press 'Add SMPL body' for a new one")
    if arm.library is not None or mesh_ob.library is not None:
        raise ValueError(f"{arm.name!r} is linked from a library and read-only")
    return mesh_ob


def apply_shape(context: bpy.types.Context, arm: bpy.types.Object, betas) -> None:
    """Re-shape the rest pose of a body made by :func:`add_body`: bone heads/tails and mesh vertices.

    The armature's animation (action, slot, NLA) is not touched, so the motion plays on the new shape.
    """
    mesh_ob = body_mesh(arm)
    model = load_model(Path(arm[FILE_KEY]))
    rest = shape_rest(model, np.asarray(betas, dtype=np.float64))
    verts = model_to_armature(rest.vertices, 1.0)
    if len(mesh_ob.data.vertices) != len(verts):
        raise ValueError(f"{mesh_ob.name!r} no longer has the model's {len(verts)} vertices; add a new body")
    heads, tails = rig_build.smpl_bone_table(rest.joints)
    _move_bones(context, arm, heads, tails)
    mesh_ob.data.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    mesh_ob.data.update()
    arm[BETAS_KEY] = [float(b) for b in betas]
    context.view_layer.update()


def _move_bones(context: bpy.types.Context, arm: bpy.types.Object, heads: np.ndarray, tails: np.ndarray) -> None:
    """Set the edit-bone heads/tails [22, 3] (armature space); restores the previous active object and mode."""
    view_layer = context.view_layer
    prev_active, prev_mode = view_layer.objects.active, arm.mode
    if prev_active is not None and prev_active.mode != "OBJECT":
        bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode="EDIT")
    for j, name in enumerate(rig_build.SMPL_BONE_NAMES):
        eb = arm.data.edit_bones[name]
        eb.head, eb.tail, eb.roll = tuple(heads[j]), tuple(tails[j]), 0.0
    bpy.ops.object.mode_set(mode="OBJECT")
    view_layer.objects.active = prev_active or arm
    if prev_active is arm and prev_mode == "POSE":
        bpy.ops.object.mode_set(mode="POSE")
