# SPDX-License-Identifier: GPL-3.0-or-later
""""Render preview": the target armature's active action → ``<rig>_<action>.mp4`` and ``…_sheet.png`` in
``motionlcm_preview/`` next to the .blend (the temporary folder while it is unsaved).

The armature (and the meshes it deforms) is linked into a scratch scene holding the preview stage
(``preview.build_stage``: mannequin, floor grid, follow camera, Workbench settings), so the user's scene, camera
and render settings are never touched; the scratch scene and everything made for it are removed afterwards.
Blender renders on the main thread only, so from the panel one frame is rendered per ``bpy.app.timers`` tick and
the UI stays responsive between frames, with progress and Cancel in the panel; encoding the MP4 at the end takes
a moment. ``execute()`` (scripts, headless, where timers never fire) renders everything in one call; tests
drive :func:`start` and :func:`tick` directly.
"""
from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import bpy
from bpy.props import IntProperty

from . import bone_maps, compat, generation, mannequin, preview

SCENE_NAME = "MotionLCM preview"
_TICK_S = 0.01


@dataclass
class PreviewJob:
    """A preview being rendered: the scratch scene, its stage, the frame renderer and where it writes."""

    user_scene: bpy.types.Scene
    scene: bpy.types.Scene
    stage: preview.Stage
    renderer: preview.FrameRenderer
    out_dir: Path
    stem: str
    cfg: preview.PreviewConfig


_job: PreviewJob | None = None


def active() -> PreviewJob | None:
    """The preview now rendering, if any."""
    return _job


def output_folder() -> Path:
    """``<blend folder>/motionlcm_preview`` for a saved file, else ``motionlcm_preview`` in the temporary
    folder of the preferences (the system's when unset; not Blender's session folder, which is deleted at exit)."""
    if bpy.data.filepath:
        return Path(bpy.path.abspath("//")) / "motionlcm_preview"
    temp = bpy.context.preferences.filepaths.temporary_directory
    return Path(bpy.path.abspath(temp) if temp else tempfile.gettempdir()) / "motionlcm_preview"


def action_frames(ob: bpy.types.Object) -> tuple[bpy.types.Action, list[int]]:
    """The active action of ``ob`` and every scene frame of its range; ``ValueError`` without one."""
    action = ob.animation_data.action if ob.animation_data else None
    if action is None:
        raise ValueError(f"{ob.name!r} has no active action to preview; press Generate first "
                         "(or make a baked strip's action active again)")
    first, last = action.frame_range
    return action, list(range(int(math.floor(first)), int(math.ceil(last)) + 1))


def _scratch_scene(user_scene: bpy.types.Scene, ob: bpy.types.Object, frames: list[int]) -> bpy.types.Scene:
    """A new scene with the user's frame rate, the action's range, ``ob`` and the meshes it deforms linked in."""
    scene = bpy.data.scenes.new(SCENE_NAME)
    scene[preview.PREVIEW_KEY] = True
    scene.render.fps, scene.render.fps_base = user_scene.render.fps, user_scene.render.fps_base
    scene.frame_start, scene.frame_end = frames[0], frames[-1]
    for linked in [ob, *mannequin.skinned_meshes(ob)]:
        scene.collection.objects.link(linked)
    return scene


def start(context: bpy.types.Context, size: tuple[int, int] = (480, 360)) -> PreviewJob:
    """Validate, then set up the scratch scene and the frame renderer (nothing rendered yet).
    ``ValueError`` with the fix on bad input; nothing is left behind then."""
    global _job
    if _job is not None:
        raise ValueError("a preview is already rendering; wait for it or press Cancel")
    props = context.scene.motionlcm
    ob = generation.check_target(props.target)
    action, frames = action_frames(ob)
    mapping = bone_maps.ensure_panel_map(props, ob)
    bone_maps.check_mapping(mapping, ob)
    preview.hips_bone(mapping)
    cfg = preview.PreviewConfig(size=size)
    stem = bpy.path.clean_name(f"{ob.name}_{action.name}")
    out_dir = output_folder()
    scene = _scratch_scene(context.scene, ob, frames)
    try:
        stage = preview.build_stage(scene, [ob], [mapping], frames, cfg)
    except Exception:
        bpy.data.scenes.remove(scene)
        raise
    renderer = preview.FrameRenderer(scene, frames, out_dir / f"{stem}_frames")
    _job = PreviewJob(context.scene, scene, stage, renderer, out_dir, stem, cfg)
    props.status = f"Rendering preview: {len(frames)} frames"
    return _job


