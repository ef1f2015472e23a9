"""Open the demo's .blend and read back its rigs, NLA strips and a pose (run after blender_addon.demo)."""
import json
import sys
from pathlib import Path

import bpy

from common import run


def main() -> dict:
    info = json.loads((Path(sys.argv[1]) / "demo" / "motionlcm_demo.json").read_text())
    bpy.ops.wm.open_mainfile(filepath=info["blend"])
    rigs = [ob for ob in bpy.data.objects if ob.type == "ARMATURE"]
    scene = bpy.context.scene
    out = {"rigs": len(rigs), "strips": sum(len(t.strips) for ob in rigs if ob.animation_data
                                            for t in ob.animation_data.nla_tracks)}
    moved = []
    for ob in rigs:
        scene.frame_set(scene.frame_start)
        a = (ob.matrix_world @ ob.pose.bones[0].head).copy()
        scene.frame_set(scene.frame_end)
        b = ob.matrix_world @ ob.pose.bones[0].head
        moved.append((b - a).length)
    out["root_moved_m"] = moved
    return out


run(main)
