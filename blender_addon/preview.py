# SPDX-License-Identifier: GPL-3.0-or-later
"""Headless preview: bone proxy meshes, a camera, Cycles CPU renders of a few frames → PNG contact sheet."""
from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np


def add_bone_proxies(ob: bpy.types.Object, radius: float = 0.045) -> list[bpy.types.Object]:
    """One diamond-shaped mesh per bone, parented to the bone, so the motion renders."""
    proxies = []
    mat = bpy.data.materials.new(f"{ob.name}:proxy")
    mat.use_nodes = True
    mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (0.9, 0.35, 0.08, 1.0)
    unit = 1.0 / max(ob.scale[0], 1e-9)
    for bone in ob.data.bones:
        r, L = radius * unit, bone.length
        verts = [(0, 0, 0), (r, 0.2 * L, 0), (0, 0.2 * L, r), (-r, 0.2 * L, 0), (0, 0.2 * L, -r), (0, L, 0)]
        faces = [(0, 1, 2), (0, 2, 3), (0, 3, 4), (0, 4, 1), (5, 2, 1), (5, 3, 2), (5, 4, 3), (5, 1, 4)]
        mesh = bpy.data.meshes.new(f"{ob.name}:{bone.name}")
        mesh.from_pydata(verts, [], faces)
        mesh.materials.append(mat)
        child = bpy.data.objects.new(mesh.name, mesh)
        ob.users_collection[0].objects.link(child)
        child.parent, child.parent_type, child.parent_bone = ob, "BONE", bone.name
        child.location = (0.0, -L, 0.0)  # BONE parenting starts at the tail; move back to the head
        proxies.append(child)
    return proxies


def setup_camera(scene: bpy.types.Scene, target: tuple[float, float, float], distance: float = 6.0) -> None:
    """Orthographic front camera looking at ``target`` (+ a sun lamp and a floor)."""
    cam = bpy.data.objects.new("PreviewCamera", bpy.data.cameras.new("PreviewCamera"))
    cam.data.type, cam.data.ortho_scale = "ORTHO", 3.2
    cam.location = (target[0], target[1] - distance, target[2] + 0.9)
    cam.rotation_euler = (np.radians(85.0), 0.0, 0.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    scene.world = scene.world or bpy.data.worlds.new("PreviewWorld")
    scene.world.color = (0.35, 0.38, 0.42)
    sun = bpy.data.objects.new("PreviewSun", bpy.data.lights.new("PreviewSun", "SUN"))
    sun.rotation_euler = (np.radians(50), 0.0, np.radians(30))
    scene.collection.objects.link(sun)
    floor = bpy.data.meshes.new("Floor")
    s = 40.0
    floor.from_pydata([(-s, -s, 0), (s, -s, 0), (s, s, 0), (-s, s, 0)], [], [(0, 1, 2, 3)])
    scene.collection.objects.link(bpy.data.objects.new("Floor", floor))


def _rigs_centre(rigs: list[bpy.types.Object]) -> tuple[float, float]:
    """Mean world x/y of the rigs' root-bone heads at the current frame."""
    heads = [ob.matrix_world @ ob.pose.bones[0].head for ob in rigs]
    return sum(h.x for h in heads) / len(heads), sum(h.y for h in heads) / len(heads)


def render_contact_sheet(scene: bpy.types.Scene, frames: list[int], out_png: Path, size: tuple[int, int] = (200, 240),
                         columns: int = 4, follow: list[bpy.types.Object] | None = None) -> Path:
    """Render ``frames`` with Cycles on the CPU (few samples) and tile them into one PNG; with ``follow``
    the camera tracks those rigs' root bones so a figure walking away stays in view."""
    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples = "CPU", 4
    scene.cycles.use_denoising = False
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    tiles = []
    offset = None
    for i, f in enumerate(frames):
        scene.frame_set(f)
        if follow:  # keep the camera's offset from the rigs it had at the first frame
            cx, cy = _rigs_centre(follow)
            if offset is None:
                offset = (scene.camera.location.x - cx, scene.camera.location.y - cy)
            scene.camera.location.x, scene.camera.location.y = cx + offset[0], cy + offset[1]
        path = out_png.parent / f"_frame_{i:02d}.png"
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True)
        img = bpy.data.images.load(str(path))
        px = np.array(img.pixels[:], dtype=np.float32).reshape(size[1], size[0], 4)
        bpy.data.images.remove(img)
        path.unlink()
        tiles.append(px)
    rows = [np.concatenate(tiles[r * columns:(r + 1) * columns], axis=1) for r in range(len(tiles) // columns)]
    sheet = np.concatenate(rows[::-1], axis=0)  # Blender images start at the bottom row
    img = bpy.data.images.new("contact_sheet", sheet.shape[1], sheet.shape[0], alpha=True)
    img.pixels.foreach_set(sheet.ravel())
    img.filepath_raw, img.file_format = str(out_png), "PNG"
    img.save()
    return out_png
