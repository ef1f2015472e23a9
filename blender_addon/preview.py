# SPDX-License-Identifier: GPL-3.0-or-later
"""A preview people can watch: each rig with a body (its skinned mesh, else a mannequin), a floor grid, a
three-quarter camera following the hips; Workbench frames labelled with their time (Blender's metadata
burn-in), an MP4 written by Blender's own FFmpeg output (an image-sequence strip in a scratch scene) and a
PNG contact sheet tiled from the frames with numpy through ``bpy.data.images`` (no PIL).

Frames are rendered one at a time (:class:`FrameRenderer`), so the add-on can spread them over timer ticks;
:func:`render_preview` does everything in one call (demo, scripts). World: metres, Z up, characters face -Y.
"""
from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from . import mannequin

PREVIEW_KEY = "motionlcm_preview"
COLORS = ((0.92, 0.45, 0.15, 1.0), (0.2, 0.6, 0.85, 1.0), (0.45, 0.75, 0.3, 1.0), (0.8, 0.3, 0.6, 1.0))


@dataclass(frozen=True)
class PreviewConfig:
    """Everything that changes the preview's pictures.

    size: frame width, height (px; made even for H.264). distance, height, azimuth: camera metres and degrees
    from the front toward the character's right; target_z: the height it looks at (m). sheet_tiles and
    sheet_columns: the contact sheet's layout; sheet_shrink: integer down-scaling of its tiles.
    """

    size: tuple[int, int] = (480, 360)
    distance: float = 4.2
    height: float = 1.5
    azimuth: float = 35.0
    target_z: float = 0.85
    lens_mm: float = 35.0
    sheet_tiles: int = 8
    sheet_columns: int = 4
    sheet_shrink: int = 1

    def __post_init__(self) -> None:
        if min(self.size) < 16 or self.sheet_tiles < 1 or self.sheet_columns < 1 or self.sheet_shrink < 1:
            raise ValueError("preview size must be at least 16 px and the sheet's tiles, columns and shrink >= 1")


@dataclass
class PreviewOutput:
    """What a preview wrote: ``video`` (None when this Blender has no FFmpeg: then ``frames_dir`` is kept)."""

    video: Path | None
    sheet: Path
    frames: list[int]
    frames_dir: Path | None = None
    labels: list[str] = field(default_factory=list)


@dataclass
class Stage:
    """The objects and datablocks :func:`build_stage` made (removed again by :func:`remove_stage`)."""

    camera: bpy.types.Object
    ids: list = field(default_factory=list)


def _track(stage_ids: list, *ids) -> None:
    for i in ids:
        i[PREVIEW_KEY] = True
        stage_ids.append(i)


def hips_bone(mapping: dict[str, str]) -> str:
    """The pelvis bone of a bone map (``ValueError`` when it has none)."""
    if "pelvis" not in mapping:
        raise ValueError("the bone map has no pelvis/hips bone; detect or edit the bone map")
    return mapping["pelvis"]


def evaluated(ob: bpy.types.Object, scene: bpy.types.Scene) -> bpy.types.Object:
    """``ob`` as evaluated in ``scene`` (a scene no window shows never writes its evaluation back to the
    original objects, so poses are read from its own depsgraph)."""
    return ob.evaluated_get(scene.view_layers[0].depsgraph)


def render_context(scene: bpy.types.Scene) -> object:
    """A context in which the render operator renders ``scene`` at its own frame: its ``scene=`` argument would
    take the frame of the window's scene instead. With a window when there is one (the UI; none headless)."""
    wm = bpy.context.window_manager
    extra = {"window": wm.windows[0]} if wm is not None and len(wm.windows) and bpy.context.window is None else {}
    return bpy.context.temp_override(scene=scene, **extra)