def _set_status(job: PreviewJob, text: str) -> None:
    if preview.alive(job.user_scene) and hasattr(job.user_scene, "motionlcm"):
        job.user_scene.motionlcm.status = text


def _close(job: PreviewJob) -> None:
    """Remove the scratch scene and the stage (skipped for datablocks a file load already freed)."""
    global _job
    _job = None
    preview.remove_stage(job.stage)
    if preview.alive(job.scene):
        bpy.data.scenes.remove(job.scene)


def cancel(reason: str = "Preview cancelled") -> None:
    """Stop the running preview: no video, the frames folder deleted, the scratch scene removed."""
    job = _job
    if job is None:
        return
    _close(job)
    shutil.rmtree(job.renderer.folder, ignore_errors=True)
    _set_status(job, reason)


def complete(job: PreviewJob) -> preview.PreviewOutput:
    """After the last frame: encode the MP4, tile the contact sheet, clean up, say where they went."""
    try:
        out = preview.finish(job.renderer, job.out_dir, job.stem, job.cfg)
    finally:
        _close(job)
    where = str(out.video) if out.video else f"PNG frames in {out.frames_dir} (this Blender has no FFmpeg)"
    _set_status(job, f"Preview: {where}; contact sheet {out.sheet.name}")
    return out


def tick() -> float | None:
    """``bpy.app.timers`` callback: render the next frame; at the end the video and the sheet."""
    job = _job
    if job is None:
        return None
    if not preview.alive(job.scene):          # a file was loaded meanwhile: nothing left to render into
        cancel("Preview stopped: the file changed")
        return None
    try:
        more = job.renderer.step()
        if not more:
            complete(job)
    except Exception as exc:  # noqa: BLE001 - a timer must not raise; say what failed
        cancel(f"Preview failed: {exc}")
        more = False
    _redraw()
    return _TICK_S if more else None


def _redraw() -> None:
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                area.tag_redraw()


def draw_button(layout: bpy.types.UILayout) -> None:
    """The panel's line: the Render preview button, or the running preview's progress and Cancel."""
    job = _job
    if job is None:
        layout.operator("motionlcm.render_preview", icon="RENDER_ANIMATION")
        return
    row = layout.row(align=True)
    text = f"Preview {len(job.renderer.paths)}/{len(job.renderer.frames)}"
    if compat.ui_has_progress():
        row.progress(factor=job.renderer.progress, type="BAR", text=text)
    else:
        row.label(text=text)
    row.operator("motionlcm.cancel_preview", text="", icon="CANCEL")


class MOTIONLCM_OT_render_preview(bpy.types.Operator):
    """Render an MP4 and a contact sheet of the target's active action: a body on a floor grid, a camera following
    the hips, frames labelled with time (saved in motionlcm_preview next to the .blend, or the temporary folder)"""
    bl_idname, bl_label, bl_options = "motionlcm.render_preview", "Render preview", {"REGISTER"}

    width: IntProperty(name="Width", default=480, min=16, max=3840)
    height: IntProperty(name="Height", default=360, min=16, max=2160)

    def _start(self, context) -> PreviewJob | None:
        try:
            return start(context, (self.width, self.height))
        except ValueError as exc:
            self.report({"ERROR"}, str(exc))
            return None

    def execute(self, context):
        """Render every frame now (blocking): scripts and headless runs."""
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        try:
            while job.renderer.step():
                pass
        except Exception:
            cancel("Preview failed")
            raise
        out = complete(job)
        self.report({"INFO"}, f"Preview written: {out.video or out.frames_dir}, {out.sheet}")
        return {"FINISHED"}

    def invoke(self, context, event):
        """From the panel: one frame per timer tick, so the UI stays responsive."""
        job = self._start(context)
        if job is None:
            return {"CANCELLED"}
        if not bpy.app.timers.is_registered(tick):
            bpy.app.timers.register(tick, first_interval=_TICK_S, persistent=True)
        self.report({"INFO"}, f"Rendering a preview of {len(job.renderer.frames)} frames into {job.out_dir}")
        return {"FINISHED"}


class MOTIONLCM_OT_cancel_preview(bpy.types.Operator):
    """Stop rendering the preview (nothing is written)"""
    bl_idname, bl_label, bl_options = "motionlcm.cancel_preview", "Cancel preview", {"REGISTER"}

    def execute(self, context):
        cancel()
        return {"FINISHED"}


classes = (MOTIONLCM_OT_render_preview, MOTIONLCM_OT_cancel_preview)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister() -> None:
    cancel()
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
