"""Open the demo's .blend and read back its rigs, NLA strips, bodies, camera and a pose; the MP4 as a movie clip
and the contact sheet's size (run after blender_addon.demo)."""
import json
import sys
from pathlib import Path

import bpy

from common import run


def media(info: dict) -> dict:
    clip = bpy.data.movieclips.load(info["video"])
    sheet = bpy.data.images.load(info["preview"])
    return {"video_frames": clip.frame_duration, "video_size": list(clip.size), "sheet_size": list(sheet.size)}


def main() -> dict:
    info = json.loads((Path(sys.argv[1]) / "demo" / "motionlcm_demo.json").read_text())
    bpy.ops.wm.open_mainfile(filepath=info["blend"])
    rigs = [ob for ob in bpy.data.objects if ob.type == "ARMATURE"]
    scene = bpy.context.scene
    out = {"rigs": len(rigs), "strips": sum(len(t.strips) for ob in rigs if ob.animation_data
                                            for t in ob.animation_data.nla_tracks)}
    out["mannequins"] = sum(1 for ob in bpy.data.objects if "motionlcm_mannequin" in ob.keys())
    out["floor"] = "MotionLCM floor" in bpy.data.objects
    target = scene.camera.parent if scene.camera else None
    out["camera_follows"] = [c.target.name for c in target.constraints] if target else []
    moved = []
    for ob in rigs:
        scene.frame_set(scene.frame_start)
        a = (ob.matrix_world @ ob.pose.bones[0].head).copy()
        scene.frame_set(scene.frame_end)
        b = ob.matrix_world @ ob.pose.bones[0].head
        moved.append((b - a).length)
    out["root_moved_m"] = moved
    return out | media(info)


run(main)