def ground_box(scene: bpy.types.Scene, rigs: list, mappings: list[dict], frames: list[int]
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """World x/y min and max [2] of the rigs' hips over ``frames`` and the floor height (lowest foot joint)."""
    feet = ("left_ankle", "right_ankle", "left_foot", "right_foot")
    hips, low = [], []
    current = scene.frame_current
    for f in frames[:: max(1, len(frames) // 40)] + frames[-1:]:
        scene.frame_set(f)
        for ob, m in zip(rigs, mappings):
            ev = evaluated(ob, scene)
            hips.append(np.array(ev.matrix_world @ ev.pose.bones[hips_bone(m)].head)[:2])
            low += [(ev.matrix_world @ ev.pose.bones[m[j]].head).z for j in feet if j in m]
    scene.frame_set(current)
    hips = np.array(hips)
    return hips.min(0), hips.max(0), (min(low) - 0.028) if low else 0.0


def add_floor(collection: bpy.types.Collection, lo: np.ndarray, hi: np.ndarray, z: float, ids: list,
              spacing: float = 0.5, margin: float = 12.0) -> bpy.types.Object:
    """A grey floor with a lighter grid (0.5 m; every 2 m darker) covering ``lo``–``hi`` plus ``margin``."""
    lo = np.floor((lo - margin) / 2.0) * 2.0
    hi = np.ceil((hi + margin) / 2.0) * 2.0
    verts = [(lo[0], lo[1], z), (hi[0], lo[1], z), (hi[0], hi[1], z), (lo[0], hi[1], z)]
    faces, mats, w, zl = [(0, 1, 2, 3)], [0], 0.012, z + 0.002
    for axis in (0, 1):
        for k, c in enumerate(np.arange(lo[axis], hi[axis] + 1e-6, spacing)):
            o = 1 - axis
            quad = [[0.0, 0.0, zl] for _ in range(4)]
            for q, (s, e) in enumerate(((c - w, lo[o]), (c + w, lo[o]), (c + w, hi[o]), (c - w, hi[o]))):
                quad[q][axis], quad[q][o] = s, e
            faces.append(tuple(range(len(verts), len(verts) + 4)))
            verts += [tuple(q) for q in quad]
            mats.append(2 if k % 4 == 0 else 1)
    mesh = bpy.data.meshes.new("MotionLCM floor")
    mesh.from_pydata(verts, [], faces)
    shades = (("floor", (0.32, 0.33, 0.35, 1)), ("grid", (0.55, 0.57, 0.6, 1)), ("grid 2 m", (0.2, 0.2, 0.22, 1)))
    for name, color in shades:
        mat = bpy.data.materials.new(f"MotionLCM {name}")
        mat.diffuse_color = color
        mesh.materials.append(mat)
        _track(ids, mat)
    mesh.polygons.foreach_set("material_index", mats)
    ob = bpy.data.objects.new("MotionLCM floor", mesh)
    collection.objects.link(ob)
    _track(ids, mesh, ob)
    return ob


def add_follow_camera(scene: bpy.types.Scene, collection: bpy.types.Collection, rigs: list, mappings: list[dict],
                      cfg: PreviewConfig, ids: list) -> bpy.types.Object:
    """An empty that follows the mean of the rigs' hips on the ground plane (one Copy Location per rig, the
    k-th at influence 1/k, Z kept at ``target_z``) and a camera parented to it at a three-quarter angle,
    tracking it. No keys: the constraints follow whatever animation the rigs have."""
    target = bpy.data.objects.new("MotionLCM camera target", None)
    collection.objects.link(target)
    target.location = (0.0, 0.0, cfg.target_z)
    for k, (ob, m) in enumerate(zip(rigs, mappings), start=1):
        con = target.constraints.new("COPY_LOCATION")
        con.target, con.subtarget, con.use_z, con.influence = ob, hips_bone(m), False, 1.0 / k
    cam = bpy.data.objects.new("MotionLCM camera", bpy.data.cameras.new("MotionLCM camera"))
    cam.data.lens = cfg.lens_mm
    collection.objects.link(cam)
    az = math.radians(cfg.azimuth)
    cam.parent = target
    cam.location = (-cfg.distance * math.sin(az), -cfg.distance * math.cos(az), cfg.height - cfg.target_z)
    track = cam.constraints.new("TRACK_TO")
    track.target, track.track_axis, track.up_axis = target, "TRACK_NEGATIVE_Z", "UP_Y"
    scene.camera = cam
    _track(ids, target, cam.data, cam)
    return cam


def configure_render(scene: bpy.types.Scene, cfg: PreviewConfig) -> None:
    """Workbench (fast, headless-safe: about 0.1 s a frame on two CPU cores with Mesa's software GL; shadows would
    triple that), studio light, true colours, PNG frames with the time burned in."""
    r = scene.render
    r.engine = "BLENDER_WORKBENCH"
    r.resolution_x, r.resolution_y = (int(s) // 2 * 2 for s in cfg.size)
    r.resolution_percentage, r.film_transparent = 100, False
    shading = scene.display.shading
    shading.light, shading.color_type = "STUDIO", "MATERIAL"
    shading.show_shadows, shading.show_cavity = False, False
    scene.display.render_aa = "5"
    scene.view_settings.view_transform = "Standard"
    r.use_stamp, r.use_stamp_note, r.use_stamp_labels = True, True, False
    for name in ("date", "time", "render_time", "frame", "frame_range", "memory", "hostname", "camera", "lens",
                 "scene", "marker", "filename", "sequencer_strip"):
        setattr(r, f"use_stamp_{name}", False)
    r.stamp_font_size = max(8, r.resolution_y // 16)
    r.stamp_foreground, r.stamp_background = (1.0, 1.0, 1.0, 1.0), (0.0, 0.0, 0.0, 0.55)
    set_media(r.image_settings, "IMAGE")
    r.image_settings.file_format, r.image_settings.color_mode = "PNG", "RGB"


def set_media(settings: bpy.types.ImageFormatSettings, media: str) -> None:
    """Blender 5.0 chooses a media type ("IMAGE" / "VIDEO") before the file format; 4.x has no such field."""
    if "media_type" in settings.bl_rna.properties:
        settings.media_type = media


def build_stage(scene: bpy.types.Scene, rigs: list, mappings: list[dict], frames: list[int],
                cfg: PreviewConfig, collection: bpy.types.Collection | None = None) -> Stage:
    """Bodies (skinned meshes, else mannequins), floor, follow camera and a world in ``scene``."""
    collection = collection or scene.collection
    ids: list = []
    for i, (ob, m) in enumerate(zip(rigs, mappings)):
        if not mannequin.skinned_meshes(ob):
            body = mannequin.add_mannequin(ob, m, collection, COLORS[i % len(COLORS)])
            _track(ids, body.data.materials[0], body.data, body)
    lo, hi, z = ground_box(scene, rigs, mappings, frames)
    add_floor(collection, lo, hi, z, ids)
    cam = add_follow_camera(scene, collection, rigs, mappings, cfg, ids)
    if scene.world is None:
        scene.world = bpy.data.worlds.new("MotionLCM preview")
        _track(ids, scene.world)
    scene.world.color = (0.62, 0.66, 0.72)
    configure_render(scene, cfg)
    return Stage(cam, ids)


def remove_stage(stage: Stage) -> None:
    """Delete what :func:`build_stage` created (the rigs and the user's meshes stay)."""
    bpy.data.batch_remove([i for i in stage.ids if alive(i)])


def alive(datablock) -> bool:
    try:
        return datablock.name is not None
    except ReferenceError:
        return False


def time_label(frame: int, scene: bpy.types.Scene) -> str:
    """The burned-in label of ``frame``: seconds from the first frame, and the frame number."""
    fps = scene.render.fps / scene.render.fps_base
    return f"t = {(frame - scene.frame_start) / fps:5.2f} s   frame {frame}"


class FrameRenderer:
    """Render ``frames`` of ``scene`` one :meth:`step` at a time into ``folder`` (PNG, labelled with time)."""

    def __init__(self, scene: bpy.types.Scene, frames: list[int], folder: Path) -> None:
        self.scene, self.frames, self.folder = scene, list(frames), Path(folder)
        self.paths: list[Path] = []
        self.labels: list[str] = []
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def done(self) -> bool:
        return len(self.paths) == len(self.frames)

    @property
    def progress(self) -> float:
        return len(self.paths) / max(1, len(self.frames))

    def step(self) -> bool:
        """Render the next frame; True while frames remain."""
        if self.done:
            return False
        frame = self.frames[len(self.paths)]
        scene = self.scene
        scene.frame_set(frame)
        scene.render.stamp_note_text = time_label(frame, scene)
        path = self.folder / f"frame_{len(self.paths):04d}.png"
        scene.render.filepath = str(path)
        with render_context(scene):
            bpy.ops.render.render(write_still=True)
        self.paths.append(path)
        self.labels.append(scene.render.stamp_note_text)
        return not self.done


def encode_video(paths: list[Path], out: Path, fps: int, fps_base: float, size: tuple[int, int]) -> Path | None:
    """H.264 MP4 of the PNG ``paths`` by Blender's FFmpeg output (an image strip in a scratch scene);
    ``None`` when this Blender was built without FFmpeg."""
    if not bpy.app.ffmpeg.supported or not paths:
        return None
    enc = bpy.data.scenes.new("MotionLCM encode")
    try:
        editor = enc.sequence_editor_create()
        strips = editor.strips if hasattr(editor, "strips") else editor.sequences   # 5.0 removed .sequences
        strip = strips.new_image("frames", str(paths[0]), 1, 1)
        for p in paths[1:]:
            strip.elements.append(p.name)
        r = enc.render
        enc.frame_start, enc.frame_end = 1, len(paths)
        r.fps, r.fps_base = fps, fps_base
        r.resolution_x, r.resolution_y, r.resolution_percentage = size[0], size[1], 100
        r.use_stamp = False
        enc.view_settings.view_transform = "Standard"
        set_media(r.image_settings, "VIDEO")
        r.image_settings.file_format = "FFMPEG"
        r.ffmpeg.format, r.ffmpeg.codec, r.ffmpeg.audio_codec = "MPEG4", "H264", "NONE"
        r.ffmpeg.constant_rate_factor, r.ffmpeg.ffmpeg_preset, r.ffmpeg.gopsize = "MEDIUM", "GOOD", int(fps)
        out.unlink(missing_ok=True)
        r.filepath = str(out)
        with render_context(enc):
            bpy.ops.render.render(animation=True)
    finally:
        bpy.data.scenes.remove(enc)
    return out if out.is_file() else None


def contact_sheet(paths: list[Path], out: Path, cfg: PreviewConfig, scene: bpy.types.Scene, gap: int = 2) -> Path:
    """Tile ``cfg.sheet_tiles`` evenly spaced frames of ``paths`` (their labels burned in) into one PNG, saved
    through ``scene``'s output settings (configured by :func:`configure_render`: PNG, RGB, the Standard view,
    which leaves the pixels as they are) at full compression."""
    pick = np.unique(np.linspace(0, len(paths) - 1, min(cfg.sheet_tiles, len(paths))).round().astype(int))
    tiles = []
    for i in pick:
        img = bpy.data.images.load(str(paths[i]), check_existing=False)
        w, h = img.size
        px = np.empty(w * h * 4, dtype=np.float32)
        img.pixels.foreach_get(px)
        bpy.data.images.remove(img)
        s = cfg.sheet_shrink
        px = px.reshape(h // s, s, w // s, s, 4).mean(axis=(1, 3)) if s > 1 else px.reshape(h, w, 4)
        tiles.append(np.pad(px, ((gap, gap), (gap, gap), (0, 0)), constant_values=1.0))
    cols = min(cfg.sheet_columns, len(tiles))
    tiles += [np.ones_like(tiles[0])] * (-len(tiles) % cols)
    rows = [np.concatenate(tiles[r:r + cols], axis=1) for r in range(0, len(tiles), cols)]
    sheet = np.ascontiguousarray(np.concatenate(rows[::-1], axis=0))     # Blender images start at the bottom
    img = bpy.data.images.new("MotionLCM contact sheet", sheet.shape[1], sheet.shape[0], alpha=False)
    img.pixels.foreach_set(sheet.ravel())
    settings = scene.render.image_settings
    level, settings.compression = settings.compression, 100
    try:
        img.save_render(str(out), scene=scene)
    finally:
        settings.compression = level
        bpy.data.images.remove(img)
    return out


def finish(renderer: FrameRenderer, out_dir: Path, stem: str, cfg: PreviewConfig) -> PreviewOutput:
    """After the last frame: the MP4 and the contact sheet; the PNG frames are deleted once the MP4 exists."""
    r = renderer.scene.render
    video = encode_video(renderer.paths, out_dir / f"{stem}.mp4", r.fps, r.fps_base, (r.resolution_x, r.resolution_y))
    sheet = contact_sheet(renderer.paths, out_dir / f"{stem}_sheet.png", cfg, renderer.scene)
    if video is not None:
        shutil.rmtree(renderer.folder, ignore_errors=True)
    return PreviewOutput(video, sheet, renderer.frames, None if video else renderer.folder, renderer.labels)


def render_preview(scene: bpy.types.Scene, frames: list[int], out_dir: Path, stem: str,
                   cfg: PreviewConfig) -> PreviewOutput:
    """Render every frame (blocking), then the MP4 and the contact sheet (``<stem>.mp4``, ``<stem>_sheet.png``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    renderer = FrameRenderer(scene, frames, out_dir / f"{stem}_frames")
    while renderer.step():
        pass
    return finish(renderer, out_dir, stem, cfg)
