# SPDX-License-Identifier: GPL-3.0-or-later
"""Render preview on a 3-frame action of an SMPL rig (64×64 Workbench frames): the mannequin's skinning, the
follow camera, Cancel, the timer path and the operator, and that nothing is left behind."""
import sys
from pathlib import Path

import bpy
import numpy as np

import blender_addon
from common import fresh_scene, run
from blender_addon import anim_write, compat, mannequin, preview, preview_ops, rig_build

SIZE = (64, 64)


def keyed_rig() -> bpy.types.Object:
    """SMPL rig with an action "Wave" on frames 1–3: the right shoulder turns, the pelvis moves 1 m."""
    ob = rig_build.create_smpl_armature(bpy.context.scene.collection, "SMPL")
    action, slot = anim_write.create_action(ob, "Wave", {"prompt": "test"})
    compat.assign_action(ob, action, slot)
    ang = np.array([0.0, 0.6, 1.2])
    quat = np.stack([np.cos(ang / 2), np.zeros(3), np.zeros(3), np.sin(ang / 2)], axis=1)
    loc = np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [1.0, 0.0, 0.0]])
    anim_write.write_pose_keys(ob, action, slot, np.array([1.0, 2.0, 3.0]), {"R_Shoulder": quat}, "Pelvis", loc)
    return ob


def skinning_error(ob: bpy.types.Object, body: bpy.types.Object, frame: int) -> float:
    """Max distance (m) of evaluated mannequin vertices from rigid skinning by their vertex group's bone."""
    bpy.context.scene.frame_set(frame)
    deps = bpy.context.evaluated_depsgraph_get()
    got = np.array([v.co for v in body.evaluated_get(deps).data.vertices])
    rest = np.array([v.co for v in body.data.vertices])
    err = 0.0
    for group in body.vertex_groups:
        idx = [v.index for v in body.data.vertices if any(g.group == group.index for g in v.groups)]
        m = np.array(ob.pose.bones[group.name].matrix) @ np.linalg.inv(np.array(ob.data.bones[group.name].matrix_local))
        want = rest[idx] @ m[:3, :3].T + m[:3, 3]
        err = max(err, float(np.abs(got[idx] - want).max()))
    return err


def mannequin_case(ob, mapping) -> dict:
    body = mannequin.add_mannequin(ob, mapping, bpy.context.scene.collection)
    out = {"groups_are_bones": all(g.name in ob.data.bones for g in body.vertex_groups),
           "n_groups": len(body.vertex_groups), "modifier": body.modifiers[0].object == ob,
           "skin_err_f1": skinning_error(ob, body, 1), "skin_err_f3": skinning_error(ob, body, 3),
           "excluded_from_bodies": mannequin.skinned_meshes(ob) == []}
    bpy.data.meshes.remove(body.data)
    return out


def leftovers() -> dict:
    """Datablocks the preview marked, scenes, objects and files left after it ended."""
    kinds = ("objects", "meshes", "materials", "cameras", "worlds", "scenes")
    marked = sum(1 for k in kinds for i in getattr(bpy.data, k) if preview.PREVIEW_KEY in i.keys())
    scene = bpy.context.scene
    return {"marked": marked, "scenes": len(bpy.data.scenes), "objects": len(bpy.data.objects),
            "job": preview_ops.active() is not None, "user_scene": [scene.frame_current, scene.render.engine,
                                                                    scene.camera is None]}


def cancel_case(ob) -> dict:
    """Start a preview, check the follow camera, render one frame, Cancel."""
    job = preview_ops.start(bpy.context, SIZE)
    cam, scene = job.stage.camera, job.scene
    hips, cams = [], []
    for f in (1, 3):
        scene.frame_set(f)
        ev, cam_ev = preview.evaluated(ob, scene), preview.evaluated(cam, scene)
        hips.append(np.array(ev.matrix_world @ ev.pose.bones["Pelvis"].head))
        cams.append(np.array(cam_ev.matrix_world.translation))
    out = {"hips_moved": float(np.linalg.norm(hips[1][:2] - hips[0][:2])),
           "camera_follow_err": float(np.abs((cams[1] - cams[0])[:2] - (hips[1] - hips[0])[:2]).max()),
           "camera_dz": float(cams[1][2] - cams[0][2]),
           "camera_height": float(cams[0][2]), "scenes_while_running": len(bpy.data.scenes)}
    preview_ops.tick()
    out["labels"] = list(job.renderer.labels)
    folder = job.renderer.folder
    out["frame_written"] = (folder / "frame_0000.png").is_file()
    preview_ops.cancel()
    out["frames_dir_removed"] = not folder.exists()
    out["status"] = bpy.context.scene.motionlcm.status
    return out | {"after": leftovers()}


