# SPDX-License-Identifier: GPL-3.0-or-later
"""Registration (twice), legacy bl_info and the extension manifest."""
import ast
import tomllib
from pathlib import Path

from harness import REPO, requires_bpy, run_scenario


@requires_bpy
def test_register_unregister_twice(tmp_path):
    r = run_scenario("register_twice", tmp_path)
    for i, cycle in enumerate(r["cycles"]):
        assert cycle["props"] and cycle["op"] and cycle["panel"]
        # the second time the scene still has its target from the first cycle: settings survive re-register
        want = "no armature selected" if i == 0 else "prompt is empty"
        assert want in cycle["generate_without_armature"]
        assert ("no armature selected" if i == 0 else "no generated action to bake") in cycle["bake_without_armature"]
        assert cycle["add_rig"] == "FINISHED" and cycle["target"].startswith("SMPL")
        assert cycle["after_unregister"] == [False, False, False]


def test_manifest_and_bl_info():
    manifest = tomllib.loads((REPO / "blender_addon" / "blender_manifest.toml").read_text())
    assert manifest["id"] == "motionlcm" and manifest["type"] == "add-on"
    assert manifest["blender_version_min"] == "4.2.0" and manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert len(manifest["tagline"]) <= 64 and not manifest["tagline"].endswith(".")
    tree = ast.parse((REPO / "blender_addon" / "__init__.py").read_text())
    info = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "bl_info")
    bl_info = ast.literal_eval(info.value)
    assert bl_info["blender"] == (4, 2, 0) and bl_info["category"] == "Animation"