def check_outputs(folder: Path, stem: str) -> dict:
    """The MP4 read back as a movie clip, the contact sheet's size and its burned-in label corner."""
    video, sheet = folder / f"{stem}.mp4", folder / f"{stem}_sheet.png"
    out = {"files": sorted(p.name for p in folder.iterdir())}
    if video.is_file():
        clip = bpy.data.movieclips.load(str(video))
        out["video_frames"], out["video_size"] = clip.frame_duration, list(clip.size)
        bpy.data.movieclips.remove(clip)
    img = bpy.data.images.load(str(sheet))
    w, h = img.size
    px = np.empty(w * h * 4, dtype=np.float32)
    img.pixels.foreach_get(px)
    px = px.reshape(h, w, 4)[::-1, :, :3]                     # top row first
    band = px[2:2 + 10, 2:2 + 40].mean(axis=2)               # the first tile's stamp corner
    out["sheet_size"], out["label_dark"], out["label_light"] = [w, h], float(band.min()), float(band.max())
    tile = SIZE[0] + 4                                       # below the label: the pose changed (arm turned)
    first, last = px[20:tile - 2, 2:tile - 2], px[20:tile - 2, 2 * tile + 2:3 * tile - 2]
    out["tiles_differ"] = float(np.abs(first - last).max())
    return out


def main() -> dict:
    tmp = Path(sys.argv[1])
    fresh_scene()
    blender_addon.register()
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start = 30, 1
    ob = keyed_rig()
    scene.motionlcm.target = ob
    before = leftovers()
    out = {"before": before, "temp_folder": str(preview_ops.output_folder()),
           "label_f31": preview.time_label(31, scene)}
    from blender_addon import bone_maps
    mapping = bone_maps.ensure_panel_map(scene.motionlcm, ob)
    out["mannequin"] = mannequin_case(ob, mapping)
    scene.frame_set(1)
    out["cancel"] = cancel_case(ob)
    # the timer path (what the panel runs), unsaved file → the temporary folder
    preview_ops.start(bpy.context, SIZE)
    ticks = 1
    while preview_ops.tick() is not None:
        ticks += 1
    out["timer"] = check_outputs(preview_ops.output_folder(), "SMPL_Wave") | {"ticks": ticks,
                                                                             "after": leftovers()}
    out["timer"]["status"] = scene.motionlcm.status
    # the operator (blocking execute), saved file → next to the .blend
    (tmp / "project").mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp / "project" / "shot.blend"))
    out["op"] = {"result": sorted(bpy.ops.motionlcm.render_preview(width=SIZE[0], height=SIZE[1])),
                 "folder": str(preview_ops.output_folder())}
    out["op"] |= check_outputs(preview_ops.output_folder(), "SMPL_Wave") | {"after": leftovers()}
    # no action → the operator refuses with the fix
    scene.motionlcm.target.animation_data.action = None
    try:
        bpy.ops.motionlcm.render_preview(width=SIZE[0], height=SIZE[1])
        out["no_action"] = "ran"
    except RuntimeError as exc:
        out["no_action"] = str(exc)
    # unregister while a preview is running (timer registered as the panel does): all gone
    compat.assign_action(ob, bpy.data.actions["Wave"], compat.object_slot(bpy.data.actions["Wave"], ob))
    preview_ops.start(bpy.context, SIZE)
    bpy.app.timers.register(preview_ops.tick, first_interval=60.0, persistent=True)
    blender_addon.unregister()
    out["unregistered"] = {"timer": bpy.app.timers.is_registered(preview_ops.tick),
                           "op": hasattr(bpy.types, "MOTIONLCM_OT_render_preview")} | leftovers()
    return out


run(main)
